"""The cleanse stage in parts (issue 13 §2): a large legacy file cleansed in record ranges.

A part is a range of records [start, end) of one file's extracted Parquet (``raw/``), not a hash
of a key: the rules and checks work on one record at a time (:func:`ikou.cleanse.stage.cleanse_table`
holds no state across records but a cache of distinct values), and ranges keep the file's order,
so the merge streams the parts one after the other into the file's output (one row group at a
time, never the whole file) and the result is the whole file's, row for row.

* :func:`row_ranges`: the ranges of a file (``IKOU_CLEANSE_PART_ROWS`` records each, at most
  ``IKOU_CLEANSE_MAX_PARTS``); a file of at most one part's records is cleansed whole.
* :func:`cleanse_range`: one range cleansed into local files — the cleansed rows, the ledger and
  the values ledger (one row group per field and rule: the merge puts them in the whole file's
  order, :func:`ikou.cleanse.stage.ledger_order`) — and its findings (in blocks with their
  order, :meth:`ikou.findings.Findings.merge`). A part task stores them under
  ``cleansed/{d}/{run}/_parts/{FILE}/part-NNNNN.*`` (:func:`store_part`; kept and listed in the
  cleansed manifest, :func:`manifest_entries`, as extract keeps its parts); the cleanse task
  fetches and checks them (:func:`fetch_part`, :func:`check_parts`), or cleanses a small file
  whole the same way, in one range.
* :func:`write_file`: the file's parts into its output (with 名寄せ's map applied to the columns
  it changes, computed over those columns of the whole file, :func:`narrow_columns`), its ledger
  and values ledger.

名寄せ (:func:`ikou.stages.cleanse.dedupe_master`) is not split: its blocking rules (name, kana,
birth date, address …) share no single key, so candidate pairs cross every split of the records;
it runs in the cleanse task over the master's dedupe columns only, read from the parts.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ikou.cleanse.stage import LEDGER_SCHEMA, VALUES_SCHEMA, cleanse_table
from ikou.findings import Findings
from ikou.pipeline import CleansePart, CleansePartResult
from ikou.stages.common import StageError, dumps, positive_setting, tiled
from ikou.storage import Store, join, sha256_file, zone_uri

#: a legacy file of more records is cleansed in ranges of this many (IKOU_CLEANSE_PART_ROWS)
CLEANSE_PART_ROWS = 500_000
#: at most this many ranges per file (IKOU_CLEANSE_MAX_PARTS)
CLEANSE_MAX_PARTS = 16
#: what a part writes: its cleansed rows, ledger, values ledger and meta (counts, findings)
KINDS = ("table", "ledger", "values", "meta")
#: the column of a file's global row number while 名寄せ's map is applied (never published)
ROW = "__ikou_row"


def part_settings() -> tuple[int, int]:
    """(records per part, most parts per file) from the environment."""
    return positive_setting(
        "IKOU_CLEANSE_PART_ROWS", CLEANSE_PART_ROWS, "records/parts"
    ), positive_setting("IKOU_CLEANSE_MAX_PARTS", CLEANSE_MAX_PARTS, "records/parts")


def row_ranges(rows: int, part_rows: int, max_parts: int) -> list[tuple[int, int]]:
    """Ranges [start, end) of about ``part_rows`` records tiling ``rows`` (at most
    ``max_parts``); none for a file of at most ``part_rows`` records (cleansed whole)."""
    if rows <= part_rows:
        return []
    n = min(max_parts, -(-rows // part_rows))
    bounds = [rows * i // n for i in range(n + 1)]
    return list(zip(bounds, bounds[1:]))


def part_prefix(domain: str, run_id: str, file: str) -> str:
    """Where the parts of a file wait for the cleanse task: the run's cleansed prefix (the
    restricted zone, as what it publishes), listed in its manifest, as extract's parts."""
    return join(zone_uri("cleansed", domain, run_id), f"_parts/{file}/")


@dataclass
class LocalPart:
    """One cleansed range of a file as local files."""

    index: int
    start: int
    end: int
    table: Path
    ledger: Path
    values: Path
    entries: list[tuple[str, str, int]]  # (field, rule, ledger rows): the ledgers' row groups
    problems: dict
    stats: dict
    findings: Findings

    @property
    def records_in(self) -> int:
        return self.end - self.start

    def meta(self) -> dict:
        return {
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "entries": [list(e) for e in self.entries],
            "problems": self.problems,
            "stats": self.stats,
            "findings": self.findings.state(),
        }


