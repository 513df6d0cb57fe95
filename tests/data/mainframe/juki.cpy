000100***************************************************************** JUKI0001
000200* SYNTHETIC RESIDENT FILE (TEST FIXTURE; NOT A REAL CITY LAYOUT)  JUKI0001
000300* HEADER / DATA / TRAILER RECORDS SHARE ONE 120-BYTE RECORD AREA  JUKI0001
000400***************************************************************** JUKI0001
000500 01  JUKI-HDR.                                                    JUKI0001
000600     05  HDR-TYPE            PIC X.                               JUKI0001
000700     05  HDR-CITY-CODE       PIC 9(6).                            JUKI0001
000800     05  HDR-CREATED         PIC 9(8).                            JUKI0001
000900     05  FILLER              PIC X(105).                          JUKI0001
001000 01  JUKI-DATA.                                                   JUKI0001
001100     05  REC-TYPE            PIC X.                               JUKI0001
001200         88  IS-DATA         VALUE 'D'.                           JUKI0001
001300     05  ATENA-NO            PIC 9(10).                           JUKI0001
001400     05  SHIMEI-KANJI        PIC N(10).                           JUKI0001
001500     05  SHIMEI-KANA         PIC X(20).                           JUKI0001
001600     05  BIRTH-DATE.                                              JUKI0001
001700         10  BIRTH-ERA       PIC 9.                               JUKI0001
001800             88  ERA-SHOWA   VALUE 4.                             JUKI0001
001900             88  ERA-VALID   VALUES 1 THRU 5.                     JUKI0001
002000         10  BIRTH-YMD       PIC 9(6).                            JUKI0001
002100     05  ADDRESS             PIC X(40).                           JUKI0001
002200     05  TAX-AMOUNT          PIC S9(9)V99 COMP-3.                 JUKI0001
002300     05  BALANCE             PIC S9(7).                           JUKI0001
002400     05  HOUSEHOLD-SIZE      PIC S9(4) COMP.                      JUKI0001
002500     05  FILLER              PIC X(7).                            JUKI0001
002600 01  JUKI-TRL.                                                    JUKI0001
002700     05  TRL-TYPE            PIC X.                               JUKI0001
002800     05  TRL-COUNT           PIC 9(9).                            JUKI0001
002900     05  TRL-TAX-TOTAL       PIC S9(13)V99 COMP-3.                JUKI0001
003000     05  FILLER              PIC X(102).                          JUKI0001
