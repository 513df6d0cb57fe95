"""Code values in a versioned code list."""

from __future__ import annotations

from typing import ClassVar, Dict, List, Tuple, Union

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
    series_of,
    with_renderer,
)

# ------------------------------------------------------------------------------ code lists


class ColumnValuesInCodeList(ColumnMapMetricProvider):
    condition_metric_name = "column_values.ikou_in_code_list"
    condition_value_keys = ("codes", "code_list")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, codes=None, code_list=None, **kwargs):
        data = arrow_of(column)
        values = list(codes or [])
        if pa.types.is_integer(data.type):
            values = [int(v) for v in values if str(v).strip().lstrip("-").isdigit()]
            value_set = pa.array(values, pa.int64())
            data = pc.cast(data, pa.int64())
        else:
            value_set = pa.array([str(v) for v in values], pa.string())
            data = as_text(data)
        return series_of(pc.is_in(data, value_set=value_set), column)

    @column_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, codes=None, code_list=None, **kwargs):
        return column.in_([str(v) for v in codes or []])


@with_renderer
class ExpectColumnValuesToBeInCodeList(Rendered, ColumnMapExpectation):
    """Code values in a versioned code list. ``code_list`` names the list and its version
    (``layout juki 2.1 jumin.zokugara`` or ``copybook juki_juki.cpy ZOKUGARA 88``), ``codes``
    holds its values (public codes, never personal data)."""

    TEMPLATE: ClassVar[str] = "a code of the list $code_list: $codes"

    code_list: str
    codes: List[str]
    map_metric = "column_values.ikou_in_code_list"
    success_keys = ("codes", "code_list", "mostly")
    args_keys = ("column", "code_list", "codes")
    domain_keys: ClassVar[Tuple[str, ...]] = COLUMN_DOMAIN_KEYS
    library_metadata: ClassVar[Dict[str, Union[str, list, bool]]] = LIBRARY_METADATA