def read_rows(path: Path, start: int, end: int):
    """Rows [start, end) of a Parquet file: only the row groups they are in are read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    groups, at = [], 0
    for i in range(pf.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        if at < end and at + n > start:
            groups.append((i, at))
        at += n
    if not groups:
        return pf.schema_arrow.empty_table()
    t = pa.concat_tables([pf.read_row_group(i) for i, _ in groups])
    return t.slice(start - groups[0][1], end - start)


def fetch_rows(store: Store, uri: str, size: int, etag: str, start: int, end: int, work: Path):
    """Rows [start, end) of a stored Parquet file of ``size`` bytes: only its footer and the row
    groups the rows are in are fetched (into a sparse local copy at their offsets), never the
    whole file — eight parts of a 3.8M-record file read it about once, not eight times.
    ``etag``: the version :func:`ikou.stages.cleanse.plan` checked (a changed file fails)."""
    import shutil
    import struct

    import pyarrow.parquet as pq

    local = work / "rows.parquet"
    with open(local, "wb") as fh:
        fh.truncate(size)

    def put(a: int, b: int) -> None:
        piece = store.get_range(uri, a, b, work / "range.bin", etag)
        with open(local, "r+b") as fh, open(piece, "rb") as src:
            fh.seek(a)
            shutil.copyfileobj(src, fh, 8 << 20)
        piece.unlink()

    tail = store.get_range(uri, size - 8, size, work / "range.bin", etag).read_bytes()
    if len(tail) != 8 or tail[4:] != b"PAR1":
        raise StageError(f"{uri}: not a Parquet file")
    put(size - 8 - struct.unpack("<I", tail[:4])[0], size)
    meta = pq.read_metadata(local)
    lo, hi, at = size, 0, 0
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        if at < end and at + rg.num_rows > start:
            for j in range(rg.num_columns):
                c = rg.column(j)
                first = c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
                lo, hi = min(lo, first), max(hi, first + c.total_compressed_size)
        at += rg.num_rows
    if hi > lo:
        put(lo, hi)
    return read_rows(local, start, end), meta.num_rows


def _ledger_runs(ledger) -> list[tuple[str, str, int]]:
    """The (field, rule, rows) runs of a ledger (cleanse_table writes one run per field and
    rule that changed something)."""
    import numpy as np
    import pyarrow.compute as pc

    if ledger.num_rows == 0:
        return []
    key = pc.binary_join_element_wise(ledger.column("field"), ledger.column("rule"), "\x1f")
    enc = pc.dictionary_encode(key.combine_chunks())
    idx = enc.indices.to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(idx)) + 1])
    ends = np.append(starts[1:], len(idx))
    names = enc.dictionary.to_pylist()
    out = []
    for s, e in zip(starts.tolist(), ends.tolist()):
        field, rule = names[idx[s]].split("\x1f")
        out.append((field, rule, e - s))
    return out


def _write_runs(table, runs: list[tuple[str, str, int]], path: Path, schema) -> None:
    """A ledger table with one row group per run (the merge reorders whole row groups)."""
    import pyarrow.parquet as pq

    with pq.ParquetWriter(path, schema, compression="zstd") as w:
        at = 0
        for _f, _r, n in runs:
            w.write_table(table.slice(at, n), row_group_size=n)
            at += n


def cleanse_range(table, d, lf, city, findings: Findings, work: Path, stem: str, index: int,
                  first_row: int) -> LocalPart:  # fmt: skip
    """Cleanse records [first_row, first_row + len(table)) of a file into local files
    ``work/{stem}.*`` (see the module docstring); ``findings`` receives the range's."""
    import pyarrow.parquet as pq

    res = cleanse_table(table, d, lf, findings, context=city, first_row=first_row)
    if res.table.num_rows != table.num_rows:  # cleansing drops nothing: in = out
        raise StageError(
            f"{lf.name} records {first_row}–{first_row + table.num_rows}: "
            f"{table.num_rows} in, {res.table.num_rows} out"
        )
    work.mkdir(parents=True, exist_ok=True)
    paths = {k: work / f"{stem}.{k}.parquet" for k in ("table", "ledger", "values")}
    pq.write_table(res.table, paths["table"], compression="zstd")
    runs = _ledger_runs(res.ledger)
    if Counter({f"{r}.{f}": n for f, r, n in runs}) != Counter(res.changes):
        raise StageError(f"{lf.name}: the ledger's runs differ from the counted changes")
    _write_runs(res.ledger, runs, paths["ledger"], LEDGER_SCHEMA)
    _write_runs(res.ledger_values, runs, paths["values"], VALUES_SCHEMA)
    return LocalPart(
        index,
        first_row,
        first_row + table.num_rows,
        paths["table"],
        paths["ledger"],
        paths["values"],
        runs,
        dict(res.problems),
        dict(res.stats),
        findings,
    )


