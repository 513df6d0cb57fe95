      * 法人住民税 ZEIMU.HOJIN.KAZEI  LRECL=100 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  HOJIN-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  HOJIN-DATA.
               10  HOJIN-KANRI-NO        PIC 9(8).
               10  ATENA-NO              PIC 9(10).
               10  HOJIN-NO              PIC X(13).
               10  JIGYO-NENDO           PIC 9(4).
               10  JUGYOIN-SU            PIC 9(6).
               10  KINTO-WARI            PIC S9(9) COMP-3.
               10  HOJINZEI-WARI         PIC S9(13) COMP-3.
               10  ZEIGAKU               PIC S9(13) COMP-3.
               10  FILLER                  PIC X(39).
           05  HOJIN-HDR REDEFINES HOJIN-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(75).
           05  HOJIN-TRL REDEFINES HOJIN-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  TRL-SUM-ZEIGAKU       PIC S9(15) COMP-3.
               10  FILLER                  PIC X(82).
