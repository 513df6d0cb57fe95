"""Record encoder: exact bytes per field kind, padding, errors that name the field only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.encode import encode_record, frame_records, ibm_float_bytes

from .conftest import fixed


def layout(*lines):
    return parse_copybook(fixed("01  REC.", *lines)).record()


@pytest.mark.parametrize(
    "pic,value,expected",
    [
        ("PIC 9(3)", 123, "F1F2F3"),
        ("PIC 9(3)", None, "F0F0F0"),
        ("PIC S9(3)", -123, "F1F2D3"),
        ("PIC S9(3)", 123, "F1F2C3"),
        ("PIC S9(3) SIGN LEADING", -123, "D1F2F3"),
        ("PIC S9(3) SIGN LEADING SEPARATE", -123, "60F1F2F3"),
        ("PIC S9(3) SIGN TRAILING SEPARATE", 45, "F0F4F54E"),
        ("PIC S9(3)V99", Decimal("-1.5"), "F0F0F1F5D0"),
        ("PIC 9(3)PP", 12300, "F1F2F3"),
        ("PIC S9(5) COMP-3", -12345, "12345D"),
        ("PIC 9(4) COMP-3", 123, "00123F"),
        ("PIC S9(7)V99 COMP-3", Decimal("-123.45"), "000012345D"),
        ("PIC S9(4) COMP", -2, "FFFE"),
        ("PIC 9(9) BINARY", 70000, "00011170"),
        ("PIC S9(18) COMP-5", -1, "FFFFFFFFFFFFFFFF"),
        ("COMP-1", 1.0, "41100000"),
        ("COMP-1", -1.5, "C1180000"),
        ("COMP-1", 0.1, "4019999A"),
        ("COMP-2", 1.0, "4110000000000000"),
        ("COMP-2", 0.0, "0000000000000000"),
    ],
)
def test_numeric_encodings(pic, value, expected):
    lay = layout(f"    05  F  {pic}.")
    vals = {} if value is None else {"F": value}
    assert encode_record(lay, vals, _cp()).hex().upper() == expected


def _cp():
    from ikou.moji.codepages import get_codepage

    return get_codepage("cp930")


def test_text_padding_and_dbcs(cp930):
    lay = layout("    05  A  PIC X(5).", "    05  K  PIC N(3).", "    05  M  PIC X(10).")
    raw = encode_record(lay, {"A": "AB", "K": "山", "M": "A山"}, cp930, mixed_fields=["M"])
    assert raw[:5] == b"\xc1\xc2\x40\x40\x40"
    assert raw[5:11] == cp930.encode_dbcs("山") + b"\x40\x40\x40\x40"
    assert raw[11:] == b"\xc1\x0e" + cp930.encode_dbcs("山") + b"\x0f" + b"\x40" * 5
    assert len(raw) == lay.size == 21
    # missing values: spaces
    raw = encode_record(lay, {}, cp930)
    assert raw == b"\x40" * 5 + b"\x40\x40" * 3 + b"\x40" * 10


def test_bytes_values_are_placed_raw(cp930):
    lay = layout("    05  K  PIC N(2).")
    assert encode_record(lay, {"K": b"\x69\x41"}, cp930) == b"\x69\x41\x40\x40"


def test_occurs_and_depends_on(cp930):
    lay = layout(
        "    05  CNT  PIC 9.",
        "    05  T  OCCURS 0 TO 3 DEPENDING ON CNT.",
        "        10  V PIC 9(2).",
        "    05  Z  PIC X.",
    )
    raw = encode_record(lay, {"V": [1, 2], "Z": "Q"}, cp930)
    assert raw == b"\xf2\xf0\xf1\xf0\xf2\xd8"
    raw = encode_record(lay, {"CNT": 0, "Z": "Q"}, cp930)
    assert raw == b"\xf0\xd8"
    with pytest.raises(ValueError, match="CNT"):
        encode_record(lay, {"CNT": 4}, cp930)


def test_record_length_padding(cp930):
    lay = layout("    05  A  PIC X.")
    assert encode_record(lay, {"A": "A"}, cp930, record_length=4) == b"\xc1\x40\x40\x40"


@pytest.mark.parametrize(
    "pic,value,fragment",
    [
        ("PIC 9(3)", 1000, "does not fit (3 digits)"),
        ("PIC 9(3)", -1, "negative value in an unsigned field"),
        ("PIC 9(3)V9", Decimal("1.25"), "more decimal places"),
        ("PIC X(2)", "ABC", "does not fit (3 bytes, field holds 2)"),
        ("PIC N(1)", "山田", "does not fit"),
        ("PIC X(4)", "山", "cannot be encoded in cp930"),
        ("PIC S9(4) COMP-5", 40000, "2-byte binary"),
        ("PIC 9(3)", "abc", "not a number"),
    ],
)
def test_errors_name_the_field_never_the_value(cp930, pic, value, fragment):
    lay = layout(f"    05  SECRET-FIELD  {pic}.")
    with pytest.raises(ValueError) as ei:
        encode_record(lay, {"SECRET-FIELD": value}, cp930)
    msg = str(ei.value)
    assert "SECRET-FIELD" in msg and fragment in msg
    assert str(value) not in msg.replace("SECRET-FIELD", "")
    assert ei.value.__cause__ is None


def test_unknown_field_is_an_error(cp930):
    lay = layout("    05  A  PIC X.")
    with pytest.raises(ValueError, match="no field.*NOPE"):
        encode_record(lay, {"NOPE": 1}, cp930)


def test_redefines_alternatives_written_only_when_given(cp930):
    cb = parse_copybook(
        fixed("01  REC.", "    05  A  PIC 9(4).", "    05  B REDEFINES A PIC X(4).")
    ).record()
    assert encode_record(cb, {"A": 12}, cp930) == b"\xf0\xf0\xf1\xf2"
    assert encode_record(cb, {"B": "WXYZ"}, cp930) == cp930.encode_sbcs("WXYZ")


def test_frame_records():
    recs = [b"AB", b"CDE"]
    assert frame_records(recs, "FB", lrecl=3) == b"AB\x40CDE"
    assert frame_records(recs, "V") == b"\x00\x06\x00\x00AB\x00\x07\x00\x00CDE"
    vb = frame_records(recs, "VB", block_size=100)
    assert vb == b"\x00\x11\x00\x00" + b"\x00\x06\x00\x00AB\x00\x07\x00\x00CDE"
    vb2 = frame_records(recs, "VB", block_size=12)
    assert vb2 == b"\x00\x0a\x00\x00\x00\x06\x00\x00AB" + b"\x00\x0b\x00\x00\x00\x07\x00\x00CDE"
    with pytest.raises(ValueError):
        frame_records([b"ABCD"], "F", lrecl=3)


def test_ibm_float_round_trip_values():
    import struct

    for x in (1.0, -2.5, 3.141592653589793, 1e-70, 7.2e75, 123456.789):
        b = ibm_float_bytes(x, 8)
        sign = -1 if b[0] & 0x80 else 1
        exp = (b[0] & 0x7F) - 64
        frac = int.from_bytes(b[1:], "big")
        assert sign * frac * 16.0**exp / 2**56 == pytest.approx(x, rel=1e-15)
    del struct
