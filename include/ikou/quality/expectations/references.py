"""Referential integrity against the addressee (宛名) master of the same snapshot."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import ClassVar, Dict, Tuple, Union

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
    column_condition_partial,
    sa,
    series_of,
    with_renderer,
)

# -------------------------------------------------------------------- referential integrity

_reference_sets: dict[tuple[str, str], pa.Array] = {}
_reference_lock = threading.Lock()


def register_reference_set(table: str, column: str, values: Iterable) -> None:
    """Make the ids of ``table.column`` (e.g. the 宛名 master's ``atena_no`` of the snapshot)
    known to the pandas implementation of the referential-integrity expectation. The set lives
    in this process only; the expectation's configuration names the table, never the ids."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(list(values))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.unique(pc.cast(arr, pa.string()) if not pa.types.is_string(arr.type) else arr)
    with _reference_lock:
        _reference_sets[(table, column)] = arr


def forget_reference_sets() -> None:
    with _reference_lock:
        _reference_sets.clear()


def reference_set(table: str, column: str) -> pa.Array:
    try:
        return _reference_sets[(table, column)]
    except KeyError:
        raise LookupError(
            f"the ids of {table}.{column} were not registered for this gate "
            "(ikou.quality.expectations.register_reference_set)"
        ) from None


class ColumnValuesExistInAddresseeMaster(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_in_addressee_master"
    condition_value_keys = ("reference_table", "reference_column")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, reference_table=None, reference_column="atena_no", **kwargs):
        ids = reference_set(reference_table, reference_column)
        return series_of(pc.is_in(as_text(arrow_of(column)), value_set=ids), column)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, reference_table=None, reference_column="atena_no", **kwargs):
        # A correlated EXISTS, answered by the master's primary-key index row by row. (``IN
        # (SELECT …)`` inside GX's CASE aggregates becomes a SubPlan that PostgreSQL hashes only
        # when the master's ids fit in work_mem: a million 宛名番号 do not, and the scan per row
        # is quadratic.) The master's column is renamed so the bare column name can only mean
        # the outer row.
        master = (
            sa.select(sa.column(reference_column).label("ikou_ref"))
            .select_from(sa.table(reference_table))
            .subquery("ikou_master")
        )
        return sa.exists().where(master.c.ikou_ref == column)


@with_renderer
class ExpectColumnValuesToExistInAddresseeMaster(Rendered, ColumnMapExpectation):
    """Referential integrity: every 宛名番号 exists in the addressee (宛名) master of the same
    snapshot — residents, non-residents (住登外者) and corporations alike.
    ``reference_table``/``reference_column`` name the master (the standard table and column);
    in the database the check is a sub-query, for a stage output the gate registers the ids of
    the snapshot's validated master."""

    TEMPLATE: ClassVar[str] = (
        "every 宛名番号 exists in the addressee (宛名) master $reference_table"
    )

    reference_table: str
    reference_column: str = "atena_no"
    map_metric = "column_values.ikou_in_addressee_master"
    success_keys = ("reference_table", "reference_column", "mostly")
    args_keys = ("column", "reference_table", "reference_column")
    domain_keys: ClassVar[Tuple[str, ...]] = COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = LIBRARY_METADATA
