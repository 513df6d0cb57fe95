      * 国民年金 NENKIN.HIHOKENSHA  LRECL=60 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  NENKIN-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  NENKIN-DATA.
               10  KISO-NENKIN-NO        PIC X(10).
               10  ATENA-NO              PIC 9(10).
               10  HIHOKENSHA-SHUBETSU   PIC X(1).
                   88  HIHOKENSHA-DAI1GO     VALUE '1'.
                   88  HIHOKENSHA-DAI3GO     VALUE '3'.
                   88  HIHOKENSHA-NINI       VALUE '4'.
               10  SHIKAKU-SHUTOKU-YMD   PIC 9(7).
               10  MENJO-KBN             PIC X(1).
                   88  MENJO-KBN-NASHI       VALUE '0'.
                   88  MENJO-KBN-ZENGAKU     VALUE '1'.
                   88  MENJO-KBN-HANGAKU     VALUE '2'.
               10  FILLER                  PIC X(30).
           05  NENKIN-HDR REDEFINES NENKIN-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(35).
           05  NENKIN-TRL REDEFINES NENKIN-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(50).
