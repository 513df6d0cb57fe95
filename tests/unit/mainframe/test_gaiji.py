"""外字 tables: loading, lookup, errors naming file and line, candidates."""

from __future__ import annotations

import pytest

from ikou.moji.gaiji import (
    GaijiTable,
    GaijiTableError,
    candidates_for,
    format_unicode,
    parse_unicode,
)

from .conftest import DATA


def test_load_fixture_file():
    t = GaijiTable.load(DATA / "gaiji.csv")
    assert len(t) == 4
    assert t.lookup("cp930", 0x6941) == "\u9ad9"
    assert t.lookup("IBM930", 0x6941) == "\u9ad9"  # aliases normalised
    assert t.lookup("cp930", 0x6942) == "\u8fba\U000e0101"
    assert t.lookup("jef", 0x8141) == "\ue000"
    assert t.lookup("cp930", 0x7000) is None
    assert t.encodings == ["cp930", "cp939", "jef"]
    assert t.entry("cp930", 0x6941).mj_name == "MJ028902"


def test_load_text_and_round_trip():
    text = (
        "encoding,legacy_code,unicode,mj_name,note\ncp939,0x6A41,U+20B9F,,\nkeis,81 A1,U+E001,,x\n"
    )
    t = GaijiTable.load(text)
    assert t.lookup("cp939", 0x6A41) == "\U00020b9f"
    assert t.lookup("keis", 0x81A1) == "\ue001"
    again = GaijiTable.parse(t.to_csv())
    assert [(e.encoding, e.code, e.text, e.note) for e in again.entries()] == [
        (e.encoding, e.code, e.text, e.note) for e in t.entries()
    ]


@pytest.mark.parametrize(
    "body,line,fragment",
    [
        ("cp930,XYZ1,U+9AD9,,", 2, "legacy_code"),
        ("cp930,6941,9AD9,,", 2, "not a code point"),
        ("cp930,6941,U+D800,,", 2, "not a Unicode scalar"),
        (",6941,U+9AD9,,", 2, "empty encoding"),
        ("cp930,6941,U+9AD9,MJ1,", 2, "mj_name"),
        ("cp930,6941,U+9AD9,,,extra", 2, "columns"),
        ("cp930,6941,U+9AD9,,\ncp930,6941,U+9AD8,,", 3, "mapped twice"),
    ],
)
def test_errors_name_file_and_line(body, line, fragment):
    with pytest.raises(GaijiTableError) as ei:
        GaijiTable.parse("encoding,legacy_code,unicode,mj_name,note\n" + body + "\n", "city.csv")
    assert str(ei.value).startswith(f"city.csv:{line}: ")
    assert fragment in str(ei.value)
    assert ei.value.line == line


def test_header_errors_and_missing_file(tmp_path):
    with pytest.raises(GaijiTableError, match="header lacks"):
        GaijiTable.parse("a,b,c\n", "h.csv")
    with pytest.raises(GaijiTableError, match="cannot read"):
        GaijiTable.load(tmp_path / "nope.csv")
    with pytest.raises(GaijiTableError, match="empty table"):
        GaijiTable.parse("", "e.csv")


def test_exact_duplicates_and_comments_are_fine():
    t = GaijiTable.parse(
        "encoding,legacy_code,unicode,mj_name,note\n# comment\ncp930,6941,U+9AD9,,\n"
        "cp930,6941,U+9AD9,,\n"
    )
    assert len(t) == 1


def test_unicode_helpers():
    assert parse_unicode("U+9AD9 U+E0100") == "\u9ad9\U000e0100"
    assert format_unicode("\u9ad9\U000e0100") == "U+9AD9 U+E0100"


def test_candidates_across_the_ibm_family():
    t = GaijiTable.parse("encoding,legacy_code,unicode,mj_name,note\ncp939,6941,U+9AD9,,\n")
    c = candidates_for("cp930", 0x6941, t)
    assert c == ["U+9AD9 \u9ad9 (gaiji table, cp939)"]
    assert candidates_for("jef", 0x8141, t) == []
