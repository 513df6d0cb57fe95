      * 軽自動車税 ZEIMU.KEIJI.SHARYO  LRECL=100 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  KEIJI-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  KEIJI-DATA.
               10  SHARYO-KANRI-NO       PIC 9(10).
               10  ATENA-NO              PIC 9(10).
               10  SHASHU                PIC X(2).
                   88  SHASHU-GENTSUKI       VALUE '01'.
                   88  SHASHU-KEI-4RIN       VALUE '02'.
                   88  SHASHU-KEI-2RIN       VALUE '03'.
                   88  SHASHU-KOGATA-TOKUSHU VALUE '04'.
               10  HYOSHIKI-NO           PIC X(30).
               10  ZEIGAKU               PIC S9(7) COMP-3.
               10  TOROKU-YMD            PIC 9(8).
               10  FILLER                  PIC X(35).
           05  KEIJI-HDR REDEFINES KEIJI-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(75).
           05  KEIJI-TRL REDEFINES KEIJI-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  TRL-SUM-ZEIGAKU       PIC S9(15) COMP-3.
               10  FILLER                  PIC X(82).
