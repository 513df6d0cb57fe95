      * 生活保護 FUKUSHI.SEIHO.CASE  LRECL=80 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  SEIHO-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  SEIHO-DATA.
               10  CASE-NO               PIC 9(8).
               10  ATENA-NO              PIC 9(10).
               10  KAISHI-YMD            PIC 9(8).
               10  HOGO-SHURUI           PIC X(8).
               10  SAISHO-SEIKATSUHI     PIC S9(9) COMP-3.
               10  SHIKYU-GAKU           PIC S9(9) COMP-3.
               10  FILLER                  PIC X(35).
           05  SEIHO-HDR REDEFINES SEIHO-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(55).
           05  SEIHO-TRL REDEFINES SEIHO-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  TRL-SUM-SHIKYU        PIC S9(15) COMP-3.
               10  FILLER                  PIC X(62).
