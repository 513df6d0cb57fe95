"""What every family of Ikou's custom expectations shares: the Great Expectations classes and
engines and SQLAlchemy (``sa``, None where it is missing), imported here once, and the helpers --
columns as Arrow, per-distinct checks, the renderer mix-in."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, ClassVar, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from great_expectations.execution_engine import PandasExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import BatchExpectation, ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

try:
    import sqlalchemy as sa
except ImportError:  # pragma: no cover - SQLAlchemy is in the lock
    sa = None  # type: ignore[assignment]

__all__ = [
    "BatchExpectation",
    "COLUMN_DOMAIN_KEYS",
    "ColumnMapExpectation",
    "ColumnMapMetricProvider",
    "LIBRARY_METADATA",
    "MEIJI_FIRST",
    "PandasExecutionEngine",
    "Rendered",
    "SqlAlchemyExecutionEngine",
    "arrow_of",
    "as_text",
    "by_distinct",
    "json_dumps",
    "column_condition_partial",
    "sa",
    "series_of",
    "with_renderer",
]

MEIJI_FIRST = dt.date(1868, 1, 25)  # first day of 明治: the earliest date a 和暦 can name
COLUMN_DOMAIN_KEYS: Tuple[str, ...] = ("column", "row_condition", "condition_parser")
LIBRARY_METADATA = {"maturity": "production", "tags": ["ikou"], "contributors": ["ikou"]}


# ----------------------------------------------------------------------------------- helpers


def arrow_of(column: pd.Series) -> pa.ChunkedArray:
    """The pyarrow data behind a pandas column (zero-copy for ArrowDtype columns)."""
    arr = getattr(column, "array", None)
    data = getattr(arr, "_pa_array", None)
    if data is not None:
        return data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])
    try:
        return pa.chunked_array([pa.array(column.to_numpy(dtype=object), from_pandas=True)])
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.chunked_array(
            [pa.array([None if v is None else str(v) for v in column], pa.string())]
        )


def as_text(data: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(data.type) or pa.types.is_large_string(data.type):
        return data
    if pa.types.is_integer(data.type) or pa.types.is_decimal(data.type):
        return pc.cast(data, pa.string())
    return pc.cast(data, pa.string())


def series_of(mask: pa.ChunkedArray | np.ndarray, column: pd.Series) -> pd.Series:
    """A plain boolean Series aligned with ``column`` (nulls count as expected: GX drops them)."""
    if isinstance(mask, (pa.ChunkedArray, pa.Array)):
        mask = pc.fill_null(mask, True).to_numpy(zero_copy_only=False)
    return pd.Series(np.asarray(mask, dtype=bool), index=column.index)


def by_distinct(column: pd.Series, check: Callable[[Any], bool]) -> pd.Series:
    """Evaluate ``check`` once per distinct value and map the verdicts back onto the rows."""
    data = arrow_of(column)
    distinct = pc.unique(data)
    bad = [v for v in distinct.to_pylist() if v is not None and not check(v)]
    if not bad:
        return pd.Series(np.ones(len(column), dtype=bool), index=column.index)
    return series_of(pc.invert(pc.is_in(data, value_set=pa.array(bad, type=distinct.type))), column)


# ------------------------------------------------------------------------- rendering


class Rendered:
    """A readable line in the Data Docs (instead of GX's raw ``type(**kwargs)``): each class says
    what it checks in ``TEMPLATE`` ($column, $mostly_pct and its own kwargs as $name)."""

    TEMPLATE: ClassVar[str] = ""

    @classmethod
    def _ikou_render(cls, configuration=None, result=None, runtime_configuration=None, **kwargs):
        from great_expectations.render import RenderedStringTemplateContent

        cfg = configuration or (result.expectation_config if result is not None else None)
        params = dict((cfg.kwargs if cfg is not None else {}) or {})
        template = "$column: " + cls.TEMPLATE
        for k, v in list(params.items()):
            if isinstance(v, (list, tuple)):
                params[k] = " ".join(repr(x) if x == "" else str(x) for x in v) or "—"
            elif isinstance(v, dict):
                params[k] = "the snapshot" if "$PARAMETER" in v else json_dumps(v)
        mostly = params.get("mostly")
        if isinstance(mostly, (int, float)) and mostly < 1:
            params["mostly_pct"] = f"{mostly * 100:g}"
            template += " — at least $mostly_pct % of the rows"
        styling = (runtime_configuration or {}).get("styling", {})
        return [
            RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={"template": template, "params": params, "styling": styling},
            )
        ]


def json_dumps(v) -> str:
    import json

    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def with_renderer(cls):
    """Register ``cls``'s readable line as its prescriptive renderer (what the Data Docs show)."""
    from great_expectations.expectations.registry import register_renderer
    from great_expectations.render import LegacyRendererType

    def fn(configuration=None, result=None, runtime_configuration=None, **kwargs):
        return cls._ikou_render(configuration, result, runtime_configuration, **kwargs)

    fn._renderer_type = LegacyRendererType.PRESCRIPTIVE  # type: ignore[attr-defined]
    quiet = logging.getLogger("great_expectations.expectations.registry")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it replaces GX's generic renderer on purpose
    try:
        register_renderer(object_name=cls.expectation_type, parent_class=cls, renderer_fn=fn)
    finally:
        quiet.setLevel(level)
    return cls
