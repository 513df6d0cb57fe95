"""The reverse mapping: a standard-layout row back to the values of a legacy record.

What the decode → cleanse → map path reads from a legacy record, this module writes: the synthetic
city (``ikou_dev.synth``) writes its legacy files with it, and ``ikou link`` (データ連携) writes the
change records the mainframe programs still read while a domain is live on the standard system.

* :class:`LegacyText` -- text in a file's code page: SBCS, DBCS and mixed (SO/SI) runs, with the
  city's 外字 codes (:func:`gaiji_codes`: the 外字 table in reverse) for characters the code page
  lacks. Strict by default: a character with neither a code-page nor a 外字 code raises
  :class:`NoLegacyCode` (the record is held back); ``substitute="〓"`` writes the geta mark
  instead (the synthetic city's behaviour).
* :func:`to_wareki` -- a date as era code + YYMMDD (the common 1..5 scheme), the inverse of
  :func:`ikou.wareki.parse_wareki` on ``COMMON_SCHEME``; :func:`partial_wareki` for 日不詳 /
  月日不詳 (day or month and day 00).
* :func:`kana_halfwidth` -- full-width katakana back to the half-width SBCS kana of a PIC X field
  (the inverse of the cleanse rule ``kana_fullwidth``).
* :class:`ReverseMapping` -- one standard table's rows -> ``{legacy field: value}``, text already
  in bytes, ready for :func:`ikou.mainframe.encode.encode_record`. A row that has no legacy form
  raises :class:`NoLegacyValue` naming the field and a reason, never the value.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal

from ikou.moji.gaiji import GaijiTable
from ikou.wareki import COMMON_SCHEME, era_of

__all__ = [
    "LegacyText",
    "NoLegacyCode",
    "NoLegacyValue",
    "ReverseMapping",
    "gaiji_codes",
    "kana_halfwidth",
    "partial_wareki",
    "text_units",
    "to_wareki",
]

_ERA_CODE = {letter: int(code) for code, letter in COMMON_SCHEME.items()}


class NoLegacyValue(ValueError):
    """A standard value with no legacy form: the record is held back (a worklist row). The
    message names the field and the reason, never the value (values are personal data)."""

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"field {field}: {reason}")


class NoLegacyCode(NoLegacyValue):
    """A character with neither a code-page code nor one in the city's 外字 table."""

    def __init__(self, field: str = "", encoding: str = ""):
        super().__init__(field, "no_legacy_code")
        self.encoding = encoding


# -- dates ---------------------------------------------------------------------------------------


def to_wareki(d: dt.date) -> int:
    """A date as era code + YYMMDD (e.g. 昭和50年4月1日 -> 3500401)."""
    era = era_of(d)
    y = d.year - era.first.year + 1
    return _ERA_CODE[era.letter] * 1_000_000 + y * 10_000 + d.month * 100 + d.day


def partial_wareki(year: int, month: int | None) -> int:
    """日不詳 (``month`` given: day 00) or 月日不詳 (month and day 00) as era code + YYMMDD; the
    era is the one of the first day of the month (or year)."""
    era = era_of(dt.date(year, month or 1, 1))
    y = year - era.first.year + 1
    return _ERA_CODE[era.letter] * 1_000_000 + y * 10_000 + (month or 0) * 100


def ymd(d: dt.date) -> int:
    return d.year * 10_000 + d.month * 100 + d.day


# -- kana ----------------------------------------------------------------------------------------


def _half_kana() -> dict[str, str]:
    out: dict[str, str] = {}
    for cp in range(0xFF61, 0xFFA0):
        h = chr(cp)
        out.setdefault(unicodedata.normalize("NFKC", h), h)
        for mark in ("\uff9e", "\uff9f"):
            full = unicodedata.normalize("NFKC", h + mark)
            if len(full) == 1:
                out.setdefault(full, h + mark)
    out["\u3000"] = " "
    return out


_HALF_KANA = _half_kana()


