      * 介護保険 KAIGO.HIHOKENSHA  LRECL=80 RECFM=FB
      * synthetic layout for Ikou (not a real system)
       01  KAIGO-REC.
           05  REC-TYPE                  PIC X.
               88  REC-HEADER            VALUE 'H'.
               88  REC-DATA              VALUE 'D'.
               88  REC-TRAILER           VALUE 'T'.
           05  KAIGO-DATA.
               10  HIHOKENSHA-NO         PIC 9(10).
               10  ATENA-NO              PIC 9(10).
               10  SHIKAKU-SHUTOKU-YMD   PIC 9(7).
               10  YOKAIGODO             PIC X(2).
                   88  YOKAIGODO-HIGAITO     VALUE '00'.
                   88  YOKAIGODO-YOSHIEN1    VALUE '12'.
                   88  YOKAIGODO-YOSHIEN2    VALUE '13'.
                   88  YOKAIGODO-YOKAIGO1    VALUE '21'.
                   88  YOKAIGODO-YOKAIGO2    VALUE '22'.
                   88  YOKAIGODO-YOKAIGO3    VALUE '23'.
                   88  YOKAIGODO-YOKAIGO4    VALUE '24'.
                   88  YOKAIGODO-YOKAIGO5    VALUE '25'.
               10  HOKENRYO-DANKAI       PIC 9(2).
               10  HOKENRYO              PIC S9(9) COMP-3.
               10  FILLER                  PIC X(43).
           05  KAIGO-HDR REDEFINES KAIGO-DATA.
               10  HDR-FILE-ID           PIC X(8).
               10  HDR-SNAPSHOT          PIC 9(8).
               10  HDR-SYSTEM            PIC X(8).
               10  FILLER                  PIC X(55).
           05  KAIGO-TRL REDEFINES KAIGO-DATA.
               10  TRL-COUNT               PIC 9(9).
               10  TRL-SUM-HOKENRYO      PIC S9(15) COMP-3.
               10  FILLER                  PIC X(62).
