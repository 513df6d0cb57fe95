"""Vectorised field decoders: numbers (overpunch, nibbles), text (SBCS, DBCS, mixed), 外字."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.decode import (
    PLACEHOLDER,
    REASONS,
    TextTables,
    arrow_type,
    decode_binary,
    decode_dbcs,
    decode_float,
    decode_mixed,
    decode_packed,
    decode_sbcs,
    decode_zoned,
)
from ikou.mainframe.encode import encode_field
from ikou.moji.gaiji import GaijiTable

from .conftest import fixed


def field(pic: str):
    return parse_copybook(fixed("01  REC.", f"    05  F  {pic}.")).record().field("F")


def mat(*rows: bytes) -> np.ndarray:
    return np.frombuffer(b"".join(rows), np.uint8).reshape(len(rows), len(rows[0]))


def reasons(e) -> list[str]:
    return [REASONS[r] for r in e.bad.tolist()]


# ----------------------------------------------------------------------------------- zoned


def test_zoned_overpunch_signs_and_zones():
    f = field("PIC S9(3)")
    rows = [
        b"\xf1\xf2\xc3",
        b"\xf1\xf2\xd3",
        b"\xf1\xf2\xf3",
        b"\xf1\xf2\xa3",
        b"\xf1\xf2\xb3",
        b"\xf1\xf2\xe3",
    ]
    e = decode_zoned(mat(*rows), f)
    assert e.array.to_pylist() == [123, -123, 123, 123, -123, 123]
    assert reasons(e) == [""] * 6
    assert e.array.type == pa.int64()


def test_zoned_leading_and_separate_signs():
    e = decode_zoned(mat(b"\xd1\xf2\xf3", b"\xc1\xf2\xf3"), field("PIC S9(3) SIGN LEADING"))
    assert e.array.to_pylist() == [-123, 123]
    e = decode_zoned(
        mat(b"\x60\xf1\xf2", b"\x4e\xf1\xf2", b"\x5b\xf1\xf2"),
        field("PIC S99 SIGN LEADING SEPARATE"),
    )
    assert e.array.to_pylist()[:2] == [-12, 12]
    assert reasons(e) == ["", "", "invalid_zoned"] and e.pos.tolist()[2] == 0
    e = decode_zoned(mat(b"\xf1\xf2\x60", b"\xf1\xf2\x4e"), field("PIC S99 SIGN TRAILING SEPARATE"))
    assert e.array.to_pylist() == [-12, 12]


def test_zoned_invalid_digits_blank_and_unsigned_rules():
    f = field("PIC 9(4)")
    rows = [
        b"\xf1\xf2\xf3\xc4",
        b"\xf1\x4b\xf3\xf4",
        b"\xf1\xfa\xf3\xf4",
        b"\x40\x40\x40\x40",
        b"\xf1\xf2\xf3\xd4",
        b"\xf0\xf0\xf0\xf0",
    ]
    e = decode_zoned(mat(*rows), f)
    assert reasons(e) == [
        "",
        "invalid_zoned",
        "invalid_zoned",
        "blank_numeric",
        "invalid_zoned",
        "",
    ]
    assert e.pos.tolist()[1:3] == [1, 1]
    assert e.array.to_pylist()[0] == 1234 and e.array.to_pylist()[5] == 0
    assert e.array.null_count == 4
    e = decode_zoned(mat(b"\x40\x40\x40\x40"), f, blank="null")
    assert reasons(e) == [""] and e.array.to_pylist() == [None]


def test_zoned_scale_and_big_digits():
    e = decode_zoned(mat(b"\xf0\xf1\xf2\xf3\xd4"), field("PIC S9(3)V99"))
    assert e.array.type == pa.decimal128(5, 2) and e.array.to_pylist() == [Decimal("-12.34")]
    e = decode_zoned(mat(b"\xf1\xf2\xf3"), field("PIC 9(3)PP"))
    assert e.array.to_pylist() == [12300]
    big = b"\xf9" * 24 + b"\xd9"
    e = decode_zoned(mat(big, b"\xf0" * 24 + b"\xc1"), field("PIC S9(25)"))
    assert e.array.type == pa.decimal128(25, 0)
    assert e.array.to_pylist() == [Decimal("-" + "9" * 25), Decimal(1)]


def test_money_field_is_decimal():
    f = field("PIC 9(5)")
    assert arrow_type(f) == pa.int64()
    assert arrow_type(f, money=True) == pa.decimal128(5, 0)
    assert decode_zoned(mat(b"\xf0\xf0\xf1\xf2\xf3"), f, money=True).array.to_pylist() == [
        Decimal(123)
    ]


# ---------------------------------------------------------------------------------- packed


def test_packed_values_signs_and_bad_nibbles():
    f = field("PIC S9(5) COMP-3")
    rows = [
        b"\x12\x34\x5c",
        b"\x12\x34\x5d",
        b"\x12\x34\x5f",
        b"\x12\x34\x5b",
        b"\x1a\x34\x5c",
        b"\x12\x34\x59",
        b"\x00\x00\x0c",
    ]
    e = decode_packed(mat(*rows), f)
    assert reasons(e) == ["", "", "", "", "bad_nibble", "bad_nibble", ""]
    assert e.array.type == pa.decimal128(5, 0)
    assert e.array.to_pylist() == [
        Decimal(12345),
        Decimal(-12345),
        Decimal(12345),
        Decimal(-12345),
        None,
        None,
        Decimal(0),
    ]
    assert e.pos.tolist()[4:6] == [0, 2]


def test_packed_unsigned_and_even_digits():
    f = field("PIC 9(4)V99 COMP-3")  # 6 digits -> 4 bytes, one pad nibble
    e = decode_packed(mat(b"\x00\x12\x34\x5f", b"\x10\x12\x34\x5f", b"\x00\x12\x34\x5d"), f)
    assert reasons(e) == ["", "bad_nibble", "bad_nibble"]
    assert e.array.to_pylist()[0] == Decimal("123.45")


def test_packed_31_digits():
    f = field("PIC S9(31) COMP-3")
    v = -(10**31 - 1)
    e = decode_packed(mat(encode_field(f, v, None)), f)
    assert e.array.to_pylist() == [Decimal(v)]


# --------------------------------------------------------------------------- binary / float


def test_binary_signed_unsigned_and_scale():
    e = decode_binary(mat(b"\xff\xfe", b"\x7f\xff"), field("PIC S9(4) COMP"))
    assert e.array.to_pylist() == [-2, 32767]
    e = decode_binary(mat(b"\xff\xff\xff\xff"), field("PIC 9(9) COMP"))
    assert e.array.to_pylist() == [4294967295]
    e = decode_binary(mat(b"\x00\x00\x30\x39"), field("PIC S9(7)V99 COMP"))
    assert e.array.type == pa.decimal128(9, 2) and e.array.to_pylist() == [Decimal("123.45")]
    e = decode_binary(mat(b"\xff" * 8), field("PIC 9(18) COMP"))
    assert reasons(e) == ["binary_overflow"]


def test_ibm_hex_float():
    f1, f2 = field("COMP-1"), field("COMP-2")
    e = decode_float(
        mat(b"\x41\x10\x00\x00", b"\xc1\x18\x00\x00", b"\x40\x19\x99\x9a", b"\x00\x00\x00\x00"), f1
    )
    got = e.array.to_pylist()
    assert got[:2] == [1.0, -1.5] and got[2] == pytest.approx(0.1, rel=1e-6) and got[3] == 0.0
    e = decode_float(mat(encode_field(f2, 3.141592653589793, None)), f2)
    assert e.array.to_pylist()[0] == pytest.approx(3.141592653589793, rel=1e-15)


# ------------------------------------------------------------------------------------ text


@pytest.fixture(scope="module")
def t930():
    from ikou.moji.codepages import get_codepage

    return TextTables(get_codepage("cp930"), "cp930")


def test_sbcs_trim_and_keep_padding(t930, cp930):
    a = cp930.encode_sbcs("ｱｲ A").ljust(6, b"\x40")
    b = cp930.encode_sbcs("XYZ123")
    e = decode_sbcs(mat(a, b, b"\x40" * 6), t930)
    assert e.array.to_pylist() == ["ｱｲ A", "XYZ123", ""]
    e = decode_sbcs(mat(a), t930, keep_padding=True)
    assert e.array.to_pylist() == ["ｱｲ A  "]


def test_sbcs_undefined_byte(t930, cp930):
    bad = int(np.flatnonzero(np.asarray(cp930.sbcs) == 0xFFFFFFFF)[0])
    e = decode_sbcs(mat(b"\xc1" + bytes([bad]) + b"\x40"), t930)
    assert reasons(e) == ["undefined_sbcs"] and e.pos.tolist() == [1]


def test_dbcs_decode_trim_and_undecodable(t930, cp930):
    a = cp930.encode_dbcs("山田　太郎") + b"\x40\x40" * 2
    e = decode_dbcs(
        mat(a, b"\x40\x40" * 7, cp930.encode_dbcs("一") + b"\x01\x02" + b"\x40\x40" * 5), t930
    )
    assert e.array.to_pylist()[:2] == ["山田　太郎", ""]
    assert reasons(e) == ["", "", "undecodable_dbcs"]
    assert e.pos.tolist()[2] == 2 and e.code_at_pos.tolist()[2] == 0x0102
    e = decode_dbcs(mat(a), t930, keep_padding=True)
    assert e.array.to_pylist() == ["山田　太郎　　"]


def test_dbcs_sip_and_sequence_codes():
    from ikou.moji.codepages import SEQUENCE, get_codepage

    cp = get_codepage("cp1390")
    t = TextTables(cp, "cp1390")
    seq_code = next(iter(cp.dbcs_sequences))
    text = cp.dbcs_sequences[seq_code]
    row = seq_code.to_bytes(2, "big") + cp.encode_dbcs("山") + b"\x40\x40"
    e = decode_dbcs(mat(row, cp.encode_dbcs("山田") + b"\x40\x40"), t)
    assert e.array.to_pylist() == [text + "山", "山田"]
    assert int(cp.dbcs[seq_code]) == SEQUENCE
    sip = [c for c in range(0x4141, 0xFEFE) if 0x10000 <= int(cp.dbcs[c]) < 0x110000][:3]
    if sip:
        row = b"".join(c.to_bytes(2, "big") for c in sip)
        assert decode_dbcs(mat(row), t).array.to_pylist() == [
            "".join(chr(int(cp.dbcs[c])) for c in sip)
        ]


def _mixed(cp, text: str, width: int) -> bytes:
    raw = cp.encode_mixed(text)
    return raw + b"\x40" * (width - len(raw))


def test_mixed_shift_codes(t930, cp930):
    rows = [_mixed(cp930, s, 24) for s in ("ABC山田DEF", "見本市1-2", "XYZ", "山田　", "")]
    e = decode_mixed(mat(*rows), t930)
    assert e.array.to_pylist() == ["ABC山田DEF", "見本市1-2", "XYZ", "山田", ""]
    assert reasons(e) == [""] * 5
    e = decode_mixed(mat(rows[3]), t930, keep_padding=True)
    assert e.array.to_pylist() == ["山田　" + " " * (24 - 8)]


def test_mixed_without_any_shift_is_sbcs(t930, cp930):
    e = decode_mixed(mat(cp930.encode_sbcs("PLAIN")), t930)
    assert e.array.to_pylist() == ["PLAIN"]


def test_mixed_errors(t930, cp930):
    yama = cp930.encode_dbcs("山")
    rows = [
        b"\xc1\x0e" + yama + b"\x40\x40",  # SO never closed
        b"\xc1\x0f" + b"\x40" * 4,  # SI without SO
        b"\x0e" + yama + b"\x0e" + b"\x0f\x0f",  # nested SO
        b"\x0e" + yama + b"\x45\x0f\x40",  # odd DBCS run
        b"\x0e\x01\x02\x0f\x40\x40",  # undecodable DBCS code inside
        b"\x0e" + yama + b"\x0f\xc1\x40",  # fine
    ]
    e = decode_mixed(mat(*rows), t930)
    assert reasons(e) == [
        "unbalanced_shift",
        "unbalanced_shift",
        "unbalanced_shift",
        "odd_dbcs_length",
        "undecodable_dbcs",
        "",
    ]
    assert e.pos.tolist()[:2] == [1, 1]
    assert e.array.to_pylist()[5] == "山A"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.text(alphabet="ABCXYZ0129 -ｱｲｳ山田花子見本市区町村一二三東西　", max_size=12),
        min_size=1,
        max_size=8,
    )
)
def test_mixed_matches_scalar_reference(t930, cp930, texts):
    width = 40
    rows = [_mixed(cp930, s, width) for s in texts]
    e = decode_mixed(mat(*rows), t930, keep_padding=True)
    assert reasons(e) == [""] * len(rows)
    assert e.array.to_pylist() == [cp930.decode_mixed(r) for r in rows]


# ------------------------------------------------------------------------------------ 外字


GAIJI = (
    "encoding,legacy_code,unicode,mj_name,note\ncp930,6941,U+9AD9,,\ncp930,6942,U+8FBA U+E0101,,\n"
)


def test_gaiji_mapped_unmapped_and_sequence(cp930):
    t = TextTables(cp930, "cp930", GaijiTable.parse(GAIJI, "g.csv"))
    row1 = cp930.encode_dbcs("山") + b"\x69\x41" + b"\x69\x42" + b"\x69\x43" + b"\x40\x40"
    e = decode_dbcs(mat(row1, cp930.encode_dbcs("田") + b"\x40\x40" * 4), t)
    assert e.array.to_pylist() == ["山髙\u8fba\U000e0101" + PLACEHOLDER, "田"]
    assert reasons(e) == ["", ""]
    assert e.gaiji == [(0, 0x6943, 6)]
    assert e.gaiji_mapped == 2


def test_gaiji_quarantine_policy_and_mixed(cp930):
    t = TextTables(cp930, "cp930", GaijiTable.parse(GAIJI, "g.csv"), policy="quarantine")
    row = b"\xc1\x0e\x69\x41\x69\x43\x0f\x40"
    e = decode_mixed(mat(row, b"\xc1\x0e\x69\x42\x0f\x40\x40\x40"), t)
    assert reasons(e) == ["unmapped_gaiji", ""]
    assert e.gaiji == [(0, 0x6943, 4)]
    assert e.pos.tolist()[0] == 4 and e.code_at_pos.tolist()[0] == 0x6943
    assert e.array.to_pylist()[1] == "A\u8fba\U000e0101"


def test_gaiji_without_table_is_placeholder(t930):
    e = decode_dbcs(mat(b"\x69\x41\x40\x40"), t930)
    assert e.array.to_pylist() == [PLACEHOLDER] and e.gaiji == [(0, 0x6941, 0)]


def test_vectoriseduser_defined_mask_matches_method():
    from ikou.mainframe.decode import user_defined_mask
    from ikou.moji.codepages import get_codepage

    for name in ("cp930", "cp1390", "jef", "keis"):
        cp = get_codepage(name)
        m = user_defined_mask(cp)
        sample = list(range(0, 65536, 97)) + [0x6941, 0x7FFE, 0x8141, 0x89FE]
        assert all(bool(m[c]) == cp.is_user_defined(c) for c in sample), name
