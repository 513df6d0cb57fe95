"""``ikou decode --hex [--limit N]``: the first N records of a file, field by field, with their raw
bytes — for the engineer who must see why a record decodes as it does (an RDW convention, an
offset, a sign nibble, a code page).

Each record: its number, byte offset, length, layout (chosen by the record-type field as the
decoder chooses it) and what the decode does with it (kept, header / trailer, or quarantined
with the reason); then one line per field: offset in the record, size, type and picture (from
the copybook layout report, :mod:`ikou.mainframe.layout_report`), the decoded value and the hex
of the field's bytes. Values come from decoding that one record alone with the file's options
(a field that cannot be decoded shows null and the reason, instead of costing its record).

The records hold personal data: this prints to the terminal only and writes no file, log or
report (``ikou decode`` refuses ``--hex`` with an output).
"""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from math import prod
from typing import TextIO

from ikou.mainframe.layout_report import layout_rows
from ikou.mainframe.reader import iter_record_chunks
from ikou.mainframe.structure import framing_for

__all__ = ["DEFAULT_LIMIT", "RawRecord", "raw_records", "show_records"]

#: records shown by --hex without --limit
DEFAULT_LIMIT = 10
#: hex digits of one field shown before the rest is counted ("… +N bytes")
HEX_BYTES = 64


@dataclass
class RawRecord:
    """One record as the framing reads it: the layout's bytes (record offsets removed)."""

    number: int  # 0-based record number in the file
    offset: int  # byte offset of the record (its RDW for V / VB)
    data_offset: int  # byte offset of the layout's first byte
    raw: bytes
    broken: str = ""  # framing problem (truncated_record, bad_rdw ...) of a broken record
    length: int = 0  # bytes a broken record spans


def raw_records(run, limit: int) -> list[RawRecord]:
    """The first ``limit`` records of the decoding ``run``'s file, framed as the decoder frames
    them (same RECFM, LRECL, file / record offsets, RDW conventions, decompression)."""
    got: list[RawRecord] = []
    opts = run.options
    with open(run.source, "rb") as fh:
        for rc in iter_record_chunks(
            fh,
            run.recfm,
            run.lrecl,
            chunk_bytes=min(opts.chunk_bytes, 1 << 20),
            max_raw_bytes=opts.max_raw_bytes,
            framing=framing_for(opts, run.codepage, run.length_field),
        ):
            rows = [
                RawRecord(
                    int(rc.record_no[i]), int(rc.offsets[i]), int(rc.data_offsets[i]), rc.raw(i)
                )
                for i in range(len(rc))
            ] + [
                RawRecord(b.record_no, b.offset, b.offset, b.raw, b.reason or "broken", b.length)
                for b in rc.broken
            ]
            got.extend(sorted(rows, key=lambda r: r.number))
            if len(got) >= limit:
                break
    return sorted(got, key=lambda r: r.number)[:limit]


def record_layout(run, raw: bytes) -> str | None:
    """The layout the decoder chooses for a record (None: an unknown record type)."""
    tf = run.type_field
    if tf is None:
        return run.data_plans[0].name
    if len(raw) <= tf.offset:
        return None
    value = raw[tf.offset : tf.offset + tf.size].ljust(tf.size, bytes([run.pad]))
    for pattern, plan in run.type_patterns:
        if value == pattern:
            return plan.name
    return None


def record_status(run, limit: int) -> dict[int, str]:
    """What the real decode does with the first records: {record number: "quarantined: …"};
    records not listed are kept (data, header or trailer). Reads only the first chunks."""
    status: dict[int, str] = {}
    for chunk in run:
        q = chunk.quarantine
        if q.num_rows:
            for rec, reason, fld, detail in zip(
                q.column("_record").to_pylist(),
                q.column("reason").to_pylist(),
                q.column("field").to_pylist(),
                q.column("detail").to_pylist(),
            ):
                if rec < limit:
                    where = f" {fld}" if fld else ""
                    status[rec] = f"quarantined: {reason}{where}" + (
                        f" ({detail})" if detail else ""
                    )
        if chunk.first_record + chunk.records_in >= limit:
            break
    return status


@dataclass
class _Decoded:
    values: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)  # column -> reason
    note: str = ""


