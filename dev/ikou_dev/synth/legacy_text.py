"""The text of the synthetic city's legacy files: 和暦 dates, the city's 外字 and the code-page encoder.

:class:`Encoder` writes text in a file's code page (SBCS, DBCS, mixed SO/SI), with the city's 外字
codes (:data:`GAIJI_TABLE`) for the characters the code page lacks -- the runtime's reverse
mapping (:mod:`ikou.mainframe.legacy_values`, which ``ikou link`` uses too) with this city's
table; :func:`to_wareki` (the runtime's) and :func:`wareki_days` write dates as era code +
YYMMDD; :data:`IMPOSSIBLE_WAREKI` are the impossible dates a seeded defect writes. Used by :mod:`ikou_dev.synth.builder`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np

from ikou.mainframe.legacy_values import LegacyText, gaiji_codes, to_wareki
from ikou.moji.gaiji import GaijiTable
from ikou.wareki import COMMON_SCHEME
from ikou.wareki import ERAS as _RUNTIME_ERAS

_BY_LETTER = {e.letter: e for e in _RUNTIME_ERAS}

ERAS = tuple(  # code (the common 1..5 scheme), name, first day: the runtime's eras
    (int(code), _BY_LETTER[letter].name, _BY_LETTER[letter].first)
    for code, letter in sorted(COMMON_SCHEME.items())
)


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


class Encoder(LegacyText):
    """The runtime's :class:`~ikou.mainframe.legacy_values.LegacyText` with the city's 外字 codes;
    a character with no code is written as 〓 (the synthetic city writes every record)."""

    def __init__(self, encoding: str):
        table = GaijiTable.parse(gaiji_csv([encoding]), "synth")
        super().__init__(encoding, gaiji_codes(table, encoding), substitute="〓")


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


__all__ = [
    "ERAS",
    "GAIJI_TABLE",
    "IMPOSSIBLE_WAREKI",
    "UNMAPPED_GAIJI_CODES",
    "Encoder",
    "gaiji_csv",
    "to_wareki",
    "wareki_days",
    "ymd_days",
]
