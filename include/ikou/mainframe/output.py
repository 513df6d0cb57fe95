"""Writers for decoded data: Parquet, JSONL (nested like the copybook), CSV, quarantine JSONL.

Every sink writes to ``<path>.tmp`` and renames on :meth:`commit` (``abort`` removes it), so a
reader never sees half a file.
"""

from __future__ import annotations

import json
import math
import os
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from ikou.mainframe.copybook import RecordLayout
from ikou.mainframe.decode import string_array

__all__ = [
    "ParquetSink",
    "JsonlSink",
    "CsvSink",
    "QuarantineSink",
    "nest_record",
    "dumps",
    "layout_paths",
]

LINEAGE = ("_file", "_record", "_offset")
SEGMENT_LINKS = ("_parent_record", "_parent_key")


def layout_paths(out_path: Path, names: list[str]) -> dict[str, Path]:
    """One output path per data layout: ``out_path`` itself, or ``<stem>.<LAYOUT><suffix>``."""
    out_path = Path(out_path)
    if len(names) == 1:
        return {names[0]: out_path}
    suffix = "".join(out_path.suffixes[-1:])
    stem = out_path.name[: -len(suffix)] if suffix else out_path.name
    return {n: out_path.with_name(f"{stem}.{n}{suffix}") for n in names}


class _Sink:
    def __init__(self, path):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".tmp")

    def commit(self) -> None:
        self.finish()
        self.publish()

    def finish(self) -> None:
        """Everything is written: close the temporary file (:meth:`publish` renames it)."""
        self._close()

    def publish(self) -> None:
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._close()
        except Exception:
            pass
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass

    def _close(self) -> None:  # pragma: no cover - overridden
        pass


class ParquetSink(_Sink):
    def __init__(self, path, schema: pa.Schema, compression: str = "zstd"):
        super().__init__(path)
        import pyarrow.parquet as pq

        self.writer = pq.ParquetWriter(self.tmp, schema, compression=compression)
        self._closed = False

    @classmethod
    def for_layouts(
        cls, out_path, schemas: dict[str, pa.Schema], compression: str = "zstd"
    ) -> dict:
        paths = layout_paths(Path(out_path), list(schemas))
        return {n: cls(paths[n], schemas[n], compression) for n in schemas}

    def write(self, rb: pa.RecordBatch) -> None:
        if rb.num_rows:
            self.writer.write_batch(rb)

    def _close(self) -> None:
        if not self._closed:
            self.writer.close()
            self._closed = True


class _TextSink(_Sink):
    def __init__(self, path):
        super().__init__(path)
        self.fh = open(self.tmp, "w", encoding="utf-8", newline="")

    def _close(self) -> None:
        if not self.fh.closed:
            self.fh.close()


class QuarantineSink(_TextSink):
    """Quarantine rows as JSONL (one object per bad record)."""

    def write(self, table: pa.Table) -> None:
        for row in table.to_pylist():
            self.fh.write(json.dumps(row, ensure_ascii=False) + "\n")


class JsonlSink(_TextSink):
    """Data records as JSONL: copybook names, groups as objects, OCCURS as arrays."""

    def __init__(self, path, layout: RecordLayout, lineage: bool = True):
        super().__init__(path)
        self.tree = layout.tree()
        self.lineage = lineage

    def write(self, rb: pa.RecordBatch) -> None:
        fh = self.fh
        for row in rb.to_pylist():
            obj = nest_record(self.tree, row)
            if self.lineage:
                for k in LINEAGE:
                    obj[k] = row[k]
                for k in SEGMENT_LINKS:  # child segments (--segment-parent)
                    if k in row:
                        obj[k] = row[k]
            fh.write(dumps(obj))
            fh.write("\n")


class CsvSink(_Sink):
    """Flat columns; OCCURS columns as JSON arrays in one cell. RFC 4180 quoting, CRLF."""

    def __init__(self, path, schema: pa.Schema):
        super().__init__(path)
        import pyarrow.csv as pcsv

        self.list_cols = [i for i, f in enumerate(schema) if pa.types.is_list(f.type)]
        fields = [
            pa.field(f.name, pa.string()) if i in self.list_cols else f
            for i, f in enumerate(schema)
        ]
        self.schema = pa.schema(fields)
        self.writer = pcsv.CSVWriter(
            str(self.tmp),
            self.schema,
            write_options=pcsv.WriteOptions(eol="\r\n", quoting_style="needed"),
        )
        self._closed = False

    def write(self, rb: pa.RecordBatch) -> None:
        if not rb.num_rows:
            return
        if self.list_cols:
            cols = list(rb.columns)
            for i in self.list_cols:
                cols[i] = string_array(
                    [None if v is None else dumps(v) for v in cols[i].to_pylist()]
                )
            rb = pa.RecordBatch.from_arrays(cols, schema=self.schema)
        self.writer.write_batch(rb)

    def _close(self) -> None:
        if not self._closed:
            self.writer.close()
            self._closed = True


def nest_record(tree: list, row: dict) -> dict:
    """Flat row (column -> value) -> nested object following the layout tree."""
    obj: dict = {}
    for name, column, children, occurs in tree:
        if column is not None:
            obj[name] = row.get(column)
            continue
        if not occurs:
            obj[name] = nest_record(children, row)
            continue
        leaves = _leaf_columns(children)
        n = max((len(row.get(c) or []) for c in leaves), default=0)
        items = []
        for i in range(n):
            sub = {
                c: (row.get(c) or [None] * n)[i] if i < len(row.get(c) or []) else None
                for c in leaves
            }
            items.append(nest_record(children, sub))
        obj[name] = items
    return obj


def _leaf_columns(tree: list) -> list[str]:
    out = []
    for _name, column, children, _occ in tree:
        if column is not None:
            out.append(column)
        else:
            out.extend(_leaf_columns(children))
    return out


def dumps(obj) -> str:
    """JSON with exact decimals as numbers (``Decimal('12.30')`` -> ``12.30``)."""
    parts: list[str] = []
    _dump(obj, parts)
    return "".join(parts)


def _dump(o, out: list) -> None:
    if o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif isinstance(o, str):
        out.append(json.dumps(o, ensure_ascii=False))
    elif isinstance(o, int):
        out.append(str(o))
    elif isinstance(o, Decimal):
        out.append(format(o, "f") if o.is_finite() else "null")
    elif isinstance(o, float):
        out.append(repr(o) if math.isfinite(o) else "null")
    elif isinstance(o, dict):
        out.append("{")
        first = True
        for k, v in o.items():
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(str(k), ensure_ascii=False))
            out.append(":")
            _dump(v, out)
        out.append("}")
    elif isinstance(o, (list, tuple)):
        out.append("[")
        for i, v in enumerate(o):
            if i:
                out.append(",")
            _dump(v, out)
        out.append("]")
    elif isinstance(o, (bytes, bytearray)):
        out.append(json.dumps(bytes(o).hex().upper()))
    else:
        out.append(json.dumps(str(o), ensure_ascii=False))
