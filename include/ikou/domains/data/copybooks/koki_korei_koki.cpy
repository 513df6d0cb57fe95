      * 後期高齢者医療 HOKEN.KOKI.SHIKAKU  LRECL=60 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  KOKI-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  KOKI-DATA.
               10  HIHOKENSHA-NO         PIC 9(8).
               10  ATENA-NO              PIC 9(10).
               10  SHIKAKU-SHUTOKU-YMD   PIC 9(7).
               10  FUTAN-WARIAI          PIC 9(1).
                   88  FUTAN-WARI-ICHIWARI   VALUE '1'.
                   88  FUTAN-WARI-NIWARI     VALUE '2'.
                   88  FUTAN-WARI-SANWARI    VALUE '3'.
               10  HOKENRYO              PIC S9(9) COMP-3.
               10  FILLER                  PIC X(28).
           05  KOKI-HDR REDEFINES KOKI-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(35).
           05  KOKI-TRL REDEFINES KOKI-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  TRL-SUM-HOKENRYO      PIC S9(15) COMP-3.
               10  FILLER                  PIC X(42).
