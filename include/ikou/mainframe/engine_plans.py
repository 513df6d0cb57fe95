"""The layouts of a decoding run: which layout each record has, its role, its trailer checks.

:class:`Plan` is one layout prepared for decoding (columns, Arrow schema, the bytes a record
must hold); :class:`LayoutPlans` reads the options against the copybook once: the data, header
and trailer layouts, the record-type patterns (the type field's value encoded in the file's
code page), the LRECL and the trailer count / control-total fields. Used by
:mod:`ikou.mainframe.engine`.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa

from ikou.errors import BadArgument
from ikou.mainframe.copybook import Copybook, Field, RecordLayout
from ikou.mainframe.copybook.layout import field_matches
from ikou.mainframe.decode import arrow_type
from ikou.mainframe.decode.multibyte import EBCDIC_TO_ASCII_ZONED
from ikou.mainframe.encode import encode_field
from ikou.mainframe.engine_options import DecodeOptions, mixed_by_default
from ikou.mainframe.reader import RecordChunk, RecordFormatError
from ikou.mainframe.structure import PARENT_COLUMNS, Segments, length_reader

__all__ = ["LayoutPlans", "Plan"]


class Plan:
    """One layout prepared for decoding."""

    def __init__(self, layout: RecordLayout, role: str, money: set[str], policy=None):
        self.layout = layout
        self.name = layout.name
        self.role = role
        self.fields: list[Field] = layout.data_fields
        # fields whose undecodable values become null (with a finding) instead of quarantine
        self.null_bad = [policy is not None and policy(f) == "null" for f in self.fields]
        self.money = [f.column in money or f.name in money for f in self.fields]
        self.types = [arrow_type(f, m) for f, m in zip(self.fields, self.money)]
        cols = []
        for f, t in zip(self.fields, self.types):
            for _ in f.dims:
                t = pa.list_(t)
            cols.append(pa.field(f.column, t))
        self.schema = pa.schema(
            cols
            + [
                pa.field("_file", pa.string()),
                pa.field("_record", pa.int64()),
                pa.field("_offset", pa.int64()),
            ]
        )
        self.odo_deps = [layout.field(dim.depends_on) for dim, _, _ in layout.odo]
        self.size = layout.size
        # the bytes a record must hold: end of the last data field (tables at actual counts)
        self.ends = []
        for f in self.fields:
            extent = f.size + sum((d.max - 1) * d.stride for d in f.dims)
            self.ends.append((f, f.offset + extent))

    def needed(self, counts: list[np.ndarray], n: int) -> np.ndarray:
        need = np.zeros(n, np.int64)
        for f, end in self.ends:
            e = np.full(n, end, np.int64)
            for t in f.shifts:
                dim = self.layout.odo[t][0]
                e += (counts[t] - dim.max) * dim.stride
            for d in f.dims:
                if d.depends_on:
                    t = next(i for i, x in enumerate(self.layout.odo) if x[0] is d)
                    e += (counts[t] - d.max) * d.stride
                    e = np.where(counts[t] == 0, 0, e)
            np.maximum(need, e, out=need)
        return need


class LayoutPlans:
    """The options read against the copybook: every layout in use as a :class:`Plan`.

    Raises ValueError / BadArgument (exit 2) for options that do not fit the copybook and
    RecordFormatError when a layout does not fit the LRECL.
    """

    def __init__(
        self, options: DecodeOptions, copybook: Copybook, encoding: str, codepage, recfm: str
    ):
        self.options = options
        self.codepage = codepage
        self.pad = int(getattr(codepage, "sbcs_space", 0x40))
        self.recfm = recfm
        self.encoding = encoding
        self._build(copybook)

    def _build(self, cb: Copybook) -> None:
        opts = self.options
        mixed = tuple(opts.mixed_fields)
        sbcs = tuple(opts.sbcs_fields)
        default_mixed = mixed_by_default(self.encoding)
        money = {m.strip().upper() for m in opts.money_fields}
        headers = (
            {opts.header_layouts.upper()}
            if isinstance(opts.header_layouts, str)
            else {h.upper() for h in opts.header_layouts}
        )
        trailers = (
            {opts.trailer_layouts.upper()}
            if isinstance(opts.trailer_layouts, str)
            else {t.upper() for t in opts.trailer_layouts}
        )
        self.plans: dict[str, Plan] = {}

        def plan(name: str) -> Plan:
            key = name.strip().upper()
            if key not in self.plans:
                try:
                    layout = cb.record(key)
                except KeyError as exc:
                    raise ValueError(str(exc).strip("'\"")) from None
                layout = layout.with_kinds(mixed, sbcs=sbcs, default_mixed=default_mixed)
                role = "header" if key in headers else ("trailer" if key in trailers else "data")
                self.plans[key] = Plan(layout, role, money, self._policy)
            return self.plans[key]

        self.type_field: Field | None = None
        self.type_patterns: list[tuple[bytes, Plan]] = []
        if opts.record_type_field:
            if not opts.record_types:
                raise ValueError("record_type_field needs record_types {value: layout}")
            named = [(value, plan(name)) for value, name in opts.record_types.items()]
            holder = next((p for _, p in named if opts.record_type_field in p.layout), None)
            if holder is None:
                raise ValueError(
                    f"record type field {opts.record_type_field} is in none of the layouts "
                    f"{', '.join(p.name for _, p in named)}"
                )
            self.type_field = holder.layout.field(opts.record_type_field)
            for value, p in named:
                tf = self.type_field
                v = value
                if tf.is_numeric:
                    v = Decimal(str(value))
                try:
                    pattern = encode_field(tf, v, self.codepage)
                except ValueError as exc:
                    raise ValueError(f"record type value for {p.name}: {exc}") from None
                if tf.kind == "zoned" and getattr(self.codepage, "ascii_numbers", False):
                    pattern = EBCDIC_TO_ASCII_ZONED[np.frombuffer(pattern, np.uint8)].tobytes()
                self.type_patterns.append((pattern, p))
                if not tf.is_numeric:  # the value padded with 0x00 instead of spaces
                    core = pattern.rstrip(bytes([self.pad]))
                    alt = core + b"\x00" * (len(pattern) - len(core))
                    if alt != pattern:
                        self.type_patterns.append((alt, p))
            for h in headers | trailers:
                if h not in self.plans:
                    raise ValueError(f"header/trailer layout {h} is not among the record types")
        else:
            if opts.record_types:
                raise ValueError("record_types needs record_type_field")
            name = opts.layout
            if name is None:
                if len(cb.records) != 1:
                    raise ValueError(
                        f"copybook has records {', '.join(cb.record_names)}: choose one "
                        "(layout) or give a record-type field"
                    )
                name = cb.records[0].name
            p = plan(name)
            if p.role != "data":
                raise ValueError("without record types the only layout is the data layout")
        self.data_plans = [p for p in self.plans.values() if p.role == "data"]
        if not self.data_plans:
            raise ValueError("no data layout")
        self._check_names(
            ("--mixed-field", mixed),
            ("--sbcs-field", sbcs),
            ("--money-field", tuple(opts.money_fields)),
            ("--bad-field", tuple(dict(opts.bad_fields))),
        )
        self.lrecl = None
        if self.recfm in ("F", "FB") and not opts.record_length_field:
            around = opts.record_start_offset + opts.record_end_offset
            self.lrecl = self.options.lrecl or max(p.size for p in self.plans.values()) + around
            for p in self.plans.values():
                need = max((e for _, e in p.ends), default=0) + around
                if need > self.lrecl:
                    raise RecordFormatError(
                        f"layout {p.name} needs {need} bytes, LRECL is {self.lrecl}"
                    )
        # trailer checks
        self.count_field: Field | None = None
        self.total_fields: list[tuple[Field, Plan, Field]] = []
        trailer_plans = [p for p in self.plans.values() if p.role == "trailer"]
        if opts.record_count_field or opts.control_totals:
            if not trailer_plans:
                raise ValueError("trailer checks need a trailer layout (trailer_layouts)")
            tp = trailer_plans[0]
            if opts.record_count_field:
                if opts.record_count_field not in tp.layout:
                    raise ValueError(
                        f"record count field {opts.record_count_field} is not in trailer {tp.name}"
                    )
                self.count_field = tp.layout.field(opts.record_count_field)
            for tfield, dfield in opts.control_totals.items():
                if tfield not in tp.layout:
                    raise ValueError(f"control total field {tfield} is not in trailer {tp.name}")
                dp = next((p for p in self.data_plans if dfield in p.layout), None)
                if dp is None:
                    raise ValueError(f"control total data field {dfield} is not in a data layout")
                df = dp.layout.field(dfield)
                if not df.is_numeric:
                    raise ValueError(f"control total data field {dfield} is not numeric")
                self.total_fields.append((tp.layout.field(tfield), dp, df))
        self._build_structure()

    def classify(self, rc: RecordChunk) -> tuple[list[tuple[Plan, np.ndarray | None]], np.ndarray]:
        """Each record's layout: ``(plan, record indices in file order or None for all)`` groups,
        and the indices of the records whose type field holds no known value."""
        n = len(rc)
        groups: list[tuple[Plan, np.ndarray | None]] = []
        if self.type_field is None or not n:
            if n:
                groups.append((self.data_plans[0], None))
            return groups, np.zeros(0, np.int64)
        tf = self.type_field
        data0 = rc.data
        if data0.shape[1] < tf.offset + tf.size:
            grow = tf.offset + tf.size - data0.shape[1]
            data0 = np.pad(data0, ((0, 0), (0, grow)), constant_values=self.pad)
        tb = data0[:, tf.offset : tf.offset + tf.size]
        present = rc.lengths > tf.offset  # a record ending before its type has none
        assigned = np.full(n, -1, np.int32)
        for k, (pattern, _layout) in enumerate(self.type_patterns):
            hit = (tb == np.frombuffer(pattern, np.uint8)).all(axis=1) & (assigned < 0)
            assigned[hit & present] = k
        seen: list[Plan] = []
        for _pattern, p in self.type_patterns:
            if any(p is q for q in seen):
                continue
            seen.append(p)
            ks = [k for k, (_, q) in enumerate(self.type_patterns) if q is p]
            idx = np.flatnonzero(np.isin(assigned, ks))  # file order, several values per layout
            if len(idx):
                groups.append((p, idx))
        return groups, np.flatnonzero(assigned < 0)

    def _build_structure(self) -> None:
        """Record length field, segments (ikou.mainframe.structure)."""
        opts = self.options
        self.length_field = None
        if opts.record_length_field:
            name = opts.record_length_field
            holder = next((p for p in self.plans.values() if name in p.layout), None)
            if holder is None:
                raise BadArgument(
                    f"--record-length-field {name}: no such field in the copybook's layouts"
                )
            self.length_field = length_reader(
                holder.layout.field(name),
                opts.record_start_offset,
                bool(getattr(self.codepage, "ascii_numbers", False)),
            )
        self.segments = Segments(opts.segment_parents, opts.segment_keys, self.plans)
        #: parent layout -> the fields of its key (``_parent_key`` of its children)
        self.segment_keys: dict[str, list[Field]] = {}
        for child in self.segments.parents:
            p = self.plans[child]
            for name, typ in PARENT_COLUMNS:
                p.schema = p.schema.append(pa.field(name, typ))
        for parent in set(self.segments.parents.values()):
            self.segment_keys[parent] = self.segments.key_fields(self.plans[parent].layout)

    def _policy(self, f: Field) -> str:
        """The bad-field policy of ``f``: its own (bad_fields) or the file's (bad_field)."""
        own = [pol for name, pol in dict(self.options.bad_fields).items() if field_matches(f, name)]
        return own[-1] if own else self.options.bad_field

    def _check_names(self, *named: tuple[str, tuple]) -> None:
        """Every field an option names is in a layout in use (exit 2 otherwise)."""
        for option, names in named:
            for name in names:
                if not any(p.layout.matching(name) for p in self.plans.values()):
                    in_use = ", ".join(p.name for p in self.plans.values())
                    raise BadArgument(
                        f"{option} {name}: no such field in the copybook's layouts ({in_use}); "
                        "name a field as NAME or GROUP.NAME"
                    )
                if option == "--sbcs-field" and not any(
                    f.kind in ("alphanumeric", "mixed")
                    for p in self.plans.values()
                    for f in p.layout.matching(name)
                ):
                    raise BadArgument(f"--sbcs-field {name}: not a PIC X field")
