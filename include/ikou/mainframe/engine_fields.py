"""The field decoders of a decoding run: every field of a group of records, column by column.

:class:`FieldDecoder` decodes the records of one layout (a ``(records, bytes)`` matrix) into
Arrow columns, all records of a field at once: OCCURS DEPENDING ON counts first (they shift the
fields after them), then every field, tables as nested lists. It returns the columns, the
first problem of each record (:class:`Flags`), the unmapped 外字 occurrences and the findings
of fields made null (``bad_field null``, short records). A layout with OCCURS DEPENDING ON
nested in another OCCURS is walked record by record first (:mod:`ikou.mainframe.variable`).
Used by :mod:`ikou.mainframe.engine`, which classifies the records and quarantines them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pyarrow as pa

from ikou.mainframe.copybook import Field
from ikou.mainframe.decode import (
    REASONS,
    TextTables,
    bool_array,
    decode_elements,
    np_array,
    null_where,
    reason_code,
)
from ikou.mainframe.engine_plans import Plan
from ikou.mainframe.structure import missing_rows

__all__ = ["FIELD_REASONS", "FieldDecoder", "Flags", "gather"]

#: reasons a field can have on its own (bad_field null makes them a finding, not a quarantine)
FIELD_REASONS = frozenset(
    {
        "invalid_zoned",
        "bad_nibble",
        "binary_overflow",
        "undefined_sbcs",
        "undecodable_dbcs",
        "unbalanced_shift",
        "odd_dbcs_length",
        "invalid_edited",
        "invalid_national",
    }
)


FIELD_CODES = np.array(sorted(reason_code(r) for r in FIELD_REASONS), np.uint8)


class Flags:
    """First problem per record: reason code, field, byte position, code."""

    def __init__(self, n: int):
        self.reason = np.zeros(n, np.uint8)
        self.field = np.full(n, -1, np.int32)
        self.pos = np.zeros(n, np.int64)
        self.code = np.zeros(n, np.int64)

    def set(self, rows: np.ndarray, reason, field_idx: int, pos, code=None) -> None:
        """rows: bool mask; reason: scalar or per-row uint8 (0 = none)."""
        r = np.asarray(reason)
        mask = rows & (self.reason == 0)
        if r.ndim:
            mask &= r != 0
        if not mask.any():
            return
        self.reason[mask] = r[mask] if r.ndim else r
        self.field[mask] = field_idx
        p = np.asarray(pos)
        self.pos[mask] = p[mask] if p.ndim else p
        if code is not None:
            c = np.asarray(code)
            self.code[mask] = c[mask] if c.ndim else c

    @property
    def bad(self) -> np.ndarray:
        return self.reason != 0


def gather(mat: np.ndarray, base, size: int, rel: np.ndarray | None = None) -> np.ndarray:
    """(n, size) bytes at ``base`` (int or per-row array); with ``rel`` (E,) -> (n*E, size)."""
    n = mat.shape[0]
    span = np.arange(size, dtype=np.int64)
    if rel is None:
        if np.ndim(base) == 0:
            b = int(base)
            return mat[:, b : b + size]
        return np.take_along_axis(mat, base[:, None] + span[None, :], axis=1)
    cols = (rel[:, None] + span[None, :]).ravel()
    if np.ndim(base) == 0:
        out = mat[:, int(base) + cols]
    else:
        out = np.take_along_axis(mat, base[:, None] + cols[None, :], axis=1)
    return out.reshape(n * len(rel), size)


def element_grid(dims) -> tuple[np.ndarray, list[np.ndarray]]:
    """Relative offsets of every element (C order) and each dimension's index per element."""
    grids = np.meshgrid(*[np.arange(d.max) for d in dims], indexing="ij")
    rel = np.zeros(grids[0].shape, np.int64)
    for g, d in zip(grids, dims):
        rel += g * d.stride
    return rel.ravel(), [g.ravel() for g in grids]


def nest_lists(values: pa.Array, n: int, dims, counts_by_dim: list[np.ndarray | None]) -> pa.Array:
    """Wrap flat element values (existing elements only, C order) into nested list arrays."""
    level_counts = []
    for d, c in zip(dims, counts_by_dim):
        level_counts.append(c if c is not None else np.full(n, d.max, np.int64))
    # record id of each list at each level
    rec_ids = [np.arange(n)]
    for lvl in range(1, len(dims)):
        prev = rec_ids[-1]
        rec_ids.append(np.repeat(prev, level_counts[lvl - 1][prev]))
    arr = values
    for lvl in range(len(dims) - 1, -1, -1):
        lens = level_counts[lvl][rec_ids[lvl]]
        offs = np.zeros(len(lens) + 1, np.int32)
        np.cumsum(lens, out=offs[1:])
        arr = pa.ListArray.from_arrays(np_array(offs, pa.int32()), arr)
    return arr


