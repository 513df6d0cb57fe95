"""Load: the standard-layout hand-off files and the transactional target load.

Hand-off (``handoff/{domain}/{run}/``): one CSV per standard table in the dialect of DESIGN.md
(UTF-8, RFC 4180 quoting, CRLF, empty field = null, BOM off unless ``IKOU_CSV_BOM=1``), Parquet
beside each, and ``manifest.json`` — spec and layout versions, files with row counts, bytes and
sha256, columns, the CSV dialect, the input files' sha256, the code version and the 宛名番号
old → new map of 名寄せ. Publication order: the data files, then ``manifest.json``, then Ikou's
publication marker ``_manifest.json`` (which lists every file, ``manifest.json`` included, with
its sha256). A reader that opens ``manifest.json`` therefore never sees a half-written set, and
a writer that dies between two files leaves neither manifest (a retry writes the set again).

The manifest holds no timestamp: the same input gives the same bytes, so a retried load
publishes (or finds) exactly the same set. Once a run's set is published it is never rewritten;
a retry loads the target from the published files (sha256-checked), so the target always holds
what the hand-off manifest describes.

About 560 lines in one module: writing the hand-off set, publishing it and loading the target
from it are one step (a retry publishes or finds the same set, then loads from it), and the
rehearsal-schema sweep and the load log belong to that load (:func:`logged_load`, which the
partitioned load's swap shares); the target's DDL and transactions are in
:mod:`ikou.load.target`, the control tables in :mod:`ikou.load.control`, the partitioned load in
:mod:`ikou.load.partitioned`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ikou.config import settings
from ikou.domains import registry
from ikou.load.control import Control
from ikou.load.target import LIVE_SCHEMA, LOAD_LOG, Target, schema_for, table_name
from ikou.pipeline import LIVE_MODES, StageResult
from ikou.storage import (
    MANIFEST,
    StorageError,
    Store,
    code_version,
    join,
    publication,
    sha256_file,
    zone_uri,
)

CSV_DIALECT = {
    "encoding": "UTF-8",
    "bom": False,
    "delimiter": ",",
    "quote_char": '"',
    "quoting": "RFC 4180: text fields quoted, quotes doubled; numbers and dates bare",
    "line_terminator": "CRLF",
    "null": "empty unquoted field",
    "empty_string": '""',
    "header": True,
}
HANDOFF_MANIFEST = "manifest.json"
LAYOUT = "ikou-handoff/1"  # the manifest's own format


class HandoffError(RuntimeError):
    """The hand-off set could not be published (S3 unreachable …); nothing half-written is visible."""


CSV_WRITE = {"quoting_style": "needed", "eol": "\r\n", "null_string": ""}  # pyarrow's options
PARQUET_BATCH = 65_536


def parquet_batches(path: Path, batch_rows: int | None = None) -> Iterator:
    """A Parquet file's record batches, one row group in memory at a time (``iter_batches``
    keeps buffers of the groups it has read: its peak grows with the file)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for i in range(pf.num_row_groups):
        yield from pf.read_row_group(i).to_batches(max_chunksize=batch_rows or PARQUET_BATCH)


