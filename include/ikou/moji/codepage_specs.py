"""What each legacy code page is made of: its tables, charset, shift codes and special areas
(:class:`CodePageSpec`, one row of :data:`SPECS` per code page), the JIPS(E) byte conversion, and
the reader of the ``tables/*.tsv`` files. :mod:`ikou.moji.codepages` builds its
:class:`~ikou.moji.codepages.CodePage` objects from these; the sources and assumptions are in its
docstring.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ikou.moji.codepage_names import WESTERN_CODEPAGES

__all__ = [
    "SPECS",
    "TABLES",
    "Area",
    "CodePageSpec",
    "JIPS_E_BYTE",
    "JIPS_E_REVERSE",
    "jips_e",
    "read_table",
]

TABLES = Path(__file__).resolve().parent / "tables"

# byte ranges: (lead_lo, lead_hi, trail_lo, trail_hi), inclusive
Area = tuple[int, int, int, int]

_JDK_930 = {0x43A1: 0xFF5E, 0x444A: 0x2015, 0x447C: 0x2225, 0x426A: 0xFFE4}
_JDK_939 = {**_JDK_930, 0x4260: 0xFF0D}


@dataclass(frozen=True)
class CodePageSpec:
    """One code page: tables and charsets, shift codes, user-defined and vendor areas."""

    description: str
    sbcs_table: str
    sbcs_charset: str
    dbcs_table: str
    dbcs_charset: str
    shift_out: bytes
    shift_in: bytes
    extra_shift_outs: tuple[bytes, ...] = ()
    user_defined: tuple[Area, ...] = ()
    vendor_extension: tuple[Area, ...] = ()  # codes in these areas AND not in the table
    dbcs_form: str = "ibm"  # ibm | euc | jips_e
    jdk: Mapping[int, int] | None = None


SPECS: dict[str, CodePageSpec] = {
    "cp930": CodePageSpec(
        "IBM CCSID 930 (SBCS 290 + DBCS 300)",
        "sbcs290",
        "IBM930",
        "dbcs300",
        "IBM930",
        b"\x0e",
        b"\x0f",
        user_defined=((0x69, 0x7F, 0x41, 0xFE),),
        jdk=_JDK_930,
    ),
    "cp939": CodePageSpec(
        "IBM CCSID 939 (SBCS 1027 + DBCS 300)",
        "sbcs1027",
        "IBM939",
        "dbcs300",
        "IBM939",
        b"\x0e",
        b"\x0f",
        user_defined=((0x69, 0x7F, 0x41, 0xFE),),
        jdk=_JDK_939,
    ),
    "cp1390": CodePageSpec(
        "IBM CCSID 1390 (SBCS 290 + euro, DBCS 16684)",
        "sbcs290",
        "IBM1390",
        "dbcs16684",
        "IBM1390",
        b"\x0e",
        b"\x0f",
        user_defined=((0x69, 0x89, 0x41, 0xFE),),
    ),
    "cp1399": CodePageSpec(
        "IBM CCSID 1399 (SBCS 1027 + euro, DBCS 16684)",
        "sbcs1027",
        "IBM1399",
        "dbcs16684",
        "IBM1399",
        b"\x0e",
        b"\x0f",
        user_defined=((0x69, 0x89, 0x41, 0xFE),),
    ),
    "jef": CodePageSpec(
        "Fujitsu JEF (EBCDIK assumed cp290; JIS X 0208 as EUC-JP bytes)",
        "sbcs290",
        "IBM930",
        "jisx0208",
        "EUC-JP",
        b"\x28",
        b"\x29",
        extra_shift_outs=(b"\x38",),
        user_defined=((0x80, 0xA0, 0xA1, 0xFE),),
        vendor_extension=((0x41, 0x7D, 0xA1, 0xFE), (0x7F, 0x7F, 0xA1, 0xFE)),
        dbcs_form="euc",
    ),
    "keis": CodePageSpec(
        "Hitachi KEIS (EBCDIK assumed cp290; JIS X 0208 as EUC-JP bytes)",
        "sbcs290",
        "IBM930",
        "jisx0208",
        "EUC-JP",
        b"\x0a\x42",
        b"\x0a\x41",
        user_defined=((0x81, 0xA0, 0xA1, 0xFE),),
        vendor_extension=((0x59, 0x80, 0xA1, 0xFE), (0xD0, 0xFE, 0xA1, 0xFE)),
        dbcs_form="euc",
    ),
    "jips": CodePageSpec(
        "NEC JIPS(E) (assumed: EBCDIK cp290; JIS X 0208 bytes through cp037)",
        "sbcs290",
        "IBM930",
        "jisx0208",
        "EUC-JP",
        b"\x3f\x75",
        b"\x3f\x76",
        # JIS rows 84-94 (user-defined), rows 8-15 (NEC extension); in JIS bytes
        user_defined=((0x74, 0x7E, 0x21, 0x7E),),
        vendor_extension=((0x28, 0x2F, 0x21, 0x7E),),
        dbcs_form="jips_e",
    ),
}

for _name in WESTERN_CODEPAGES:
    _n = int(_name[2:])
    SPECS[_name] = CodePageSpec(
        f"IBM CCSID {_n} (Western EBCDIC, single-byte)",
        f"sbcs{_n:03d}",
        f"IBM{_n:03d}",
        "",
        "",
        b"\x0e",
        b"\x0f",
    )

# JIPS(E): each byte of the JIS code (0x21-0x7E) converted ASCII -> EBCDIC (cp037; assumption)
JIPS_E_BYTE = dict(zip(range(0x21, 0x7F), bytes(range(0x21, 0x7F)).decode().encode("cp037")))


def jips_e(jis_code: int) -> int:
    """The JIPS(E) code of a JIS X 0208 code (both bytes through :data:`JIPS_E_BYTE`)."""
    return (JIPS_E_BYTE[jis_code >> 8] << 8) | JIPS_E_BYTE[jis_code & 0xFF]


JIPS_E_REVERSE = {e: j for j, e in JIPS_E_BYTE.items()}


@functools.lru_cache(maxsize=None)
def read_table(table: str, charset: str) -> tuple[dict[int, str], dict[str, int]]:
    """(decode map, canonical encode map) of one table for one charset; flag-1 lines skipped."""
    decode: dict[int, str] = {}
    encode: dict[str, int] = {}
    text = (TABLES / f"{table}.tsv").read_text(encoding="utf-8")
    for line in text.split("\n"):
        if not line or line[0] == "#":
            continue
        cols = line.split("\t")
        flag = cols[2] if len(cols) > 2 else "0"
        if flag == "1" or (len(cols) > 3 and charset not in cols[3].split(",")):
            continue
        u = cols[1]
        if len(u) <= 8:  # one code point
            s = chr(int(u[2:], 16))
        else:
            s = "".join(chr(int(x[2:], 16)) for x in u.split(" "))
        code = int(cols[0], 16)
        decode[code] = s
        if flag == "0":
            encode[s] = code
    return decode, encode
