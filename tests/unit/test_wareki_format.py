"""和暦 and JST formatting for reports (ikou.wareki): era boundaries, 元年, JST timestamps."""

from __future__ import annotations

import datetime as dt

import pytest

from ikou.wareki import (
    LunisolarDate,
    format_date_ja,
    format_jst,
    format_jst_ja,
    format_wareki,
    parse_wareki,
    to_jst,
)


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (dt.date(2026, 12, 4), "令和8年12月4日"),
        (dt.date(2019, 5, 1), "令和元年5月1日"),
        (dt.date(2019, 4, 30), "平成31年4月30日"),
        (dt.date(1989, 1, 8), "平成元年1月8日"),
        (dt.date(1989, 1, 7), "昭和64年1月7日"),
        (dt.date(1926, 12, 25), "昭和元年12月25日"),
        (dt.date(1926, 12, 24), "大正15年12月24日"),
        (dt.date(1912, 7, 30), "大正元年7月30日"),
        (dt.date(1912, 7, 29), "明治45年7月29日"),
        (dt.date(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_era_boundaries_and_gannen(day, text):
    assert format_wareki(day) == text
    assert parse_wareki(text) == day  # the parser reads back what the formatter writes


def test_before_the_calendar_reform_no_naive_wareki():
    with pytest.raises(LunisolarDate):
        format_wareki(dt.date(1872, 12, 31))
    assert format_date_ja(dt.date(1872, 12, 31)) == "1872-12-31"  # ISO only


def test_jst_timestamps():
    assert format_jst("2026-12-04T13:40:28+00:00") == "2026-12-04 22:40:28 JST"
    assert format_jst("2026-12-04T13:40:28Z", seconds=False) == "2026-12-04 22:40 JST"
    # naive = UTC; the date changes at 15:00 UTC (midnight in Tokyo), and so may the era
    assert (
        format_jst_ja(dt.datetime(2019, 4, 30, 15, 0)) == "2019-05-01 00:00 JST（令和元年5月1日）"
    )
    assert format_jst_ja("2019-04-30T14:59:00+00:00") == "2019-04-30 23:59 JST（平成31年4月30日）"
    assert to_jst("2026-12-04T00:00:00+09:00").utcoffset() == dt.timedelta(hours=9)
    assert format_jst_ja("") == "" and format_jst_ja("not a time") == "not a time"


def test_dates_beside_iso():
    assert format_date_ja("2026-12-04") == "2026-12-04（令和8年12月4日）"
    assert format_date_ja(dt.date(1989, 1, 8)) == "1989-01-08（平成元年1月8日）"
    assert format_date_ja("2026-12-04T20:00:00Z") == "2026-12-05（令和8年12月5日）"  # JST date
