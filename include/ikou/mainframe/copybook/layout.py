"""Record layouts: the flat list of elementary fields with absolute offsets, per 01 record or
REDEFINES alternative; column names, OCCURS DEPENDING ON shifts, minimum lengths."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from ikou.mainframe.copybook.model import CopybookError, Dim, Field, Item, Renames

# ------------------------------------------------------------------------------ copybook


class Copybook:
    """A parsed copybook: one or more 01 records sharing the record area."""

    def __init__(self, records: list[Item], renames: dict[str, list[Renames]], source: str):
        self.records = records
        self.source = source
        self._renames = renames
        self._layouts: dict = {}
        self.warnings: list[str] = []
        #: the COPY member files expanded into it (nested ones included), in order
        self.members: tuple[Path, ...] = ()

    @property
    def record_names(self) -> list[str]:
        return [r.name for r in self.records]

    @property
    def lrecl(self) -> int:
        """Size of the record area: the largest 01 record (OCCURS DEPENDING ON at maximum)."""
        return max((r.total_size for r in self.records), default=0)

    def items(self) -> Iterator[Item]:
        for r in self.records:
            yield from r.walk()

    def find(self, name: str) -> Item:
        """The item called ``name`` (``NAME``, ``GROUP.NAME`` or ``NAME OF GROUP``)."""
        name = name.strip().upper()
        if " OF " in name or " IN " in name:
            parts = re.split(r"\s+(?:OF|IN)\s+", name)
            want = parts  # innermost first
        else:
            want = name.split(".")[::-1]
        hits = []
        for it in self.items():
            if it.name != want[0] or it.filler:
                continue
            anc = [a.name for a in it.ancestors()][::-1]  # nearest first
            k = 0
            for q in want[1:]:
                while k < len(anc) and anc[k] != q:
                    k += 1
                if k >= len(anc):
                    break
                k += 1
            else:
                hits.append(it)
        if not hits:
            raise KeyError(f"no item {name!r} in copybook {self.source}")
        if len(hits) > 1:
            raise KeyError(f"item name {name!r} is ambiguous in copybook {self.source}: qualify it")
        return hits[0]

    def record(self, name: str | None = None) -> RecordLayout:
        """Layout of an 01 record, or of the record seen through one REDEFINES alternative.

        ``name`` is an 01 record name, or a group that redefines (or is redefined by) another
        item: the layout then holds that alternative and leaves out its sibling alternatives.
        Without a name the copybook must hold exactly one 01 record.
        """
        if name is None:
            if len(self.records) != 1:
                raise KeyError(
                    f"copybook {self.source} has {len(self.records)} records "
                    f"({', '.join(self.record_names)}): name one"
                )
            name = self.records[0].name
        key = name.upper()
        if key not in self._layouts:
            self._layouts[key] = build_layout(self, self.find(key))
        return self._layouts[key]

    def prepare(self, record: Item) -> None:
        """Lay out an 01 record now (validates OCCURS DEPENDING ON targets ...)."""
        self._layouts.setdefault(record.name, build_layout(self, record))

    def renames(self, record: str) -> list[Renames]:
        return list(self._renames.get(record.upper(), []))

    def __repr__(self) -> str:
        return f"Copybook({self.source!r}, records={self.record_names})"


class RecordLayout:
    """A record as seen through one layout: the flat list of elementary fields."""

    def __init__(
        self,
        name: str,
        record: Item,
        root: Item,
        fields: list[Field],
        odo: list[tuple],
        renames: list[Renames],
        source: str,
        *,
        item_columns: dict[int, str] | None = None,
        excluded: set[int] | None = None,
        min_length: int = 0,
        nested_odo: bool = False,
    ):
        self._item_columns = item_columns or {}
        self._excluded = excluded or set()
        self._min_length = min_length
        #: an OCCURS DEPENDING ON inside another OCCURS: element sizes vary within a record
        self.nested_odo = nested_odo
        self.name = name
        self.record = record  # the 01 item
        self.root = root  # the selected item (the 01 record or a REDEFINES alternative)
        self.fields = fields  # every elementary field, FILLER included (filler=True)
        self.odo = odo  # [(Dim, table_offset, table_end_at_max)]
        self.renames = renames
        self.source = source
        self._by: dict[str, Field] = {}
        names: dict[str, list[Field]] = {}
        for f in fields:
            names.setdefault(f.name, []).append(f)
            self._by[f.column] = f
        for n, fs in names.items():
            if len(fs) == 1 and n not in self._by:
                self._by[n] = fs[0]
        for f in fields:
            self._by.setdefault(f.qualified, f)

    @property
    def size(self) -> int:
        """Record length at the maximum of every OCCURS DEPENDING ON (the 01 record's size)."""
        return self.record.total_size

    @property
    def data_fields(self) -> list[Field]:
        """Fields that become output columns (FILLER left out)."""
        return [f for f in self.fields if not f.filler]

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.data_fields]

    @property
    def variable(self) -> bool:
        return bool(self.odo)

    def field(self, name: str) -> Field:
        key = name.strip().upper()
        try:
            return self._by[key]
        except KeyError:
            raise KeyError(f"no field {name!r} in layout {self.name}") from None

    def __contains__(self, name: str) -> bool:
        return name.strip().upper() in self._by

    def matching(self, name: str) -> list[Field]:
        """Fields that ``name`` designates: ``NAME`` (a field or a group: every field below it),
        ``GROUP.NAME`` (qualified by any of its groups, outermost first) or the column name."""
        return [f for f in self.fields if field_matches(f, name)]

    def with_kinds(
        self,
        mixed: tuple[str, ...] | list[str] = (),
        *,
        sbcs: tuple[str, ...] | list[str] = (),
        default_mixed: bool = False,
    ) -> RecordLayout:
        """A copy where PIC X fields are mixed SBCS/DBCS text (SO/SI shift codes): the named
        ``mixed`` fields, or with ``default_mixed`` every PIC X field but the ``sbcs`` ones
        (CCSID 930 / 939 / 1390 / 1399 are mixed by definition).

        Names that this layout does not hold are ignored (a copybook may hold several layouts);
        a named mixed field that is not alphanumeric raises ValueError.
        """
        want = [m.strip().upper() for m in mixed]
        single = [m.strip().upper() for m in sbcs]
        if not want and not default_mixed:
            return self
        fields = []
        for f in self.fields:
            named = any(field_matches(f, w) for w in want)
            if named and f.kind not in ("alphanumeric", "mixed"):
                raise ValueError(f"field {f.column} is {f.kind}, it cannot be declared mixed")
            plain = f.kind == "alphanumeric" and not f.edited
            if named or (default_mixed and plain and not any(field_matches(f, x) for x in single)):
                f = replace(f, kind="mixed")
            fields.append(f)
        return RecordLayout(
            self.name,
            self.record,
            self.root,
            fields,
            self.odo,
            self.renames,
            self.source,
            item_columns=self._item_columns,
            excluded=self._excluded,
            min_length=self._min_length,
            nested_odo=self.nested_odo,
        )

    def column_of(self, item: Item) -> str | None:
        """The output column of an elementary item of this layout (None: FILLER / excluded)."""
        return self._item_columns.get(id(item))

    def is_excluded(self, item: Item) -> bool:
        """Whether ``item`` is a REDEFINES alternative this layout leaves out."""
        return id(item) in self._excluded

    def tree(self) -> list:
        """Nesting for JSON output below the 01 record: ``[(name, column, children, has_occurs)]``
        with ``column`` None for groups; FILLER and excluded REDEFINES alternatives left out."""
        return _tree(self.record, self._item_columns, self._excluded)

    def min_length(self) -> int:
        """Bytes a record needs for every field at the OCCURS DEPENDING ON minimum."""
        return self._min_length

    def __repr__(self) -> str:
        return f"RecordLayout({self.name}, size={self.size}, fields={len(self.fields)})"


