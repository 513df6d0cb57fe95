      * 国民健康保険 HOKEN.KOKUHO.SHIKAKU  LRECL=80 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  KOKUHO-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  KOKUHO-DATA.
               10  KOKUHO-HIHO-NO        PIC 9(10).
               10  ATENA-NO              PIC 9(10).
               10  SETAINUSHI-ATENA-NO   PIC 9(10).
               10  SHIKAKU-SHUTOKU-YMD   PIC 9(8).
               10  SHIKAKU-SOSHITSU-YMD  PIC 9(8).
               10  HOKENZEI              PIC S9(9) COMP-3.
               10  FILLER                  PIC X(28).
           05  KOKUHO-HDR REDEFINES KOKUHO-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(55).
           05  KOKUHO-TRL REDEFINES KOKUHO-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  TRL-SUM-HOKENZEI      PIC S9(15) COMP-3.
               10  FILLER                  PIC X(62).
