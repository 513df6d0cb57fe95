      * 戸籍 KOSEKI.KOJIN  LRECL=300 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  KOSEKI-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  KOSEKI-DATA.
               10  KOSEKI-KOJIN-ID       PIC 9(10).
               10  KOSEKI-ID             PIC 9(8).
               10  HONSEKI               PIC X(100).
               10  HITTOSHA-SHIMEI       PIC N(20).
               10  SHIMEI                PIC N(20).
               10  ZOKUGARA              PIC X(2).
                   88  ZOKUGARA-HITTOSHA     VALUE '01'.
                   88  ZOKUGARA-TSUMA        VALUE '02'.
                   88  ZOKUGARA-OTTO         VALUE '03'.
                   88  ZOKUGARA-KO           VALUE '04'.
                   88  ZOKUGARA-SONOTA       VALUE '99'.
               10  SEINENGAPPI           PIC 9(7).
               10  JOSEKI-KBN            PIC X(1).
                   88  JOSEKI-KBN-ZAISEKI    VALUE '0'.
                   88  JOSEKI-KBN-JOSEKI     VALUE '1'.
               10  FILLER                  PIC X(91).
           05  KOSEKI-HDR REDEFINES KOSEKI-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(275).
           05  KOSEKI-TRL REDEFINES KOSEKI-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(290).
