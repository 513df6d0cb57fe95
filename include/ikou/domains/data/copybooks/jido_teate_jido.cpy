      * 児童手当 KODOMO.JIDOTEATE  LRECL=60 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  JIDO-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  JIDO-DATA.
               10  JUKYU-NO              PIC 9(8).
               10  ATENA-NO              PIC 9(10).
               10  TAISHO-JIDO-SU        PIC 9(2).
               10  TEATE-GETSUGAKU       PIC S9(7) COMP-3.
               10  NINTEI-YMD            PIC 9(7).
               10  SHOTOKU-SEIGEN        PIC X(1).
                   88  SHOTOKU-SE-NAI        VALUE '0'.
                   88  SHOTOKU-SE-ARI        VALUE '1'.
               10  FILLER                  PIC X(27).
           05  JIDO-HDR REDEFINES JIDO-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(35).
           05  JIDO-TRL REDEFINES JIDO-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  TRL-SUM-TEATE         PIC S9(15) COMP-3.
               10  FILLER                  PIC X(42).
