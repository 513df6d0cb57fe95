"""The text of the synthetic city's legacy files: 和暦 dates, the city's 外字 and the code-page encoder.

:class:`Encoder` writes text in a file's code page (SBCS, DBCS, mixed SO/SI), with the city's 外字
codes (:data:`GAIJI_TABLE`) for the characters the code page lacks; :func:`to_wareki` and
:func:`wareki_days` write dates as era code + YYMMDD; :data:`IMPOSSIBLE_WAREKI` are the impossible
dates a seeded defect writes. Used by :mod:`ikou_dev.synth.builder`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import numpy as np

ERAS = (  # code (the common 1..5 scheme), name, first day
    (1, "明治", dt.date(1868, 10, 23)),
    (2, "大正", dt.date(1912, 7, 30)),
    (3, "昭和", dt.date(1926, 12, 25)),
    (4, "平成", dt.date(1989, 1, 8)),
    (5, "令和", dt.date(2019, 5, 1)),
)


def to_wareki(d: dt.date) -> int:
    """A date as era code + YYMMDD (e.g. 昭和50年4月1日 -> 3500401)."""
    for code, _, start in reversed(ERAS):
        if d >= start:
            y = d.year - start.year + 1
            return int(f"{code}{y:02d}{d.month:02d}{d.day:02d}")
    raise ValueError("date before 明治")


# Impossible 和暦 values and what is wrong with each (answer-key detail).
IMPOSSIBLE_WAREKI = (
    (3640201, "era_overflow"),  # 昭和64年2月1日: 昭和 ended 64年1月7日
    (4310501, "era_overflow"),  # 平成31年5月1日: 平成 ended 31年4月30日
    (5010430, "before_era"),  # 令和元年4月30日: 令和 began 5月1日
    (3550230, "invalid_day"),  # 昭和55年2月30日
    (4050229, "invalid_day"),  # 平成5年2月29日 (1993 is a common year)
    (9999999, "placeholder"),
    (0, "placeholder"),
)

# 外字 codes of the city (IBM user-defined area 0x6941-0x7FFE) and what they stand for.
GAIJI_TABLE = (
    ("6941", "U+20BB7", "MJ000000", "𠮷 (つちよし)"),
    ("6942", "U+845B U+E0100", "", "葛 with IVS (Moji_Joho)"),
    ("6943", "U+8FBB U+E0101", "", "辻 (一点しんにょう) with IVS"),
    ("6944", "U+F0001", "", "MJ+ addition in the PUA (synthetic)"),
    ("6945", "U+9AD9", "", "髙 (はしごだか) where the code page lacks it"),
)
UNMAPPED_GAIJI_CODES = ("7A41", "7A42", "7B55", "7C60")  # codes the city's table does not hold


def gaiji_csv(encodings: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["encoding", "legacy_code", "unicode", "mj_name", "note"])
    for enc in encodings:
        for code, uni, mj, note in GAIJI_TABLE:
            w.writerow([enc, code, uni, mj, note])
    return buf.getvalue()


def _gaiji_reverse() -> dict[str, bytes]:
    rev = {}
    for code, uni, _, _ in GAIJI_TABLE:
        text = "".join(chr(int(u[2:], 16)) for u in uni.split())
        rev[text] = bytes.fromhex(code)
    return rev


_HAS_SELECTOR = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def _text_units(text: str) -> list[str]:
    """Characters with their variation selectors attached (an IVS sequence is one unit)."""
    units: list[str] = []
    for ch in text:
        if units and (0xE0100 <= ord(ch) <= 0xE01EF or 0xFE00 <= ord(ch) <= 0xFE0F):
            units[-1] += ch
        else:
            units.append(ch)
    return units


class Encoder:
    """Text of one code page with the city's 外字 codes for characters the code page lacks."""

    def __init__(self, encoding: str):
        from ikou.moji.codepages import get_codepage

        self.cp = get_codepage(encoding)
        self.gaiji = _gaiji_reverse()
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
                    b = self.gaiji["〓"] if "〓" in self.gaiji else self.cp.encode_dbcs("〓")
            self._cache[u] = b
        return b

    def dbcs(self, text: str) -> bytes:
        return b"".join(self._dbcs_unit(u) for u in _text_units(text))

    def sbcs(self, text: str) -> bytes:
        return self.cp.encode_sbcs(text)

    def mixed(self, text: str) -> bytes:
        out = bytearray()
        in_dbcs = False
        units = _text_units(text) if _HAS_SELECTOR.search(text) else text
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


_ERA_STARTS = np.array([(s - dt.date(1970, 1, 1)).days for _, _, s in ERAS], dtype=np.int64)
_ERA_YEARS = np.array([s.year for _, _, s in ERAS], dtype=np.int64)


def wareki_days(days: np.ndarray) -> np.ndarray:
    """Day numbers (since 1970-01-01) as era code + YYMMDD integers (vectorised ``to_wareki``)."""
    from ikou_dev.synth.population import ymd_parts

    d = np.asarray(days, dtype=np.int64)
    era = np.searchsorted(_ERA_STARTS, d, side="right") - 1
    if len(d) and era.min() < 0:
        raise ValueError("date before 明治")
    y, m, day = ymd_parts(d)
    return (era + 1) * 1_000_000 + (y - _ERA_YEARS[era] + 1) * 10_000 + m * 100 + day


def ymd_days(days: np.ndarray) -> np.ndarray:
    from ikou_dev.synth.population import ymd_parts

    y, m, d = ymd_parts(days)
    return y * 10_000 + m * 100 + d
