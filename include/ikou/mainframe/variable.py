"""Records whose layout has an OCCURS DEPENDING ON inside another OCCURS (as Cobrix reads them).

There an element's size depends on a count inside the element, so field offsets differ from
element to element within one record: the vectorised shift of ``ikou.mainframe.engine`` (one
shift per table per record) does not apply. :func:`walk_records` walks each record's item tree
once (Python, per record), reading each count when its table comes, and returns every field
element's byte offset and every table's list lengths; the engine then decodes each field's
elements in one batch with the usual decoders and nests them into list columns.

A count that cannot be read or lies outside the table's range quarantines the record
(``odo_out_of_range``), as does a record shorter than the bytes its counts need
(``record_too_short``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ikou.mainframe.copybook import Field, Item, RecordLayout

__all__ = ["Walk", "walk_records", "read_count"]


@dataclass
class Walk:
    """Where each field's elements are, record by record."""

    n: int
    reason: list = field(default_factory=list)  # per record: "" or a quarantine reason
    byte: list = field(default_factory=list)  # per record: the byte the reason refers to
    count: list = field(default_factory=list)  # per record: the count found (odo_out_of_range)
    field_of_reason: list = field(default_factory=list)  # per record: the count's column
    scalar: dict = field(default_factory=dict)  # field index -> (n,) int64 offsets
    elements: dict = field(default_factory=dict)  # field index -> (records list, offsets list)
    lengths: dict = field(default_factory=dict)  # table name -> list lengths, encounter order


class _Bad(Exception):
    def __init__(self, reason: str, byte: int, count: int = 0, column: str | None = None):
        super().__init__(reason)
        self.reason, self.byte, self.count, self.column = reason, byte, count, column


def read_count(f: Field, raw: bytes, ascii_table: np.ndarray) -> int | None:
    """The value of an OCCURS count field from its bytes (None when unreadable)."""
    if f.kind == "binary":
        return int.from_bytes(raw, "big", signed=f.signed)
    if f.kind == "packed":
        digits = []
        for i, x in enumerate(raw):
            hi, lo = x >> 4, x & 15
            digits.append(hi)
            if i < len(raw) - 1:
                digits.append(lo)
            elif lo < 10:
                return None
        if any(d > 9 for d in digits):
            return None
        v = int("".join(map(str, digits)) or "0")
        return -v if (raw[-1] & 15) in (0xB, 0xD) else v
    if f.kind == "zoned":
        text = "".join(chr(x & 15 | 0x30) if (x & 15) < 10 else "?" for x in raw)
        zones_ok = all((x >> 4) in (0xF, 0x3) for x in raw[:-1]) if raw else False
        return int(text) if zones_ok and text.isdigit() else None
    chars = bytes(int(ascii_table[x]) for x in raw).decode("latin-1").strip()
    return int(chars) if chars.isdigit() else None


class _Walker:
    """One record's walk: element offsets per field, list lengths per table, count positions."""

    def __init__(self, layout: RecordLayout, index: dict, by_name: dict, ascii_table):
        self.layout, self.index, self.by_name, self.ascii = layout, index, by_name, ascii_table

    def start(self, row: np.ndarray) -> None:
        self.row = row
        self.offs: dict[int, list[int]] = {}
        self.lens: dict[str, list[int]] = {}
        self.last: dict[str, int] = {}

    def walk(self, it: Item, start: int) -> int:
        """Record the elements of ``it`` placed at ``start``; returns the bytes it takes."""
        layout = self.layout
        if not it.children:
            col = layout.column_of(it)
            fi = self.index.get(col) if col else None
            if fi is not None:
                self.offs.setdefault(fi, []).append(start)
            self.last[it.name] = start
            return it.size
        pos = end = start
        starts: dict[str, int] = {}
        for c in it.children:
            if layout.is_excluded(c):
                continue
            cstart = starts.get(c.redefines, pos) if c.redefines else pos
            if c.occurs_max is None:
                used = self.walk(c, cstart)
            else:
                cnt = self.count(c, cstart) if c.depends_on else c.occurs_max
                self.lens.setdefault(c.name, []).append(cnt)
                used = 0
                for _ in range(cnt):
                    used += self.walk(c, cstart + used)
            starts[c.name] = cstart
            if not c.redefines:
                pos = cstart + used
            end = max(end, cstart + used)
        return end - start

    def count(self, table: Item, at_table: int) -> int:
        """The element count of an OCCURS DEPENDING ON table from its count field's bytes."""
        dep = self.by_name.get(table.depends_on)
        at = self.last.get(table.depends_on)
        if dep is None or at is None:
            raise _Bad("odo_out_of_range", at_table, -1, table.depends_on)
        value = read_count(dep, self.row[at : at + dep.size].tobytes(), self.ascii)
        low = 0 if table.occurs_implied_min else (table.occurs_min or 0)
        if value is None or value < low or value > table.occurs_max:
            raise _Bad(
                "odo_out_of_range", at, -1 if value is None else value, dep.column or dep.name
            )
        return value


def walk_records(
    layout: RecordLayout,
    fields: list[Field],
    mat: np.ndarray,
    lengths: np.ndarray,
    ascii_table: np.ndarray,
) -> Walk:
    """Offsets of every element of ``fields`` (the layout's data fields) in each record."""
    n = len(mat)
    index = {f.column: i for i, f in enumerate(fields)}
    by_name = {f.name: f for f in layout.fields}
    w = Walk(n)
    for i, f in enumerate(fields):
        if f.dims:
            w.elements[i] = ([], [])
        else:
            w.scalar[i] = np.zeros(n, np.int64)
    top_tables: list[str] = []
    tables: list[str] = []

    def collect(it: Item, depth: int) -> None:
        for c in it.children:
            if layout.is_excluded(c):
                continue
            if c.occurs_max is not None:
                tables.append(c.name)
                if depth == 0:
                    top_tables.append(c.name)
            collect(c, depth + (1 if c.occurs_max is not None else 0))

    collect(layout.record, 0)
    for t in tables:
        w.lengths.setdefault(t, [])

    walker = _Walker(layout, index, by_name, ascii_table)
    for r in range(n):
        walker.start(mat[r])
        try:
            size = walker.walk(layout.record, 0)
            if size > int(lengths[r]):
                raise _Bad("record_too_short", size)
        except _Bad as bad:
            w.reason.append(bad.reason)
            w.byte.append(bad.byte)
            w.count.append(bad.count)
            w.field_of_reason.append(bad.column)
            for t in top_tables:  # no elements: every top-level table is an empty list
                w.lengths[t].append(0)
            continue
        w.reason.append("")
        w.byte.append(0)
        w.count.append(0)
        w.field_of_reason.append(None)
        for fi, lst in walker.offs.items():
            if fi in w.scalar:
                w.scalar[fi][r] = lst[0]
            else:
                recs, el = w.elements[fi]
                recs.extend([r] * len(lst))
                el.extend(lst)
        for t, lst in walker.lens.items():
            w.lengths[t].extend(lst)
    return w
