"""The column's physical type matches the standard layout's type."""

from __future__ import annotations

import re
from typing import ClassVar, Dict, Optional, Tuple, Union

import pyarrow as pa

from ikou.quality.expectations.common import (
    LIBRARY_METADATA,
    BatchExpectation,
    Rendered,
    SqlAlchemyExecutionEngine,
    with_renderer,
)

# ------------------------------------------------------------------------------ layout type


def _pandas_type_ok(dtype, layout_type: str, precision: int | None, scale: int | None) -> bool:
    t = getattr(dtype, "pyarrow_dtype", None)
    if t is None:
        try:
            t = pa.from_numpy_dtype(dtype)
        except (TypeError, NotImplementedError, pa.ArrowNotImplementedError):
            return layout_type in ("string", "code") and str(dtype) in ("object", "string", "str")
    if layout_type in ("string", "code"):
        return pa.types.is_string(t) or pa.types.is_large_string(t)
    if layout_type == "integer":
        return pa.types.is_integer(t)
    if layout_type == "decimal":
        if not pa.types.is_decimal(t):
            return False
        return (precision is None or t.precision == precision) and (
            scale is None or t.scale == scale
        )
    if layout_type == "date":
        return pa.types.is_date(t)
    return False


_SQL_NAMES = {
    "string": (
        "VARCHAR",
        "CHARACTER VARYING",
        "TEXT",
        "CHAR",
        "CHARACTER",
        "NVARCHAR",
        "NCHAR",
        "STRING",
    ),
    "integer": ("INTEGER", "BIGINT", "SMALLINT", "INT", "INT2", "INT4", "INT8"),
    "decimal": ("NUMERIC", "DECIMAL"),
    "date": ("DATE",),
}


def _sql_type_ok(
    type_, layout_type: str, precision: int | None, scale: int | None, dialect: str = ""
) -> bool:
    """The database's column type (a SQLAlchemy type, or its name as GX reflects it on PostgreSQL)
    against the layout type."""
    text = str(type_).strip().upper()
    m = re.match(r"^([A-Z0-9 ]+?)\s*(?:\((\d+)(?:\s*,\s*(\d+))?\))?$", text)
    name, p, sc = (m.group(1).strip(), m.group(2), m.group(3)) if m else (text, None, None)
    kind = "string" if layout_type == "code" else layout_type
    if dialect == "sqlite" and kind in ("decimal", "date"):
        # SQLite has neither: Ikou's loader stores decimals and ISO dates as TEXT there
        return name in _SQL_NAMES["string"]
    if name not in _SQL_NAMES.get(kind, ()):
        return False
    if kind == "decimal" and p is not None:
        return (precision is None or int(p) == precision) and (
            scale is None or int(sc or 0) == scale
        )
    return True


@with_renderer
class ExpectColumnToHaveLayoutType(Rendered, BatchExpectation):
    """The column's physical type is the standard layout's type (``string`` / ``code`` text,
    ``integer``, ``decimal`` with ``precision`` and ``scale``, ``date``). The observed value is
    the type's name — never data."""

    TEMPLATE: ClassVar[str] = "of the standard layout's type $layout_type"

    column: str
    layout_type: str
    precision: Optional[int] = None
    scale: Optional[int] = None
    metric_dependencies = ("table.column_types",)
    success_keys = ("column", "layout_type", "precision", "scale")
    domain_keys: ClassVar[Tuple[str, ...]] = ("batch_id",)
    args_keys = ("column", "layout_type")
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = LIBRARY_METADATA

    def _validate(
        self, metrics: Dict, runtime_configuration: Optional[dict] = None, execution_engine=None
    ):
        column = self._get_success_kwarg("column")
        layout_type = self._get_success_kwarg("layout_type")
        precision, scale = self._get_success_kwarg("precision"), self._get_success_kwarg("scale")
        found = next((c for c in metrics["table.column_types"] if c.get("name") == column), None)
        if found is None:
            return {"success": False, "result": {"observed_value": "missing column"}}
        type_ = found.get("type")
        if isinstance(execution_engine, SqlAlchemyExecutionEngine):
            dialect = getattr(getattr(execution_engine, "engine", None), "dialect", None)
            ok = _sql_type_ok(type_, layout_type, precision, scale, getattr(dialect, "name", ""))
        else:
            ok = _pandas_type_ok(type_, layout_type, precision, scale)
        return {"success": bool(ok), "result": {"observed_value": str(type_)}}