def kana_halfwidth(text: str) -> str:
    """Full-width katakana (and the full-width space) -> half-width (ガ -> ｶﾞ); the inverse of the
    cleanse rule ``kana_fullwidth`` on katakana text."""
    return "".join(_HALF_KANA.get(c, c) for c in text)


# -- text ----------------------------------------------------------------------------------------


def gaiji_codes(table: GaijiTable | None, encoding: str) -> dict[str, bytes]:
    """The city's 外字 table in reverse for one encoding: text -> its 2-byte legacy code (the
    first code listed when two codes stand for the same text)."""
    out: dict[str, bytes] = {}
    for e in table.entries(encoding) if table is not None else ():
        out.setdefault(e.text, e.code.to_bytes(2, "big"))
    return out


_SELECTOR = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def text_units(text: str) -> list[str]:
    """Characters with their variation selectors attached (an IVS sequence is one unit)."""
    units: list[str] = []
    for ch in text:
        if units and (0xE0100 <= ord(ch) <= 0xE01EF or 0xFE00 <= ord(ch) <= 0xFE0F):
            units[-1] += ch
        else:
            units.append(ch)
    return units


class LegacyText:
    """Text of one code page, with the city's 外字 codes for characters the code page lacks.

    ``gaiji``: text -> code (:func:`gaiji_codes`). ``substitute``: the character written for one
    with no code (None: raise :class:`NoLegacyCode`)."""

    def __init__(
        self, encoding: str, gaiji: dict[str, bytes] | None = None, substitute: str | None = None
    ):
        from ikou.moji.codepages import get_codepage

        self.cp = get_codepage(encoding)
        self.encoding = encoding
        self.gaiji = dict(gaiji or {})
        self.substitute = substitute
        self._cache: dict[str, bytes] = {}
        self._sbcs: dict[str, bytes | None] = {}

    def _dbcs_unit(self, u: str) -> bytes:
        b = self._cache.get(u)
        if b is None:
            if u in self.gaiji:
                b = self.gaiji[u]
            else:
                try:
                    b = self.cp.encode_dbcs(u)
                except ValueError:
                    if self.substitute is None:
                        raise NoLegacyCode(encoding=self.encoding) from None
                    s = self.substitute
                    b = self.gaiji[s] if s in self.gaiji else self.cp.encode_dbcs(s)
            self._cache[u] = b
        return b

    def dbcs(self, text: str) -> bytes:
        return b"".join(self._dbcs_unit(u) for u in text_units(text))

    def sbcs(self, text: str) -> bytes:
        try:
            return self.cp.encode_sbcs(text)
        except ValueError:
            if self.substitute is None:
                raise NoLegacyCode(encoding=self.encoding) from None
            raise

    def mixed(self, text: str) -> bytes:
        out = bytearray()
        in_dbcs = False
        units = text_units(text) if _SELECTOR.search(text) else text
        sbcs_cache = self._sbcs
        for u in units:
            sb = sbcs_cache.get(u, b"")
            if sb == b"":
                sb = None
                if len(u) == 1:
                    try:
                        sb = self.cp.encode_sbcs(u)
                    except ValueError:
                        sb = None
                sbcs_cache[u] = sb
            if sb is not None:
                if in_dbcs:
                    out += self.cp.shift_in
                    in_dbcs = False
                out += sb
            else:
                if not in_dbcs:
                    out += self.cp.shift_out
                    in_dbcs = True
                out += self._dbcs_unit(u)
        if in_dbcs:
            out += self.cp.shift_in
        return bytes(out)

    def encode(self, text: str, kind: str) -> bytes:
        """``text`` for a field of ``kind`` (``dbcs``, ``mixed``, anything else: SBCS)."""
        if kind == "dbcs":
            return self.dbcs(text)
        if kind == "mixed":
            return self.mixed(text)
        return self.sbcs(text)

    def fit(self, data: bytes, size: int, kind: str) -> bytes:
        """Cut text bytes to a field without splitting a DBCS character or losing the SI."""
        if len(data) <= size:
            return data
        if kind == "dbcs":
            return data[: size - size % 2]
        if kind == "mixed":
            out = bytearray()
            in_dbcs = False
            i = 0
            while i < len(data):
                b = data[i]
                step = 2 if in_dbcs and b not in (self.cp.shift_in[0],) else 1
                need = len(out) + step + (1 if (in_dbcs or b == self.cp.shift_out[0]) else 0)
                if need > size:
                    break
                if b == self.cp.shift_out[0]:
                    in_dbcs = True
                elif in_dbcs and b == self.cp.shift_in[0]:
                    in_dbcs = False
                out += data[i : i + step]
                i += step
            if in_dbcs:
                out += self.cp.shift_in
            return bytes(out)
        return data[:size]


