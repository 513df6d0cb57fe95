      * 固定資産税 ZEIMU.KOTEI.KAZEI  LRECL=200 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  KOTEI-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  KOTEI-DATA.
               10  KAZEI-NO              PIC 9(12).
               10  ATENA-NO              PIC 9(10).
               10  NENDO                 PIC 9(4).
               10  SHOZAI                PIC X(100).
               10  CHIMOKU               PIC X(2).
                   88  CHIMOKU-TAKUCHI       VALUE '01'.
                   88  CHIMOKU-TA            VALUE '02'.
                   88  CHIMOKU-HATA          VALUE '03'.
                   88  CHIMOKU-SANRIN        VALUE '04'.
                   88  CHIMOKU-ZATSUSHUCHI   VALUE '09'.
               10  MENSEKI               PIC S9(7)V99 COMP-3.
               10  HYOKA-GAKU            PIC S9(13) COMP-3.
               10  ZEIGAKU               PIC S9(11) COMP-3.
               10  FILLER                  PIC X(53).
           05  KOTEI-HDR REDEFINES KOTEI-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(175).
           05  KOTEI-TRL REDEFINES KOTEI-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  TRL-SUM-ZEIGAKU       PIC S9(15) COMP-3.
               10  FILLER                  PIC X(182).