def write_csv(table, path: Path, bom: bool = False) -> None:
    """A table in the hand-off dialect. ``table``: a pyarrow table, or a Parquet file's path —
    streamed (memory holds one row group, never the table); the same bytes."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    options = pacsv.WriteOptions(**CSV_WRITE)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        if bom:
            fh.write(b"\xef\xbb\xbf")
        if isinstance(table, Path):
            schema = pq.ParquetFile(table).schema_arrow
            with pacsv.CSVWriter(fh, schema, write_options=options) as writer:
                for batch in parquet_batches(table):
                    writer.write_batch(batch)
        else:
            pacsv.write_csv(table, fh, options)
    os.replace(tmp, path)


def build_handoff(
    domain_id: str,
    tables: dict,
    work: Path,
    *,
    run_id: str,
    snapshot: str,
    mode: str,
    input_files: list[dict],
    atena_map: dict[str, str] | None = None,
    bom: bool = False,
) -> tuple[dict[str, Path], dict]:
    """Write the CSV files (and move the Parquet files) of a domain's standard tables into ``work``
    and return (files by name, the manifest). ``tables``: table name -> (pyarrow table, Parquet path);
    a table of None is streamed from its Parquet file."""
    d = registry().get(domain_id)
    files: dict[str, Path] = {}
    entries = []
    for t in d.layout.tables:
        table, pq_path = tables[t.name]
        names = [c.name for c in t.columns]
        if table is None:  # streamed from the Parquet file
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(pq_path).metadata
            columns, num_rows, table = (
                meta.schema.to_arrow_schema().names,
                meta.num_rows,
                Path(pq_path),
            )
        else:
            columns, num_rows = table.column_names, table.num_rows
        if columns != names:
            raise ValueError(f"{domain_id}.{t.name}: columns {columns} differ from layout {names}")
        csv_path = work / f"{t.name}.csv"
        write_csv(table, csv_path, bom)
        out_pq = work / f"{t.name}.parquet"
        if Path(pq_path) != out_pq:
            os.replace(pq_path, out_pq)
        files[csv_path.name] = csv_path
        files[out_pq.name] = out_pq
        entries.append(
            {
                "table": t.name,
                "label_ja": t.label_ja,
                "target_table": table_name(domain_id, t.name),
                "file": csv_path.name,
                "rows": num_rows,
                "bytes": csv_path.stat().st_size,
                "sha256": sha256_file(csv_path),
                "parquet": {
                    "file": out_pq.name,
                    "bytes": out_pq.stat().st_size,
                    "sha256": sha256_file(out_pq),
                },
                "business_keys": list(t.business_keys),
                "columns": [
                    {
                        "name": c.name,
                        "label_ja": c.label_ja,
                        "type": c.type,
                        "length": c.length,
                        "precision": c.precision,
                        "scale": c.scale,
                        "required": c.required,
                        "codes": list(c.codes) if c.codes else None,
                    }
                    for c in t.columns
                ],
            }
        )
    amap = sorted((atena_map or {}).items())
    manifest = {
        "format": LAYOUT,
        "domain": domain_id,
        "name_ja": d.name_ja,
        "run_id": run_id,
        "snapshot": snapshot,
        "mode": mode,
        "spec_version": d.spec.version,
        "spec_published": d.spec.published,
        "layout_version": d.layout.layout_version,
        "tables": entries,
        "csv_dialect": {**CSV_DIALECT, "bom": bom},
        "input_files": input_files,
        "code_version": code_version(),
        "atena_no_map": {
            "description": "名寄せ: 宛名番号 merged away (old) → the 宛名番号 kept (new)",
            "count": len(amap),
            "entries": [{"old": k, "new": v} for k, v in amap],
        },
    }
    return files, manifest


def write_manifest(folder: Path, manifest: dict) -> str:
    """Write a hand-off ``manifest.json`` into ``folder`` (atomically); return its sha256 — the
    sha256 the load log records for the set."""
    path = folder / HANDOFF_MANIFEST
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return sha256_file(path)


def _input_files(store: Store, domain_id: str, run_id: str) -> list[dict]:
    raw = zone_uri("raw", domain_id, run_id)
    try:
        raw_manifest = publication.read_manifest(store, raw)
    except Exception:  # noqa: BLE001 - a hand-off without the raw stage (tests, tools)
        return []
    return [
        {
            "name": f["name"],
            "legacy_file": f.get("legacy_file"),
            "sha256": f.get("sha256"),
            "bytes": f.get("bytes"),
            "records": f.get("records"),
        }
        for f in raw_manifest.get("landing_files", [])
        if not f["name"].startswith("_")
    ]


def _s3_failure(exc: BaseException) -> bool:
    """An S3 endpoint that does not answer (after the client's own retries), or refuses."""
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(
        names
        & {
            "EndpointConnectionError",
            "ConnectionClosedError",
            "ConnectTimeoutError",
            "ReadTimeoutError",
            "BotoCoreError",
            "ClientError",
            "S3UploadFailedError",
            "ConnectionError",
        }
    )


def publish_handoff(
    store: Store, prefix: str, files: dict[str, Path], manifest: dict, marker: dict
) -> str:
    """Publish the set (data files, manifest.json, then _manifest.json); return manifest.json's sha256.

    Idempotent: an already published set is returned as it is (its manifest.json's sha256)."""
    if store.exists(join(prefix, MANIFEST)):
        published = publication.read_manifest(store, prefix)
        return published["handoff_manifest_sha256"]
    folder = next(iter(files.values())).parent
    sha = write_manifest(folder, manifest)
    mpath = folder / HANDOFF_MANIFEST
    try:
        publication.publish(
            store,
            prefix,
            {**files, HANDOFF_MANIFEST: mpath},
            {**marker, "handoff_manifest_sha256": sha},
        )
    except Exception as exc:
        if _s3_failure(exc):
            raise HandoffError(
                f"publishing the hand-off set {prefix} failed ({type(exc).__name__}: {exc}) after the S3 client's "
                "retries; nothing was published (no manifest.json / _manifest.json), so no reader sees a partial "
                "set. The task retries; if S3 stays down, check the endpoint (AWS_ENDPOINT_URL / the ikou_s3 "
                "connection) and clear the task."
            ) from exc
        raise
    return sha


def load_domain(
    domain_id: str,
    validated: StageResult,
    *,
    run_id: str,
    mode: str,
    store: Store,
    atena_map: dict[str, str] | None = None,
    who: str = "",
) -> dict:
    """The load stage of one domain: publish the hand-off set, then load the target from it."""
    d = registry().get(domain_id)
    target = Target(settings().target_db_url, schema_for(mode, run_id))
    try:
        with tempfile.TemporaryDirectory(prefix="ikou-load-") as tmp:
            prefix, sha, csvs = run_handoff(
                d, validated, store, Path(tmp), run_id=run_id, mode=mode, atena_map=atena_map
            )
            rows = load_target(
                target,
                domain_id,
                csvs,
                run_id=run_id,
                snapshot=validated.snapshot,
                manifest_sha256=sha,
                mode=mode,
                who=who,
            )
        return load_result(prefix, target, domain_id, rows, sha)
    finally:
        target.dispose()


def load_result(prefix: str, target: Target, domain_id: str, rows: dict, sha: str) -> dict:
    """What a full load returns to the stage (URIs, schema, counts)."""
    return {
        "handoff": prefix,
        "rows": rows,
        "target_url": target.url,
        "schema": target.schema,
        "tables": {t: table_name(domain_id, t) for t in rows},
        "manifest_sha256": sha,
        "dialect": target.dialect,
    }


def run_handoff(
    d, validated: StageResult, store: Store, work: Path, *, run_id: str, mode: str, atena_map=None
) -> tuple[str, str, dict[str, Path]]:
    """This run's full hand-off set published (or, on a retry, the published one fetched) into
    ``work``: (its prefix, its manifest.json's sha256, CSV by table). S3 failing after the
    client's retries is a :class:`HandoffError`."""
    bom = os.environ.get("IKOU_CSV_BOM", "0") == "1"
    prefix = zone_uri("handoff", d.id, run_id)
    try:
        sha, csvs = publish_full_handoff(
            d,
            validated,
            prefix,
            store,
            work,
            run_id=run_id,
            mode=mode,
            atena_map=atena_map,
            bom=bom,
        )
    except HandoffError:
        raise
    except Exception as exc:
        if _s3_failure(exc):
            raise HandoffError(
                f"S3 failed while loading {d.id} ({type(exc).__name__}: {exc}) after the client's retries; "
                f"this attempt published no hand-off manifest under {prefix}, so no reader sees a partial set. "
                "The task retries; if S3 stays down, check the endpoint (AWS_ENDPOINT_URL / the ikou_s3 connection) "
                "and clear the task."
            ) from exc
        raise
    return prefix, sha, csvs


def publish_full_handoff(
    d,
    validated: StageResult,
    prefix: str,
    store: Store,
    work: Path,
    *,
    run_id: str,
    mode: str,
    atena_map=None,
    bom: bool = False,
) -> tuple[str, dict[str, Path]]:
    """The full hand-off set of a run at ``prefix``, published (or, on a retry, the published one
    fetched, sha256-checked) into ``work``: (its manifest.json's sha256, CSV by table)."""
    domain_id = d.id
    snapshot = validated.snapshot
    if store.exists(join(prefix, MANIFEST)):
        # A retry after the set was published: load exactly the published files.
        published = publication.read_manifest(store, prefix)
        csvs = {
            t.name: publication.fetch(store, prefix, f"{t.name}.csv", work, published)
            for t in d.layout.tables
        }
        return published["handoff_manifest_sha256"], csvs
    vprefix = validated.uri
    vmanifest = publication.read_manifest(store, vprefix)
    tables = {}
    for t in d.layout.tables:
        path = publication.fetch(store, vprefix, f"{t.name}.parquet", work / "in", vmanifest)
        tables[t.name] = (None, path)  # streamed: memory holds a batch, never the table
    files, manifest = build_handoff(
        domain_id,
        tables,
        work,
        run_id=run_id,
        snapshot=snapshot,
        mode=mode,
        input_files=_input_files(store, domain_id, run_id),
        atena_map=atena_map,
        bom=bom,
    )
    del tables
    marker = {
        "zone": "handoff",
        "stage": "load",
        "domain": domain_id,
        "run_id": run_id,
        "snapshot": snapshot,
        "input": vprefix,
        "spec_version": d.spec.version,
        "layout_version": d.layout.layout_version,
    }
    sha = publish_handoff(store, prefix, files, manifest, marker)
    return sha, {t.name: work / f"{t.name}.csv" for t in d.layout.tables}


def load_target(
    target: Target,
    domain_id: str,
    csvs: dict[str, Path],
    *,
    run_id: str,
    snapshot: str,
    manifest_sha256: str,
    mode: str,
    who: str = "",
) -> dict[str, int]:
    """The target load of one domain: rehearsal schemas are swept first; a cutover load refuses a
    live domain inside its transaction and records ``loaded`` in the same transaction."""
    layout = registry().get(domain_id).layout
    run = {"run_id": run_id, "snapshot": snapshot, "manifest_sha256": manifest_sha256, "mode": mode}

    def load(guard, after) -> dict[str, int]:
        return target.load(domain_id, layout, csvs, **run, guard=guard, after=after)

    return logged_load(target, domain_id, load, run, who=who)


def logged_load(
    target: Target, domain_id: str, load, run: dict[str, str], who: str = ""
) -> dict[str, int]:
    """``load(guard, after) -> rows`` (one transaction: :meth:`Target.load`, or the swap of a
    partitioned load) with the load's bookkeeping: rehearsal schemas swept first; the cutover's
    guard and ``loaded`` event and the load-log row written inside the load's transaction.
    ``run``: the load's ``run_id``, ``snapshot``, ``manifest_sha256`` and ``mode``."""
    run_id, snapshot, mode = run["run_id"], run["snapshot"], run["mode"]
    manifest_sha256 = run["manifest_sha256"]
    control = Control(target.base_url).ensure()
    guard = cutover_after = None
    if mode in LIVE_MODES:  # a cutover, or the full load ahead of a delta cutover
        if target.schema != LIVE_SCHEMA:
            raise ValueError("a cutover loads into the live schema")
        guard = control.guard_in_transaction(domain_id)
        cutover_after = control.loaded_in_transaction(
            domain_id, snapshot, run_id, who, manifest_sha256, source=mode
        )
    else:
        sweep_rehearsal_schemas(target, domain_id, keep=target.schema, control=control)
    log_after, log_row = control.load_logged_in_transaction(
        domain=domain_id,
        run_id=run_id,
        mode=mode,
        schema=target.schema,
        snapshot=snapshot,
        manifest_sha256=manifest_sha256,
    )

    def after(cur, dialect: str, rows: dict) -> None:
        # in the load's transaction: the cutover's `loaded` event and the load-log row
        if cutover_after is not None:
            cutover_after(cur, dialect, rows)
        log_after(cur, dialect, rows)

    rows = load(guard, after)
    if target.dialect == "sqlite" and target.schema != LIVE_SCHEMA:
        # the schema file logged it in its transaction; the control file keeps the history
        control.copy_load_row(log_row)
    return rows


def rehearsal_schemas(target: Target) -> list[str]:
    """The rehearsal schemas that exist in the target database (SQLite: their files)."""
    from ikou.load.target import REHEARSAL_PREFIX

    if target.dialect == "sqlite":
        base = target.sibling(LIVE_SCHEMA).sqlite_path
        return sorted(
            p.name[len(base.stem) + 1 : -len(base.suffix or ".sqlite")]
            for p in base.parent.glob(f"{base.stem}.{REHEARSAL_PREFIX}*{base.suffix or '.sqlite'}")
        )
    from sqlalchemy import text

    with target.engine().connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p ORDER BY schema_name"
                ),
                {"p": REHEARSAL_PREFIX.replace("_", "\\_") + "%"},
            )
        ]


