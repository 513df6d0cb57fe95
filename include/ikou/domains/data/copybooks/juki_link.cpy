      * 住民基本台帳 データ連携 JUKI.RENKEI.IDO  LRECL=320 RECFM=FB
      * change records (異動区分 I/U/D) the mainframe programs read while
      * 住民基本台帳 is live on the standard system (ikou link)
      * synthetic layout for Ikou (not a real system)
       01  JUKI-LINK-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-ATENA             VALUE 'A'.
               88  REC-JUMIN             VALUE 'J'.
               88  REC-TRAILER           VALUE 'T'.
           05  LINK-ATENA.
               10  IDO-KBN               PIC X(1).
                   88  IDO-KBN-TSUIKA        VALUE 'I'.
                   88  IDO-KBN-KOSHIN        VALUE 'U'.
                   88  IDO-KBN-SAKUJO        VALUE 'D'.
               10  ATENA-NO              PIC 9(10).
               10  ATENA-KBN             PIC X(1).
               10  SHIMEI                PIC N(30).
               10  SHIMEI-KANA           PIC X(50).
               10  SEIBETSU              PIC X(1).
               10  SEINENGAPPI           PIC 9(7).
               10  JUSHO                 PIC X(120).
               10  YUBIN-NO              PIC X(7).
               10  DENWA-NO              PIC X(13).
               10  KOJIN-NO              PIC X(13).
               10  TOROKU-YMD            PIC 9(8).
               10  KOSHIN-YMD            PIC 9(8).
               10  FILLER                PIC X(20).
           05  LINK-JUMIN REDEFINES LINK-ATENA.
               10  IDO-KBN               PIC X(1).
               10  ATENA-NO              PIC 9(10).
               10  JUMINHYO-CD           PIC X(11).
               10  SETAI-NO              PIC 9(10).
               10  ZOKUGARA              PIC X(2).
               10  JUMIN-SHUBETSU        PIC X(1).
               10  JUMIN-YMD             PIC 9(7).
               10  IDO-JIYU              PIC X(2).
               10  HONSEKI               PIC X(100).
               10  FILLER                PIC X(175).
           05  LINK-HDR REDEFINES LINK-ATENA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-FROM              PIC 9(8).
               10  HDR-TO                PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                PIC X(287).
           05  LINK-TRL REDEFINES LINK-ATENA.
               10  TRL-COUNT             PIC 9(9).
               10  TRL-INSERTS           PIC 9(9).
               10  TRL-UPDATES           PIC 9(9).
               10  TRL-DELETES           PIC 9(9).
               10  FILLER                PIC X(283).
