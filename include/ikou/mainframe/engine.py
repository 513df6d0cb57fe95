"""Decode a legacy file with a copybook: chunks of Arrow record batches + quarantine + summary.

    run = decode_file("JUKI.DAT", copybook, DecodeOptions(encoding="cp930", recfm="FB"))
    for chunk in run:                      # bounded memory: one chunk of records at a time
        write(chunk.batch)                 # pyarrow.RecordBatch of the good data records
        keep(chunk.quarantine)             # pyarrow.Table, one row per bad record
    summary = run.summary                  # DecodeSummary: accounting, trailer checks, 外字

See the package docstring (:mod:`ikou.mainframe`) for the whole picture.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pyarrow as pa

from ikou.errors import BadArgument
from ikou.mainframe.copybook import Copybook, Field, RecordLayout
from ikou.mainframe.copybook.layout import field_matches
from ikou.mainframe.decode import (
    FLOAT_FORMATS,
    REASONS,
    TRIMS,
    TextTables,
    arrow_type,
    bool_array,
    decode_elements,
    empty_batch,
    np_array,
    null_where,
    pc,
    reason_code,
    repeat_string,
    string_array,
)
from ikou.mainframe.decode.multibyte import EBCDIC_TO_ASCII_ZONED
from ikou.mainframe.encode import encode_field
from ikou.mainframe.findings import FindingsSink, finding_row
from ikou.mainframe.reader import RECFMS, RecordChunk, RecordFormatError, iter_record_chunks
from ikou.mainframe.structure import (
    PARENT_COLUMNS,
    Segments,
    check_structure,
    framing_for,
    length_reader,
    missing_rows,
    short_records_allowed,
)

__all__ = [
    "DecodeOptions",
    "DecodedChunk",
    "DecodeSummary",
    "TrailerCheck",
    "Decoding",
    "decode_file",
    "decode_to_parquet",
    "merge_summaries",
    "QUARANTINE_SCHEMA",
    "GAIJI_SCHEMA",
    "RecordFormatError",
]

QUARANTINE_SCHEMA = pa.schema(
    [
        ("_file", pa.string()),
        ("_record", pa.int64()),
        ("_offset", pa.int64()),
        ("layout", pa.string()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw_length", pa.int64()),
        ("raw_hex", pa.string()),
    ]
)

GAIJI_SCHEMA = pa.schema(
    [
        ("_file", pa.string()),
        ("_record", pa.int64()),
        ("_offset", pa.int64()),
        ("field", pa.string()),
        ("byte", pa.int64()),
        ("legacy_code", pa.string()),
        ("encoding", pa.string()),
        ("candidates", pa.list_(pa.string())),
    ]
)

_BYTE_REASONS = {
    "invalid_zoned",
    "bad_nibble",
    "undefined_sbcs",
    "unbalanced_shift",
    "odd_dbcs_length",
}
_CODE_REASONS = {"undecodable_dbcs", "unmapped_gaiji"}

BAD_FIELD_POLICIES = ("quarantine", "null")

#: CCSIDs that are mixed SBCS/DBCS by definition: SO/SI decoded in every PIC X field by default
MIXED_CCSIDS = ("cp930", "cp939", "cp1390", "cp1399")

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


_FIELD_CODES = np.array(sorted(reason_code(r) for r in FIELD_REASONS), np.uint8)


def mixed_by_default(encoding: str) -> bool:
    """CCSID 930 / 939 / 1390 / 1399 (any variant name): PIC X fields decode SO/SI."""
    e = (encoding or "").lower().replace("-", "").replace("_", "")
    return any(e == c or e.startswith(c) for c in MIXED_CCSIDS) or e in (
        "ibm930",
        "ibm939",
        "ibm1390",
        "ibm1399",
    )


@dataclass
class DecodeOptions:
    """How to read one file. Only ``encoding`` and ``recfm`` usually need setting.

    encoding          cp930 | cp939 | cp1390 | cp1399 | jef | keis | jips (ikou.moji.codepages)
    variant           "jis" (default) or "jdk": the wave-dash family mapping (cp930 / cp939)
    recfm, lrecl      F | FB | V | VB; lrecl (F / FB) defaults to the largest layout in use
    layout            the data layout (01 record or REDEFINES group) when there is no
                      record-type field; default: the copybook's only 01 record
    record_type_field, record_types
                      a field and {value: layout name}: each record's layout is chosen by the
                      value of that field (e.g. {"H": "HDR-REC", "D": "DATA-REC", "T": "TRL-REC"})
    header_layouts, trailer_layouts
                      which of those layouts are header / trailer records (not data)
    record_count_field, control_totals
                      trailer checks: a trailer field holding the number of data records, and
                      {trailer field: data field} sums (e.g. {"TRL-TOTAL": "AMOUNT"})
    mixed_fields      PIC X fields holding SBCS + SO/SI DBCS text
    money_fields      numeric fields output as decimal even when integral (packed always are)
    keep_padding      keep trailing SBCS 0x40 / DBCS 0x4040 in text
    gaiji             a GaijiTable, or a path to the city's 外字 CSV
    gaiji_policy      "placeholder" (〓 in the text, record kept, occurrence reported) or
                      "quarantine" (record quarantined with reason unmapped_gaiji)
    blank_numeric     "quarantine" (default; an all-space numeric field is a bad record) or
                      "null" (it becomes null); it decides the all-blank case, whatever bad_field
    sbcs_fields       PIC X fields that are strictly single-byte: with CCSID 930 / 939 / 1390 /
                      1399 every other PIC X field decodes SO/SI (mixed); JEF / KEIS / JIPS only
                      decode SO/SI in mixed_fields
    trim              right (default) | both | left | none: SBCS / DBCS spaces and 0x00 are
                      padding, an all-0x00 text field is null; None = keep_padding decides
    float_format      ibm (default) | ieee | ieee-le for every COMP-1 / COMP-2 field
    bad_field         "quarantine" (default: a field that cannot be decoded costs its record) or
                      "null" (the field is null, the record goes on, a finding names it)
    bad_fields        per field {NAME: "null" | "quarantine"}, over bad_field
    chunk_bytes       bytes read per chunk (bounded memory)
    file_name         the ``_file`` lineage value (default: the path, or "<stream>")
    byte_range        (start, end) for F / FB: decode only that record-aligned part
    codepage          a CodePage object instead of looking ``encoding`` up (tests, custom pages)
    max_raw_bytes     raw bytes kept per quarantined record (hex in the quarantine)
    rdw_adjust, bdw_adjust
                      payload bytes = descriptor value - 4 + adjust (V / VB / VS / VBS; with
                      record_length_field: record bytes = field value + rdw_adjust)
    rdw_endian        "big" (default) or "little": the 16-bit length of RDWs and BDWs
    record_length_field
                      RECFM F: each record's length is this field's value (+ rdw_adjust)
    file_start_offset, file_end_offset
                      bytes skipped at the start / end of the file
    record_start_offset, record_end_offset
                      bytes skipped before / after each record's layout (``_offset`` stays the
                      record's absolute offset)
    segment_parents   {CHILD layout: PARENT layout}: child rows get ``_parent_record`` (and
                      ``_parent_key`` from segment_keys {PARENT: (field, ...)}); a child before
                      any parent is quarantined ``orphan_segment``
    gaiji_policy "pua": an unmapped 外字 keeps its Private Use Area code point (cp932
                      U+E000-U+E757; IBM user-defined area as iconv maps it)
    """

    encoding: str = "cp930"
    variant: str = "jis"
    recfm: str = "FB"
    lrecl: int | None = None
    layout: str | None = None
    record_type_field: str | None = None
    record_types: Mapping[str, str] = field(default_factory=dict)
    header_layouts: tuple[str, ...] | str = ()
    trailer_layouts: tuple[str, ...] | str = ()
    record_count_field: str | None = None
    control_totals: Mapping[str, str] = field(default_factory=dict)
    mixed_fields: tuple[str, ...] = ()
    money_fields: tuple[str, ...] = ()
    keep_padding: bool = False
    gaiji: object = None
    gaiji_policy: str = "placeholder"
    blank_numeric: str = "quarantine"
    sbcs_fields: tuple[str, ...] = ()
    trim: str | None = None
    float_format: str = "ibm"
    bad_field: str = "quarantine"
    bad_fields: Mapping[str, str] = field(default_factory=dict)
    chunk_bytes: int = 4 << 20
    file_name: str | None = None
    byte_range: tuple[int, int] | None = None
    codepage: object = None
    max_raw_bytes: int = 65536
    # record structure (ikou.mainframe.structure / reader): see the list above
    rdw_adjust: int = 0
    bdw_adjust: int = 0
    rdw_endian: str = "big"
    record_length_field: str | None = None
    file_start_offset: int = 0
    file_end_offset: int = 0
    record_start_offset: int = 0
    record_end_offset: int = 0
    segment_parents: Mapping[str, str] = field(default_factory=dict)
    segment_keys: Mapping[str, tuple] = field(default_factory=dict)


@dataclass
class TrailerCheck:
    """One trailer control total: what the trailer says against what the file holds."""

    name: str  # "record_count" or "sum"
    trailer_field: str
    data_field: str | None
    expected: object
    actual: object
    ok: bool
    detail: str = ""
    state: str = ""  # ok | mismatch | unverified (a summed value was unreadable)

    def __post_init__(self):
        if not self.state:
            self.state = "ok" if self.ok else "mismatch"

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("expected", "actual"):
            if isinstance(d[k], Decimal):
                d[k] = str(d[k])
        return d


@dataclass
class DecodeSummary:
    """Accounting for one decoded file: records_in = out + header + trailer + quarantined."""

    file: str
    encoding: str
    recfm: str
    lrecl: int | None
    records_in: int = 0
    records_out: int = 0
    header_records: int = 0
    trailer_records: int = 0
    quarantined: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    complete: bool = False
    by_reason: dict = field(default_factory=dict)
    by_layout: dict = field(default_factory=dict)
    header: dict | None = None
    trailer: dict | None = None
    trailer_checks: list = field(default_factory=list)
    gaiji_mapped: int = 0
    gaiji_unmapped: int = 0
    gaiji_codes: list = field(default_factory=list)  # distinct unmapped codes, hex
    data_records: int = (
        0  # records of data layouts, quarantined ones included (what a trailer counts)
    )
    trailers_seen: int = 0
    record_count_field: str | None = None
    control_sums: dict = field(
        default_factory=dict
    )  # trailer field -> {data_field, sum, unreadable}
    header_declared: bool = False
    trailer_declared: bool = False
    findings: dict = field(default_factory=dict)  # reason -> count (rows in the findings file)

    @property
    def accounted(self) -> bool:
        return self.records_in == (
            self.records_out + self.header_records + self.trailer_records + self.quarantined
        )

    @property
    def trailer_ok(self) -> bool:
        return all(c.ok for c in self.trailer_checks)

    @property
    def control_mismatch(self) -> bool:
        """A trailer count or control total differs, or a declared header / trailer is missing
        (exit 6); a total over unreadable values is ``unverified``, not a mismatch."""
        return any(c.state == "mismatch" for c in self.trailer_checks)

    @property
    def mb_per_s(self) -> float:
        return (self.bytes_read / 1e6) / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """The one-line summary the CLI prints (counts only, no personal data)."""
        s = (
            f"records={self.records_in} out={self.records_out} header={self.header_records} "
            f"trailer={self.trailer_records} quarantined={self.quarantined} "
            f"bytes={self.bytes_read} seconds={self.seconds:.3f} MB/s={self.mb_per_s:.1f}"
        )
        if self.trailer_checks:
            s += " trailer=" + (
                "OK" if self.trailer_ok else ("MISMATCH" if self.control_mismatch else "UNVERIFIED")
            )
        if self.findings:
            s += f" findings={sum(self.findings.values())}"
        if self.gaiji_unmapped or self.gaiji_mapped:
            s += f" gaiji_mapped={self.gaiji_mapped} gaiji_unmapped={self.gaiji_unmapped}"
        return s

    @classmethod
    def from_dict(cls, d: Mapping) -> "DecodeSummary":
        """The summary :meth:`to_dict` wrote (e.g. a byte-range part's, read back for
        :func:`merge_summaries`); derived keys (accounted, trailer_ok, mb_per_s) are ignored."""
        names = {f.name for f in fields(cls)}
        s = cls(
            **{
                k: v
                for k, v in d.items()
                if k in names and k not in ("trailer_checks", "control_sums")
            }
        )
        s.by_reason = dict(s.by_reason or {})
        s.by_layout = dict(s.by_layout or {})
        s.findings = dict(s.findings or {})
        s.gaiji_codes = list(s.gaiji_codes or [])
        s.control_sums = {
            k: {**v, "sum": Decimal(str(v["sum"]))}
            for k, v in (d.get("control_sums") or {}).items()
        }
        s.trailer_checks = [TrailerCheck(**c) for c in d.get("trailer_checks") or []]
        return s

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "trailer_checks"}
        d["trailer_checks"] = [c.to_dict() for c in self.trailer_checks]
        d["accounted"] = self.accounted
        d["trailer_ok"] = self.trailer_ok
        d["mb_per_s"] = round(self.mb_per_s, 3)
        for k in ("header", "trailer"):
            if d[k]:
                d[k] = {a: (str(b) if isinstance(b, Decimal) else b) for a, b in d[k].items()}
        d["control_sums"] = {k: {**v, "sum": str(v["sum"])} for k, v in d["control_sums"].items()}
        return d


@dataclass
class DecodedChunk:
    """One chunk of a file: good data records per layout, quarantine rows, 外字 occurrences."""

    batches: dict  # data layout name -> pyarrow.RecordBatch
    quarantine: pa.Table
    gaiji: pa.Table
    records_in: int
    records_out: int
    header_records: int
    trailer_records: int
    quarantined: int
    bytes_read: int
    first_record: int
    findings: list = field(default_factory=list)  # ikou.mainframe.findings rows (raw bytes)

    @property
    def batch(self) -> pa.RecordBatch:
        """The data batch when the file has a single data layout."""
        if len(self.batches) != 1:
            raise ValueError(f"chunk has {len(self.batches)} data layouts: use .batches")
        return next(iter(self.batches.values()))


# ------------------------------------------------------------------------------------ plans


class _Plan:
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


class _Flags:
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


def _gather(mat: np.ndarray, base, size: int, rel: np.ndarray | None = None) -> np.ndarray:
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


def _element_grid(dims) -> tuple[np.ndarray, list[np.ndarray]]:
    """Relative offsets of every element (C order) and each dimension's index per element."""
    grids = np.meshgrid(*[np.arange(d.max) for d in dims], indexing="ij")
    rel = np.zeros(grids[0].shape, np.int64)
    for g, d in zip(grids, dims):
        rel += g * d.stride
    return rel.ravel(), [g.ravel() for g in grids]


