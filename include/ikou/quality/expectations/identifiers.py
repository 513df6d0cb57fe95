"""個人番号, 法人番号 and 住民票コード: check digits on the digits' bytes (pandas) or SQL expressions."""

from __future__ import annotations

from typing import ClassVar, Dict, Tuple, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ikou.quality.expectations.common import (
    COLUMN_DOMAIN_KEYS,
    LIBRARY_METADATA,
    ColumnMapExpectation,
    ColumnMapMetricProvider,
    PandasExecutionEngine,
    Rendered,
    SqlAlchemyExecutionEngine,
    arrow_of,
    as_text,
    by_distinct,
    column_condition_partial,
    sa,
    with_renderer,
)

# ------------------------------------------------------------------------- identifiers


def _digit_rows(column: pd.Series, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the rows holding exactly ``n`` ASCII digits, their digits as an (rows, n) int array).

    Vectorised: one regular-expression pass and a view of the strings' bytes — a city's million
    個人番号 are a million distinct values, so deciding per distinct value would not help."""
    text = as_text(arrow_of(column))
    fmt = pc.fill_null(pc.match_substring_regex(text, f"^[0-9]{{{n}}}$"), False)
    mask = fmt.to_numpy(zero_copy_only=False).astype(bool)
    ok = pc.filter(text, fmt)
    ok = ok.combine_chunks() if isinstance(ok, pa.ChunkedArray) else ok
    if len(ok) == 0:
        return mask, np.zeros((0, n), dtype=np.int64)
    offsets = np.frombuffer(
        ok.buffers()[1], dtype=np.int32 if pa.types.is_string(ok.type) else np.int64
    )
    offsets = offsets[ok.offset : ok.offset + len(ok) + 1]
    data = np.frombuffer(ok.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return mask, data.reshape(-1, n).astype(np.int64) - 48


def _my_number_valid(digits: np.ndarray) -> np.ndarray:
    weights = np.array((6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2), dtype=np.int64)
    r = (digits[:, :11] * weights).sum(axis=1) % 11
    return np.where(r <= 1, 0, 11 - r) == digits[:, 11]


def _corporate_number_valid(digits: np.ndarray) -> np.ndarray:
    weights = np.array([1, 2] * 6, dtype=np.int64)  # from the lowest body digit
    total = (digits[:, 1:][:, ::-1] * weights).sum(axis=1)
    return (9 - total % 9) == digits[:, 0]


def _valid_rows(column: pd.Series, n: int, check) -> np.ndarray:
    mask, digits = _digit_rows(column, n)
    out = np.zeros(len(column), dtype=bool)
    out[mask] = check(digits)
    return out


def my_numbers_valid(column: pd.Series, allow_corporate_number: bool = False) -> pd.Series:
    ok = _valid_rows(column, 12, _my_number_valid)
    if allow_corporate_number:
        ok |= _valid_rows(column, 13, _corporate_number_valid)
    return pd.Series(ok, index=column.index)


def my_number_ok(value: object, allow_corporate_number: bool = False) -> bool:
    from ikou.identifiers import is_valid_corporate_number, is_valid_my_number

    v = str(value)
    return is_valid_my_number(v) or (allow_corporate_number and is_valid_corporate_number(v))


def corporate_number_ok(value: object) -> bool:
    from ikou.identifiers import is_valid_corporate_number

    return is_valid_corporate_number(str(value))


def juminhyo_code_ok(value: object, rule: str = "format") -> bool:
    from ikou.identifiers import is_valid_juminhyo_code

    return is_valid_juminhyo_code(str(value), rule)


class ColumnValuesValidMyNumber(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_valid_my_number"
    condition_value_keys = ("allow_corporate_number",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, allow_corporate_number=False, **kwargs):
        return my_numbers_valid(column, bool(allow_corporate_number))

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, allow_corporate_number=False, **kwargs):
        ok = _sql_my_number(column)
        return sa.or_(ok, _sql_corporate_number(column)) if allow_corporate_number else ok


class ColumnValuesValidCorporateNumber(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_valid_corporate_number"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return pd.Series(_valid_rows(column, 13, _corporate_number_valid), index=column.index)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return _sql_corporate_number(column)


class ColumnValuesValidJuminhyoCode(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_valid_juminhyo_code"
    condition_value_keys = ("rule",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, rule="format", **kwargs):
        if (rule or "format") == "format":
            return pd.Series(_digit_rows(column, 11)[0], index=column.index)
        return by_distinct(column, lambda v: juminhyo_code_ok(v, rule))

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, rule="format", **kwargs):
        if (rule or "format") != "format":
            raise ValueError("only the 'format' rule of 住民票コード is implemented in SQL")
        return _sql_all_digits(column, 11)


def _sql_digit(column, i: int):
    return sa.cast(sa.func.substr(column, i, 1), sa.Integer)


def _sql_all_digits(column, n: int):
    return sa.and_(
        sa.func.length(column) == n,
        *[sa.func.substr(column, i, 1).between("0", "9") for i in range(1, n + 1)],
    )


def _sql_my_number(column):
    weights = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    r = sum(_sql_digit(column, i + 1) * w for i, w in enumerate(weights)) % 11
    check = sa.case((r <= 1, 0), else_=11 - r)
    return sa.and_(_sql_all_digits(column, 12), _sql_digit(column, 12) == check)


def _sql_corporate_number(column):
    # body = digits 2..13; weights 1,2,1,2,… from the lowest digit (position 13)
    total = sum(_sql_digit(column, 13 - k) * (1 if k % 2 == 0 else 2) for k in range(12))
    return sa.and_(_sql_all_digits(column, 13), _sql_digit(column, 1) == 9 - total % 9)


@with_renderer
class ExpectColumnValuesToBeValidMyNumber(Rendered, ColumnMapExpectation):
    """個人番号 (My Number): 12 digits whose last digit is the check digit of 総務省令第85号 art. 5.

    ``allow_corporate_number``: a 13-digit 法人番号 with a valid check digit also passes (the 宛名
    master holds one for each corporation in the same field).
    """

    TEMPLATE: ClassVar[str] = (
        "個人番号 (My Number) with a valid check digit (総務省令第85号); 法人番号 accepted: $allow_corporate_number"
    )

    allow_corporate_number: bool = False
    map_metric = "column_values.ikou_valid_my_number"
    success_keys = ("allow_corporate_number", "mostly")
    args_keys = ("column",)
    domain_keys: ClassVar[Tuple[str, ...]] = COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = LIBRARY_METADATA


@with_renderer
class ExpectColumnValuesToBeValidCorporateNumber(Rendered, ColumnMapExpectation):
    """法人番号 (corporate number): 13 digits, the first one the check digit."""

    TEMPLATE: ClassVar[str] = "法人番号 (corporate number) with a valid check digit"

    map_metric = "column_values.ikou_valid_corporate_number"
    success_keys = ("mostly",)
    args_keys = ("column",)
    domain_keys: ClassVar[Tuple[str, ...]] = COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = LIBRARY_METADATA


@with_renderer
class ExpectColumnValuesToBeValidJuminhyoCode(Rendered, ColumnMapExpectation):
    """住民票コード: 11 digits. ``rule`` names the check (``format``; ``mod11-synthetic`` is the
    synthetic city's assumption, never the real formula)."""

    TEMPLATE: ClassVar[str] = "住民票コード of 11 digits (rule $rule)"

    rule: str = "format"
    map_metric = "column_values.ikou_valid_juminhyo_code"
    success_keys = ("rule", "mostly")
    args_keys = ("column",)
    domain_keys: ClassVar[Tuple[str, ...]] = COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = LIBRARY_METADATA
