"""What a decoding run yields: chunks, quarantine and 外字 rows, the summary with its trailer checks.

:class:`DecodedChunk` is one chunk of a file; :class:`DecodeSummary` the file's accounting
(``records_in = out + header + trailer + quarantined``); :func:`merge_summaries` joins the
summaries of a file decoded in byte ranges. The rows of the quarantine and of the 外字
occurrences have the schemas :data:`QUARANTINE_SCHEMA` and :data:`GAIJI_SCHEMA`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal, localcontext
from typing import Mapping

import numpy as np
import pyarrow as pa

from ikou.mainframe.decode import np_array, string_array

__all__ = [
    "DecodedChunk",
    "DecodeSummary",
    "GAIJI_SCHEMA",
    "QUARANTINE_SCHEMA",
    "TrailerCheck",
    "merge_summaries",
    "quarantine_detail",
    "rows_table",
    "trailer_checks",
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


def trailer_checks(s: "DecodeSummary") -> list:
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
    m.trailer_checks = trailer_checks(m)
    return m


def rows_table(rows: list[dict], schema: pa.Schema) -> pa.Table:
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


def quarantine_detail(reason: str, pos: int, code: int, raw: bytes, length: int) -> str:
    """The ``detail`` of a quarantine row: where in the record, and which byte or code."""
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
