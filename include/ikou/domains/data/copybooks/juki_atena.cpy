      * 住民基本台帳 JUKI.ATENA.MASTER  LRECL=350 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  ATENA-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  ATENA-DATA.
               10  ATENA-NO              PIC 9(10).
               10  ATENA-KBN             PIC X(1).
                   88  ATENA-KBN-JUMIN       VALUE '1'.
                   88  ATENA-KBN-JUTOGAI     VALUE '2'.
                   88  ATENA-KBN-HOJIN       VALUE '3'.
               10  SHIMEI                PIC N(30).
               10  SHIMEI-KANA           PIC X(50).
               10  SEIBETSU              PIC X(1).
                   88  SEIBETSU-DANSEI       VALUE '1'.
                   88  SEIBETSU-JOSEI        VALUE '2'.
                   88  SEIBETSU-FUMEI        VALUE ' '.
               10  SEINENGAPPI           PIC 9(7).
               10  JUSHO                 PIC X(120).
               10  YUBIN-NO              PIC X(7).
               10  DENWA-NO              PIC X(13).
               10  KOJIN-NO              PIC X(13).
               10  TOROKU-YMD            PIC 9(8).
               10  KOSHIN-YMD            PIC 9(8).
               10  FILLER                  PIC X(51).
           05  ATENA-HDR REDEFINES ATENA-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(325).
           05  ATENA-TRL REDEFINES ATENA-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(340).
