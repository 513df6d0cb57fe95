"""Check digits and formats of Japanese public identifiers (domain brief, "Identifiers").

A bad check digit is a finding, never "fixed": these functions only tell.

- 個人番号 (My Number): 12 digits, check digit per 総務省令第85号 art. 5.
- 法人番号 (corporate number): 13 digits, the *first* digit is the check digit
  (9 - (sum of the 12 body digits weighted 1,2,1,2,… from the lowest) mod 9).
- 地方公共団体コード: 6 digits, weights 6,5,4,3,2; check = last digit of 11 - (sum mod 11).
- 住民票コード: 11 digits, 10 + a check digit whose formula (a 2002 MIC notice) was not confirmed:
  the rule is pluggable (``JUMINHYO_RULES``); the default ``"format"`` checks the format only,
  ``"mod11-synthetic"`` is the rule Ikou's synthetic city uses (an assumption, not the real one).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_DIGITS = re.compile(r"[0-9]+\Z")  # \Z, not $: "$" also matches before a final newline


def my_number_check_digit(body: str) -> int:
    """Check digit of the 11 body digits of a 個人番号 (left to right weights 6,5,4,3,2,7,6,5,4,3,2)."""
    if len(body) != 11 or not _DIGITS.match(body):
        raise ValueError("a 個人番号 body is 11 digits")
    weights = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    r = sum(int(d) * w for d, w in zip(body, weights)) % 11
    return 0 if r <= 1 else 11 - r


def is_valid_my_number(value: str | None) -> bool:
    if not value or len(value) != 12 or not _DIGITS.match(value):
        return False
    return my_number_check_digit(value[:11]) == int(value[11])


def corporate_number_check_digit(body: str) -> int:
    if len(body) != 12 or not _DIGITS.match(body):
        raise ValueError("a 法人番号 body is 12 digits")
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(body)))
    return 9 - total % 9


def is_valid_corporate_number(value: str | None) -> bool:
    if not value or len(value) != 13 or not _DIGITS.match(value):
        return False
    return corporate_number_check_digit(value[1:]) == int(value[0])


def local_government_code_check_digit(body: str) -> int:
    if len(body) != 5 or not _DIGITS.match(body):
        raise ValueError("a 地方公共団体コード body is 5 digits")
    s = sum(int(d) * w for d, w in zip(body, (6, 5, 4, 3, 2)))
    return (11 - s % 11) % 10


def is_valid_local_government_code(value: str | None) -> bool:
    if not value or len(value) != 6 or not _DIGITS.match(value):
        return False
    return local_government_code_check_digit(value[:5]) == int(value[5])


def _juminhyo_format(value: str) -> bool:
    return len(value) == 11 and bool(_DIGITS.match(value))


def juminhyo_synthetic_check_digit(body: str) -> int:
    """The synthetic city's rule (ASSUMPTION, not the MIC rule): mod 11 with weights 2..11."""
    s = sum(int(d) * w for d, w in zip(reversed(body), range(2, 12)))
    r = s % 11
    return 0 if r <= 1 else 11 - r


def _juminhyo_mod11_synthetic(value: str) -> bool:
    return _juminhyo_format(value) and juminhyo_synthetic_check_digit(value[:10]) == int(value[10])


JUMINHYO_RULES: dict[str, Callable[[str], bool]] = {
    "format": _juminhyo_format,
    "mod11-synthetic": _juminhyo_mod11_synthetic,
}


def is_valid_juminhyo_code(value: str | None, rule: str = "format") -> bool:
    try:
        check = JUMINHYO_RULES[rule]
    except KeyError:
        raise ValueError(
            f"unknown 住民票コード rule {rule!r}; known: {', '.join(JUMINHYO_RULES)}"
        ) from None
    if not value:
        return False
    return check(value)


_POSTAL = re.compile(r"[0-9]{3}-?[0-9]{4}\Z")
_PHONE = re.compile(r"0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}\Z")


def is_valid_postal_code(value: str | None) -> bool:
    return bool(value) and bool(_POSTAL.match(value))


def is_valid_phone(value: str | None) -> bool:
    if not value:
        return False
    digits = value.replace("-", "")
    return bool(_PHONE.match(value)) and 10 <= len(digits) <= 11
