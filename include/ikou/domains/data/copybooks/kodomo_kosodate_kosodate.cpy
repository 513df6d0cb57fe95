      * 子ども・子育て支援 KODOMO.HOIKU.NINTEI  LRECL=70 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  KOSODATE-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  KOSODATE-DATA.
               10  NINTEI-NO             PIC 9(10).
               10  ATENA-NO              PIC 9(10).
               10  HOGOSHA-ATENA-NO      PIC 9(10).
               10  NINTEI-KBN            PIC X(1).
                   88  NINTEI-KBN-GO1        VALUE '1'.
                   88  NINTEI-KBN-GO2        VALUE '2'.
                   88  NINTEI-KBN-GO3        VALUE '3'.
               10  SHISETSU-CD           PIC X(6).
               10  RIYOSHA-FUTAN         PIC S9(7) COMP-3.
               10  FILLER                  PIC X(28).
           05  KOSODATE-HDR REDEFINES KOSODATE-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(45).
           05  KOSODATE-TRL REDEFINES KOSODATE-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(60).
