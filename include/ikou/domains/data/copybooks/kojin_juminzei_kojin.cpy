      * 個人住民税 ZEIMU.KOJIN.KAZEI  LRECL=100 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  KOJIN-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  KOJIN-DATA.
               10  TSUCHI-NO             PIC 9(10).
               10  ATENA-NO              PIC 9(10).
               10  NENDO                 PIC 9(4).
               10  SHOTOKU-GAKU          PIC S9(13) COMP-3.
               10  SHOTOKU-WARI          PIC S9(11) COMP-3.
               10  KINTO-WARI            PIC S9(7) COMP-3.
               10  ZEIGAKU               PIC S9(11) COMP-3.
               10  CHOSHU-KBN            PIC X(1).
                   88  CHOSHU-KBN-TOKUCHO    VALUE '1'.
                   88  CHOSHU-KBN-FUCHO      VALUE '2'.
               10  FILLER                  PIC X(51).
           05  KOJIN-HDR REDEFINES KOJIN-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(75).
           05  KOJIN-TRL REDEFINES KOJIN-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  TRL-SUM-ZEIGAKU       PIC S9(15) COMP-3.
               10  FILLER                  PIC X(82).