@dataclass(frozen=True)
class FieldDecoder:
    """The settings every field of a run is decoded with."""

    tables: TextTables
    trim: str
    blank_numeric: str
    float_format: str
    recfm: str
    #: a record may end before its last fields (they are null, finding short_record)
    short_ok: bool
    #: parent layout -> its key fields (a record missing them is too short)
    segment_keys: Mapping[str, list[Field]] = field(default_factory=dict)

    def decode_nested(self, p: Plan, mat: np.ndarray, lengths: np.ndarray):
        """A layout with OCCURS DEPENDING ON inside another OCCURS: each record walked once
        (ikou.mainframe.variable), then every field's elements decoded in one batch."""
        from ikou.mainframe.variable import walk_records

        n = len(mat)
        flags = Flags(n)
        w = walk_records(p.layout, p.fields, mat, lengths, self.tables.sbcs_ascii)
        col_index = {f.column: i for i, f in enumerate(p.fields)}
        for r, reason in enumerate(w.reason):
            if reason:
                fi = col_index.get(w.field_of_reason[r], -1)
                mask = np.zeros(n, bool)
                mask[r] = True
                flags.set(mask, reason_code(reason), fi, w.byte[r], w.count[r])
        cols: list[pa.Array] = []
        fbad: list[np.ndarray] = []
        gaiji: list = []
        notes: list[tuple] = []
        mapped = 0
        span = None
        for fi, f in enumerate(p.fields):
            span = np.arange(f.size, dtype=np.int64)
            if not f.dims:
                offs = w.scalar[fi]
                recs = np.arange(n)
            else:
                r_list, o_list = w.elements[fi]
                recs = np.asarray(r_list, np.int64)
                offs = np.asarray(o_list, np.int64)
            if len(offs):
                b = mat[recs[:, None], offs[:, None] + span[None, :]]
            else:
                b = np.zeros((0, f.size), np.uint8)
            el = decode_elements(
                b,
                f,
                self.tables,
                money=p.money[fi],
                blank=self.blank_numeric,
                trim=self.trim,
                float_format=self.float_format,
            )
            mapped += el.gaiji_mapped
            if el.gaiji:  # unmapped 外字: element rows -> records, element bytes -> record bytes
                g = np.asarray(el.gaiji, dtype=np.int64)
                gaiji.append((recs[g[:, 0]], fi, g[:, 1], offs[g[:, 0]] + g[:, 2]))
            bad = el.bad != 0
            values = el.array
            rec_bad = np.zeros(n, bool)
            if bad.any() and p.null_bad[fi] and not f.lenient:
                nb = np.isin(el.bad, FIELD_CODES)  # --bad-field null: the element is null
                for k in np.flatnonzero(nb).tolist():
                    r, o = int(recs[k]), int(offs[k])
                    raw = mat[r, o : o + f.size].tobytes()
                    notes.append((r, f.column, REASONS[int(el.bad[k])], o + int(el.pos[k]), raw))
                values = null_where(values, nb)
                rec_bad[recs[nb]] = True  # sums over this field are unverified
                bad = bad & ~nb
            if bad.any():
                if f.lenient:
                    values = null_where(values, bad)
                else:
                    k = np.flatnonzero(bad)
                    first_rec, first = np.unique(recs[k], return_index=True)
                    k = k[first]
                    mask = np.zeros(n, bool)
                    mask[first_rec] = True
                    reasons = np.zeros(n, np.uint8)
                    reasons[first_rec] = el.bad[k]
                    pos = np.zeros(n, np.int64)
                    pos[first_rec] = offs[k] + el.pos[k]
                    flags.set(mask, reasons, fi, pos)
                    rec_bad[first_rec] = True
            if f.dims:
                arr = values
                for d in reversed(f.dims):
                    lens = np.asarray(w.lengths.get(d.owner, []), np.int64)
                    o = np.zeros(len(lens) + 1, np.int32)
                    np.cumsum(lens, out=o[1:])
                    arr = pa.ListArray.from_arrays(np_array(o, pa.int32()), arr)
                values = arr
            cols.append(values)
            fbad.append(rec_bad)
        return cols, flags, gaiji, mapped, fbad, notes

    def decode_group(self, p: Plan, mat: np.ndarray, lengths: np.ndarray):
        if p.layout.nested_odo:
            return self.decode_nested(p, mat, lengths)
        n = len(mat)
        flags = Flags(n)
        counts: list[np.ndarray] = []
        layout = p.layout
        notes: list[tuple] = []  # findings: (row, field column, reason, byte in record, raw)
        trim, ffmt = self.trim, self.float_format

        def shift_of(f: Field):
            if not f.shifts:
                return 0
            sh = np.zeros(n, np.int64)
            for t in f.shifts:
                dim = layout.odo[t][0]
                sh += (counts[t] - dim.max) * dim.stride
            return sh

        for t, (dim, _start, _end) in enumerate(layout.odo):
            dep = p.odo_deps[t]
            el = decode_elements(
                gather(mat, dep.offset + shift_of(dep), dep.size),
                dep,
                self.tables,
                money=False,
                blank=self.blank_numeric,
            )
            vals = el.array
            if pa.types.is_decimal(vals.type):
                vals = vals.cast(pa.int64(), safe=False)
            if pa.types.is_string(vals.type):  # a PIC X count holding digits (as Cobrix reads it)
                c = np.fromiter(
                    (int(x) if x and x.strip().isdigit() else -1 for x in vals.to_pylist()),
                    np.int64,
                    count=len(vals),
                )
            else:
                c = np.asarray(vals.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            fi = p.fields.index(dep) if dep in p.fields else -1
            base = dep.offset + shift_of(dep)
            flags.set(el.bad != 0, el.bad, fi, base + el.pos)
            low = 0 if dim.implied_min else dim.min
            out_of = (c < low) | (c > dim.max)
            flags.set(out_of, reason_code("odo_out_of_range"), fi, base, c)
            if dim.implied_min:
                zero = (c == 0) & (el.bad == 0)
                for r in np.flatnonzero(zero).tolist():
                    b0 = int(base if np.ndim(base) == 0 else base[r])
                    notes.append(
                        (r, dep.column, "odo_count_zero", b0, mat[r, b0 : b0 + dep.size].tobytes())
                    )
            counts.append(np.clip(c, low, dim.max))
        need = p.needed(counts, n)
        soft = None
        if self.short_ok:
            # records ending early: the missing fields are null (finding short_record); only a
            # missing OCCURS count or segment key costs the record
            hard = np.zeros(n, np.int64)
            for dep in [*p.odo_deps, *self.segment_keys.get(p.name, [])]:
                np.maximum(hard, dep.offset + shift_of(dep) + dep.size, out=hard)
            short = lengths < hard
            if short.any():  # over a count decoded from padding
                flags.reason[short] = 0
                flags.set(short, reason_code("record_too_short"), -1, hard)
            soft = (lengths < need) & ~short
            short_noted = np.zeros(n, bool)
        else:
            short = lengths < need
            if short.any():
                flags.set(short, reason_code("record_too_short"), -1, need)
        if self.recfm in ("V", "VB", "VS", "VBS"):
            # bytes beyond the whole layout (FILLER included) would be read by no field
            full = np.full(n, p.size, np.int64)
            for t, (dim, _s, _e) in enumerate(layout.odo):
                full += (counts[t] - dim.max) * dim.stride
            flags.set(lengths > full, reason_code("record_too_long"), -1, full)
        cols: list[pa.Array] = []
        gaiji: list = []
        mapped = 0
        fbad: list[np.ndarray] = []
        for fi, f in enumerate(p.fields):
            base = f.offset + shift_of(f)
            nulled = None
            if not f.dims:
                el = decode_elements(
                    gather(mat, base, f.size),
                    f,
                    self.tables,
                    money=p.money[fi],
                    blank=self.blank_numeric,
                    trim=trim,
                    float_format=ffmt,
                )
                bad = el.bad
                arr = el.array
                rec_pos = base + el.pos
                code = el.code_at_pos
                if p.null_bad[fi] and not f.lenient and bad.any():
                    nb = np.isin(bad, FIELD_CODES)
                    if nb.any():
                        arr = null_where(arr, nb)
                        for r in np.flatnonzero(nb).tolist():
                            b0 = int(base if np.ndim(base) == 0 else base[r])
                            notes.append(
                                (
                                    r,
                                    f.column,
                                    REASONS[int(bad[r])],
                                    int(rec_pos if np.ndim(rec_pos) == 0 else rec_pos[r]),
                                    mat[r, b0 : b0 + f.size].tobytes(),
                                )
                            )
                        bad = np.where(nb, 0, bad).astype(np.uint8)
                        nulled = nb
                if el.gaiji:
                    g = np.asarray(el.gaiji, dtype=np.int64)
                    gaiji.append(
                        (
                            g[:, 0],
                            fi,
                            g[:, 1],
                            (base if np.ndim(base) == 0 else base[g[:, 0]]) + g[:, 2],
                        )
                    )
            else:
                rel, idxs = element_grid(f.dims)
                E = len(rel)
                el = decode_elements(
                    gather(mat, base, f.size, rel),
                    f,
                    self.tables,
                    money=p.money[fi],
                    blank=self.blank_numeric,
                    trim=trim,
                    float_format=ffmt,
                )
                exist = np.ones((n, E), bool)
                counts_by_dim: list[np.ndarray | None] = []
                for d, ix in zip(f.dims, idxs):
                    if d.depends_on:
                        t = next(i for i, x in enumerate(layout.odo) if x[0] is d)
                        exist &= ix[None, :] < counts[t][:, None]
                        counts_by_dim.append(counts[t])
                    else:
                        counts_by_dim.append(None)
                ebad = el.bad
                if p.null_bad[fi] and not f.lenient and ebad.any():
                    nb = np.isin(ebad, FIELD_CODES) & exist.ravel()
                    if nb.any():
                        for k in np.flatnonzero(nb).tolist():
                            r, e = divmod(k, E)
                            b0 = int((base if np.ndim(base) == 0 else base[r]) + rel[e])
                            notes.append(
                                (
                                    r,
                                    f.column,
                                    REASONS[int(ebad[k])],
                                    b0 + int(el.pos[k]),
                                    mat[r, b0 : b0 + f.size].tobytes(),
                                )
                            )
                        el.array = null_where(el.array, nb)
                        ebad = np.where(nb, 0, ebad).astype(np.uint8)
                        nulled = nb.reshape(n, E).any(axis=1)
                be = ebad.reshape(n, E) * exist
                anyb = be.any(axis=1)
                first = np.argmax(be != 0, axis=1)
                bad = np.where(anyb, be[np.arange(n), first], 0).astype(np.uint8)
                rec_pos = base + rel[first] + el.pos.reshape(n, E)[np.arange(n), first]
                code = (
                    None
                    if el.code_at_pos is None
                    else el.code_at_pos.reshape(n, E)[np.arange(n), first]
                )
                values = el.array
                if f.lenient and el.bad.any():
                    values = null_where(values, el.bad != 0)
                if not exist.all():
                    values = values.filter(bool_array(exist.ravel()))
                arr = nest_lists(values, n, f.dims, counts_by_dim)
                if el.gaiji:
                    g = np.asarray(el.gaiji, dtype=np.int64)
                    ok = exist.ravel()[g[:, 0]]
                    g = g[ok]
                    rows = g[:, 0] // E
                    elem = g[:, 0] % E
                    b_ = base if np.ndim(base) == 0 else base[rows]
                    gaiji.append((rows, fi, g[:, 1], b_ + rel[elem] + g[:, 2]))
            if soft is not None and soft.any():
                extent = f.size + sum((d.max - 1) * d.stride for d in f.dims)
                miss = missing_rows(f, base, lengths, extent, bad) & soft
                if miss.any():
                    arr = null_where(arr, miss)
                    bad = np.where(miss, 0, bad).astype(np.uint8)
                    for r in np.flatnonzero(miss & ~short_noted).tolist():
                        notes.append((r, f.column, "short_record", int(lengths[r]), b""))
                    short_noted |= miss
            mapped += el.gaiji_mapped
            if f.lenient:
                if bad.any() and not f.dims:
                    arr = null_where(arr, bad != 0)
                fbad.append(np.zeros(n, bool))
            else:
                flags.set(bad != 0, bad, fi, rec_pos, code)
                fbad.append((bad != 0) if nulled is None else ((bad != 0) | nulled))
            cols.append(arr)
        return cols, flags, gaiji, mapped, fbad, notes

    # ------------------------------------------------------------------------ end
