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
2-digit codes as in the 中間標準レイアウト, or letter codes; the scheme wins over the M/T/S/H/R
letters). Without a scheme, letters M/T/S/H/R and the kanji era names are understood. Partial
dates must lie in their era and after 明治6年 too (昭和65年, 令和元年4月 do not exist).

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
_BY_NAME.update(
    {
        "明": _BY_LETTER["M"],
        "大": _BY_LETTER["T"],
        "昭": _BY_LETTER["S"],
        "平": _BY_LETTER["H"],
        "令": _BY_LETTER["R"],
    }
)
GREGORIAN_FROM = dt.date(1873, 1, 1)  # 明治6年1月1日
COMMON_SCHEME = {"1": "M", "2": "T", "3": "S", "4": "H", "5": "R"}

_ASCII = str.maketrans(
    "０１２３４５６７８９．／－，ＭＴＳＨＲｍｔｓｈｒ　", "0123456789./-,MTSHRmtshr "
)
_KANJI = re.compile(
    r"^(明治|大正|昭和|平成|令和|明|大|昭|平|令)\s*(元|[0-9]{1,2})\s*[年.]\s*"
    r"(?:([0-9]{1,2})\s*[月.]\s*([0-9]{1,2})\s*日?"  # year, month and day
    r"|([0-9]{1,2})(?:\s*[月.]\s*(?:日?\s*不詳)?)?"  # day unknown: 3月, 3月日不詳, 3月不詳
    r"|(?:月\s*日\s*)?(?:不詳)?)$"  # month and day unknown: (nothing), 不詳, 月日不詳
)
_LETTER = re.compile(
    r"^([MTSHR])\s*([0-9]{1,2})[./\-,]([0-9]{1,2})[./\-,]([0-9]{1,2})$", re.IGNORECASE
)
_COMPACT = re.compile(r"^([MTSHR])([0-9]{2})([0-9]{2})([0-9]{2})$", re.IGNORECASE)
_DIGITS = re.compile(r"^[0-9]+$")
_PLACEHOLDER = re.compile(r"^(0+|9+)$")


def era_of(d: dt.date) -> Era:
    for e in reversed(ERAS):
        if d >= e.first:
            return e
    raise EraRangeError("before 明治")


def _to_date(era: Era, year: int, month: int, day: int, text_form: str) -> dt.date:
    if year < 1:
        raise EraRangeError(f"{era.name}: an era starts at 元年 (year 1)")
    g_year = era.first.year + year - 1
    if day == 0:
        if month == 0:
            _check_partial(era, g_year, None)
            raise PartialDate("month and day unknown (月日不詳)", g_year, None)
        if not 1 <= month <= 12:
            raise ImpossibleDate("no such month")
        _check_partial(era, g_year, month)
        raise PartialDate("day unknown (日不詳)", g_year, month)
    if month == 0:
        raise WarekiFormatError(f"{text_form}: a day without a month")
    if era.letter == "M" and g_year <= 1872:
        if g_year == 1872 and month == 12 and 3 <= day <= 30:
            raise ImpossibleDate(
                "a day skipped by the calendar reform of 1872: the day after 明治5年12月2日 "
                "was 明治6年1月1日"
            )
        if not (1 <= month <= 12 and 1 <= day <= 30):
            raise ImpossibleDate("no such lunisolar day")
        raise LunisolarDate(
            "a lunisolar date (before 明治6年1月1日): it needs a conversion table, "
            "not a naive Gregorian reading"
        )
    try:
        d = dt.date(g_year, month, day)
    except ValueError:
        raise ImpossibleDate("no such day in that month and year") from None
    if d < era.first or (era.last is not None and d > era.last):
        end = f"{era.last:%Y-%m-%d}" if era.last else "today"
        raise EraRangeError(f"outside its era: {era.name} runs {era.first:%Y-%m-%d} – {end}")
    return d


