"""Dates within an era's range (和暦 era code + YYMMDD, YYYYMMDD numbers, dates)."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Dict, Optional, Tuple, Union

import pyarrow as pa
import pyarrow.compute as pc

from ikou.quality.expectations.common import (
    COLUMN_DOMAIN_KEYS,
    LIBRARY_METADATA,
    MEIJI_FIRST,
    ColumnMapExpectation,
    ColumnMapMetricProvider,
    PandasExecutionEngine,
    Rendered,
    SqlAlchemyExecutionEngine,
    arrow_of,
    by_distinct,
    column_condition_partial,
    sa,
    series_of,
    with_renderer,
)

# ----------------------------------------------------------------------------------- dates


def _as_date(v) -> dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, dict):  # an unresolved $PARAMETER
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


def era_code_ok(
    value: int, scheme: dict | None, allow_partial: bool, latest: dt.date | None
) -> bool:
    """An era code + YYMMDD that names a real day (or, with ``allow_partial``, 日不詳/月日不詳)
    inside its era and not after ``latest``."""
    from ikou.wareki import COMMON_SCHEME, PartialDate, WarekiError, parse_wareki

    try:
        d = parse_wareki(f"{int(value):07d}", scheme or COMMON_SCHEME)
    except PartialDate as p:
        if not allow_partial:
            return False
        return latest is None or (p.year, p.month or 1) <= (
            latest.year,
            latest.month if p.month else 12,
        )
    except (WarekiError, ValueError):
        return False
    return latest is None or d <= latest


def ymd_ok(value: int, earliest: dt.date, latest: dt.date | None) -> bool:
    s = f"{int(value):08d}"
    try:
        d = dt.date(int(s[:4]), int(s[4:6]), int(s[6:]))
    except ValueError:
        return False
    return earliest <= d and (latest is None or d <= latest)


class ColumnValuesWithinEraRange(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_within_era_range"
    condition_value_keys = ("form", "scheme", "allow_partial", "allow_zero", "earliest", "latest")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column,
        form="date",
        scheme=None,
        allow_partial=True,
        allow_zero=False,
        earliest=None,
        latest=None,
        **kwargs,
    ):
        lo, hi = _as_date(earliest) or MEIJI_FIRST, _as_date(latest)
        if form == "era_code":
            return by_distinct(
                column,
                lambda v: (
                    (allow_zero and int(v) == 0) or era_code_ok(v, scheme, bool(allow_partial), hi)
                ),
            )
        if form == "ymd":
            return by_distinct(column, lambda v: (allow_zero and int(v) == 0) or ymd_ok(v, lo, hi))
        if form != "date":
            raise ValueError("form must be era_code, ymd or date")
        data = arrow_of(column)
        if not pa.types.is_date(data.type):
            data = pc.cast(pc.cast(data, pa.timestamp("s")), pa.date32())
        ok = pc.greater_equal(data, pa.scalar(lo, pa.date32()))
        if hi is not None:
            ok = pc.and_(ok, pc.less_equal(data, pa.scalar(hi, pa.date32())))
        return series_of(ok, column)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(
        cls,
        column,
        form="date",
        scheme=None,
        allow_partial=True,
        allow_zero=False,
        earliest=None,
        latest=None,
        **kwargs,
    ):
        if form != "date":
            raise ValueError("in the database only form=date is evaluated")
        lo, hi = _as_date(earliest) or MEIJI_FIRST, _as_date(latest)
        cond = column >= sa.literal(lo, sa.Date)
        if hi is not None:
            cond = sa.and_(cond, column <= sa.literal(hi, sa.Date))
        return cond


@with_renderer
class ExpectColumnValuesToBeWithinEraRange(Rendered, ColumnMapExpectation):
    """Dates within an era's range.

    ``form``: ``era_code`` — an era code + YYMMDD number as the mainframe stores 和暦 (``scheme``
    maps the codes to eras, default 1 明治 … 5 令和): the day must exist inside its era (昭和64年
    1月8日 does not) and after the calendar reform; ``allow_partial`` accepts 日不詳 / 月日不詳
    (day or month 00) inside the era. ``ymd`` — a Gregorian YYYYMMDD number. ``date`` — a date.
    Every form: not before ``earliest`` (default 明治元年, 1868-01-25) nor after ``latest``
    (the snapshot). ``allow_zero``: 0 means "no date" (e.g. a corporation's birth date).
    """

    TEMPLATE: ClassVar[str] = "a date ($form) inside its era, from 明治 to $latest"

    form: str = "date"
    scheme: Optional[Dict[str, str]] = None
    allow_partial: bool = True
    allow_zero: bool = False
    earliest: Optional[Union[str, dict]] = None
    latest: Optional[Union[str, dict]] = None
    map_metric = "column_values.ikou_within_era_range"
    success_keys = ("form", "scheme", "allow_partial", "allow_zero", "earliest", "latest", "mostly")
    args_keys = ("column", "form")
    domain_keys: ClassVar[Tuple[str, ...]] = COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = LIBRARY_METADATA