def _nest_lists(values: pa.Array, n: int, dims, counts_by_dim: list[np.ndarray | None]) -> pa.Array:
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


# ------------------------------------------------------------------------------------ decoding


class Decoding:
    """An iterable decoding run over one file; ``summary`` is complete after iteration."""

    def __init__(self, source, copybook: Copybook, options: DecodeOptions | None = None):
        self.options = opts = options or DecodeOptions()
        self.copybook = copybook
        self.source = source
        if isinstance(source, (str, os.PathLike)):
            self.file_name = opts.file_name or str(source)
        else:
            self.file_name = opts.file_name or getattr(source, "name", None) or "<stream>"
            if not isinstance(self.file_name, str):
                self.file_name = "<stream>"
        if opts.gaiji_policy not in ("placeholder", "quarantine", "pua"):
            raise ValueError("gaiji_policy must be 'placeholder', 'quarantine' or 'pua'")
        if opts.blank_numeric not in ("quarantine", "null"):
            raise ValueError("blank_numeric must be 'quarantine' or 'null'")
        if opts.bad_field not in BAD_FIELD_POLICIES:
            raise BadArgument(f"bad_field {opts.bad_field!r}: use quarantine or null")
        for name, pol in dict(opts.bad_fields).items():
            if pol not in BAD_FIELD_POLICIES:
                raise BadArgument(f"--bad-field {name}={pol}: use {name}=null or {name}=quarantine")
        if opts.float_format not in FLOAT_FORMATS:
            raise BadArgument(
                f"float format {opts.float_format!r}: use one of {', '.join(FLOAT_FORMATS)}"
            )
        if opts.trim is not None and opts.trim not in TRIMS:
            raise BadArgument(f"trim {opts.trim!r}: use one of {', '.join(TRIMS)}")
        self.trim = opts.trim or ("none" if opts.keep_padding else "right")
        self.recfm = opts.recfm.upper()
        if self.recfm not in RECFMS:
            raise RecordFormatError(f"unknown RECFM {opts.recfm!r} ({', '.join(RECFMS)})")
        if opts.codepage is not None:
            self.codepage = opts.codepage
            self.encoding = getattr(opts.codepage, "name", opts.encoding)
        else:
            from ikou.moji.codepages import get_codepage

            self.codepage = get_codepage(opts.encoding, opts.variant)
            self.encoding = self.codepage.name
        gaiji = opts.gaiji
        if gaiji is not None and not hasattr(gaiji, "lookup"):
            from ikou.moji.gaiji import GaijiTable

            gaiji = GaijiTable.load(gaiji)
        self.gaiji = gaiji
        self.tables = TextTables.get(self.codepage, self.encoding, gaiji, opts.gaiji_policy)
        check_structure(opts, self.recfm, self.codepage)
        self.pad = int(getattr(self.codepage, "sbcs_space", 0x40))
        self.short_ok = short_records_allowed(self.recfm, opts)
        self._build_plans()
        self._build_structure()
        self.summary = DecodeSummary(self.file_name, self.encoding, self.recfm, self.lrecl)
        self.summary.header_declared = any(p.role == "header" for p in self.plans.values())
        self.summary.trailer_declared = any(p.role == "trailer" for p in self.plans.values())
        self._gaiji_parts: list[pa.Table] = []
        self._candidates: dict[int, list[str]] = {}
        self._data_count = 0
        self._sums: dict[str, list] = {}
        self._headers: list[dict] = []
        self._trailers: list[dict] = []
        self._unmapped_codes: set[int] = set()
        self._done = False

    # ------------------------------------------------------------------------ setup

    def _build_plans(self) -> None:
        opts, cb = self.options, self.copybook
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
        self.plans: dict[str, _Plan] = {}

        def plan(name: str) -> _Plan:
            key = name.strip().upper()
            if key not in self.plans:
                try:
                    layout = cb.record(key)
                except KeyError as exc:
                    raise ValueError(str(exc).strip("'\"")) from None
                layout = layout.with_kinds(mixed, sbcs=sbcs, default_mixed=default_mixed)
                role = "header" if key in headers else ("trailer" if key in trailers else "data")
                self.plans[key] = _Plan(layout, role, money, self._policy)
            return self.plans[key]

        self.type_field: Field | None = None
        self.type_patterns: list[tuple[bytes, _Plan]] = []
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
        self.total_fields: list[tuple[Field, _Plan, Field]] = []
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
        self._segment_keys = {}
        self._link = None
        for child in self.segments.parents:
            p = self.plans[child]
            for name, typ in PARENT_COLUMNS:
                p.schema = p.schema.append(pa.field(name, typ))
        for parent in set(self.segments.parents.values()):
            self._segment_keys[parent] = self.segments.key_fields(self.plans[parent].layout)

    def _parent_keys(self, p: _Plan, cols: list) -> list:
        """Per record of a parent group: its key (fields joined by '|'), None when unreadable."""
        n = len(cols[0]) if cols else 0
        fields_ = self._segment_keys.get(p.name) or []
        if not fields_:
            return [None] * n
        vals = [cols[p.fields.index(f)].to_pylist() for f in fields_]
        return [
            None if any(v is None for v in row) else "|".join(str(v) for v in row)
            for row in zip(*vals)
        ]

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

    def schema(self, layout: str | None = None) -> pa.Schema:
        """Arrow schema of a data layout's batches."""
        if layout is None:
            if len(self.data_plans) != 1:
                raise ValueError("several data layouts: name one")
            return self.data_plans[0].schema
        return self.plans[layout.upper()].schema

    @property
    def data_layouts(self) -> list[str]:
        return [p.name for p in self.data_plans]

    # ------------------------------------------------------------------------ iteration

    def __iter__(self) -> Iterator[DecodedChunk]:
        if self._done:
            raise RuntimeError("a Decoding runs once; call decode_file again")
        opts = self.options
        t0 = time.perf_counter()
        s = self.summary
        for tf, _dp, _df in self.total_fields:
            self._sums[tf.column] = [0, 0]  # sum, unreadable
        own = False
        if isinstance(self.source, (str, os.PathLike)):
            try:
                f = open(self.source, "rb")
            except OSError as exc:
                raise OSError(f"cannot open {self.file_name}: {exc.strerror or exc}") from None
            own = True
        else:
            f = self.source
            if isinstance(f, (bytes, bytearray, memoryview)):
                f = io.BytesIO(bytes(f))
        try:
            start, end = opts.byte_range or (0, None)
            for rc in iter_record_chunks(
                f,
                self.recfm,
                self.lrecl,
                chunk_bytes=opts.chunk_bytes,
                start=start,
                end=end,
                max_raw_bytes=opts.max_raw_bytes,
                framing=framing_for(opts, self.codepage, self.length_field),
            ):
                chunk = self._decode_chunk(rc)
                s.seconds = time.perf_counter() - t0
                yield chunk
            s.complete = True
        finally:
            if own:
                f.close()
            s.seconds = time.perf_counter() - t0
            self._finish()
            self._done = True

    def _decode_chunk(self, rc: RecordChunk) -> DecodedChunk:
        s = self.summary
        n = len(rc)
        qrows: list[dict] = []
        gparts: list[dict] = []
        frows: list[dict] = []
        batches: dict[str, pa.RecordBatch] = {}
        out = hdr = trl = 0
        # broken framing
        for br in rc.broken:
            qrows.append(
                self._qrow(
                    br.record_no, br.offset, None, None, br.reason, br.detail, br.raw, br.length
                )
            )
        # classify
        groups: list[tuple[_Plan, np.ndarray | None]] = []
        if self.type_field is not None and n:
            tf = self.type_field
            data0 = rc.data
            if data0.shape[1] < tf.offset + tf.size:
                grow = tf.offset + tf.size - data0.shape[1]
                data0 = np.pad(data0, ((0, 0), (0, grow)), constant_values=self.pad)
            tb = _gather(data0, tf.offset, tf.size)
            present = rc.lengths > tf.offset  # a record ending before its type has none
            assigned = np.full(n, -1, np.int32)
            for k, (pattern, _layout) in enumerate(self.type_patterns):
                hit = (tb == np.frombuffer(pattern, np.uint8)).all(axis=1) & (assigned < 0)
                assigned[hit & present] = k
            seen: list[_Plan] = []
            for _pattern, p in self.type_patterns:
                if any(p is q for q in seen):
                    continue
                seen.append(p)
                ks = [k for k, (_, q) in enumerate(self.type_patterns) if q is p]
                idx = np.flatnonzero(np.isin(assigned, ks))  # file order, several values per layout
                if len(idx):
                    groups.append((p, idx))
            unknown = np.flatnonzero(assigned < 0)
            for i in unknown.tolist():
                raw = rc.raw(i)
                tbytes = raw[tf.offset : tf.offset + tf.size]
                qrows.append(
                    self._qrow(
                        int(rc.record_no[i]),
                        int(rc.offsets[i]),
                        None,
                        tf.column,
                        "unknown_record_type",
                        f"type bytes {tbytes.hex().upper() or '(none)'}",
                        raw[: self.options.max_raw_bytes],
                        len(raw),
                    )
                )
        elif n:
            groups.append((self.data_plans[0], None))
        if self.segments.active:  # parents first: their records link the children
            groups.sort(key=lambda g: 0 if self.segments.is_parent(g[0].name) else 1)
            self.segments.start_chunk()
        for p, idx in groups:
            mat = rc.data if idx is None else rc.data[idx]
            lengths = rc.lengths if idx is None else rc.lengths[idx]
            recno = rc.record_no if idx is None else rc.record_no[idx]
            offs = rc.offsets if idx is None else rc.offsets[idx]
            if mat.shape[1] < p.size:
                mat = np.pad(mat, ((0, 0), (0, p.size - mat.shape[1])), constant_values=self.pad)
            cols, flags, gaiji, mapped, fbad, notes = self._decode_group(p, mat, lengths)
            good = ~flags.bad
            self._link = None
            if self.segments.active:
                if self.segments.is_parent(p.name):
                    self.segments.note_parents(p.name, recno, self._parent_keys(p, cols))
                if p.name in self.segments.parents:
                    prec, pkey, orphan = self.segments.link(p.name, recno)
                    for i in np.flatnonzero(orphan & good).tolist():
                        raw = mat[i, : int(lengths[i])].tobytes()
                        qrows.append(
                            self._qrow(
                                int(recno[i]),
                                int(offs[i]),
                                p.name,
                                None,
                                "orphan_segment",
                                f"no {self.segments.parents[p.name]} record before it",
                                raw[: self.options.max_raw_bytes],
                                len(raw),
                            )
                        )
                    good = good & ~orphan
                    self._link = (prec, pkey)
            ngood = int(np.count_nonzero(good))
            for r, col, reason, byte, raw in notes:
                if not good[r]:
                    continue  # the record is quarantined whole: its raw bytes are there
                frows.append(
                    finding_row(
                        self.file_name,
                        int(recno[r]),
                        int(offs[r]),
                        col,
                        reason,
                        byte,
                        raw,
                        f"byte {byte}",
                    )
                )
            s.gaiji_mapped += mapped
            # quarantine rows
            for i in np.flatnonzero(flags.bad).tolist():
                fi = int(flags.field[i])
                reason = REASONS[int(flags.reason[i])]
                raw = mat[i, : int(lengths[i])].tobytes()
                qrows.append(
                    self._qrow(
                        int(recno[i]),
                        int(offs[i]),
                        p.name,
                        p.fields[fi].column if fi >= 0 else None,
                        reason,
                        self._detail(
                            reason, int(flags.pos[i]), int(flags.code[i]), raw, int(lengths[i])
                        ),
                        raw[: self.options.max_raw_bytes],
                        len(raw),
                    )
                )
            # 外字 occurrences
            for rows, fi, codes, pos in gaiji:
                for r, c, q in zip(rows.tolist(), codes.tolist(), pos.tolist()):
                    self._unmapped_codes.add(c)
                    gparts.append(
                        {
                            "_file": self.file_name,
                            "_record": int(recno[r]),
                            "_offset": int(offs[r]),
                            "field": p.fields[fi].column,
                            "byte": int(q),
                            "legacy_code": f"{c:04X}",
                            "encoding": self.encoding,
                            "candidates": self._cands(c),
                        }
                    )
                s.gaiji_unmapped += len(rows)
            if p.role == "data":
                self._data_count += len(mat)
                for tf_, dp, df in self.total_fields:
                    if dp is not p:
                        continue
                    fi = p.fields.index(df)
                    arr = cols[fi]
                    while pa.types.is_list(arr.type):
                        arr = pc.list_flatten(arr)
                    total = pc.sum(arr).as_py()
                    acc = self._sums[tf_.column]
                    if total is not None:
                        with localcontext() as ctx:
                            ctx.prec = 80
                            acc[0] = acc[0] + total
                    acc[1] += int(np.count_nonzero(fbad[fi]))
                if ngood:
                    rb = self._batch(p, cols, good, ngood, recno, offs)
                    prev = batches.get(p.name)
                    batches[p.name] = rb if prev is None else _concat_batches(prev, rb)
                out += ngood
            elif ngood:
                rb = self._batch(p, cols, good, ngood, recno, offs)
                rows_ = rb.to_pylist()
                if p.role == "header":
                    self._headers.extend(rows_)
                    hdr += ngood
                else:
                    self._trailers.extend(rows_)
                    trl += ngood
            s.by_layout[p.name] = s.by_layout.get(p.name, 0) + len(mat)
        if self.segments.active:
            self.segments.end_chunk()
        qrows.sort(key=lambda r: r["_record"])  # file order, whatever the layout or framing problem
        q = _table(qrows, QUARANTINE_SCHEMA)
        for r in qrows:
            s.by_reason[r["reason"]] = s.by_reason.get(r["reason"], 0) + 1
        frows.sort(key=lambda r: (r["_record"], r["byte"] or 0))
        for r in frows:
            s.findings[r["reason"]] = s.findings.get(r["reason"], 0) + 1
        g = _table(gparts, GAIJI_SCHEMA)
        if gparts:
            self._gaiji_parts.append(g)
        records_in = rc.records_in
        s.records_in += records_in
        s.records_out += out
        s.header_records += hdr
        s.trailer_records += trl
        s.quarantined += len(qrows)
        s.bytes_read += rc.bytes_read
        for p in self.data_plans:
            if p.name not in batches:
                batches[p.name] = empty_batch(p.schema)
        first = int(rc.record_no[0]) if n else (rc.broken[0].record_no if rc.broken else -1)
        return DecodedChunk(
            batches, q, g, records_in, out, hdr, trl, len(qrows), rc.bytes_read, first, frows
        )

    def _batch(self, p: _Plan, cols, good, ngood, recno, offs) -> pa.RecordBatch:
        n = len(good)
        arrays = list(cols) + [
            repeat_string(self.file_name, n),
            np_array(recno.astype(np.int64), pa.int64()),
            np_array(offs.astype(np.int64), pa.int64()),
        ]
        if self._link is not None and p.name in self.segments.parents:
            prec, pkey = self._link
            arrays += [np_array(prec.astype(np.int64), pa.int64()), string_array(pkey)]
        rb = pa.RecordBatch.from_arrays(arrays, schema=p.schema)
        if ngood != n:
            rb = rb.filter(bool_array(good))
        return rb

    def _cands(self, code: int) -> list[str]:
        c = self._candidates.get(code)
        if c is None:
            from ikou.moji.gaiji import candidates_for

            try:
                c = candidates_for(self.encoding, code, self.gaiji)
            except Exception:
                c = []
            self._candidates[code] = c
        return c

    def _qrow(self, recno, offset, layout, fieldname, reason, detail, raw: bytes, length) -> dict:
        return {
            "_file": self.file_name,
            "_record": recno,
            "_offset": offset,
            "layout": layout,
            "field": fieldname,
            "reason": reason,
            "detail": detail,
            "raw_length": length,
            "raw_hex": raw.hex().upper(),
        }

    @staticmethod
    def _detail(reason: str, pos: int, code: int, raw: bytes, length: int) -> str:
        if reason == "record_too_short":
            return f"record has {length} bytes, layout needs {pos}"
        if reason == "record_too_long":
            return f"record has {length} bytes, layout holds {pos}"
        if reason == "blank_numeric":
            return f"byte {pos}: all spaces"
        if reason == "odo_out_of_range":
            return f"byte {pos}: count {code} outside the OCCURS range"
        if reason in _CODE_REASONS:
            return f"byte {pos}: code {code:04X}"
        if reason in _BYTE_REASONS and 0 <= pos < len(raw):
            return f"byte {pos}: 0x{raw[pos]:02X}"
        return f"byte {pos}"

    def _decode_nested(self, p: _Plan, mat: np.ndarray, lengths: np.ndarray):
        """A layout with OCCURS DEPENDING ON inside another OCCURS: each record walked once
        (ikou.mainframe.variable), then every field's elements decoded in one batch."""
        from ikou.mainframe.variable import walk_records

        opts = self.options
        n = len(mat)
        flags = _Flags(n)
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
                blank=opts.blank_numeric,
                trim=self.trim,
                float_format=opts.float_format,
            )
            mapped += el.gaiji_mapped
            if el.gaiji:  # unmapped 外字: element rows -> records, element bytes -> record bytes
                g = np.asarray(el.gaiji, dtype=np.int64)
                gaiji.append((recs[g[:, 0]], fi, g[:, 1], offs[g[:, 0]] + g[:, 2]))
            bad = el.bad != 0
            values = el.array
            rec_bad = np.zeros(n, bool)
            if bad.any() and p.null_bad[fi] and not f.lenient:
                nb = np.isin(el.bad, _FIELD_CODES)  # --bad-field null: the element is null
                for k in np.flatnonzero(nb).tolist():
                    r, o = int(recs[k]), int(offs[k])
                    raw = mat[r, o : o + f.size].tobytes()
                    notes.append((r, f.column, REASONS[int(el.bad[k])], o + int(el.pos[k]), raw))
                values = _null_where(values, nb)
                rec_bad[recs[nb]] = True  # sums over this field are unverified
                bad = bad & ~nb
            if bad.any():
                if f.lenient:
                    values = _null_where(values, bad)
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

    def _decode_group(self, p: _Plan, mat: np.ndarray, lengths: np.ndarray):
        if p.layout.nested_odo:
            return self._decode_nested(p, mat, lengths)
        opts = self.options
        n = len(mat)
        flags = _Flags(n)
        counts: list[np.ndarray] = []
        layout = p.layout
        notes: list[tuple] = []  # findings: (row, field column, reason, byte in record, raw)
        trim, ffmt = self.trim, opts.float_format

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
                _gather(mat, dep.offset + shift_of(dep), dep.size),
                dep,
                self.tables,
                money=False,
                blank=opts.blank_numeric,
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
            for dep in [*p.odo_deps, *self._segment_keys.get(p.name, [])]:
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
                    _gather(mat, base, f.size),
                    f,
                    self.tables,
                    money=p.money[fi],
                    blank=opts.blank_numeric,
                    trim=trim,
                    float_format=ffmt,
                )
                bad = el.bad
                arr = el.array
                rec_pos = base + el.pos
                code = el.code_at_pos
                if p.null_bad[fi] and not f.lenient and bad.any():
                    nb = np.isin(bad, _FIELD_CODES)
                    if nb.any():
                        arr = _null_where(arr, nb)
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
                rel, idxs = _element_grid(f.dims)
                E = len(rel)
                el = decode_elements(
                    _gather(mat, base, f.size, rel),
                    f,
                    self.tables,
                    money=p.money[fi],
                    blank=opts.blank_numeric,
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
                    nb = np.isin(ebad, _FIELD_CODES) & exist.ravel()
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
                        el.array = _null_where(el.array, nb)
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
                    values = _null_where(values, el.bad != 0)
                if not exist.all():
                    values = values.filter(bool_array(exist.ravel()))
                arr = _nest_lists(values, n, f.dims, counts_by_dim)
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
                    arr = _null_where(arr, miss)
                    bad = np.where(miss, 0, bad).astype(np.uint8)
                    for r in np.flatnonzero(miss & ~short_noted).tolist():
                        notes.append((r, f.column, "short_record", int(lengths[r]), b""))
                    short_noted |= miss
            mapped += el.gaiji_mapped
            if f.lenient:
                if bad.any() and not f.dims:
                    arr = _null_where(arr, bad != 0)
                fbad.append(np.zeros(n, bool))
            else:
                flags.set(bad != 0, bad, fi, rec_pos, code)
                fbad.append((bad != 0) if nulled is None else ((bad != 0) | nulled))
            cols.append(arr)
        return cols, flags, gaiji, mapped, fbad, notes

    # ------------------------------------------------------------------------ end

    def _finish(self) -> None:
        s = self.summary
        if self._headers:
            s.header = self._headers[0]
        if self._trailers:
            s.trailer = self._trailers[-1]
        s.trailers_seen = len(self._trailers)
        s.gaiji_codes = sorted(f"{c:04X}" for c in self._unmapped_codes)
        s.data_records = self._data_count
        s.record_count_field = self.count_field.column if self.count_field is not None else None
        s.control_sums = {
            tf.column: {
                "data_field": df.column,
                "sum": self._sums.get(tf.column, [0, 0])[0],
                "unreadable": self._sums.get(tf.column, [0, 0])[1],
            }
            for tf, _dp, df in self.total_fields
        }
        s.trailer_checks = _trailer_checks(s)

    def gaiji_occurrences(self) -> pa.Table:
        """Every unmapped 外字 occurrence seen so far (columns: GAIJI_SCHEMA)."""
        if not self._gaiji_parts:
            return _table([], GAIJI_SCHEMA)
        return pa.concat_tables(self._gaiji_parts)


def _trailer_checks(s: "DecodeSummary") -> list:
    """Trailer control totals from a summary's counts, sums and (last) trailer record."""
    checks = []
    if s.header_declared and s.header_records == 0:
        checks.append(TrailerCheck("header", "", None, 1, 0, False, "no header record"))
    if s.trailer_declared and s.trailer_records == 0 and s.record_count_field is None:
        checks.append(TrailerCheck("trailer", "", None, 1, 0, False, "no trailer record"))
    if s.record_count_field is None and not s.control_sums:
        return checks
    tr = s.trailer
    note = "" if s.trailers_seen <= 1 else f"{s.trailers_seen} trailer records, the last one used"
    if s.record_count_field is not None:
        exp = tr.get(s.record_count_field) if tr else None
        act = s.data_records
        ok = tr is not None and exp is not None and int(exp) == act
        checks.append(
            TrailerCheck(
                "record_count",
                s.record_count_field,
                None,
                exp,
                act,
                ok,
                "no trailer record" if tr is None else note,
            )
        )
    for tfield, acc in s.control_sums.items():
        exp = tr.get(tfield) if tr else None
        act = acc["sum"]
        detail = note
        if acc["unreadable"]:
            detail = (
                detail + "; " if detail else ""
            ) + f"{acc['unreadable']} data records with an unreadable {acc['data_field']}"
        same = tr is not None and exp is not None and Decimal(str(exp)) == Decimal(str(act))
        ok = same and acc["unreadable"] == 0
        # a total over unreadable values can be neither confirmed nor refuted
        state = (
            "ok" if ok else ("unverified" if tr is not None and acc["unreadable"] else "mismatch")
        )
        checks.append(
            TrailerCheck(
                "sum",
                tfield,
                acc["data_field"],
                exp,
                act,
                ok,
                "no trailer record" if tr is None else detail,
                state,
            )
        )
    return checks


def merge_summaries(parts: list["DecodeSummary"]) -> "DecodeSummary":
    """One summary for a file decoded in byte ranges (pass the parts in file order).

    Counts and sums add up; the header comes from the first part that has one, the trailer from
    the last; the trailer checks are computed again over the whole file. ``seconds`` is the
    longest part (the parts run in parallel).
    """
    if not parts:
        raise ValueError("no summaries to merge")
    first = parts[0]
    m = DecodeSummary(first.file, first.encoding, first.recfm, first.lrecl)
    m.record_count_field = first.record_count_field
    m.header_declared = any(p.header_declared for p in parts)
    m.trailer_declared = any(p.trailer_declared for p in parts)
    sums: dict = {}
    codes: set = set()
    with localcontext() as ctx:
        ctx.prec = 80
        for p in parts:
            for k in (
                "records_in",
                "records_out",
                "header_records",
                "trailer_records",
                "quarantined",
                "bytes_read",
                "gaiji_mapped",
                "gaiji_unmapped",
                "data_records",
                "trailers_seen",
            ):
                setattr(m, k, getattr(m, k) + getattr(p, k))
            for k, v in p.by_reason.items():
                m.by_reason[k] = m.by_reason.get(k, 0) + v
            for k, v in p.by_layout.items():
                m.by_layout[k] = m.by_layout.get(k, 0) + v
            for k, v in p.findings.items():
                m.findings[k] = m.findings.get(k, 0) + v
            for k, acc in p.control_sums.items():
                cur = sums.setdefault(
                    k, {"data_field": acc["data_field"], "sum": 0, "unreadable": 0}
                )
                cur["sum"] = cur["sum"] + acc["sum"]
                cur["unreadable"] += acc["unreadable"]
            if m.header is None and p.header is not None:
                m.header = p.header
            if p.trailer is not None:
                m.trailer = p.trailer
            codes.update(p.gaiji_codes)
    m.control_sums = sums
    m.gaiji_codes = sorted(codes)
    m.seconds = max(p.seconds for p in parts)
    m.complete = all(p.complete for p in parts)
    m.trailer_checks = _trailer_checks(m)
    return m


def _null_where(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    return null_where(arr, mask)


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """A small table from row dicts (quarantine / 外字 rows), built column by column."""
    if not rows:
        return pa.Table.from_batches([], schema=schema)
    cols = []
    for f in schema:
        vals = [r.get(f.name) for r in rows]
        if pa.types.is_string(f.type):
            cols.append(string_array(vals))
        elif pa.types.is_int64(f.type):
            valid = np.fromiter((v is not None for v in vals), bool, count=len(vals))
            arr = np.fromiter((0 if v is None else v for v in vals), np.int64, count=len(vals))
            cols.append(np_array(arr, pa.int64(), None if valid.all() else valid))
        elif pa.types.is_list(f.type):
            flat = [x for v in vals for x in (v or [])]
            offs = np.zeros(len(vals) + 1, np.int32)
            np.cumsum([len(v or []) for v in vals], out=offs[1:])
            cols.append(pa.ListArray.from_arrays(np_array(offs, pa.int32()), string_array(flat)))
        else:  # pragma: no cover - the schemas above hold strings, int64 and lists only
            raise TypeError(f.type)
    return pa.Table.from_arrays(cols, schema=schema)


def _concat_batches(a: pa.RecordBatch, b: pa.RecordBatch) -> pa.RecordBatch:
    return pa.Table.from_batches([a, b]).combine_chunks().to_batches()[0]


def decode_file(
    source, copybook: Copybook, options: DecodeOptions | None = None, **overrides
) -> Decoding:
    """Decode ``source`` (a path, a binary file object or bytes) with ``copybook``.

    Returns a :class:`Decoding`: iterate it for :class:`DecodedChunk` s; ``.summary`` (a
    :class:`DecodeSummary`) is complete once the iteration ends. Keyword overrides are applied
    to ``options`` (``decode_file(p, cb, encoding="cp939", recfm="VB")``).
    Raises ValueError for options that do not fit the copybook, RecordFormatError when the file
    does not fit the record format, OSError when it cannot be read.
    """
    opts = options or DecodeOptions()
    if overrides:
        from dataclasses import replace

        opts = replace(opts, **overrides)
    return Decoding(source, copybook, opts)


def decode_to_parquet(
    src_path,
    copybook: Copybook,
    options: DecodeOptions | None,
    out_path,
    quarantine_path=None,
    *,
    gaiji_path=None,
    compression: str = "zstd",
    findings_path=None,
) -> DecodeSummary:
    """Decode a file to Parquet (one file per data layout), quarantine JSONL, 外字 Parquet.

    ``out_path``: with one data layout that file; with several, ``<stem>.<LAYOUT><suffix>``
    beside it. ``quarantine_path`` defaults to ``out_path + ".quarantine.jsonl"`` and is always
    written (empty when nothing was quarantined). ``gaiji_path``: the unmapped 外字 occurrences
    (Parquet), written when given. ``findings_path``: field findings (JSONL, raw bytes: put it
    beside the quarantine), written when given. Files are written to a temporary name and
    renamed at the end.
    """
    from ikou.mainframe.output import ParquetSink, QuarantineSink

    run = decode_file(src_path, copybook, options)
    out_path = Path(out_path)
    qpath = Path(quarantine_path) if quarantine_path else Path(str(out_path) + ".quarantine.jsonl")
    sinks = ParquetSink.for_layouts(
        out_path, {n: run.schema(n) for n in run.data_layouts}, compression
    )
    qs = QuarantineSink(qpath)
    fs = FindingsSink(findings_path) if findings_path is not None else None
    try:
        for chunk in run:
            for name, rb in chunk.batches.items():
                sinks[name].write(rb)
            qs.write(chunk.quarantine)
            if fs is not None:
                fs.write_rows(chunk.findings)
        for s in sinks.values():
            s.commit()
        qs.commit()
        if fs is not None:
            fs.commit()
        if gaiji_path is not None:
            import pyarrow.parquet as pq

            gp = Path(gaiji_path)
            tmp = gp.with_name(gp.name + ".tmp")
            pq.write_table(run.gaiji_occurrences(), tmp)
            os.replace(tmp, gp)
    except BaseException:
        for s in sinks.values():
            s.abort()
        qs.abort()
        if fs is not None:
            fs.abort()
        raise
    return run.summary
