"""ikou.identifiers: check digits and formats. All numbers here are synthetic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou import identifiers as ids
from ikou.cleanse.rules import CHECKS


def _body(n: int):
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def _my_number_reference(body: str) -> int:
    """The brief's formula as written: P(n) counted from the lowest digit, Q(n) = n+1 / n-5."""
    p = [int(c) for c in reversed(body)]
    r = sum(p[n - 1] * (n + 1 if n <= 6 else n - 5) for n in range(1, 12)) % 11
    return 0 if r <= 1 else 11 - r


def _corporate_reference(body: str) -> int:
    """9 - (Σ P(n)·Q(n) mod 9), Q(n) = 1 for odd n, 2 for even n, n from the lowest digit."""
    p = [int(c) for c in reversed(body)]
    return 9 - sum(p[n - 1] * (1 if n % 2 else 2) for n in range(1, 13)) % 9


# ----------------------------------------------------------------------------- 個人番号


def test_my_number_example_of_the_brief():
    assert ids.my_number_check_digit("98320567321") == 4
    assert ids.is_valid_my_number("983205673214")
    for wrong in "012356789":
        assert not ids.is_valid_my_number("98320567321" + wrong)


@pytest.mark.parametrize(
    "body, check",
    [
        ("00000000000", 0),
        ("00000000001", 9),
        ("00000000010", 8),
        ("10000000000", 5),
        ("00000100000", 4),
    ],
)
def test_my_number_hand_computed(body, check):
    # weights left to right 6,5,4,3,2,7,6,5,4,3,2; r <= 1 gives 0
    assert ids.my_number_check_digit(body) == check
    assert ids.my_number_check_digit(body) == _my_number_reference(body)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "98320567321",
        "9832056732145",
        "98320567321a",
        "９８３２０５６７３２１４",
        " 983205673214",
        "983205673214 ",
        "983205673214\n",
        "9832-0567-3214",
    ],
)
def test_my_number_malformed_is_invalid(value):
    assert ids.is_valid_my_number(value) is False


@pytest.mark.parametrize("body", ["1234567890", "123456789012", "1234567890a", "", "1234567890x"])
def test_my_number_check_digit_needs_11_digits(body):
    with pytest.raises(ValueError):
        ids.my_number_check_digit(body)


def test_my_number_check_digit_rejects_a_trailing_newline():
    with pytest.raises(ValueError):
        ids.my_number_check_digit("1234567890\n")


@given(_body(11))
@settings(max_examples=500, deadline=None)
def test_my_number_every_body_has_exactly_one_check_digit(body):
    check = ids.my_number_check_digit(body)
    assert 0 <= check <= 9
    assert check == _my_number_reference(body)
    assert ids.is_valid_my_number(body + str(check))
    for other in "0123456789":
        if other != str(check):
            assert not ids.is_valid_my_number(body + other)


def test_my_number_remainders_zero_and_one_share_check_digit_zero():
    """r <= 1 both give 0 (the ordinance's rule): so a single-digit error is not always caught."""
    assert ids.my_number_check_digit("00000000000") == 0  # r = 0
    assert ids.my_number_check_digit("00000000006") == 0  # 6 * 2 = 12 -> r = 1
    assert ids.my_number_check_digit("00000000003") == 5  # 3 * 2 = 6 -> 11 - 6


# ----------------------------------------------------------------------------- 法人番号


def test_corporate_number_hand_computed():
    # body 123456789012: from the lowest 2·1 + 1·2 + 0·1 + 9·2 + 8·1 + 7·2 + 6·1 + 5·2 + 4·1 + 3·2 + 2·1 + 1·2 = 74
    assert ids.corporate_number_check_digit("123456789012") == 9 - 74 % 9 == 7
    assert ids.is_valid_corporate_number("7123456789012")
    assert not ids.is_valid_corporate_number("6123456789012")
    assert not ids.is_valid_corporate_number("1234567890127")  # check digit first, not last


def test_corporate_number_check_digit_nine_when_divisible():
    body = "000000000009"  # sum 9 -> 9 - 0 = 9
    assert ids.corporate_number_check_digit(body) == 9
    assert ids.is_valid_corporate_number("9" + body)


@pytest.mark.parametrize(
    "value", [None, "", "712345678901", "71234567890123", "712345678901a", "7123456789012\n"]
)
def test_corporate_number_malformed_is_invalid(value):
    assert ids.is_valid_corporate_number(value) is False


@given(_body(12))
@settings(max_examples=300, deadline=None)
def test_corporate_number_property(body):
    check = ids.corporate_number_check_digit(body)
    assert 1 <= check <= 9
    assert check == _corporate_reference(body)
    assert ids.is_valid_corporate_number(str(check) + body)
    for other in "0123456789":
        if other != str(check):
            assert not ids.is_valid_corporate_number(other + body)


def test_corporate_number_body_length():
    with pytest.raises(ValueError):
        ids.corporate_number_check_digit("12345678901")


# ----------------------------------------------------------------------------- 地方公共団体コード


def test_local_government_code_example():
    assert ids.local_government_code_check_digit("13101") == 6
    assert ids.is_valid_local_government_code("131016")
    assert not ids.is_valid_local_government_code("131017")


