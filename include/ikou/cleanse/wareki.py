"""和暦 (Japanese era dates): parse what legacy systems wrote, never guess.

:func:`parse_wareki` returns a :class:`datetime.date` or raises a :class:`WarekiError` (a
``ValueError``) whose subclass names the reason:

- :class:`WarekiFormatError` — not a form we understand (or an era code without a scheme);
- :class:`PlaceholderDate` — 00000000, 99999999 and friends (unknown, not a date);
- :class:`ImpossibleDate` — no such day: 2月30日, 2月29日 in a common year, 明治5年12月3日〜30日
  (the days skipped when Japan left the lunisolar calendar);
- :class:`EraRangeError` — outside its era: 昭和64年1月8日 (昭和 ended on 1月7日), 平成31年5月1日,
  令和元年4月30日, 大正16年 …;
- :class:`LunisolarDate` — before 明治6年1月1日 (1873-01-01): the lunisolar calendar, about a
  month off a naive Gregorian reading; converting needs a table this project does not ship, so
  the date is reported, never converted naively;
- :class:`PartialDate` — 日不詳 / 月日不詳 (day 00, month-day 0000, or written 不詳): carries the
  known ``year`` / ``month`` and ``precision`` so the caller can keep them, never an invented day.

Forms: 昭和64年1月7日, 平成元年1月8日, full-width digits (平成１２年３月３１日), letters with dots
(H01.01.08, S64.01.07, R02.02.29; also ``/`` ``-`` ``,``), compact letters (S640107), kanji
era with dots (昭和64.1.7), and — only with a ``scheme`` (the era-code table of a source file,
e.g. ``{"1": "M", "2": "T", "3": "S", "4": "H", "5": "R"}``) — an era code + YYMMDD (3640107,
or 2-digit codes as in the 中間標準レイアウト). Without a scheme, letters M/T/S/H/R and the kanji
era names are understood.

Messages never repeat the date (a birth date is personal data): they name the reason and,
where it helps, public facts such as an era's first and last day.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass


class WarekiError(ValueError):
    """A 和暦 text that is not a valid date; the subclass names the reason."""

    reason = "invalid"


class WarekiFormatError(WarekiError):
    reason = "format"


class PlaceholderDate(WarekiError):
    reason = "placeholder"


class ImpossibleDate(WarekiError):
    reason = "impossible_date"


class EraRangeError(WarekiError):
    reason = "outside_era"


class LunisolarDate(WarekiError):
    reason = "lunisolar"


class PartialDate(WarekiError):
    reason = "partial"

    def __init__(self, message: str, year: int, month: int | None):
        super().__init__(message)
        self.year = year
        self.month = month
        self.precision = "month" if month else "year"


@dataclass(frozen=True)
class Era:
    letter: str
    name: str
    first: dt.date  # first day (Gregorian)
    last: dt.date | None  # last day, None for the current era


ERAS = (
    Era("M", "明治", dt.date(1868, 1, 25), dt.date(1912, 7, 29)),
    Era("T", "大正", dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    Era("S", "昭和", dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    Era("H", "平成", dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    Era("R", "令和", dt.date(2019, 5, 1), None),
)
_BY_LETTER = {e.letter: e for e in ERAS}
_BY_NAME = {e.name: e for e in ERAS}
_BY_NAME.update({"明": _BY_LETTER["M"], "大": _BY_LETTER["T"], "昭": _BY_LETTER["S"], "平": _BY_LETTER["H"],
                 "令": _BY_LETTER["R"]})
GREGORIAN_FROM = dt.date(1873, 1, 1)  # 明治6年1月1日
COMMON_SCHEME = {"1": "M", "2": "T", "3": "S", "4": "H", "5": "R"}

_ASCII = str.maketrans("０１２３４５６７８９．／－，ＭＴＳＨＲｍｔｓｈｒ　", "0123456789./-,MTSHRmtshr ")
_KANJI = re.compile(
    r"^(明治|大正|昭和|平成|令和|明|大|昭|平|令)\s*(元|\d{1,2})\s*[年.]\s*"
    r"(?:(\d{1,2}|不詳)\s*[月.]?\s*)?(?:(\d{1,2}|不詳)\s*日?)?\s*(?:日?不詳)?$"
)
_LETTER = re.compile(r"^([MTSHR])\s*(\d{1,2})[./\-,](\d{1,2})[./\-,](\d{1,2})$", re.IGNORECASE)
_COMPACT = re.compile(r"^([MTSHR])(\d{2})(\d{2})(\d{2})$", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^(0+|9+)$")


def era_of(d: dt.date) -> Era:
    for e in reversed(ERAS):
        if d >= e.first:
            return e
    raise EraRangeError("before 明治")


def _to_date(era: Era, year: int, month: int, day: int, text_form: str) -> dt.date:
    if year < 1:
        raise EraRangeError(f"{era.name}: an era starts at 元年 (year 1)")
    if month == 0 and day == 0:
        raise PartialDate("month and day unknown (月日不詳)", era.first.year + year - 1, None)
    if day == 0:
        if not 1 <= month <= 12:
            raise ImpossibleDate("no such month")
        raise PartialDate("day unknown (日不詳)", era.first.year + year - 1, month)
    if month == 0:
        raise WarekiFormatError(f"{text_form}: a day without a month")
    g_year = era.first.year + year - 1
    if era.letter == "M" and g_year <= 1872:
        if g_year == 1872 and month == 12 and 3 <= day <= 30:
            raise ImpossibleDate("明治5年12月3日〜30日 do not exist: 明治5年12月3日 became 明治6年1月1日")
        if not (1 <= month <= 12 and 1 <= day <= 30):
            raise ImpossibleDate("no such lunisolar day")
        raise LunisolarDate("a lunisolar date (before 明治6年1月1日): it needs a conversion table, "
                            "not a naive Gregorian reading")
    try:
        d = dt.date(g_year, month, day)
    except ValueError:
        raise ImpossibleDate("no such day in that month and year") from None
    if d < era.first or (era.last is not None and d > era.last):
        end = f"{era.last:%Y-%m-%d}" if era.last else "today"
        raise EraRangeError(f"outside its era: {era.name} runs {era.first:%Y-%m-%d} – {end}")
    return d


def _num(s: str | None) -> int:
    if s is None or s == "不詳":
        return 0
    return 1 if s == "元" else int(s)


def parse_wareki(text: str, scheme: dict[str, str] | None = None) -> dt.date:
    """Parse a 和暦 date; raise a :class:`WarekiError` subclass for anything that is not one."""
    if text is None:
        raise WarekiFormatError("no date (None)")
    s = str(text).strip().translate(_ASCII).strip()
    if not s:
        raise WarekiFormatError("empty")
    if _PLACEHOLDER.match(s) and len(s) >= 6:
        raise PlaceholderDate("placeholder, not a date (all zeros or nines)")
    m = _KANJI.match(s)
    if m:
        era = _BY_NAME[m.group(1)]
        return _to_date(era, _num(m.group(2)), _num(m.group(3)), _num(m.group(4)), "kanji form")
    m = _LETTER.match(s) or _COMPACT.match(s)
    if m:
        era = _BY_LETTER[m.group(1).upper()]
        return _to_date(era, int(m.group(2)), int(m.group(3)), int(m.group(4)), "letter form")
    if s.isdigit():
        if not scheme:
            raise WarekiFormatError("an era code + YYMMDD needs the source file's era-code scheme")
        width = {len(k) for k in scheme}
        for w in sorted(width):
            if len(s) == w + 6 and s[:w] in scheme:
                era = _BY_LETTER.get(scheme[s[:w]].upper()) or _BY_NAME.get(scheme[s[:w]])
                if era is None:
                    raise WarekiFormatError(f"scheme maps code {s[:w]} to an unknown era")
                return _to_date(era, int(s[w:w + 2]), int(s[w + 2:w + 4]), int(s[w + 4:w + 6]), "era code form")
        raise WarekiFormatError(f"era code not in the scheme ({len(s)} digits)")
    raise WarekiFormatError("not a 和暦 form Ikou understands")


def to_wareki_text(d: dt.date) -> str:
    """A date as written in Japanese (平成元年1月8日) — for reports and tests."""
    e = era_of(d)
    y = d.year - e.first.year + 1
    return f"{e.name}{'元' if y == 1 else y}年{d.month}月{d.day}日"
