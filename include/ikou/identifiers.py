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

# Each check digit is defined once: the body's weights (left to right) and the digit of the
# weighted sum. The scalar functions (one value) and their array twins (a column of values at a
# time, numpy: :func:`valid_array`) both read these, so the two cannot drift apart. The digit
# functions work on a Python int and on a numpy array alike.
MY_NUMBER_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
#: 1,2,1,2,… from the lowest digit of the 12-digit body, written left to right
CORPORATE_WEIGHTS = tuple(2 if i % 2 else 1 for i in range(12))[::-1]
LOCAL_GOVERNMENT_WEIGHTS = (6, 5, 4, 3, 2)
#: the synthetic city's 住民票コード rule: weights 2..11 from the lowest of the 10 body digits
JUMINHYO_SYNTHETIC_WEIGHTS = tuple(range(11, 1, -1))


def _mod11_digit(total):
    """0 when the remainder mod 11 is 0 or 1, else 11 - remainder (個人番号, 住民票コード)."""
    r = total % 11
    return (r > 1) * (11 - r)


def _corporate_digit(total):
    return 9 - total % 9


def _local_government_digit(total):
    return (11 - total % 11) % 10


def _weighted(body: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(body, weights))


def my_number_check_digit(body: str) -> int:
    """Check digit of the 11 body digits of a 個人番号 (left to right weights 6,5,4,3,2,7,6,5,4,3,2)."""
    if len(body) != 11 or not _DIGITS.match(body):
        raise ValueError("a 個人番号 body is 11 digits")
    return int(_mod11_digit(_weighted(body, MY_NUMBER_WEIGHTS)))


def is_valid_my_number(value: str | None) -> bool:
    if not value or len(value) != 12 or not _DIGITS.match(value):
        return False
    return my_number_check_digit(value[:11]) == int(value[11])


def corporate_number_check_digit(body: str) -> int:
    if len(body) != 12 or not _DIGITS.match(body):
        raise ValueError("a 法人番号 body is 12 digits")
    return int(_corporate_digit(_weighted(body, CORPORATE_WEIGHTS)))


def is_valid_corporate_number(value: str | None) -> bool:
    if not value or len(value) != 13 or not _DIGITS.match(value):
        return False
    return corporate_number_check_digit(value[1:]) == int(value[0])


def local_government_code_check_digit(body: str) -> int:
    if len(body) != 5 or not _DIGITS.match(body):
        raise ValueError("a 地方公共団体コード body is 5 digits")
    return int(_local_government_digit(_weighted(body, LOCAL_GOVERNMENT_WEIGHTS)))


def is_valid_local_government_code(value: str | None) -> bool:
    if not value or len(value) != 6 or not _DIGITS.match(value):
        return False
    return local_government_code_check_digit(value[:5]) == int(value[5])


def _juminhyo_format(value: str) -> bool:
    return len(value) == 11 and bool(_DIGITS.match(value))


def juminhyo_synthetic_check_digit(body: str) -> int:
    """The synthetic city's rule (ASSUMPTION, not the MIC rule): mod 11 with weights 2..11."""
    return int(_mod11_digit(_weighted(body, JUMINHYO_SYNTHETIC_WEIGHTS)))


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


# one pattern each for the scalar check (Python ``re``, matched from the start) and its array twin
# (Arrow's RE2): both read ``[0-9]`` as the ASCII digits only
_POSTAL_PATTERN = "[0-9]{3}-?[0-9]{4}"
_PHONE_PATTERN = "0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}"
_POSTAL = re.compile(_POSTAL_PATTERN + r"\Z")
_PHONE = re.compile(_PHONE_PATTERN + r"\Z")
#: a phone number's digits (without its hyphens): 10 or 11
_PHONE_DIGITS = (10, 11)


def is_valid_postal_code(value: str | None) -> bool:
    return bool(value) and bool(_POSTAL.match(value))


def is_valid_phone(value: str | None) -> bool:
    if not value:
        return False
    digits = value.replace("-", "")
    return bool(_PHONE.match(value)) and _PHONE_DIGITS[0] <= len(digits) <= _PHONE_DIGITS[1]


# -- array twins: a column of values at a time ------------------------------------------------
#
# (body weights, digit of the weighted sum, width, position of the check digit) of each
# check-digit identifier; ``None`` weights: the format only (fixed width, ASCII digits).
_ARRAY_RULES: dict[str, tuple[tuple[int, ...] | None, Callable, int, int]] = {
    "my_number": (MY_NUMBER_WEIGHTS, _mod11_digit, 12, 11),
    "corporate_number": (CORPORATE_WEIGHTS, _corporate_digit, 13, 0),
    "local_government_code": (LOCAL_GOVERNMENT_WEIGHTS, _local_government_digit, 6, 5),
    "juminhyo:format": (None, _mod11_digit, 11, 10),
    "juminhyo:mod11-synthetic": (JUMINHYO_SYNTHETIC_WEIGHTS, _mod11_digit, 11, 10),
}


def _digit_matrix(values, width: int):
    """The ASCII digits of strings that are each exactly ``width`` digits, as an (n, width)
    array of 0..9 (read from the Arrow data buffer: no Python object per value)."""
    import numpy as np
    import pyarrow as pa

    arr = values.cast(pa.large_string())
    if not len(arr):
        return np.zeros((0, width), dtype=np.int64)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    start = int(offsets[0])
    return data[start : start + len(arr) * width].reshape(len(arr), width).astype(np.int64) - 48


def valid_array(values, kind: str):
    """Which of ``values`` (an Arrow string array) are valid identifiers of ``kind``
    (``my_number``, ``corporate_number``, ``local_government_code``, ``juminhyo:<rule>``), as a
    numpy bool array: the array twin of ``is_valid_*`` (null and empty: not valid)."""
    import numpy as np

    if kind.startswith("juminhyo:") and kind not in _ARRAY_RULES:
        rule = kind.partition(":")[2]
        raise ValueError(f"unknown 住民票コード rule {rule!r}; known: {', '.join(JUMINHYO_RULES)}")
    weights, digit, width, at = _ARRAY_RULES[kind]
    values = _combined(values)
    shaped = _matches(values, f"[0-9]{{{width}}}")
    ok = np.array(shaped.to_numpy(zero_copy_only=False), dtype=bool)
    if weights is None or not ok.any():
        return ok
    d = _digit_matrix(values.filter(shaped), width)
    body = np.delete(d, at, axis=1)
    good = digit(body @ np.array(weights, dtype=np.int64)) == d[:, at]
    ok[np.nonzero(ok)[0]] = good
    return ok


def _matches(values, pattern: str):
    import pyarrow.compute as pc

    return pc.match_substring_regex(values, f"^(?:{pattern})$").fill_null(False)


def postal_code_valid_array(values):
    """The array twin of :func:`is_valid_postal_code` (a numpy bool array)."""
    return _matches(_combined(values), _POSTAL_PATTERN).to_numpy(zero_copy_only=False)


def phone_valid_array(values):
    """The array twin of :func:`is_valid_phone` (a numpy bool array)."""
    import pyarrow.compute as pc

    values = _combined(values)
    digits = pc.subtract(pc.utf8_length(values), pc.count_substring(values, "-"))
    ok = pc.and_(
        _matches(values, _PHONE_PATTERN),
        pc.and_(
            pc.greater_equal(digits, _PHONE_DIGITS[0]), pc.less_equal(digits, _PHONE_DIGITS[1])
        ),
    )
    return ok.fill_null(False).to_numpy(zero_copy_only=False)


def _combined(values):
    import pyarrow as pa

    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
