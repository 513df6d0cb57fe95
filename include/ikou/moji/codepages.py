r"""Legacy Japanese mainframe code pages: tables and scalar codecs.

``get_codepage(name, variant)`` returns a cached, immutable :class:`CodePage` with numpy lookup
arrays (``sbcs``: 256 entries, ``dbcs``: 65536 entries, ``UNDEFINED`` where a code has no
character) for vectorised decoders, and scalar reference codecs (``encode_*`` / ``decode_*``) for
tests, tools and the synthetic city. The names of the code pages are
:mod:`ikou.moji.codepage_names` (light: the registry reads them), what each is made of
:mod:`ikou.moji.codepage_specs`. This module stays over 500 lines for this docstring (the sources,
findings and assumptions, about 120 lines); its code is the CodePage codecs and the lookup.

Code pages
----------
=========  =====================================================================================
cp930      IBM CCSID 930: SBCS 290 (EBCDIK) + DBCS 300, SO 0x0E / SI 0x0F
cp939      IBM CCSID 939: SBCS 1027 (Latin) + DBCS 300
cp1390     IBM CCSID 1390: SBCS 290 + euro + DBCS 16684 (300 + JIS X 0213 additions)
cp1399     IBM CCSID 1399: SBCS 1027 + euro + DBCS 16684
jef        Fujitsu JEF: JIS X 0208 in EUC-JP byte form, kanji shift 0x28 (0x38 also read) / 0x29
keis       Hitachi KEIS: JIS X 0208 in EUC-JP byte form, shift 0x0A42 / 0x0A41
jips       NEC JIPS(E): JIS X 0208 with each byte converted to EBCDIC, shift 0x3F75 / 0x3F76
cp037 ...  Western EBCDIC, single-byte: cp037 cp273 cp277 cp278 cp280 cp284 cp285 cp297 cp500
           cp871 cp1047 and the euro pages cp1140-cp1149 (tables ``sbcsNNN.tsv``, decoded by ICU
           ``ibm-NNN``; glibc's IBM278 / 285 / 871 differ on five bytes, see the table headers)
ascii ...  open-system encodings ascii, latin1, utf-8, cp932, euc-jp: :mod:`ikou.moji.opensystem`
           (``get_codepage`` returns an ``OpenCodePage`` for them)
=========  =====================================================================================

Source of the tables: ``include/ikou/moji/tables/*.tsv``, generated from glibc 2.36 ``iconv``
(IBM930, IBM939, IBM1390, IBM1399, EUC-JP) by ``scripts/gen_codepage_tables.py``; the header of
each file records the source and every rule applied. Where several codes decode to one character
the encoder uses the code iconv's encoder picks (the table's flag 0); encoding is always the exact
inverse of decoding: ``decode(encode(text)) == text`` or ``UnencodableCharacter``, never a silent
substitution.

Variants (the wave-dash family)
-------------------------------
``variant="jis"`` (default) follows iconv / ICU / JIS; ``variant="jdk"`` follows the JDK's
x-IBM930 / x-IBM939 for exactly these DBCS codes (both directions):

=======  ================  =================  ==================================================
code     jis (iconv, ICU)  jdk                which code pages
=======  ================  =================  ==================================================
0x43A1   U+301C WAVE DASH  U+FF5E FW TILDE    cp930, cp939
0x444A   U+2014 EM DASH    U+2015 HORIZ. BAR  cp930, cp939
0x447C   U+2016 DBL BAR    U+2225 PARALLEL    cp930, cp939
0x426A   U+00A6 BROKEN BAR U+FFE4 FW BR. BAR  cp930, cp939
0x4260   U+2212 MINUS      U+FF0D FW H-MINUS  cp939 only (the JDK's x-IBM930 keeps U+2212)
=======  ================  =================  ==================================================

``jdk`` is refused (``ValueError``) for cp1390 / cp1399 -- DBCS 16684 has codes of its own for the
JDK-style characters (0xE9F4 U+FF5E, 0xDDB7 U+2015, 0xDFE5 U+2225, 0xE9F5 U+FFE4, 0xE9F3 U+FF0D,
in iconv and ICU alike), so the JDK mapping would give one character two codes -- and for
jef / keis / jips, for which the JDK has no charset to follow.

Findings (checked 2026-11-28 on this machine: glibc 2.36 iconv, ICU 72.1 uconv, OpenJDK 17.0.15)
--------------------------------------------------------------------------------------------------
The JDK comparison covers every byte, every DBCS code 0x4040-0xFEFE and every scalar value
U+0000-U+3FFFF (``tests/data/oracle/jdk_vs_iconv.tsv``, written by
``scripts/oracle/JdkOracle.java``; a run over all of U+0000-U+10FFFF gave the same rows).

1. Wave dash and friends: the domain brief is right, to the code. These are the only DBCS codes
   (0x4040-0xFEFE, the user-defined area aside) that the JDK decodes differently from iconv:
   x-IBM930 0x43A1 0x444A 0x447C 0x426A; x-IBM939 the same plus 0x4260.
2. SBCS 0x15: the JDK decodes it to U+000A (LF) and encodes LF to 0x15; iconv and ICU decode it to
   U+0085 (NEL) and encode LF to 0x25. Both variants here keep iconv's U+0085 (and LF = 0x25).
3. The brief's "290 has no lower-case Latin" and "1027 has no half-width katakana" do NOT hold for
   these converters: iconv, ICU and the JDK all decode cp930 SBCS 0x62-0x69, 0x71-0x78, 0x8B,
   0x9B, 0xAB, 0xB3-0xB9 to a-z, and cp939 SBCS carries the half-width katakana U+FF61-U+FF9F
   (between 0x42 and 0xBF, around the Latin letters). So
   ``get_codepage("cp930").encode_sbcs("abc")`` returns ``b"\x62\x63\x64"``: lower case does not
   raise under cp930.
4. One-way encodings. Against these tables the JDK's x-IBM930 encoder gives a code to 51
   characters (x-IBM939: 52) that decode to something else: the five JDK-style characters
   U+FF5E U+2015 U+2225 U+FFE4 U+FF0D (the jdk variant encodes them the JDK's way), U+8F91
   (-> 0x446E, which is №), and 45 (x-IBM939: 46, adding 荆 U+8346) old / variant kanji folded
   onto the new form's code: 頰 U+9830 -> 0x4EB3 = 頬, likewise 塡 醬 囊 蟬 鷗 剝 禱 繫 俠 萊 麴 ...
   (within the JDK itself U+301C U+2014 U+2016 U+00A6, for x-IBM939 also U+2212, are one-way too).
   glibc's IBM930 encoder does the same for 39 kanji plus U+FF5E U+2015 U+2225 U+FF0D U+F86F
   (IBM939 also U+FFE4). For a name that silently changes the character: here every one of them
   raises ``UnencodableCharacter`` (the tables list iconv's with flag 1, for the record).
5. Yen, overline, backslash, tilde in SBCS: iconv's IBM930 encoder sends U+005C to 0x5B (which
   decodes to ¥) and U+007E to 0xA1 (decodes to ‾); its IBM939 encoder sends them to 0xB2 (¥) and
   0xA0 (‾). The tables follow the decoders -- cp930: 0xB2 = \ and 0xA0 = ~; cp939: 0xE0 = \
   and 0xA1 = ~ -- which is also exactly what the JDK's encoders do.
6. iconv IBM1390 / IBM1399 decode 27 unassigned SBCS bytes to U+001A instead of failing (ICU
   rejects them): undefined here. iconv's IBM930 / IBM939 encoders write 0x3F (SUB) for 109
   characters they cannot encode (é and other Latin-1 letters, box drawing, U+FFE8-U+FFEE, even
   U+000E / U+000F), IBM1390 / IBM1399 for 10, without an error; the JDK and this module raise.
7. iconv and ICU agree on every decoded code of the four IBM CCSIDs (SBCS and DBCS), apart from the
   points above. Both map the user-defined area to the Private Use Area (930/939: 0x6941-0x7FFE ->
   U+E000-U+F111; 1390/1399: 0x6941-0x89BD -> U+E000-U+F83C); that mapping is left out here:
   those codes are ``UNDEFINED`` and ``is_user_defined`` says True (外字 come from the city's table).
8. cp1390 / cp1399 SBCS has the euro sign at 0xE1 (cp930 / cp939 do not); 25 DBCS 16684 codes
   decode to two code points (kana + U+309A, etc.): their ``dbcs`` entry is ``SEQUENCE`` and the
   text is in ``CodePage.dbcs_sequences``.
9. glibc's EUC-JP (the JIS X 0208 base of jef / keis / jips) maps the JIS EM DASH 0xA1BD to U+2015,
   where iconv's IBM930 gives U+2014 for the same JIS character; other JIS mappings of note:
   0xA1C1 U+301C, 0xA1C2 U+2016, 0xA1DD U+2212, 0xA1EF U+FFE5, 0xA1C0 U+FF3C, 0xA2CC U+00AC.

Assumptions (jef / keis / jips; not confirmed in a primary source, keep them configurable)
-------------------------------------------------------------------------------------------
* SBCS part of jef, keis and jips: EBCDIK as IBM code page 290 (the cp930 SBCS table), minus the
  one-byte shift codes (0x28, 0x29, 0x38 for jef). The vendors' own EBCDIK tables may differ.
* DBCS: JIS X 0208 only (EUC-JP bytes for jef and keis, per the domain brief); 0x4040 is the
  ideographic space in all three and is what U+3000 encodes to (0xA1A1 still decodes to U+3000).
  Vendor extension and user-defined areas are not in the tables; ``is_user_defined`` says True for
  them (jef: lead 0x41-0x7D, 0x7F, 0x80-0xA0; keis: lead 0x59-0xA0, and 0xD0-0xFE outside JIS X
  0208; jips: JIS rows 8-15 outside JIS X 0208 and rows 84-94), ``is_vendor_extension`` tells the
  vendor extension apart.
* jips is NEC JIPS(E). Shift codes 0x3F75 (KI) / 0x3F76 (KO) after Japanese Wikipedia
  「漢字シフトコード」; double-byte codes = JIPS(J) (JIS X 0208, G0) with each byte converted to
  EBCDIC (Japanese Wikipedia 「JIPS」); the byte conversion used here is ASCII -> EBCDIC of IBM
  code page 037 (Python's ``cp037``) -- NEC's own byte table was not available. NEC's G1 set is not
  modelled.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ikou.moji.codepage_names import (
    JAPANESE_CODEPAGES,
    KNOWN_CODEPAGES,
    OPEN_CODEPAGES,
    VARIANTS,
    WESTERN_CODEPAGES,
)
from ikou.moji.codepage_specs import JIPS_E_REVERSE, SPECS, Area, CodePageSpec, jips_e, read_table
from ikou.moji.opensystem import OpenCodePage, get_open_codepage, open_alias

__all__ = [
    "UNDEFINED",
    "SEQUENCE",
    "KNOWN_CODEPAGES",
    "VARIANTS",
    "CodePage",
    "UnencodableCharacter",
    "UndecodableBytes",
    "get_codepage",
    "canonical_name",
    "WESTERN_CODEPAGES",
    "JAPANESE_CODEPAGES",
    "OPEN_CODEPAGES",
    "OpenCodePage",
    "is_ebcdic",
]

UNDEFINED: int = 0xFFFFFFFF
#: ``dbcs`` value of a code that decodes to several code points (see ``CodePage.dbcs_sequences``)
SEQUENCE: int = 0xFFFFFFFE


# ------------------------------------------------------------------------------------------ errors


class UnencodableCharacter(ValueError):
    """A character has no code in the code page (or not in the requested part of it).

    The message names the position and the code point only, never the text (personal data).
    """

    def __init__(self, codepage: str, position: int, codepoint: int, part: str = ""):
        self.codepage = codepage
        self.position = position
        self.codepoint = codepoint
        self.part = part
        where = f" {part}" if part else ""
        super().__init__(f"{codepage}: U+{codepoint:04X} at position {position} has no{where} code")


class UndecodableBytes(ValueError):
    """Bytes that do not decode: an undefined code, or a DBCS code cut short.

    ``position`` is the byte offset, ``code`` the SBCS byte or 2-byte DBCS code.
    """

    def __init__(
        self, codepage: str, position: int, code: int, width: int, reason: str = "undefined"
    ):
        self.codepage = codepage
        self.position = position
        self.code = code
        self.width = width
        self.reason = reason
        if reason == "truncated":
            what = f"truncated DBCS code: lone byte 0x{code:02X}"
        else:
            what = f"{reason} {'SBCS byte' if width == 1 else 'DBCS code'} 0x{code:0{2 * width}X}"
        super().__init__(f"{codepage}: {what} at byte offset {position}")


def _array(mapping: Mapping[int, str], size: int) -> np.ndarray:
    arr = np.full(size, UNDEFINED, dtype=np.uint32)
    if mapping:
        keys = np.fromiter(mapping.keys(), dtype=np.int64, count=len(mapping))
        vals = np.fromiter(
            (ord(s) if len(s) == 1 else SEQUENCE for s in mapping.values()),
            dtype=np.uint32,
            count=len(mapping),
        )
        arr[keys] = vals
    arr.flags.writeable = False
    return arr


# ---------------------------------------------------------------------------------------- codepage


@dataclass(frozen=True, eq=False)
class CodePage:
    """One legacy code page (immutable, shared: get it from :func:`get_codepage`)."""

    name: str
    variant: str
    sbcs: np.ndarray = field(repr=False)
    dbcs: np.ndarray = field(repr=False)
    shift_out: bytes
    shift_in: bytes
    dbcs_space: int = 0x4040
    sbcs_space: int = 0x40
    description: str = ""
    #: DBCS codes that decode to more than one code point (``dbcs`` holds ``SEQUENCE`` for them)
    dbcs_sequences: Mapping[int, str] = field(default_factory=dict, repr=False)
    #: further byte strings read as shift-out by the decoders (JEF's 0x38)
    extra_shift_outs: tuple[bytes, ...] = field(default=(), repr=False)
    _sbcs_enc: Mapping[str, int] = field(default_factory=dict, repr=False)
    _dbcs_enc: Mapping[str, int] = field(default_factory=dict, repr=False)
    _spec: CodePageSpec | None = field(default=None, repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CodePage):
            return NotImplemented
        return (self.name, self.variant) == (other.name, other.variant)

    def __hash__(self) -> int:
        return hash((self.name, self.variant))

    # -------------------------------------------------------------------------- maps

    @property
    def sbcs_encoding(self) -> Mapping[str, int]:
        """Character -> SBCS byte (read-only)."""
        return self._sbcs_enc

    @property
    def dbcs_encoding(self) -> Mapping[str, int]:
        """Character (or sequence, see ``dbcs_sequences``) -> DBCS code (read-only)."""
        return self._dbcs_enc

    # -------------------------------------------------------------------------- areas

    def _native(self, code: int) -> int | None:
        """The code in the areas' byte form (JIS bytes for jips), None if outside that form."""
        if self._spec is None or self._spec.dbcs_form != "jips_e":
            return code
        hi, lo = JIPS_E_REVERSE.get(code >> 8), JIPS_E_REVERSE.get(code & 0xFF)
        return None if hi is None or lo is None else (hi << 8) | lo

    @staticmethod
    def _in(code: int, areas: tuple[Area, ...]) -> bool:
        hi, lo = code >> 8, code & 0xFF
        return any(a <= hi <= b and c <= lo <= d for a, b, c, d in areas)

    def is_vendor_extension(self, code: int) -> bool:
        """True for a DBCS code in the vendor's extension area that the tables do not cover."""
        if self._spec is None or not 0 <= code <= 0xFFFF or self.dbcs[code] != UNDEFINED:
            return False
        native = self._native(code)
        return native is not None and self._in(native, self._spec.vendor_extension)

    def is_user_defined(self, code: int) -> bool:
        """True for a DBCS code whose character must come from the city's 外字 table.

        That is the user-defined area (IBM 930/939: 0x6941-0x7FFE; 1390/1399 also up to 0x89FE;
        JEF lead 0x80-0xA0; KEIS lead 0x81-0xA0; JIPS rows 84-94) and, for JEF / KEIS / JIPS,
        the vendor extension area the tables leave out (see :meth:`is_vendor_extension`).
        """
        if self._spec is None or not 0 <= code <= 0xFFFF:
            return False
        native = self._native(code)
        if native is not None and self._in(native, self._spec.user_defined):
            return True
        return self.is_vendor_extension(code)

    def pua(self, code: int) -> int | None:
        """The Private Use Area code point iconv and ICU give a user-defined-area code (the
        ``pua`` 外字 policy): U+E000 + 190 x (lead - 0x69) + (trail - 0x41) for the IBM code
        pages (930/939: 0x6941-0x7FFE -> U+E000-U+F111; 1390/1399 up to 0x89BD -> U+F83C);
        None for codes outside that area and for JEF / KEIS / JIPS (no standard mapping)."""
        if self._spec is None or self._spec.dbcs_form != "ibm" or not self._spec.user_defined:
            return None
        hi, lo = code >> 8, code & 0xFF
        if not self._in(code, self._spec.user_defined) or not 0x41 <= lo <= 0xFE:
            return None
        cp = 0xE000 + 190 * (hi - 0x69) + (lo - 0x41)
        return cp if cp <= (0xF83C if self._spec.dbcs_table == "dbcs16684" else 0xF111) else None

    # -------------------------------------------------------------------------- encoders

    def _dbcs_sequence_at(self, text: str, i: int) -> int | None:
        """The DBCS code of a two-code-point sequence starting at text[i], if there is one."""
        if not self.dbcs_sequences or i + 2 > len(text):
            return None
        return self._dbcs_enc.get(text[i : i + 2])

    def _enc_dbcs_at(self, text: str, i: int) -> tuple[int, int] | None:
        """(code, characters consumed) for the DBCS code at text[i], longest match first."""
        code = self._dbcs_sequence_at(text, i)
        if code is not None:
            return code, 2
        code = self._dbcs_enc.get(text[i])
        return None if code is None else (code, 1)

    def encode_sbcs(self, text: str) -> bytes:
        """Single-byte only (PIC X); ``UnencodableCharacter`` for anything without an SBCS code."""
        enc = self._sbcs_enc
        out = bytearray()
        for i, ch in enumerate(text):
            b = enc.get(ch)
            if b is None:
                raise UnencodableCharacter(self.name, i, ord(ch), "SBCS")
            out.append(b)
        return bytes(out)

    def encode_dbcs(self, text: str) -> bytes:
        """Double-byte only, no shift codes (PIC N / PIC G)."""
        out = bytearray()
        i, n = 0, len(text)
        while i < n:
            hit = self._enc_dbcs_at(text, i)
            if hit is None:
                raise UnencodableCharacter(self.name, i, ord(text[i]), "DBCS")
            code, used = hit
            out += code.to_bytes(2, "big")
            i += used
        return bytes(out)

    def encode_mixed(self, text: str) -> bytes:
        """SBCS where the character has an SBCS code, DBCS runs between shift-out and shift-in."""
        out = bytearray()
        in_dbcs = False
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            # a DBCS sequence (kana + combining mark) wins over an SBCS first character
            b = None if self._dbcs_sequence_at(text, i) is not None else self._sbcs_enc.get(ch)
            if b is not None:
                if in_dbcs:
                    out += self.shift_in
                    in_dbcs = False
                out.append(b)
                i += 1
                continue
            hit = self._enc_dbcs_at(text, i)
            if hit is None:
                raise UnencodableCharacter(self.name, i, ord(ch))
            if not in_dbcs:
                out += self.shift_out
                in_dbcs = True
            out += hit[0].to_bytes(2, "big")
            i += hit[1]
        if in_dbcs:
            out += self.shift_in
        return bytes(out)

    # -------------------------------------------------------------------------- decoders

    def _char_dbcs(self, code: int, pos: int) -> str:
        cp = int(self.dbcs[code])
        if cp == UNDEFINED:
            reason = "user-defined" if self.is_user_defined(code) else "undefined"
            raise UndecodableBytes(self.name, pos, code, 2, reason)
        return self.dbcs_sequences[code] if cp == SEQUENCE else chr(cp)

    def decode_sbcs(self, data: bytes) -> str:
        """Single-byte only (PIC X): every byte through ``sbcs``; shift codes are errors here."""
        table = self.sbcs
        out = []
        for i, b in enumerate(data):
            cp = int(table[b])
            if cp == UNDEFINED:
                raise UndecodableBytes(self.name, i, b, 1)
            out.append(chr(cp))
        return "".join(out)

    def decode_dbcs(self, data: bytes) -> str:
        """Double-byte only, no shift codes (PIC N / PIC G)."""
        n = len(data)
        out = []
        for i in range(0, n - 1, 2):
            out.append(self._char_dbcs((data[i] << 8) | data[i + 1], i))
        if n % 2:
            raise UndecodableBytes(self.name, n - 1, data[-1], 1, "truncated")
        return "".join(out)

    def decode_mixed(self, data: bytes) -> str:
        """SBCS with shift-out .. shift-in DBCS runs. A run left open at the end is accepted."""
        so, si = self.shift_out, self.shift_in
        sos = (so, *self.extra_shift_outs)
        table = self.sbcs
        out = []
        i, n = 0, len(data)
        in_dbcs = False
        while i < n:
            if data.startswith(si, i):
                in_dbcs = False
                i += len(si)
                continue
            shift = next((s for s in sos if data.startswith(s, i)), None)
            if shift is not None:
                in_dbcs = True
                i += len(shift)
                continue
            if in_dbcs:
                if i + 1 >= n:
                    raise UndecodableBytes(self.name, i, data[i], 1, "truncated")
                out.append(self._char_dbcs((data[i] << 8) | data[i + 1], i))
                i += 2
            else:
                cp = int(table[data[i]])
                if cp == UNDEFINED:
                    raise UndecodableBytes(self.name, i, data[i], 1)
                out.append(chr(cp))
                i += 1
        return "".join(out)

    def __repr__(self) -> str:
        return f"CodePage({self.name!r}, variant={self.variant!r})"


