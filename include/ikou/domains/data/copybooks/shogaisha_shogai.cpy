      * 障害者福祉 FUKUSHI.SHOGAI.TECHO  LRECL=60 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  SHOGAI-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  SHOGAI-DATA.
               10  SHOGAI-KANRI-NO       PIC 9(9).
               10  ATENA-NO              PIC 9(10).
               10  TECHO-SHUBETSU        PIC X(1).
                   88  TECHO-SHUB-SHINTAI    VALUE '1'.
                   88  TECHO-SHUB-RYOIKU     VALUE '2'.
                   88  TECHO-SHUB-SEISHIN    VALUE '3'.
               10  TOKYU                 PIC X(2).
                   88  TOKYU-TOKYU1          VALUE '01'.
                   88  TOKYU-TOKYU2          VALUE '02'.
                   88  TOKYU-TOKYU3          VALUE '03'.
                   88  TOKYU-TOKYU4          VALUE '04'.
                   88  TOKYU-TOKYU5          VALUE '05'.
                   88  TOKYU-TOKYU6          VALUE '06'.
               10  KOFU-YMD              PIC 9(7).
               10  FILLER                  PIC X(30).
           05  SHOGAI-HDR REDEFINES SHOGAI-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(35).
           05  SHOGAI-TRL REDEFINES SHOGAI-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(50).