def sweep_rehearsal_schemas(target: Target, domain_id: str, keep: str, control=None) -> list[str]:
    """Drop rehearsal schemas a failed earlier run of this domain left behind (a run that stopped
    at a gate never reached its rollback). A rehearsal schema holds one domain run's tables, so
    only schemas whose tables all belong to this domain are dropped."""
    dropped = []
    for schema in rehearsal_schemas(target):
        if schema == keep:
            continue
        other = target.sibling(schema)
        try:
            names = [n for n in other.tables() if n not in (LOAD_LOG, "sqlite_sequence")]
            if names and not all(n.startswith(f"{domain_id}__") for n in names):
                continue
            if not names and not _stale_empty(other):
                continue  # an empty schema may be another domain's load in progress
            other.drop_schema()
            dropped.append(schema)
            if control is not None:
                control.log_dropped(domain=domain_id, schema=schema)
        finally:
            other.dispose()
    return dropped


def _stale_empty(target: Target) -> bool:
    """An empty rehearsal schema left for a day (SQLite: its file untouched that long)."""
    import time

    if target.dialect != "sqlite":
        return False
    try:
        return time.time() - target.sqlite_path.stat().st_mtime > 86400
    except OSError:
        return False


def clean_load(target: Target, domain_id: str, csvs: dict[str, Path]) -> dict[str, int]:
    """A plain load of the given tables (no control tables, no guard): benchmarks and the fault
    tests' reference loads. The same transaction as :meth:`Target.load`."""
    d = registry().get(domain_id)

    class _Subset:
        tables = [t for t in d.layout.tables if t.name in csvs]

    if target.dialect == "postgresql":
        return target._load_postgresql(domain_id, _Subset, csvs, None, None)
    return target._load_sqlite(domain_id, _Subset, csvs, None, None)


__all__ = [
    "load_domain",
    "load_target",
    "load_result",
    "logged_load",
    "run_handoff",
    "build_handoff",
    "publish_handoff",
    "publish_full_handoff",
    "write_csv",
    "write_manifest",
    "CSV_DIALECT",
    "HANDOFF_MANIFEST",
    "HandoffError",
    "StorageError",
    "rehearsal_schemas",
    "sweep_rehearsal_schemas",
]
