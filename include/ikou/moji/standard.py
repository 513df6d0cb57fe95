"""The administrative standard character set (行政事務標準文字) as this project can know it, and checks.

The real set is MJ+ (文字情報基盤 MJ: 58,862 characters in ISO/IEC 10646, variants reached by IVS
of the Moji_Joho collection, plus about 10,000 additions in the Private Use Area for now). Ikou
does not ship the MJ tables or the Ideographic Variation Database, so it approximates the set by
what it can derive here — every choice is explicit and configurable:

1. **JIS X 0208 / JIS X 0213 repertoire** — every character (and the 25 JIS X 0213 characters
   that are Unicode *sequences*, e.g. か゚ = U+304B U+309A) of Python's ``euc_jis_2004`` codec
   (JIS X 0213:2004 planes 1 and 2, JIS X 0201 Roman and katakana, ASCII), plus the Unicode side
   of the code-page tables in ``ikou/moji/tables/`` (``jisx0208``, ``dbcs300`` — IBM's DBCS host
   code page with its extended kanji such as 髙 﨑 — and ``dbcs16684``, its JIS X 0213 additions),
   i.e. every character the city's mainframe could hold without a 外字.
2. **Registered IVS sequences** — ASSUMPTION: an ideograph of the repertoire followed by one
   ideographic variation selector VS17..VS256 (U+E0100..U+E01EF) is accepted as registered
   (the Moji_Joho collection registers such sequences for MJ characters; without the IVD we
   cannot tell a registered sequence from an unregistered one). ``ivd=`` takes a list of exact
   registered sequences to make this strict: then only those pass.
3. **The city's 外字 table** — every target of the table (``unicode`` column: a character, an IVS
   sequence, or an MJ+ addition in the PUA) is part of the set for that city.

Anything else is *outside*: a finding naming the code point (``U+XXXX``), never the text.
``U+3013`` (〓 GETA MARK) is in JIS X 0208 but is what extract writes for an unmapped 外字:
:meth:`StandardCharset.problems` reports it as ``gaiji_placeholder``.

Vendor mapping variants (domain brief: the JDK maps 0x43A1 → U+FF5E where JIS, iconv and ICU
give U+301C WAVE DASH, and so on): the standard follows JIS. With ``vendor_variants="jis"`` (the
default) the JDK-side code points U+FF5E U+2015 U+2225 U+FFE4 U+FF0D are reported as
``vendor_variant`` findings (they are *in* JIS X 0213, as distinct characters, so they are not
"outside"); ``"off"`` reports nothing. Nothing here changes text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

TABLES = Path(__file__).with_name("tables")
DATA = Path(__file__).with_name("data")
REPERTOIRE_TABLES = ("jisx0208", "dbcs300", "dbcs16684")
VS_FIRST, VS_LAST = 0xE0100, 0xE01EF  # VS17 .. VS256: ideographic variation selectors
PLACEHOLDER = 0x3013  # 〓: extract's stand-in for an unmapped 外字
#: JDK-side code point -> the JIS / iconv / ICU one the standard follows (domain brief)
VENDOR_VARIANTS = {0xFF5E: 0x301C, 0x2015: 0x2014, 0x2225: 0x2016, 0xFFE4: 0x00A6, 0xFF0D: 0x2212}

__all__ = [
    "StandardCharset",
    "repertoire",
    "standard_charset",
    "units",
    "codepoint",
    "is_ideograph",
    "PLACEHOLDER",
    "VENDOR_VARIANTS",
]


def codepoint(text: str) -> str:
    """``"葛\\U000E0100"`` -> ``"U+845B U+E0100"``."""
    return " ".join(f"U+{ord(c):04X}" for c in text)


def is_ideograph(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3FFFF
        or cp == 0x3005
        or cp == 0x3007
    )


def _is_combining(ch: str) -> bool:
    cp = ord(ch)
    return (
        VS_FIRST <= cp <= VS_LAST
        or 0xFE00 <= cp <= 0xFE0F
        or unicodedata.combining(ch) != 0
        or cp in (0x309A, 0x3099, 0x02E5, 0x02E9)
    )


def units(text: str) -> list[str]:
    """Characters with their combining marks / variation selectors attached (one unit each)."""
    out: list[str] = []
    for ch in text:
        if out and _is_combining(ch):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _table_repertoire(name: str) -> tuple[set[int], set[str]]:
    cps: set[int] = set()
    seqs: set[str] = set()
    for line in (TABLES / f"{name}.tsv").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) >= 3 and parts[2].strip() == "1":
            continue  # encode-only: the code decodes to something else
        chars = "".join(chr(int(u[2:], 16)) for u in parts[1].split())
        if len(chars) == 1:
            cps.add(ord(chars))
        elif chars:
            seqs.add(chars)
    return cps, seqs


def _codec_repertoire(codec: str = "euc_jis_2004") -> tuple[set[int], set[str]]:
    cps: set[int] = set()
    seqs: set[str] = set()

    def add(b: bytes) -> None:
        try:
            s = b.decode(codec)
        except UnicodeDecodeError:
            return
        if len(s) == 1:
            cps.add(ord(s))
        elif s:
            seqs.add(s)

    for b in range(0x20, 0x7F):
        add(bytes([b]))
    for lo in range(0xA1, 0xE0):
        add(bytes([0x8E, lo]))  # JIS X 0201 katakana
    for hi in range(0xA1, 0xFF):
        for lo in range(0xA1, 0xFF):
            add(bytes([hi, lo]))  # plane 1
            add(bytes([0x8F, hi, lo]))  # plane 2
    return cps, seqs


@functools.lru_cache(maxsize=1)
def repertoire() -> tuple[frozenset[int], frozenset[str]]:
    """(code points, multi-code-point sequences) of the JIS X 0208/0213 + host code-page repertoire."""
    cps, seqs = _codec_repertoire()
    for name in REPERTOIRE_TABLES:
        c, s = _table_repertoire(name)
        cps |= c
        seqs |= s
    cps.discard(0x7F)
    return frozenset(cps), frozenset(seqs)


def _ranges(cps: Iterable[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for c in sorted(cps):
        if out and c == out[-1][1] + 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return [(a, b) for a, b in out]


def _char_class(ranges: list[tuple[int, int]]) -> str:
    def esc(c: int) -> str:
        return f"\\U{c:08x}"

    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges)


class StandardCharset:
    """The standard character set of one city (repertoire + IVS policy + its 外字 targets)."""

    def __init__(
        self,
        extra: Iterable[str] = (),
        *,
        ivd: Iterable[str] | None = None,
        vendor_variants: str = "jis",
    ):
        if vendor_variants not in ("jis", "off"):
            raise ValueError("vendor_variants must be 'jis' or 'off'")
        base_cps, base_seqs = repertoire()
        self.codepoints: set[int] = set(base_cps)
        self.sequences: set[str] = set(base_seqs)
        self.ivd: frozenset[str] | None = frozenset(ivd) if ivd is not None else None
        self.vendor_variants = vendor_variants
        self.extra: set[str] = set()
        for text in extra:
            self.add(text)
        self._compile()

    def add(self, text: str) -> None:
        """Accept one character or sequence (e.g. a 外字 table target)."""
        if not text:
            return
        self.extra.add(text)
        if len(text) == 1:
            self.codepoints.add(ord(text))
        else:
            self.sequences.add(text)
        if hasattr(self, "_fast"):
            self._compile()

    @classmethod
    def for_gaiji_table(cls, table, **kw) -> "StandardCharset":
        """The set extended by every target of a city's 外字 table (a GaijiTable or a CSV path)."""
        from ikou.moji.gaiji import GaijiTable

        if not isinstance(table, GaijiTable):
            table = GaijiTable.load(table)
        return cls((e.text for e in table.entries()), **kw)

    def _compile(self) -> None:
        allowed = set(self.codepoints)
        allowed.discard(PLACEHOLDER)
        if self.vendor_variants == "jis":
            allowed -= set(VENDOR_VARIANTS)
        # Text made only of allowed single code points is standard: one C-speed regex scan. Anything
        # else (IVS, combining sequences, outsiders, 〓) takes the slow path, unit by unit.
        self._fast = re.compile(f"[{_char_class(_ranges(allowed))}]*\\Z")

    def _unit_ok(self, u: str) -> bool:
        if len(u) == 1:
            return ord(u) in self.codepoints
        if u in self.sequences:
            return True
        base, rest = u[0], u[1:]
        if len(rest) == 1 and VS_FIRST <= ord(rest) <= VS_LAST and is_ideograph(base):
            if self.ivd is not None:
                return u in self.ivd
            return ord(base) in self.codepoints
        return False

    def problems(self, text: str) -> list[tuple[str, str]]:
        """``[(kind, "U+XXXX"), …]`` for one text: kind is ``nonstandard_char`` (outside the set),
        ``gaiji_placeholder`` (〓, an unmapped 外字) or ``vendor_variant``. Empty = standard."""
        if not text or self._fast.match(text):
            return []
        out: list[tuple[str, str]] = []
        for u in units(text):
            if len(u) == 1 and ord(u) == PLACEHOLDER:
                out.append(("gaiji_placeholder", codepoint(u)))
            elif len(u) == 1 and self.vendor_variants == "jis" and ord(u) in VENDOR_VARIANTS:
                out.append(("vendor_variant", codepoint(u)))
            elif not self._unit_ok(u):
                if len(u) > 1 and all(self._unit_ok(c) for c in u):
                    out.append(("nonstandard_sequence", codepoint(u)))
                else:
                    bad = [c for c in u if not self._unit_ok(c)] or [u]
                    out.extend(("nonstandard_char", codepoint(c)) for c in bad)
        return out

    def is_standard(self, text: str) -> bool:
        return not self.problems(text)

    def __contains__(self, text: str) -> bool:
        return self.is_standard(text)


@functools.lru_cache(maxsize=1)
def standard_charset() -> StandardCharset:
    """The set without any city's 外字 table (cached)."""
    return StandardCharset()
