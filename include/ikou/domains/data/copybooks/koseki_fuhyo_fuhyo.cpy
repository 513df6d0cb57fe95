      * 戸籍の附票 KOSEKI.FUHYO  LRECL=200 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  FUHYO-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  FUHYO-DATA.
               10  FUHYO-ID              PIC 9(10).
               10  KOSEKI-KOJIN-ID       PIC 9(10).
               10  JUSHO                 PIC X(120).
               10  JUSHO-SETTEI-YMD      PIC 9(8).
               10  FILLER                  PIC X(51).
           05  FUHYO-HDR REDEFINES FUHYO-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(175).
           05  FUHYO-TRL REDEFINES FUHYO-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(190).
