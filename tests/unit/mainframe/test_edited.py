"""Numeric-edited pictures -> Decimal with the picture's scale (issue 9 §3): examples from the
COBOL editing rules, byte-built EBCDIC rows, and a hypothesis property against a reference
formatter. All data synthetic."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.copybook.pictures import edited_layout
from ikou.mainframe.decode import REASONS, TextTables, decode_elements
from ikou.moji.codepages import get_codepage

from .conftest import fixed

CP = get_codepage("cp930")
T = TextTables.get(CP, "cp930")


def field(pic: str, *, bwz: bool = False, decimal_comma: bool = False):
    clause = " BLANK WHEN ZERO" if bwz else ""
    text = fixed("01  R.", f"    05  F  PIC {pic}{clause}.")
    return parse_copybook(text, decimal_comma=decimal_comma).record().field("F")


def run(pic: str, *texts: str, **kw):
    f = field(pic, **kw)
    assert f.kind == "edited"
    rows = [t.encode("cp037") for t in texts]
    assert all(len(r) == f.size for r in rows), (f.size, [len(r) for r in rows])
    b = np.frombuffer(b"".join(rows), np.uint8).reshape(len(rows), f.size)
    el = decode_elements(b, f, T)
    return el.array.to_pylist(), [REASONS[x] for x in el.bad]


@pytest.mark.parametrize(
    "pic,text,value",
    [
        ("ZZ,ZZ9.99", " 1,234.50", Decimal("1234.50")),
        ("ZZ,ZZ9.99", "     0.07", Decimal("0.07")),
        ("ZZZ9.99-", "  12.30-", Decimal("-12.30")),
        ("ZZZ9.99-", "  12.30 ", Decimal("12.30")),
        ("-ZZZ9.99", "-  12.30", Decimal("-12.30")),
        ("+ZZ9", "+ 45", Decimal("45")),
        ("+ZZ9", "- 45", Decimal("-45")),
        ("ZZ9.99CR", "  5.00CR", Decimal("-5.00")),
        ("ZZ9.99CR", "  5.00  ", Decimal("5.00")),
        ("ZZ9.99DB", " 15.25DB", Decimal("-15.25")),
        ("***,**9.99", "*****12.34", Decimal("12.34")),
        ("$$$,$$9.99", "    $12.34", Decimal("12.34")),
        ("----9.9", "  -12.5", Decimal("-12.5")),
        ("++++9", " +123", Decimal("123")),
        ("99/99/99", "12/31/99", Decimal("123199")),
        ("999B999", "123 456", Decimal("123456")),
        ("9990", "1230", Decimal("123")),
        ("ZZ9V99", "  512", Decimal("5.12")),
        ("ZZ9PP", "123", Decimal("12300")),
    ],
)
def test_edited_examples(pic, text, value):
    f = field(pic)
    vals, reasons = run(pic, text)
    assert reasons == [""]
    assert vals[0] == value
    if isinstance(value, Decimal):
        assert vals[0].as_tuple().exponent == -max(f.scale, 0)


def test_asterisk_and_blank_fields_are_zero():
    vals, reasons = run("***9.99", "****.**", "**12.50")
    assert vals == [Decimal("0.00"), Decimal("12.50")] and reasons == ["", ""]
    vals, reasons = run("ZZZ.ZZ", "      ")
    assert vals == [Decimal("0.00")] and reasons == [""]
    vals, reasons = run("999.99", "      ", bwz=True)
    assert vals == [Decimal("0.00")] and reasons == [""]


def test_all_blank_without_z_is_a_blank_numeric():
    vals, reasons = run("999.99", "      ")
    assert vals == [None] and reasons == ["blank_numeric"]


def test_invalid_bytes_are_invalid_edited_with_position():
    f = field("ZZ9.99")
    b = np.frombuffer("1A2.00".encode("cp037"), np.uint8).reshape(1, 6)
    el = decode_elements(b, f, T)
    assert [REASONS[x] for x in el.bad] == ["invalid_edited"] and el.pos[0] == 1
    assert el.array.to_pylist() == [None]


def test_decimal_comma_swaps_point_and_comma():
    f = field("ZZ.ZZ9,99", decimal_comma=True)
    assert f.scale == 2
    vals, _ = run("ZZ.ZZ9,99", " 1.234,50", decimal_comma=True)
    assert vals == [Decimal("1234.50")]


def _format(value: int, pic: str) -> str:
    """Reference editing of an integer number of the picture's smallest units: ZZ...9.99-."""
    classes, digits, scale = edited_layout(pic)
    s = str(abs(value)).rjust(digits, "0")
    out, k, seen = [], 0, False
    chars = [c for c in pic_chars(pic)]
    for c in chars:
        if c in "9Z":
            d = s[k]
            k += 1
            seen |= d != "0" or c == "9"
            out.append(d if seen else " ")
        elif c == ".":
            seen = True
            out.append(".")
        elif c == ",":
            out.append("," if seen else " ")
        elif c == "-":
            out.append("-" if value < 0 else " ")
    return "".join(out)


def pic_chars(pic: str) -> list[str]:
    from ikou.mainframe.copybook.pictures import expand_picture

    return expand_picture(pic)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(min_value=-(10**9) + 1, max_value=10**9 - 1),
    st.sampled_from(["ZZZ,ZZZ,ZZ9.99-", "ZZZZZZZZ9.99-", "ZZZ,ZZZ,ZZZ.99-", "9(9).99-"]),
)
def test_property_reference_editing_round_trips(value, pic):
    pic_x = pic.replace("9(9)", "999999999")
    text = _format(value, pic_x)
    vals, reasons = run(pic_x, text)
    assert reasons == [""]
    assert vals[0] == Decimal(value).scaleb(-2)


def test_s_in_an_edited_picture_is_an_overpunched_last_digit():
    f = field("S9(3).99")
    assert f.signed and f.size == 6
    vals, reasons = run("S9(3).99", "123.4J", "123.45", "012.3{")
    assert vals == [Decimal("-123.41"), Decimal("123.45"), Decimal("12.30")]
    assert reasons == ["", "", ""]


PICTURES = [
    "ZZ,ZZ9.99",
    "ZZZ9.99-",
    "-ZZZ9.99",
    "+ZZZ,ZZ9",
    "ZZ9.99CR",
    "ZZ9.99DB",
    "***,**9.99",
    "$$$,$$9.99",
    "----9.9",
    "++++9",
    "99/99/99",
    "999B999",
    "9990",
    "ZZ9V99",
    "S9(3).99",
    "Z(6)VZZ-",
    "9(6).99-",
    "+9(6)V99",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PICTURES), st.data())
def test_property_encode_then_decode_round_trips(pic, data):
    """The engine's editing (encode.edit_number, as a COBOL MOVE edits) read back exactly."""
    from ikou.mainframe.encode import encode_field

    f = field(pic)
    top = 10**f.digits - 1
    low = -top if f.signed else 0
    values = data.draw(st.lists(st.integers(low, top), min_size=1, max_size=8))
    rows = [encode_field(f, Decimal(v).scaleb(-f.scale), CP) for v in values]
    b = np.frombuffer(b"".join(rows), np.uint8).reshape(len(rows), f.size)
    el = decode_elements(b, f, T)
    assert [REASONS[x] for x in el.bad] == [""] * len(values)
    assert el.array.to_pylist() == [Decimal(v).scaleb(-f.scale) for v in values]