def store_part(lp: LocalPart, prefix: str, store: Store) -> tuple[dict, dict, dict]:
    """Upload a part's files under ``prefix``: ({kind: URI}, {kind: sha256}, {kind: bytes})."""
    meta = lp.table.with_name(lp.table.name.replace(".table.", ".meta.")).with_suffix(".json")
    meta.write_bytes(dumps(lp.meta()))
    stem = f"part-{lp.index:05d}"
    local = {"table": lp.table, "ledger": lp.ledger, "values": lp.values, "meta": meta}
    uris, sha, size = {}, {}, {}
    for kind, path in local.items():
        uri = join(prefix, f"{stem}.{kind}.{'json' if kind == 'meta' else 'parquet'}")
        store.put_file(uri, path)
        uris[kind], sha[kind], size[kind] = uri, sha256_file(path), path.stat().st_size
    return uris, sha, size


def manifest_entries(out_prefix: str, results: list[CleansePartResult]) -> list[dict]:
    """The parts' files as entries of the cleansed manifest (``_parts/…``, which readers of the
    tables skip): kept beside the output as extract keeps its parts, so a retried ``cleanse``
    merges the same parts again."""
    entries = []
    for r in sorted(results, key=lambda r: (r.file, r.index)):
        for kind in KINDS:
            entries.append(
                {
                    "name": r.files[kind][len(out_prefix) :].lstrip("/"),
                    "bytes": r.bytes[kind],
                    "sha256": r.sha256[kind],
                    "part_of": r.file,
                    "part": r.index,
                    "records": [r.start, r.end],
                }
            )
    return entries


def check_parts(lf, planned: list[CleansePart], results: list[CleansePartResult]) -> list:
    """The results of a file's parts, by index, checked against its plan: every planned part
    there (a missing one fails the stage: nothing is published from some of the parts), the
    ranges tiling the file, each part's accounting closed (in = out + merged)."""
    results = tiled(lf.name, "cleanse_parts", planned, results, planned[0].rows, "record")
    for r in results:
        if r.records_in != r.end - r.start or r.records_in != r.records_out + r.merged:
            raise StageError(
                f"{lf.name} part {r.index}: {r.records_in} in, {r.records_out} out, "
                f"{r.merged} merged, range of {r.end - r.start}"
            )
    return results


def fetch_part(result: CleansePartResult, d, run_id: str, work: Path, store: Store) -> LocalPart:
    """A stored part back as local files, each checked against the sha256 its task wrote."""
    local: dict[str, Path] = {}
    for kind in KINDS:
        uri = result.files.get(kind, "")
        if not uri or not store.exists(uri):
            raise StageError(
                f"{result.file} part {result.index}: its {kind} file is missing ({uri or '-'}): "
                "run the cleanse parts again"
            )
        name = f"{result.file}.part-{result.index:05d}.{kind}"
        path = store.download(uri, work / name)
        if sha256_file(path) != result.sha256.get(kind):
            raise StageError(f"{uri}: sha256 differs from what cleanse_parts wrote")
        local[kind] = path
    meta = json.loads(local["meta"].read_bytes())
    local["meta"].unlink()
    if (meta["index"], meta["start"], meta["end"]) != (result.index, result.start, result.end):
        raise StageError(f"{result.file} part {result.index}: its files are of another range")
    return LocalPart(
        result.index,
        result.start,
        result.end,
        local["table"],
        local["ledger"],
        local["values"],
        [(f, r, int(n)) for f, r, n in meta["entries"]],
        meta["problems"],
        meta["stats"],
        Findings.from_state(d.id, run_id, "cleanse", meta["findings"]),
    )