# -- rows ----------------------------------------------------------------------------------------

_NUMERIC_KINDS = frozenset({"zoned", "packed", "binary", "edited", "float"})
_DATE_TRANSFORMS = frozenset({"wareki", "wareki_precision", "wareki_partial"})


class ReverseMapping:
    """Standard rows of ``table`` (a :class:`ikou.domains.schema.Table` of ``domain``) -> values
    of the legacy fields of ``layout`` (a record layout whose fields carry the legacy names of
    the table's source file, e.g. a linkage record's data layout)."""

    def __init__(self, domain, table, layout, text: LegacyText):
        self.table = table
        self.text = text
        lf = domain.legacy_file(table.source)
        self.roles = {n: f.role for n, f in lf.fields.items()}
        self.layout = layout.with_kinds(lf.mixed_fields)
        self.fields = {f.name: f for f in self.layout.fields if not f.filler}
        self.plan: dict[str, dict[str, str]] = {}  # legacy field -> {transform: column}
        for c in table.columns:
            if c.source not in self.fields:
                raise KeyError(f"layout {layout.name} has no field {c.source} (column {c.name})")
            self.plan.setdefault(c.source, {})[c.transform or ""] = c.name

    def values(self, row: dict) -> dict[str, object]:
        """``{legacy field: value}`` of one standard row (text as the field's bytes)."""
        out: dict[str, object] = {}
        for name, cols in self.plan.items():
            out[name] = self._value(name, cols, row)
        return out

    def _value(self, name: str, cols: dict[str, str], row: dict):
        f = self.fields[name]
        if "ymd" in cols:
            d = row.get(cols["ymd"])
            return 0 if d is None else ymd(d)
        if cols.keys() & _DATE_TRANSFORMS:
            return self._wareki(name, cols, row)
        v = row.get(cols[""])
        if f.kind in _NUMERIC_KINDS:
            if v is None or v == "":
                return None
            try:
                return int(v) if not isinstance(v, Decimal) else v
            except ValueError:
                raise NoLegacyValue(name, "not_a_number") from None
        if v is None:
            return None
        s = str(v)
        if self.roles.get(name) == "name_kana":
            s = kana_halfwidth(s)
        try:
            raw = self.text.encode(s, f.kind)
        except NoLegacyCode as exc:
            raise NoLegacyCode(name, exc.encoding) from None
        if len(raw) > f.size:
            raise NoLegacyValue(name, "does_not_fit")
        return raw

    def _wareki(self, name: str, cols: dict[str, str], row: dict) -> int:
        d = row.get(cols["wareki"]) if "wareki" in cols else None
        if d is not None:
            return to_wareki(d)
        precision = row.get(cols["wareki_precision"]) if "wareki_precision" in cols else None
        if precision in (None, "day"):
            return 0  # no date: the placeholder the decode path reads back as none
        partial = row.get(cols["wareki_partial"]) if "wareki_partial" in cols else None
        if not partial:
            raise NoLegacyValue(name, "partial_date_without_year")
        year, _, month = str(partial).partition("-")
        return partial_wareki(int(year), int(month) if month else None)