@pytest.mark.parametrize(
    "body, check",
    [
        ("00000", 1),  # sum 0: 11 - 0 = 11 -> last digit 1
        ("00005", 1),  # sum 10: 11 - 10 = 1
        ("00010", 8),  # sum 3: 11 - 3 = 8
        ("10000", 5),  # sum 6: 11 - 6 = 5
    ],
)
def test_local_government_code_edges(body, check):
    assert ids.local_government_code_check_digit(body) == check


def test_local_government_code_remainder_one_gives_zero():
    # sum 12 -> 12 mod 11 = 1 -> 11 - 1 = 10 -> last digit 0
    body = "00006"  # 6 * 2 = 12
    assert ids.local_government_code_check_digit(body) == 0
    assert ids.is_valid_local_government_code(body + "0")


@pytest.mark.parametrize(
    "value", [None, "", "13101", "1310160", "13101a", "131016\n", "１３１０１６"]
)
def test_local_government_code_malformed(value):
    assert ids.is_valid_local_government_code(value) is False


@given(_body(5))
@settings(max_examples=200, deadline=None)
def test_local_government_code_property(body):
    check = ids.local_government_code_check_digit(body)
    assert ids.is_valid_local_government_code(body + str(check))
    assert sum(ids.is_valid_local_government_code(body + d) for d in "0123456789") == 1


# ----------------------------------------------------------------------------- 住民票コード


def test_juminhyo_format_rule():
    assert ids.is_valid_juminhyo_code("12345678901")
    assert ids.is_valid_juminhyo_code("12345678901", "format")
    for bad in (
        None,
        "",
        "1234567890",
        "123456789012",
        "1234567890a",
        "12345678901\n",
        "１２３４５６７８９０１",
    ):
        assert ids.is_valid_juminhyo_code(bad) is False


def test_juminhyo_synthetic_rule():
    body = "0000000001"  # lowest digit weight 2: s = 2 -> 11 - 2 = 9
    assert ids.juminhyo_synthetic_check_digit(body) == 9
    assert ids.is_valid_juminhyo_code(body + "9", "mod11-synthetic")
    assert not ids.is_valid_juminhyo_code(body + "8", "mod11-synthetic")
    assert ids.is_valid_juminhyo_code(body + "8", "format")  # the format rule does not check digits
    assert not ids.is_valid_juminhyo_code("123", "mod11-synthetic")


@given(_body(10))
@settings(max_examples=200, deadline=None)
def test_juminhyo_synthetic_property(body):
    check = ids.juminhyo_synthetic_check_digit(body)
    assert 0 <= check <= 9
    assert ids.is_valid_juminhyo_code(body + str(check), "mod11-synthetic")
    assert sum(ids.is_valid_juminhyo_code(body + d, "mod11-synthetic") for d in "0123456789") == 1


def test_juminhyo_unknown_rule_raises():
    with pytest.raises(ValueError, match="unknown 住民票コード rule 'mic-2002'"):
        ids.is_valid_juminhyo_code("12345678901", "mic-2002")
    with pytest.raises(ValueError):
        ids.is_valid_juminhyo_code(
            "", "mic-2002"
        )  # an unknown rule is a configuration error, whatever the value


def test_juminhyo_rules_are_pluggable(monkeypatch):
    monkeypatch.setitem(ids.JUMINHYO_RULES, "all-sevens", lambda v: set(v) == {"7"})
    assert ids.is_valid_juminhyo_code("77777777777", "all-sevens")
    assert not ids.is_valid_juminhyo_code("12345678901", "all-sevens")


# ----------------------------------------------------------------------------- postal codes, phones


@pytest.mark.parametrize(
    "value, ok",
    [
        ("1234567", True),
        ("123-4567", True),
        ("000-0000", True),
        ("123456", False),
        ("12345678", False),
        ("12-34567", False),
        ("1234-567", False),
        ("123-456a", False),
        ("１２３－４５６７", False),
        ("123 4567", False),
        ("123-4567\n", False),
        ("", False),
        (None, False),
    ],
)
def test_postal_codes(value, ok):
    assert ids.is_valid_postal_code(value) is ok


@pytest.mark.parametrize(
    "value, ok",
    [
        ("03-1234-5678", True),
        ("0312345678", True),
        ("090-1234-5678", True),
        ("09012345678", True),
        ("0123-45-6789", True),
        ("011-234-5678", True),
        ("1234567890", False),  # no leading 0
        ("03-1234-567", False),  # 9 digits
        ("090-1234-56789", False),  # 12 digits
        ("03_1234_5678", False),
        ("03-1234-5678\n", False),
        ("０３－１２３４－５６７８", False),
        ("", False),
        (None, False),
    ],
)
def test_phones(value, ok):
    assert ids.is_valid_phone(value) is ok


def test_address_file_my_number_check_accepts_corporate_numbers():
    """The 宛名 KOJIN-NO field holds 個人番号 or 法人番号: the check accepts either, rejects others."""
    check = CHECKS["my_number_check_digit"]
    assert check("983205673214")
    assert check("7123456789012")
    assert not check("983205673215")
    assert not check("6123456789012")
