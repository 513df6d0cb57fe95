"""Decode a legacy file with a copybook: chunks of Arrow record batches + quarantine + summary.

    run = decode_file("JUKI.DAT", copybook, DecodeOptions(encoding="cp930", recfm="FB"))
    for chunk in run:                      # bounded memory: one chunk of records at a time
        write(chunk.batch)                 # pyarrow.RecordBatch of the good data records
        keep(chunk.quarantine)             # pyarrow.Table, one row per bad record
    summary = run.summary                  # DecodeSummary: accounting, trailer checks, 外字

See the package docstring (:mod:`ikou.mainframe`) for the whole picture.

This module is the run itself: :class:`Decoding` reads the file in chunks, classifies each
record by its layout, decodes each layout's records (:mod:`ikou.mainframe.engine_fields`),
quarantines the bad ones and keeps the accounting. The options are in
:mod:`ikou.mainframe.engine_options`, the layouts in use in :mod:`ikou.mainframe.engine_plans`,
the chunk and summary types in :mod:`ikou.mainframe.engine_results`.
A little over 500 lines on purpose: the chunk loop is one pass over a chunk's layouts that
keeps the run's accounting (records in = out + header + trailer + quarantined); split further, the
run's counters would be handed across modules.
"""

from __future__ import annotations

import io
import os
import time
from decimal import localcontext
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

from ikou.errors import BadArgument
from ikou.mainframe.copybook import Copybook
from ikou.mainframe.decode import (
    FLOAT_FORMATS,
    REASONS,
    TRIMS,
    TextTables,
    bool_array,
    empty_batch,
    np_array,
    pc,
    repeat_string,
    string_array,
)
from ikou.mainframe.engine_fields import FieldDecoder
from ikou.mainframe.engine_options import BAD_FIELD_POLICIES, DecodeOptions
from ikou.mainframe.engine_plans import LayoutPlans, Plan
from ikou.mainframe.engine_results import (
    GAIJI_SCHEMA,
    QUARANTINE_SCHEMA,
    DecodedChunk,
    DecodeSummary,
    quarantine_detail,
    rows_table,
    trailer_checks,
)
from ikou.mainframe.findings import FindingsSink, finding_row
from ikou.mainframe.reader import RECFMS, RecordChunk, RecordFormatError, iter_record_chunks
from ikou.mainframe.structure import check_structure, framing_for, short_records_allowed

__all__ = ["Decoding", "decode_file", "decode_to_parquet"]


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
        self.layouts = layouts = LayoutPlans(
            opts, copybook, self.encoding, self.codepage, self.recfm
        )
        self.plans = layouts.plans
        self.data_plans = layouts.data_plans
        self.type_field, self.type_patterns = layouts.type_field, layouts.type_patterns
        self.lrecl = layouts.lrecl
        self.count_field, self.total_fields = layouts.count_field, layouts.total_fields
        self.length_field, self.segments = layouts.length_field, layouts.segments
        self.segment_keys = layouts.segment_keys
        self.fields = FieldDecoder(
            self.tables,
            self.trim,
            opts.blank_numeric,
            opts.float_format,
            self.recfm,
            self.short_ok,
            layouts.segment_keys,
        )
        self._link = None
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

    def _parent_keys(self, p: Plan, cols: list) -> list:
        """Per record of a parent group: its key (fields joined by '|'), None when unreadable."""
        n = len(cols[0]) if cols else 0
        fields_ = self.segment_keys.get(p.name) or []
        if not fields_:
            return [None] * n
        vals = [cols[p.fields.index(f)].to_pylist() for f in fields_]
        return [
            None if any(v is None for v in row) else "|".join(str(v) for v in row)
            for row in zip(*vals)
        ]

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
        # classify: each record's layout (records of no known type are quarantined)
        groups, unknown = self.layouts.classify(rc)
        tf = self.type_field
        for i in unknown.tolist():
            raw = rc.raw(i)
            tbytes = raw[tf.offset : tf.offset + tf.size] if tf is not None else b""
            qrows.append(
                self._qrow(
                    int(rc.record_no[i]),
                    int(rc.offsets[i]),
                    None,
                    tf.column if tf is not None else None,
                    "unknown_record_type",
                    f"type bytes {tbytes.hex().upper() or '(none)'}",
                    raw[: self.options.max_raw_bytes],
                    len(raw),
                )
            )
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
            cols, flags, gaiji, mapped, fbad, notes = self.fields.decode_group(p, mat, lengths)
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
                        quarantine_detail(
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
        q = rows_table(qrows, QUARANTINE_SCHEMA)
        for r in qrows:
            s.by_reason[r["reason"]] = s.by_reason.get(r["reason"], 0) + 1
        frows.sort(key=lambda r: (r["_record"], r["byte"] or 0))
        for r in frows:
            s.findings[r["reason"]] = s.findings.get(r["reason"], 0) + 1
        g = rows_table(gparts, GAIJI_SCHEMA)
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

    def _batch(self, p: Plan, cols, good, ngood, recno, offs) -> pa.RecordBatch:
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
        s.trailer_checks = trailer_checks(s)

    def gaiji_occurrences(self) -> pa.Table:
        """Every unmapped 外字 occurrence seen so far (columns: GAIJI_SCHEMA)."""
        if not self._gaiji_parts:
            return rows_table([], GAIJI_SCHEMA)
        return pa.concat_tables(self._gaiji_parts)


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
