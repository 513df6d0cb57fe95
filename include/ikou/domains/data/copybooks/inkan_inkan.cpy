      * 印鑑登録 INKAN.TOROKU  LRECL=60 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  INKAN-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  INKAN-DATA.
               10  INKAN-TOROKU-NO       PIC 9(8).
               10  ATENA-NO              PIC 9(10).
               10  TOROKU-YMD            PIC 9(8).
               10  TOROKU-JOTAI          PIC X(1).
                   88  TOROKU-JOT-TOROKUCHU  VALUE '1'.
                   88  TOROKU-JOT-HAISHI     VALUE '2'.
               10  HAISHI-YMD            PIC 9(8).
               10  FILLER                  PIC X(24).
           05  INKAN-HDR REDEFINES INKAN-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(35).
           05  INKAN-TRL REDEFINES INKAN-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(50).
