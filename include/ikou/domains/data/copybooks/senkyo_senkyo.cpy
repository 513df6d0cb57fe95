      * 選挙人名簿管理 SENKYO.MEIBO  LRECL=50 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  SENKYO-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  SENKYO-DATA.
               10  SENKYONIN-NO          PIC 9(10).
               10  ATENA-NO              PIC 9(10).
               10  TOHYOKU-CD            PIC X(3).
               10  TOROKU-YMD            PIC 9(8).
               10  HYOJI-KBN             PIC X(1).
                   88  HYOJI-KBN-NASHI       VALUE '0'.
                   88  HYOJI-KBN-TENSHUTSU   VALUE '1'.
                   88  HYOJI-KBN-SHIKKEN     VALUE '2'.
               10  FILLER                  PIC X(17).
           05  SENKYO-HDR REDEFINES SENKYO-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(25).
           05  SENKYO-TRL REDEFINES SENKYO-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(40).