def decode_alone(run, layout: str, raw: bytes) -> _Decoded:
    """Decode one record's bytes with the file's options as ``layout`` alone (no record types,
    trailer checks or segments); a field that cannot be decoded is null with its reason."""
    from ikou.mainframe.engine import Decoding

    plan = run.plans[layout]
    fixed = len(raw) >= plan.size
    o = run.options
    mine = run.copybook.record(layout)

    def here(names) -> tuple:  # the file's field lists, for the fields of this layout
        return tuple(n for n in names if mine.matching(n))

    opts = replace(
        o,
        mixed_fields=here(o.mixed_fields),
        sbcs_fields=here(o.sbcs_fields),
        money_fields=here(o.money_fields),
        recfm="F" if fixed else "V",
        lrecl=len(raw) if fixed else None,
        layout=layout,
        record_type_field=None,
        record_types={},
        header_layouts=(),
        trailer_layouts=(),
        record_count_field=None,
        control_totals={},
        bad_field="null",
        bad_fields={name: "null" for name in here(dict(o.bad_fields))},
        blank_numeric="null",
        segment_parents={},
        segment_keys={},
        rdw_adjust=0,
        bdw_adjust=0,
        rdw_endian="big",
        record_length_field=None,
        file_start_offset=0,
        file_end_offset=0,
        record_start_offset=0,
        record_end_offset=0,
        byte_range=None,
        file_name="<record>",
        codepage=run.codepage,
        gaiji=run.gaiji,
    )
    if not fixed and len(raw) + 4 > 0x7FFF:
        return _Decoded(note="record too long to decode alone")
    data = raw if fixed else (len(raw) + 4).to_bytes(2, "big") + b"\0\0" + raw
    out = _Decoded()
    try:
        for chunk in Decoding(io.BytesIO(data), run.copybook, opts):
            batch = chunk.batches.get(plan.name)
            if batch is not None and batch.num_rows:
                out.values = {k: v[0] for k, v in batch.to_pydict().items()}
            for row in chunk.findings or ():
                out.problems.setdefault(row.get("field"), row.get("reason"))
            q = chunk.quarantine
            if q.num_rows:
                out.note = f"{q.column('reason')[0].as_py()} {q.column('field')[0].as_py() or ''}"
    except Exception as exc:  # noqa: BLE001 - the record stays shown as bytes
        out.note = f"cannot decode alone: {type(exc).__name__}"
    return out


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (full-width characters take two)."""
    cols = sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)
    return text + " " * max(width - cols, 0)


def _value(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return str(v)
    return json.dumps(v, ensure_ascii=False, default=str)


def _hex(b: bytes) -> str:
    if len(b) <= HEX_BYTES:
        return b.hex(" ").upper() if b else "(none)"
    return b[:HEX_BYTES].hex(" ").upper() + f" … +{len(b) - HEX_BYTES} bytes"


def field_lines(run, layout: str, raw: bytes, decoded: _Decoded) -> Iterator[str]:
    """One line per field of ``layout``: offset, size, type/picture, value, hex."""
    plan = run.plans[layout]
    lay = plan.layout
    report = {
        (r["record"], r["line"], r["name"]): r
        for r in layout_rows(run.copybook)
        if r["record"] == lay.record.name
    }
    counts = {}
    for t, (dim, _, _) in enumerate(lay.odo):
        dep = lay.field(dim.depends_on) if dim.depends_on in lay else None
        v = decoded.values.get(dep.column) if dep is not None else None
        try:
            counts[t] = min(max(int(v), 0), dim.max) if v is not None else dim.max
        except (TypeError, ValueError):
            counts[t] = dim.max
    for f in lay.data_fields:
        r = report.get((lay.record.name, f.line, f.name), {})
        offset = f.offset + sum(
            (counts[t] - lay.odo[t][0].max) * lay.odo[t][0].stride for t in f.shifts
        )
        ns = []  # each dimension's element count in this record
        for d in f.dims:
            n = d.max
            if d.depends_on:
                t = next((i for i, x in enumerate(lay.odo) if x[0] is d), None)
                n = counts.get(t, d.max) if t is not None else d.max
            ns.append(max(n, 0))
        elements = prod(ns)
        extent = f.size + sum((n - 1) * d.stride for n, d in zip(ns, f.dims)) if elements else 0
        kind = r.get("type", f.kind)
        pic = r.get("picture", f.pic) or ""
        usage = r.get("usage", f.usage)
        typ = f"{kind} {pic}".strip() + (
            f" {usage.upper()}" if usage not in (None, "display", kind) else ""
        )
        problem = decoded.problems.get(f.column) or decoded.problems.get(f.name)
        value = _value(decoded.values.get(f.column)) if decoded.values else "—"
        if problem:
            value += f"  [{problem}]"
        yield (
            f"  {offset:>6} {f.size:>5}{'×' + str(elements) if f.dims else '':<5} "
            f"{f.column:<28} {typ:<22} {_pad(value, 28)} {_hex(raw[offset : offset + extent])}"
        )


def show_records(run, limit: int, out: TextIO) -> int:
    """Print the first ``limit`` records of ``run`` field by field; returns how many."""
    records = raw_records(run, limit)
    status = record_status(run, limit)
    roles = {name: p.role for name, p in run.plans.items()}
    print(
        f"{run.file_name}: first {len(records)} record(s), {run.encoding}, {run.recfm}"
        + (f", LRECL {run.lrecl}" if run.lrecl else "")
        + " — offsets in the record from 0, file offsets in bytes",
        file=out,
    )
    for rec in records:
        if rec.broken:
            print(
                f"record {rec.number} @ {rec.offset}: {rec.broken}, {rec.length} bytes — "
                f"{status.get(rec.number, 'quarantined')}",
                file=out,
            )
            print(f"  {_hex(rec.raw)}", file=out)
            continue
        layout = record_layout(run, rec.raw)
        state = status.get(rec.number) or (
            "kept" if layout is None else ("kept" if roles[layout] == "data" else roles[layout])
        )
        print(
            f"record {rec.number} @ {rec.offset} (layout bytes from {rec.data_offset}), "
            f"{len(rec.raw)} bytes, layout {layout or '?'}: {state}",
            file=out,
        )
        if layout is None:
            print(f"  {_hex(rec.raw)}", file=out)
            continue
        decoded = decode_alone(run, layout, rec.raw)
        if decoded.note:
            print(f"  ({decoded.note.strip()})", file=out)
        print(
            f"  {'offset':>6} {'size':>5}{'':<5} {'field':<28} {'type / picture':<22} "
            f"{'value':<28} hex",
            file=out,
        )
        for line in field_lines(run, layout, rec.raw, decoded):
            print(line.rstrip(), file=out)
    return len(records)
