"""ikou.wareki: 和暦 parsing — every form and every rejection of issue 4, item 2."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ikou.cleanse
from ikou.wareki import (
    COMMON_SCHEME,
    ERAS,
    GREGORIAN_FROM,
    EraRangeError,
    ImpossibleDate,
    LunisolarDate,
    PartialDate,
    PlaceholderDate,
    WarekiError,
    WarekiFormatError,
    era_of,
    parse_wareki,
    to_wareki_text,
)

D = dt.date
TWO_DIGIT_SCHEME = {
    "01": "M",
    "02": "T",
    "03": "S",
    "04": "H",
    "05": "R",
}  # 中間標準レイアウト style
LETTER_SCHEME = {
    "A": "明治",
    "B": "大正",
    "C": "昭和",
    "D": "平成",
    "E": "令和",
}  # letters as codes
OTHER_NUMBERS = {"7": "S", "8": "H", "9": "R"}  # a vendor numbering its own way


def _fw(s: str) -> str:
    return s.translate(str.maketrans("0123456789.", "０１２３４５６７８９．"))


def _assert_no_date_in(msg: str, text: str) -> None:
    """An exception message must not repeat the date it was given (a birth date is personal)."""
    assert text not in msg
    digits = re.sub(r"\D", "", text.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    if len(digits) >= 4:
        assert digits not in msg


def test_parse_wareki_is_exported_from_ikou_cleanse():
    assert ikou.cleanse.parse_wareki is parse_wareki


# ----------------------------------------------------------------------------- accepted forms


@pytest.mark.parametrize(
    "text, expected",
    [
        ("昭和64年1月7日", D(1989, 1, 7)),
        ("平成元年1月8日", D(1989, 1, 8)),
        ("平成１２年３月３１日", D(2000, 3, 31)),
        ("平成元年１月８日", D(1989, 1, 8)),
        ("H01.01.08", D(1989, 1, 8)),
        ("S64.01.07", D(1989, 1, 7)),
        ("R02.02.29", D(2020, 2, 29)),
        ("S640107", D(1989, 1, 7)),
        ("H010108", D(1989, 1, 8)),
        ("h01.01.08", D(1989, 1, 8)),
        ("S64/01/07", D(1989, 1, 7)),
        ("S64-1-7", D(1989, 1, 7)),
        ("Ｈ０１．０１．０８", D(1989, 1, 8)),
        ("昭和64.1.7", D(1989, 1, 7)),
        ("  令和 2年 2月 29日 ", D(2020, 2, 29)),
        ("令和元年5月1日", D(2019, 5, 1)),
        ("平成31年4月30日", D(2019, 4, 30)),
        ("大正元年7月30日", D(1912, 7, 30)),
        ("明治45年7月29日", D(1912, 7, 29)),
        ("昭和元年12月25日", D(1926, 12, 25)),
        ("明治6年1月1日", D(1873, 1, 1)),  # the first Gregorian day
        ("M06.01.01", D(1873, 1, 1)),
        ("平成4年2月29日", D(1992, 2, 29)),  # a leap year
        ("平成12年2月29日", D(2000, 2, 29)),  # 2000 is a leap year
    ],
)
def test_accepted_forms(text, expected):
    assert parse_wareki(text) == expected


@pytest.mark.parametrize(
    "text, scheme, expected",
    [
        ("3640107", COMMON_SCHEME, D(1989, 1, 7)),
        ("4010108", COMMON_SCHEME, D(1989, 1, 8)),
        ("5020229", COMMON_SCHEME, D(2020, 2, 29)),
        ("1060101", COMMON_SCHEME, D(1873, 1, 1)),
        ("04010108", TWO_DIGIT_SCHEME, D(1989, 1, 8)),
        ("03640107", TWO_DIGIT_SCHEME, D(1989, 1, 7)),
        ("D010108", LETTER_SCHEME, D(1989, 1, 8)),
        ("C640107", LETTER_SCHEME, D(1989, 1, 7)),
        ("8010108", OTHER_NUMBERS, D(1989, 1, 8)),
        ("３６４０１０７", COMMON_SCHEME, D(1989, 1, 7)),  # full-width digits
        ("S640107", COMMON_SCHEME, D(1989, 1, 7)),  # letters still understood with a scheme
        ("平成元年1月8日", COMMON_SCHEME, D(1989, 1, 8)),
    ],
)
def test_era_code_with_a_scheme(text, scheme, expected):
    assert parse_wareki(text, scheme) == expected


def test_the_scheme_decides_what_a_code_means():
    assert parse_wareki("3640107", COMMON_SCHEME) == D(1989, 1, 7)
    assert parse_wareki("7640107", OTHER_NUMBERS) == D(1989, 1, 7)
    with pytest.raises(WarekiFormatError):
        parse_wareki("3640107", OTHER_NUMBERS)  # 3 is not a code of that scheme
    with pytest.raises(WarekiFormatError):
        parse_wareki("3640107", TWO_DIGIT_SCHEME)  # 7 digits do not fit 2-digit codes


# ----------------------------------------------------------------------------- rejections


REJECTIONS = [
    ("昭和64年1月8日", None, EraRangeError),
    ("昭和64年2月1日", None, EraRangeError),
    ("平成31年5月1日", None, EraRangeError),
    ("令和元年4月30日", None, EraRangeError),
    ("大正16年1月1日", None, EraRangeError),
    ("平成0年1月1日", None, EraRangeError),
    ("S64.01.08", None, EraRangeError),
    ("H31.05.01", None, EraRangeError),
    ("R01.04.30", None, EraRangeError),
    ("3640201", COMMON_SCHEME, EraRangeError),
    ("4310501", COMMON_SCHEME, EraRangeError),
    ("5010430", COMMON_SCHEME, EraRangeError),
    ("昭和55年2月30日", None, ImpossibleDate),
    ("平成5年2月29日", None, ImpossibleDate),  # 1993 is a common year
    ("令和3年2月29日", None, ImpossibleDate),
    ("昭和50年4月31日", None, ImpossibleDate),
    ("昭和50年13月1日", None, ImpossibleDate),
    ("H05.02.29", None, ImpossibleDate),
    ("3550230", COMMON_SCHEME, ImpossibleDate),
    ("4050229", COMMON_SCHEME, ImpossibleDate),
    ("00000000", None, PlaceholderDate),
    ("99999999", None, PlaceholderDate),
    ("0000000", COMMON_SCHEME, PlaceholderDate),
    ("9999999", COMMON_SCHEME, PlaceholderDate),
    ("００００００００", None, PlaceholderDate),
    ("明治5年12月2日", None, LunisolarDate),
    ("明治元年9月8日", None, LunisolarDate),
    ("明治3年1月1日", None, LunisolarDate),
    ("M05.11.15", None, LunisolarDate),
    ("1050101", COMMON_SCHEME, LunisolarDate),
    ("3640107", None, WarekiFormatError),  # an era code without a scheme
    ("04010108", None, WarekiFormatError),
    ("C640107", None, WarekiFormatError),  # a letter code only a scheme knows
    ("6640107", COMMON_SCHEME, WarekiFormatError),  # code not in the scheme
    ("9010101", {"9": "X"}, WarekiFormatError),  # the scheme maps to no era
    ("", None, WarekiFormatError),
    ("   ", None, WarekiFormatError),
    (None, None, WarekiFormatError),
    ("1989-01-08", None, WarekiFormatError),
    ("昭和50年1月1日不詳", None, WarekiFormatError),  # a full date that says it is unknown
    ("昭和50年123", None, WarekiFormatError),  # 1月23日 or 12月3日: never guessed
    ("X64.01.07", None, WarekiFormatError),
    ("昭和", None, WarekiFormatError),
    ("S50.00.05", None, WarekiFormatError),  # a day without a month
]


@pytest.mark.parametrize("text, scheme, exc", REJECTIONS)
def test_rejections_name_the_reason(text, scheme, exc):
    with pytest.raises(exc) as info:
        parse_wareki(text, scheme)
    err = info.value
    assert isinstance(err, WarekiError) and isinstance(err, ValueError)
    assert type(err) is exc  # the subclass names the reason, not a parent
    assert err.reason == exc.reason
    if text:
        _assert_no_date_in(str(err), text)


@pytest.mark.parametrize("day", range(3, 31))
def test_the_days_skipped_in_meiji_5_do_not_exist(day):
    text = f"明治5年12月{day}日"
    with pytest.raises(ImpossibleDate) as info:
        parse_wareki(text)
    _assert_no_date_in(str(info.value), text)
    with pytest.raises(ImpossibleDate):
        parse_wareki(f"M05.12.{day:02d}")
    with pytest.raises(ImpossibleDate):
        parse_wareki(f"105120{day}" if day < 10 else f"10512{day}", COMMON_SCHEME)


def test_the_days_around_the_calendar_reform():
    with pytest.raises(LunisolarDate):
        parse_wareki("明治5年12月1日")
    with pytest.raises(LunisolarDate):
        parse_wareki("明治5年12月2日")
    assert parse_wareki("明治6年1月1日") == GREGORIAN_FROM == D(1873, 1, 1)


@given(st.dates(min_value=D(1868, 1, 25), max_value=D(1872, 12, 31)))
@settings(max_examples=150, deadline=None)
def test_no_lunisolar_date_is_read_naively(d):
    """Before 明治6年: raise, never a date about a month off."""
    y = d.year - 1867
    for text in (f"明治{y}年{d.month}月{d.day}日", f"M{y:02d}.{d.month:02d}.{d.day:02d}"):
        with pytest.raises((LunisolarDate, ImpossibleDate)):
            parse_wareki(text)


def test_reason_codes_are_distinct():
    classes = [
        WarekiFormatError,
        PlaceholderDate,
        ImpossibleDate,
        EraRangeError,
        LunisolarDate,
        PartialDate,
    ]
    assert len({c.reason for c in classes}) == len(classes)
    for c in classes:
        assert issubclass(c, WarekiError) and issubclass(c, ValueError)


# ----------------------------------------------------------------------------- partial dates


@pytest.mark.parametrize(
    "text, scheme, year, month, precision",
    [
        ("昭和50年3月日不詳", None, 1975, 3, "month"),
        ("昭和50年3月不詳", None, 1975, 3, "month"),
        ("昭和５０年３月日不詳", None, 1975, 3, "month"),
        ("昭和50年3月", None, 1975, 3, "month"),
        ("昭和50年月日不詳", None, 1975, None, "year"),
        ("昭和50年不詳", None, 1975, None, "year"),
        ("昭和50年", None, 1975, None, "year"),
        ("平成元年1月日不詳", None, 1989, 1, "month"),
        ("昭和64年1月日不詳", None, 1989, 1, "month"),
        ("令和元年5月日不詳", None, 2019, 5, "month"),
        ("明治6年月日不詳", None, 1873, None, "year"),
        ("S50.03.00", None, 1975, 3, "month"),
        ("S500300", None, 1975, 3, "month"),
        ("S500000", None, 1975, None, "year"),
        ("S50.00.00", None, 1975, None, "year"),
        ("3500300", COMMON_SCHEME, 1975, 3, "month"),
        ("3500000", COMMON_SCHEME, 1975, None, "year"),
        ("03500300", TWO_DIGIT_SCHEME, 1975, 3, "month"),
    ],
)
def test_partial_dates_keep_their_precision(text, scheme, year, month, precision):
    with pytest.raises(PartialDate) as info:
        parse_wareki(text, scheme)
    p = info.value
    assert isinstance(p, ValueError) and p.reason == "partial"
    assert (p.year, p.month, p.precision) == (year, month, precision)
    assert not hasattr(p, "day")  # never an invented day
    _assert_no_date_in(str(p), text)


@pytest.mark.parametrize(
    "text, exc",
    [
        ("昭和65年月日不詳", EraRangeError),  # 昭和 ended in its 64th year
        ("昭和64年2月日不詳", EraRangeError),  # … on 1月7日
        ("令和元年4月日不詳", EraRangeError),  # 令和 began on 5月1日
        ("平成31年5月日不詳", EraRangeError),
        ("平成0年月日不詳", EraRangeError),
        ("昭和50年13月日不詳", ImpossibleDate),
        ("明治3年月日不詳", LunisolarDate),  # a lunisolar year is no Gregorian one
        ("明治5年12月日不詳", LunisolarDate),
    ],
)
def test_impossible_partial_dates_are_rejected(text, exc):
    with pytest.raises(exc) as info:
        parse_wareki(text)
    assert type(info.value) is exc
    _assert_no_date_in(str(info.value), text)


# ----------------------------------------------------------------------------- round trips


def _letter(d: dt.date) -> tuple[str, int]:
    e = era_of(d)
    return e.letter, d.year - e.first.year + 1


@pytest.mark.parametrize(
    "d, text",
    [
        (D(1989, 1, 8), "平成元年1月8日"),
        (D(1989, 1, 7), "昭和64年1月7日"),
        (D(2019, 5, 1), "令和元年5月1日"),
        (D(2000, 3, 31), "平成12年3月31日"),
        (D(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_to_wareki_text(d, text):
    assert to_wareki_text(d) == text


def test_era_of():
    assert era_of(D(1989, 1, 7)).name == "昭和"
    assert era_of(D(1989, 1, 8)).name == "平成"
    assert era_of(D(2019, 4, 30)).letter == "H"
    assert era_of(D(2019, 5, 1)).letter == "R"
    assert [e.letter for e in ERAS] == ["M", "T", "S", "H", "R"]
    with pytest.raises(EraRangeError):
        era_of(D(1868, 1, 1))


@given(st.dates(min_value=D(1873, 1, 1), max_value=D(2100, 12, 31)))
@settings(max_examples=400, deadline=None)
def test_round_trip_every_form(d):
    assert parse_wareki(to_wareki_text(d)) == d
    assert parse_wareki(_fw(to_wareki_text(d))) == d
    letter, y = _letter(d)
    assert parse_wareki(f"{letter}{y:02d}.{d.month:02d}.{d.day:02d}") == d
    assert parse_wareki(f"{letter}{y:02d}{d.month:02d}{d.day:02d}") == d
    code = "MTSHR".index(letter) + 1
    assert parse_wareki(f"{code}{y:02d}{d.month:02d}{d.day:02d}", COMMON_SCHEME) == d
    assert parse_wareki(f"0{code}{y:02d}{d.month:02d}{d.day:02d}", TWO_DIGIT_SCHEME) == d
    assert parse_wareki(f"{'ABCDE'[code - 1]}{y:02d}{d.month:02d}{d.day:02d}", LETTER_SCHEME) == d


@given(st.dates(min_value=D(1873, 1, 1), max_value=D(2100, 12, 31)))
@settings(max_examples=200, deadline=None)
def test_agrees_with_the_synthetic_city(d):
    """The synthetic city writes era code + YYMMDD in the common scheme; parsing gives it back."""
    from ikou_dev.synth.legacy_text import to_wareki

    assert parse_wareki(f"{to_wareki(d):07d}", COMMON_SCHEME) == d


@given(st.dates(min_value=D(1873, 1, 1), max_value=D(2100, 12, 31)))
@settings(max_examples=200, deadline=None)
def test_the_day_after_an_era_ends_is_not_in_it(d):
    """Writing a date in the previous era past its end is always rejected, never shifted."""
    e = era_of(d)
    idx = [x.letter for x in ERAS].index(e.letter)
    if idx == 0:
        return
    prev = ERAS[idx - 1]
    y = d.year - prev.first.year + 1
    if y > 99:
        return
    with pytest.raises(EraRangeError):
        parse_wareki(f"{prev.letter}{y:02d}.{d.month:02d}.{d.day:02d}")


_ALPHABET = "0123456789０１２３４５６７８９年月日元不詳明治大正昭和平成令和MTSHRmx./-, 　"


@given(
    st.text(alphabet=_ALPHABET, max_size=14),
    st.sampled_from([None, COMMON_SCHEME, TWO_DIGIT_SCHEME, LETTER_SCHEME]),
)
@settings(max_examples=1500, deadline=None)
def test_returns_a_date_or_raises_a_wareki_error(text, scheme):
    """Nothing else: no other exception type, no other return type, no date before 明治6年."""
    try:
        d = parse_wareki(text, scheme)
    except PartialDate as p:
        assert p.year >= GREGORIAN_FROM.year
        assert p.month is None or 1 <= p.month <= 12
        return
    except WarekiError as e:
        if len(text.strip()) >= 6:
            _assert_no_date_in(str(e), text)
        return
    assert type(d) is dt.date
    assert d >= GREGORIAN_FROM
    e = era_of(d)
    assert e.first <= d and (e.last is None or d <= e.last)


@given(st.text(max_size=12))
@settings(max_examples=500, deadline=None)
def test_arbitrary_text_never_escapes_as_another_error(text):
    """Any text: a date of the Gregorian 明治 calendar, or a WarekiError that does not repeat it."""
    try:
        d = parse_wareki(text)
    except WarekiError as e:
        assert isinstance(e, ValueError)
        if len(text.strip()) >= 6:
            _assert_no_date_in(str(e), text)
        return
    assert type(d) is dt.date and d >= GREGORIAN_FROM