# ------------------------------------------------------------------------------------------ lookup

_ALIASES = {
    "jef": "jef",
    "fujitsujef": "jef",
    "keis": "keis",
    "hitachikeis": "keis",
    "jips": "jips",
    "jipse": "jips",
    "necjips": "jips",
    "necjipse": "jips",
}
_NUMBERED = re.compile(
    r"^(?:x)?(?:ibm|cp|ccsid)?0*(930|939|1390|1399|37|273|277|278|280|284|285|297|500|871|1047"
    r"|114[0-9])(?:p\d+\d*)?$"
)


def canonical_name(name: str) -> str:
    """The canonical code-page name for an alias ("IBM-930" -> "cp930"); ValueError if unknown."""
    key = re.sub(r"[-_ ()]", "", str(name).strip().lower())
    if key in _ALIASES:
        return _ALIASES[key]
    m = _NUMBERED.match(key)
    if m:
        return f"cp{int(m.group(1)):03d}"
    opened = open_alias(name)
    if opened is not None:
        return opened
    raise ValueError(
        f"unknown code page {name!r}; known: {', '.join(KNOWN_CODEPAGES)} "
        "(also as 930, IBM930, ibm-930, CCSID930 ...)"
    )


def is_ebcdic(name: str) -> bool:
    """True for the EBCDIC code pages (Japanese and Western), False for open-system encodings."""
    return canonical_name(name) not in OPEN_CODEPAGES


