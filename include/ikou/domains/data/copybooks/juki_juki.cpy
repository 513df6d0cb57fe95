      * 住民基本台帳 JUKI.JUMIN.MASTER  LRECL=200 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  JUKI-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  JUKI-DATA.
               10  ATENA-NO              PIC 9(10).
               10  JUMINHYO-CD           PIC X(11).
               10  SETAI-NO              PIC 9(10).
               10  ZOKUGARA              PIC X(2).
                   88  ZOKUGARA-SETAINUSHI   VALUE '01'.
                   88  ZOKUGARA-TSUMA        VALUE '02'.
                   88  ZOKUGARA-OTTO         VALUE '03'.
                   88  ZOKUGARA-KO           VALUE '04'.
                   88  ZOKUGARA-OYA          VALUE '05'.
                   88  ZOKUGARA-SONOTA       VALUE '99'.
               10  JUMIN-SHUBETSU        PIC X(1).
                   88  JUMIN-SHUB-NIHONJIN   VALUE '1'.
                   88  JUMIN-SHUB-GAIKOKUJIN VALUE '2'.
               10  JUMIN-YMD             PIC 9(7).
               10  IDO-JIYU              PIC X(2).
                   88  IDO-JIYU-SHUSSEI      VALUE '01'.
                   88  IDO-JIYU-TENNYU       VALUE '02'.
                   88  IDO-JIYU-TENKYO       VALUE '03'.
                   88  IDO-JIYU-SHOKKEN      VALUE '09'.
               10  HONSEKI               PIC X(100).
               10  FILLER                  PIC X(56).
           05  JUKI-HDR REDEFINES JUKI-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(175).
           05  JUKI-TRL REDEFINES JUKI-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(190).
