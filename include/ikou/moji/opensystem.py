r"""Open-system (ASCII-based) encodings for files that did not come from an EBCDIC host.

``get_open_codepage(name)`` returns a cached, immutable :class:`OpenCodePage`:

=========  ======================================================================================
ascii      US-ASCII, 0x00-0x7F (a byte above 0x7F is undefined)
latin1     ISO 8859-1, every byte its own code point
utf-8      UTF-8 (strict: no overlong forms, no surrogates, nothing above U+10FFFF)
cp932      Microsoft code page 932 (Windows-31J): Shift_JIS with the NEC and IBM extensions,
           0x8160 -> U+FF5E; the user-defined area F040-F9FC is 外字 (the city's table under
           ``encoding=cp932``, else ``--gaiji-policy``; ``pua`` keeps U+E000-U+E757)
euc-jp     eucJP-ms: JIS X 0208 (two GR bytes), half-width katakana (0x8E + byte), JIS X 0212
           (0x8F + two GR bytes); the rows F5A1-FEFE and 8FF5A1-8FFEFE map to the Private Use
           Area U+E000-U+E757 as iconv's EUC-JP-MS does
=========  ======================================================================================

Tables: ``tables/cp932.tsv`` and ``tables/eucjpms.tsv``, generated from glibc iconv (``CP932``,
``EUC-JP-MS``) by ``scripts/gen_codepage_tables.py``; codes are the bytes read big-endian
(0x41, 0x8160, 0x8FA1A1). ascii, latin1 and utf-8 need no table.

An :class:`OpenCodePage` offers what the decoders of :mod:`ikou.mainframe.decode` read from a
code page (``sbcs`` / ``dbcs`` arrays -- for these encodings only the single-byte characters are
in ``sbcs`` and ``dbcs`` is empty; ``sbcs_space`` 0x20) plus the multi-byte view: ``lead_len``
(bytes of a character by its first byte), ``mb_cp`` (code point by table index, see
:func:`mb_index`) and ``user_defined`` (the 外字 area). Zoned numbers in these files are ASCII
digits with the ASCII overpunch (``ascii_numbers``).

This module imports nothing from :mod:`ikou.moji.codepages` (which imports it).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ikou.moji.codepage_names import OPEN_CODEPAGES

__all__ = [
    "MB_TABLE_SIZE",
    "MULTIBYTE_ENCODINGS",
    "OPEN_ENCODINGS",
    "OpenCodePage",
    "OpenDecodeError",
    "get_open_codepage",
    "mb_index",
    "open_alias",
]

OPEN_ENCODINGS = OPEN_CODEPAGES
MULTIBYTE_ENCODINGS = ("utf-8", "cp932", "euc-jp")

UNDEFINED = 0xFFFFFFFF  # the same value as ikou.moji.codepages.UNDEFINED
TABLES = Path(__file__).resolve().parent / "tables"

#: table index layout: single byte b -> b; two-byte code c -> 256 + c; 0x8Fxxxx -> 256 + 65536 + xxxx
MB_TABLE_SIZE = 256 + 65536 + 65536

_ALIASES = {
    "ascii": "ascii",
    "usascii": "ascii",
    "ansix3.41968": "ascii",
    "646": "ascii",
    "latin1": "latin1",
    "iso88591": "latin1",
    "l1": "latin1",
    "cp819": "latin1",
    "ibm819": "latin1",
    "utf8": "utf-8",
    "cp1208": "utf-8",
    "cp932": "cp932",
    "ms932": "cp932",
    "windows31j": "cp932",
    "mskanji": "cp932",
    "ibm943": "cp932",
    "eucjp": "euc-jp",
    "eucjpms": "euc-jp",
    "eucjpopen": "euc-jp",
}


def open_alias(name: str) -> str | None:
    """The canonical open-system encoding name for an alias ("UTF8" -> "utf-8"), else None."""
    key = re.sub(r"[-_ ()]", "", str(name).strip().lower())
    return _ALIASES.get(key)


def mb_index(code: int, nbytes: int) -> int:
    """Index into ``mb_cp`` of a code of ``nbytes`` bytes (see MB_TABLE_SIZE)."""
    if nbytes == 1:
        return code
    if nbytes == 2:
        return 256 + code
    return 256 + 65536 + (code & 0xFFFF)


class OpenDecodeError(ValueError):
    """Bytes that do not decode in an open-system encoding (names the offset and code only)."""

    def __init__(self, encoding: str, position: int, code: int):
        self.encoding, self.position, self.code = encoding, position, code
        super().__init__(f"{encoding}: undecodable code 0x{code:02X} at byte offset {position}")


@dataclass(frozen=True, eq=False)
class OpenCodePage:
    """One open-system encoding (immutable, shared: get it from :func:`get_open_codepage`)."""

    name: str
    variant: str
    sbcs: np.ndarray = field(repr=False)
    dbcs: np.ndarray = field(repr=False)
    lead_len: np.ndarray = field(repr=False)  # uint8[256]: bytes of a character; 0 = never a lead
    mb_cp: np.ndarray | None = field(repr=False)  # uint32[MB_TABLE_SIZE]; None for utf-8
    user_defined: np.ndarray | None = field(repr=False)  # bool[MB_TABLE_SIZE]: 外字 area
    description: str = ""
    multibyte: bool = False
    shift_out: bytes = b""
    shift_in: bytes = b""
    sbcs_space: int = 0x20
    dbcs_space: int = 0x2020
    ascii_numbers: bool = True
    dbcs_sequences: dict = field(default_factory=dict, repr=False)
    _encode: dict = field(default_factory=dict, repr=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OpenCodePage) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("open", self.name))

    def is_user_defined(self, code: int) -> bool:
        """True for a two-byte code in the 外字 area (cp932 F040-F9FC)."""
        if self.user_defined is None or not 0 <= code <= 0xFFFF:
            return False
        return bool(self.user_defined[256 + code]) if code > 0xFF else False

    def pua(self, code: int) -> int | None:
        """The Private Use Area code point of a 外字 code (the ``pua`` policy), else None."""
        if not self.is_user_defined(code):
            return None
        return int(self.mb_cp[256 + code])

    # ----------------------------------------------------------------------- scalar codecs

    def decode(self, data: bytes) -> str:
        """Strict decoding (外字 codes decode to their PUA code points); OpenDecodeError."""
        if self.name in ("ascii", "latin1", "utf-8"):
            try:
                return bytes(data).decode(self.name)
            except UnicodeDecodeError as exc:
                raise OpenDecodeError(self.name, exc.start, data[exc.start]) from None
        out = []
        i, n = 0, len(data)
        while i < n:
            k = int(self.lead_len[data[i]]) or 1
            if i + k > n:
                raise OpenDecodeError(self.name, i, data[i])
            code = int.from_bytes(data[i : i + k], "big")
            cp = int(self.mb_cp[mb_index(code, k)])
            if cp == UNDEFINED:
                raise OpenDecodeError(self.name, i, code)
            out.append(chr(cp))
            i += k
        return "".join(out)

    def encode(self, text: str) -> bytes:
        """Exact inverse of :meth:`decode`; ValueError naming the position for a character
        without a code."""
        if self.name in ("ascii", "latin1", "utf-8"):
            try:
                return text.encode(self.name)
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"{self.name}: U+{ord(text[exc.start]):04X} at position {exc.start} has no code"
                ) from None
        out = bytearray()
        for i, ch in enumerate(text):
            code = self._encode.get(ch)
            if code is None:
                raise ValueError(f"{self.name}: U+{ord(ch):04X} at position {i} has no code")
            out += code.to_bytes(1 if code < 0x100 else 2 if code < 0x10000 else 3, "big")
        return bytes(out)

    # the names the record encoder (ikou.mainframe.encode) calls for PIC X / N / mixed fields
    encode_sbcs = encode
    encode_dbcs = encode
    encode_mixed = encode
    decode_sbcs = decode
    decode_dbcs = decode
    decode_mixed = decode

    @property
    def sbcs_encoding(self):
        return {ch: c for ch, c in self._encode.items() if c < 0x100}

    @property
    def dbcs_encoding(self):
        return {}

    @property
    def encoding_map(self) -> dict[str, int]:
        """Character -> the code :meth:`encode` writes for it (cp932 / euc-jp; a copy)."""
        return dict(self._encode)

    def __repr__(self) -> str:
        return f"OpenCodePage({self.name!r})"


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@functools.cache
def _read_mb_table(part: str) -> tuple[np.ndarray, dict[str, int]]:
    """(mb_cp array, canonical encode map) of a multi-byte table; flag-1 lines skipped."""
    arr = np.full(MB_TABLE_SIZE, UNDEFINED, np.uint32)
    enc: dict[str, int] = {}
    for line in (TABLES / f"{part}.tsv").read_text(encoding="utf-8").split("\n"):
        if not line or line[0] == "#":
            continue
        cols = line.split("\t")
        flag = cols[2] if len(cols) > 2 else "0"
        if flag == "1" or " " in cols[1]:
            continue
        code = int(cols[0], 16)
        cp = int(cols[1][2:], 16)
        arr[mb_index(code, len(cols[0]) // 2)] = cp
        if flag == "0":
            enc[chr(cp)] = code
    return _frozen(arr), enc


@functools.cache
def get_open_codepage(name: str) -> OpenCodePage:
    """The open-system encoding ``name`` (canonical or alias), cached; ValueError if unknown."""
    canonical = open_alias(name)
    if canonical is None:
        raise ValueError(
            f"unknown open-system encoding {name!r}; known: {', '.join(OPEN_ENCODINGS)}"
        )
    sbcs = np.full(256, UNDEFINED, np.uint32)
    dbcs = _frozen(np.full(65536, UNDEFINED, np.uint32))
    lead = np.ones(256, np.uint8)
    mb = user = None
    enc: dict[str, int] = {}
    dbcs_space = 0x2020
    if canonical == "latin1":
        sbcs[:] = np.arange(256)
        desc = "ISO 8859-1"
    elif canonical == "ascii":
        sbcs[:128] = np.arange(128)
        lead[128:] = 0
        desc = "US-ASCII"
    elif canonical == "utf-8":
        sbcs[:128] = np.arange(128)
        lead[128:] = 0
        lead[0xC2:0xE0] = 2
        lead[0xE0:0xF0] = 3
        lead[0xF0:0xF5] = 4
        desc = "UTF-8"
    else:
        part = "cp932" if canonical == "cp932" else "eucjpms"
        mb, enc = _read_mb_table(part)
        sbcs[:] = mb[:256]
        if canonical == "cp932":
            lead[0x81:0xA0] = 2
            lead[0xE0:0xFD] = 2
            user = np.zeros(MB_TABLE_SIZE, bool)
            for hi in range(0xF0, 0xFA):
                for lo in (*range(0x40, 0x7F), *range(0x80, 0xFD)):
                    user[256 + ((hi << 8) | lo)] = True
            user = _frozen(user)
            dbcs_space = 0x8140
            desc = "Microsoft code page 932 (Windows-31J)"
        else:
            lead[0x80:] = 0
            lead[0x8E] = 2
            lead[0x8F] = 3
            lead[0xA1:0xFF] = 2
            dbcs_space = 0xA1A1
            desc = "eucJP-ms (EUC-JP with JIS X 0212 and the PUA rows)"
    if not enc:
        enc = {chr(int(c)): b for b, c in enumerate(sbcs.tolist()) if c != UNDEFINED}
    return OpenCodePage(
        name=canonical,
        variant="jis",
        sbcs=_frozen(sbcs),
        dbcs=dbcs,
        lead_len=_frozen(lead),
        mb_cp=mb,
        user_defined=user,
        description=desc,
        multibyte=canonical in MULTIBYTE_ENCODINGS,
        dbcs_space=dbcs_space,
        _encode=enc,
    )
