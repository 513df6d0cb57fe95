      * 健康管理 KENKO.JISSHI  LRECL=60 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  KENKO-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  KENKO-DATA.
               10  KENSHIN-NO            PIC 9(10).
               10  ATENA-NO              PIC 9(10).
               10  KENSHIN-SHUBETSU      PIC X(2).
                   88  KENSHIN-SH-TOKUTEI    VALUE '01'.
                   88  KENSHIN-SH-GAN        VALUE '02'.
                   88  KENSHIN-SH-YOBOSESSHU VALUE '03'.
                   88  KENSHIN-SH-NYUYOJI    VALUE '04'.
               10  JISSHI-YMD            PIC 9(8).
               10  KEKKA-KBN             PIC X(1).
                   88  KEKKA-KBN-IJONASHI    VALUE '1'.
                   88  KEKKA-KBN-YOKANSATSU  VALUE '2'.
                   88  KEKKA-KBN-YOSEIKEN    VALUE '3'.
               10  FILLER                  PIC X(28).
           05  KENKO-HDR REDEFINES KENKO-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(35).
           05  KENKO-TRL REDEFINES KENKO-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(50).
