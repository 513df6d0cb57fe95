      * 児童扶養手当 KODOMO.FUYOTEATE  LRECL=60 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  FUYO-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  FUYO-DATA.
               10  JUKYU-NO              PIC 9(8).
               10  ATENA-NO              PIC 9(10).
               10  TAISHO-JIDO-SU        PIC 9(2).
               10  TEATE-GETSUGAKU       PIC S9(7) COMP-3.
               10  SHIKYU-KBN            PIC X(1).
                   88  SHIKYU-KBN-ZENBU      VALUE '1'.
                   88  SHIKYU-KBN-ICHIBU     VALUE '2'.
                   88  SHIKYU-KBN-TEISHI     VALUE '3'.
               10  NINTEI-YMD            PIC 9(7).
               10  FILLER                  PIC X(27).
           05  FUYO-HDR REDEFINES FUYO-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(35).
           05  FUYO-TRL REDEFINES FUYO-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  TRL-SUM-TEATE         PIC S9(15) COMP-3.
               10  FILLER                  PIC X(42).