def read_columns(parts: list[LocalPart], columns: list[str]):
    """These columns of a file's cleansed rows (all its parts, in order) and its row number
    (:data:`ROW`): what 名寄せ and the map's rewrites read, never the whole file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(p.table, columns=columns) for p in parts]
    t = pa.concat_tables(tables) if tables else pa.table({c: [] for c in columns})
    return t.append_column(ROW, pa.array(range(t.num_rows), pa.int64()))


def schema_of(parts: list[LocalPart]):
    """The cleansed file's schema (every part's must be the same)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(parts[0].table)
    for p in parts[1:]:
        if not pq.read_schema(p.table).equals(schema):
            raise StageError(f"{p.table.name}: part schema differs from the first part's")
    return schema


def write_file(parts: list[LocalPart], out: Path, mapped=None, columns: tuple = ()) -> int:
    """The parts' cleansed rows, in order, into ``out`` row group by row group; returns the rows
    written. ``mapped``: the file's :func:`read_columns` after 名寄せ's map was applied (its rows
    those kept, in order; ``columns`` the ones the map may have rewritten) — the rows it left out
    are left out here and those columns taken from it."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = schema_of(parts)
    kept = (
        mapped.column(ROW).combine_chunks().to_numpy(zero_copy_only=False)
        if mapped is not None
        else None
    )
    written, at = 0, 0
    with pq.ParquetWriter(out, schema, compression="zstd") as w:
        for p in parts:
            pf = pq.ParquetFile(p.table)
            for i in range(pf.num_row_groups):
                t = pf.read_row_group(i)
                n = t.num_rows
                if kept is not None:
                    a, b = np.searchsorted(kept, [at, at + n])
                    if b - a < n:
                        t = t.take(pa.array(kept[a:b] - at, pa.int64()))
                    for c in columns:
                        t = t.set_column(
                            t.column_names.index(c),
                            schema.field(c),
                            mapped.column(c).slice(a, b - a),
                        )
                w.write_table(t)
                written += t.num_rows
                at += n
    return written


def write_ledgers(parts: list[LocalPart], order: dict, led: Path, vals: Path, extra=()) -> dict:
    """The parts' ledgers and values ledgers into ``led`` / ``vals`` in the whole file's order
    (``order``: :func:`ikou.cleanse.stage.ledger_order`; then the part's order), the ``extra``
    (ledger, values) tables after them; returns the changes {"rule.FIELD": count} in that order."""
    import pyarrow.parquet as pq

    runs = []
    for i, p in enumerate(parts):
        for j, (f, r, n) in enumerate(p.entries):
            if (f, r) not in order:
                raise StageError(f"{p.ledger.name}: a ledger of rule {r!r} on {f!r} not configured")
            runs.append((order[(f, r)], i, j, f, r, n))
    runs.sort()
    changes: dict[str, int] = {}
    files = [(pq.ParquetFile(p.ledger), pq.ParquetFile(p.values)) for p in parts]
    with (
        pq.ParquetWriter(led, LEDGER_SCHEMA, compression="zstd") as wl,
        pq.ParquetWriter(vals, VALUES_SCHEMA, compression="zstd") as wv,
    ):
        for _o, i, j, f, r, n in runs:
            lt, vt = files[i][0].read_row_group(j), files[i][1].read_row_group(j)
            if lt.num_rows != n or vt.num_rows != n:
                raise StageError(f"{parts[i].ledger.name}: row group {j} is not {n} rows")
            wl.write_table(lt)
            wv.write_table(vt)
            changes[f"{r}.{f}"] = changes.get(f"{r}.{f}", 0) + n
        for lt, vt in extra:
            wl.write_table(lt)
            wv.write_table(vt)
    return changes


def sum_counts(dicts: list[dict]) -> dict:
    """{key: count} summed over parts (a key counted as zero stays)."""
    out: Counter = Counter()
    for d in dicts:
        out.update(d)
    return dict(out)