def field_matches(f: Field, name: str) -> bool:
    """Whether option name ``name`` designates field ``f`` (see :meth:`RecordLayout.matching`)."""
    key = name.strip().upper()
    if key in (f.column, f.name, f.qualified):
        return True
    parts = key.split(".")
    chain = f.path + (f.name,)
    if parts[-1] not in chain:
        return False
    k = 0  # the qualifiers in order, each one found further down the chain
    for q in parts:
        while k < len(chain) and chain[k] != q:
            k += 1
        if k >= len(chain):
            return False
        k += 1
    return True


def _tree(item: Item, cols: dict, excluded: set) -> list:
    out = []
    for c in item.children:
        if id(c) in excluded or c.filler:
            continue
        if c.children:
            out.append((c.name, None, _tree(c, cols, excluded), c.occurs_max is not None))
        else:
            out.append((c.name, cols.get(id(c)), [], c.occurs_max is not None))
    return out


def build_layout(cb: Copybook, target: Item) -> RecordLayout:
    anc = target.ancestors()
    record = anc[0] if anc else target
    if not target.children and target is not record:
        raise KeyError(f"{target.name} is an elementary item, not a record or group")
    # items excluded: sibling alternatives of the target and of each of its ancestors
    excluded: set[int] = set()
    chain = anc[1:] + [target] if anc else []
    for node in chain:
        parent = node.parent
        group = _redef_group(node, parent.children)
        if len(group) > 1:
            for other in group:
                if other is not node:
                    excluded.add(id(other))
    fields: list[Field] = []
    item_cols: dict[int, Item] = {}
    odo: list[tuple] = []
    nested = [False]

    def visit(
        it: Item,
        path: tuple[str, ...],
        dims: tuple[Dim, ...],
        redef: str | None,
        lenient: bool,
        odo_parent: bool,
    ):
        if id(it) in excluded:
            return
        d = dims
        if it.occurs_max is not None:
            if it.depends_on and dims:
                # a variable table inside a table: element sizes differ within one record,
                # so the engine walks such records one by one (ikou.mainframe.variable)
                nested[0] = True
            mn = it.occurs_min if it.occurs_min is not None else it.occurs_max
            d = dims + (
                Dim(it.occurs_max, mn, it.size, it.depends_on, it.name, it.occurs_implied_min),
            )
            if it.depends_on and not dims:
                odo.append((d[-1], it.offset, it.offset + it.total_size))
        r = it.redefines or redef
        if it.redefines is not None and it is not target:
            lenient = True
        if it.children:
            for c in it.children:
                visit(c, path + (it.name,), d, r, lenient, odo_parent or bool(it.depends_on))
            return
        fields.append(
            Field(
                name=it.name,
                path=path,
                offset=it.offset,
                size=it.size,
                kind=it.kind,
                digits=it.digits,
                scale=it.scale,
                signed=it.signed,
                sign_position=it.eff_sign if it.kind == "zoned" and it.signed else None,
                sign_separate=bool(it.eff_separate) if it.kind == "zoned" and it.signed else False,
                dims=d,
                redefines=r,
                usage=it.eff_usage,
                pic=it.pic,
                conditions=dict(it.conditions),
                value=it.value,
                line=it.line,
                filler=it.filler,
                lenient=lenient,
                edited=it.edited,
                blank_when_zero=it.blank_when_zero,
            )
        )
        item_cols[len(fields) - 1] = it

    visit(record, (), (), None, False, False)
    # the record name is not part of a field's path for naming purposes, but keep it in `path`
    # column names: leaf name, qualified by the nearest groups only on collision
    data = [i for i, f in enumerate(fields) if not f.filler]
    by_name: dict[str, list[int]] = {}
    for i in data:
        by_name.setdefault(fields[i].name, []).append(i)
    colnames: dict[int, str] = {}
    for name, idxs in by_name.items():
        if len(idxs) == 1:
            colnames[idxs[0]] = name
            continue
        k = 1
        while True:
            cand = {i: ".".join(fields[i].path[1:][-k:] + (name,)) if k else name for i in idxs}
            if len(set(cand.values())) == len(idxs) or k > 64:
                colnames.update(cand)
                break
            k += 1
    # ODO shifts: fields that start at or after the end of a table (and are not inside it)
    result = []
    for i, f in enumerate(fields):
        shifts = tuple(
            t
            for t, (dim, start, end) in enumerate(odo)
            if f.offset >= end and not any(x is dim for x in f.dims)
        )
        result.append(replace(f, column=colnames.get(i, ""), shifts=shifts))
    # the depends_on field must exist in the layout and be a plain numeric field before the table
    for dim, start, _end in odo:
        try:
            dep = next(x for x in result if x.name == dim.depends_on and not x.dims)
        except StopIteration:
            raise CopybookError(
                f"OCCURS DEPENDING ON {dim.depends_on}: no such field in record {record.name}",
                cb.source,
                0,
                0,
            ) from None
        if not dep.is_numeric and dep.kind not in ("alphanumeric", "mixed"):
            raise CopybookError(
                f"OCCURS DEPENDING ON {dim.depends_on}: not a numeric or PIC X field",
                cb.source,
                dep.line,
                0,
            )
        if dep.offset + dep.size > start:
            raise CopybookError(
                f"OCCURS DEPENDING ON {dim.depends_on}: the count must come before the table",
                cb.source,
                dep.line,
                0,
            )
    cols_by_item = {id(it): result[i].column for i, it in item_cols.items()}
    # minimum length: every field's end with each table at its minimum count
    min_len = 0
    for f in result:
        end = f.offset + f.size
        for dm in f.dims:
            cnt = dm.min if dm.depends_on else dm.max
            end += (max(cnt, 1) - 1) * dm.stride
        for t in f.shifts:
            dim, _, _ = odo[t]
            end -= (dim.max - dim.min) * dim.stride
        if f.dims and any(dm.depends_on and dm.min == 0 for dm in f.dims):
            continue
        min_len = max(min_len, end)
    return RecordLayout(
        target.name,
        record,
        target,
        result,
        odo,
        cb.renames(record.name),
        cb.source,
        item_columns=cols_by_item,
        excluded=excluded,
        min_length=min_len,
        nested_odo=nested[0],
    )


def _redef_group(node: Item, siblings: list[Item]) -> list[Item]:
    """The REDEFINES alternatives ``node`` belongs to (itself only when it has none)."""
    base = node.redefines or node.name
    return [s for s in siblings if s is node or s.name == base or s.redefines == base]
