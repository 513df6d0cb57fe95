"""Mapping cleansed legacy tables to the versioned standard layout (the validate stage).

Each standard column names its legacy source field and, for dates, the transform the cleanse
stage already applied (``wareki`` / ``ymd`` → ``FIELD__date``, ``wareki_precision`` →
``FIELD__precision``, ``wareki_partial`` → ``FIELD__partial``). Identifiers held as zoned numbers
become zero-padded strings of the column's length; empty text becomes null (DESIGN.md: an empty
hand-off field is null); money stays decimal.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ikou.domains.schema import ADDRESSEE_REFERENCE_ROLES, Domain, Table

_DERIVED = {
    "wareki": "__date",
    "ymd": "__date",
    "wareki_precision": "__precision",
    "wareki_partial": "__partial",
}


def arrow_type(col) -> pa.DataType:
    return {
        "string": pa.string(),
        "code": pa.string(),
        "integer": pa.int64(),
        "date": pa.date32(),
    }.get(col.type) or pa.decimal128(col.precision, col.scale)


def _as_text(arr: pa.ChunkedArray, length: int | None, pad: bool) -> pa.Array:
    if pa.types.is_integer(arr.type):
        values = arr.to_pylist()
        if pad and length:
            return pa.array([None if v is None else f"{v:0{length}d}" for v in values], pa.string())
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    arr = arr.cast(pa.string())
    return (
        pc.if_else(pc.equal(arr, ""), pa.nulls(len(arr), pa.string()), arr).combine_chunks()
        if isinstance(arr, pa.ChunkedArray)
        else pc.if_else(pc.equal(arr, ""), pa.nulls(len(arr), pa.string()), arr)
    )


def map_table(src: pa.Table, domain: Domain, table: Table) -> pa.Table:
    lf = domain.legacy_file(table.source)
    arrays, names = [], []
    for c in table.columns:
        if c.transform:
            name = c.source + _DERIVED[c.transform]
            if name not in src.column_names:
                raise KeyError(
                    f"{domain.id}.{table.name}.{c.name}: the cleansed table has no {name}"
                )
            arr = src.column(name)
        else:
            arr = src.column(c.source)
            role = lf.fields[c.source].role
            if c.type in ("string", "code"):
                identifier = role.endswith(("_ref", "_no", "_id")) or role in (
                    "key",
                    "household_no",
                    "family_register_id",
                )
                arr = _as_text(arr, c.length, pad=identifier)
            elif c.type == "integer":
                arr = arr.cast(pa.int64())
            elif c.type == "decimal":
                arr = arr.cast(pa.decimal128(c.precision, c.scale))
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arrays.append(arr.cast(arrow_type(c)))
        names.append(c.name)
    return pa.Table.from_arrays(arrays, names=names)


def addressee_references(domain: Domain, table: Table) -> list[str]:
    """Columns of a standard table that must name an addressee of the master (宛名番号)."""
    lf = domain.legacy_file(table.source)
    return [
        c.name
        for c in table.columns
        if not c.transform and lf.fields[c.source].role in ADDRESSEE_REFERENCE_ROLES
    ]
