      * 印鑑登録 データ連携 INKAN.RENKEI.IDO  LRECL=80 RECFM=FB
      * change records (異動区分 I/U/D) the mainframe programs read while
      * 印鑑登録 is live on the standard system (ikou link)
      * synthetic layout for Ikou (not a real system)
       01  INKAN-LINK-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-INKAN             VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  LINK-INKAN.
               10  IDO-KBN               PIC X(1).
                   88  IDO-KBN-TSUIKA        VALUE 'I'.
                   88  IDO-KBN-KOSHIN        VALUE 'U'.
                   88  IDO-KBN-SAKUJO        VALUE 'D'.
               10  INKAN-TOROKU-NO       PIC 9(8).
               10  ATENA-NO              PIC 9(10).
               10  TOROKU-YMD            PIC 9(8).
               10  TOROKU-JOTAI          PIC X(1).
               10  HAISHI-YMD            PIC 9(8).
               10  FILLER                PIC X(43).
           05  LINK-HDR REDEFINES LINK-INKAN.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-FROM              PIC 9(8).
               10  HDR-TO                PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                PIC X(47).
           05  LINK-TRL REDEFINES LINK-INKAN.
               10  TRL-COUNT             PIC 9(9).
               10  TRL-INSERTS           PIC 9(9).
               10  TRL-UPDATES           PIC 9(9).
               10  TRL-DELETES           PIC 9(9).
               10  FILLER                PIC X(43).