def _check_partial(era: Era, g_year: int, month: int | None) -> None:
    """A partial date must lie in its era (昭和65年, 令和元年4月 do not exist) and after the
    calendar reform (a lunisolar year or month is not a Gregorian one)."""
    if g_year < GREGORIAN_FROM.year:
        raise LunisolarDate(
            "a lunisolar year (before 明治6年): it needs a conversion table, "
            "not a naive Gregorian reading"
        )
    end = era.last
    lo = (era.first.year, era.first.month if month is not None else 0)
    hi = (end.year, end.month if month is not None else 13) if end is not None else None
    here = (g_year, month if month is not None else 1)
    if here < lo or (hi is not None and here > hi):
        last = f"{end:%Y-%m-%d}" if end else "today"
        raise EraRangeError(f"outside its era: {era.name} runs {era.first:%Y-%m-%d} – {last}")


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
        if m.group(3) is not None:
            month, day = int(m.group(3)), int(m.group(4))
        else:
            month, day = (int(m.group(5)) if m.group(5) is not None else 0), 0
        return _to_date(era, _num(m.group(2)), month, day, "kanji form")
    if scheme:
        # The source file's era codes first: they may be digits ("3", "03") or letters.
        for w in sorted({len(k) for k in scheme}):
            code, rest = s[:w], s[w:]
            if len(rest) == 6 and code in scheme and _DIGITS.match(rest):
                era = _BY_LETTER.get(str(scheme[code]).upper()) or _BY_NAME.get(str(scheme[code]))
                if era is None:
                    raise WarekiFormatError("the scheme maps this era code to an unknown era")
                return _to_date(era, int(rest[:2]), int(rest[2:4]), int(rest[4:]), "era code form")
    m = _LETTER.match(s) or _COMPACT.match(s)
    if m:
        era = _BY_LETTER[m.group(1).upper()]
        return _to_date(era, int(m.group(2)), int(m.group(3)), int(m.group(4)), "letter form")
    if _DIGITS.match(s):
        if not scheme:
            raise WarekiFormatError("an era code + YYMMDD needs the source file's era-code scheme")
        raise WarekiFormatError(f"era code not in the scheme ({len(s)} digits)")
    raise WarekiFormatError("not a 和暦 form Ikou understands")


def to_wareki_text(d: dt.date) -> str:
    """A date as written in Japanese (平成元年1月8日) — for reports and tests."""
    e = era_of(d)
    y = d.year - e.first.year + 1
    return f"{e.name}{'元' if y == 1 else y}年{d.month}月{d.day}日"


# ------------------------------------------------------------------ formatting for reports

try:  # the IANA zone (the tz database ships with Debian and the Airflow image)
    from zoneinfo import ZoneInfo

    JST: dt.tzinfo = ZoneInfo("Asia/Tokyo")
except Exception:  # pragma: no cover - no tz database: Japan has had no DST since 1951
    JST = dt.timezone(dt.timedelta(hours=9), "JST")

#: The zone of every time a report, the Data Docs or the UI shows (Airflow's default_timezone).
TIMEZONE = "Asia/Tokyo"


def format_wareki(d: dt.date | dt.datetime) -> str:
    """A date in the Japanese calendar: 令和8年12月4日, 平成元年1月8日, 昭和64年1月7日.

    Era boundaries are the days the eras changed (令和 from 2019-05-01, 平成 from 1989-01-08,
    昭和 from 1926-12-25, 大正 from 1912-07-30, 明治 from 1868-01-25); the first year is 元年.
    A Gregorian date before 1873-01-01 (明治6年) has no naive 和暦: Japan used the lunisolar
    calendar until then, so :class:`LunisolarDate` is raised rather than a wrong date."""
    if isinstance(d, dt.datetime):
        d = d.date()
    if d < GREGORIAN_FROM:
        raise LunisolarDate(
            "before 明治6年1月1日 (1873-01-01) Japan used the lunisolar calendar: no naive 和暦"
        )
    return to_wareki_text(d)


def to_jst(ts: dt.datetime | str) -> dt.datetime:
    """A timestamp (aware, naive = UTC, or ISO 8601 text) as an aware time in Asia/Tokyo."""
    if isinstance(ts, str):
        text = ts.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        ts = dt.datetime.fromisoformat(text)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(JST)


def now_jst() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).astimezone(JST)


def format_jst(ts: dt.datetime | str, seconds: bool = True) -> str:
    """``2026-12-04 22:40:28 JST`` (ISO date and time in Asia/Tokyo)."""
    t = to_jst(ts)
    return t.strftime("%Y-%m-%d %H:%M:%S JST" if seconds else "%Y-%m-%d %H:%M JST")


def format_date_ja(d: dt.date | dt.datetime | str) -> str:
    """``2026-12-04（令和8年12月4日）``: the ISO date with its 和暦 beside it (a datetime or an
    ISO timestamp is taken in JST first). Dates before 1873 keep the ISO form only."""
    if isinstance(d, str):
        d = to_jst(d) if ("T" in d or " " in d.strip()) else dt.date.fromisoformat(d.strip())
    if isinstance(d, dt.datetime):
        d = to_jst(d).date()
    try:
        return f"{d.isoformat()}（{format_wareki(d)}）"
    except WarekiError:
        return d.isoformat()


def format_jst_ja(ts: dt.datetime | str, seconds: bool = False) -> str:
    """``2026-12-04 22:40 JST（令和8年12月4日）``: a timestamp for reports. Text that is not a
    timestamp is returned unchanged (an old report may hold anything)."""
    if ts is None or ts == "":
        return ""
    try:
        t = to_jst(ts)
    except (TypeError, ValueError):
        return str(ts)
    return f"{format_jst(t, seconds=seconds)}（{format_wareki(t.date())}）"