def get_codepage(name: str, variant: str = "jis") -> CodePage | OpenCodePage:
    """The code page ``name`` ("930", "cp930", "IBM930", "ibm-930", "jef", ...), cached.

    ``variant``: "jis" (default: iconv / ICU / JIS) or "jdk" (the JDK's wave-dash family; cp930 and
    cp939 only). Unknown names or variants raise ``ValueError``.
    """
    canonical = canonical_name(name)
    v = str(variant).strip().lower()
    if v not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    if canonical in OPEN_CODEPAGES:
        if v != "jis":
            raise ValueError(f"variant {v!r} is not defined for {canonical}")
        return get_open_codepage(canonical)
    return _build(canonical, v)


@functools.lru_cache(maxsize=None)
def _build(name: str, variant: str) -> CodePage:
    spec = SPECS[name]
    if variant == "jdk" and spec.jdk is None:
        raise ValueError(
            f"variant 'jdk' is not defined for {name}: "
            + (
                "DBCS 16684 has its own codes for the JDK-style characters (see ikou.moji.codepages)"
                if name in ("cp1390", "cp1399")
                else "the JDK maps it as iconv does"
                if name in WESTERN_CODEPAGES
                else "the JDK has no charset for it"
            )
        )
    sbcs_dec, sbcs_enc = (dict(m) for m in read_table(spec.sbcs_table, spec.sbcs_charset))
    dbcs_dec, dbcs_enc = {}, {}
    if spec.dbcs_table:  # Western EBCDIC pages are single-byte only: no DBCS character
        dbcs_dec, dbcs_enc = (dict(m) for m in read_table(spec.dbcs_table, spec.dbcs_charset))

    if spec.dbcs_form != "ibm":
        # one-byte shift codes are not characters in this code page
        for shift in (spec.shift_out, spec.shift_in, *spec.extra_shift_outs):
            if len(shift) == 1 and shift[0] in sbcs_dec:
                ch = sbcs_dec.pop(shift[0])
                if sbcs_enc.get(ch) == shift[0]:
                    del sbcs_enc[ch]
        if spec.dbcs_form == "jips_e":
            dbcs_dec = {jips_e(c - 0x8080): s for c, s in dbcs_dec.items()}
            dbcs_enc = {s: jips_e(c - 0x8080) for s, c in dbcs_enc.items()}
        dbcs_dec[0x4040] = "\u3000"  # EBCDIC double-byte space; encode U+3000 to it
        dbcs_enc["\u3000"] = 0x4040

    if variant == "jdk":
        for code, cp in spec.jdk.items():
            old = dbcs_dec[code]
            if dbcs_enc.get(old) == code:
                del dbcs_enc[old]
            new = chr(cp)
            assert new not in dbcs_enc and new not in sbcs_enc, (name, hex(code))
            dbcs_dec[code] = new
            dbcs_enc[new] = code

    return CodePage(
        name=name,
        variant=variant,
        sbcs=_array(sbcs_dec, 256),
        dbcs=_array(dbcs_dec, 65536),
        shift_out=spec.shift_out,
        shift_in=spec.shift_in,
        description=spec.description,
        dbcs_sequences=MappingProxyType({c: s for c, s in dbcs_dec.items() if len(s) > 1}),
        extra_shift_outs=spec.extra_shift_outs,
        _sbcs_enc=MappingProxyType(sbcs_enc),
        _dbcs_enc=MappingProxyType(dbcs_enc),
        _spec=spec,
    )
