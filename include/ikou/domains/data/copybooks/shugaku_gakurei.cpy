      * 就学 SHUGAKU.GAKUREIBO  LRECL=80 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  GAKUREI-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  GAKUREI-DATA.
               10  GAKUREI-NO            PIC 9(9).
               10  ATENA-NO              PIC 9(10).
               10  HOGOSHA-ATENA-NO      PIC 9(10).
               10  GAKKO-CD              PIC X(4).
               10  GAKUNEN               PIC 9(1).
               10  NYUGAKU-YMD           PIC 9(8).
               10  SHUGAKU-ENJO          PIC X(1).
                   88  SHUGAKU-EN-NASHI      VALUE '0'.
                   88  SHUGAKU-EN-ARI        VALUE '1'.
               10  FILLER                  PIC X(36).
           05  GAKUREI-HDR REDEFINES GAKUREI-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(55).
           05  GAKUREI-TRL REDEFINES GAKUREI-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  FILLER                  PIC X(70).
