"""The validate stage: cleansed tables mapped to the domain's versioned standard layout.

    cleansed/{d}/{run}/  ->  validated/{d}/{run}/   one Parquet file per standard table

References to the addressee master (宛名番号) are checked against the master's validated layout
of the same snapshot (this run's own tables for the domain that holds the master); an orphan is
a critical finding (keyed hash only) that gate_standard stops.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ikou.domains import registry
from ikou.domains.mapping import addressee_references, map_table
from ikou.findings import Findings
from ikou.hashing import record_keys
from ikou.load import PARQUET_BATCH
from ikou.pipeline import RunContext, StageResult, UnitAccounting, cpu_time
from ikou.stages.common import StageError, balanced, write_report
from ikou.storage import NotPublished, Store, publication, zone_uri


def run(ctx: RunContext, cleansed: StageResult, store: Store | None = None) -> StageResult:
    """Map the cleansed tables to the domain's standard layout; check references.

    A table is mapped a row group at a time (:func:`map_file`): the stage holds one batch of
    rows and, for the reference check, the reference columns and the master's 宛名番号 — not the
    domain (住民基本台帳 of 3.8M residents is 8M records)."""
    import pyarrow.parquet as pq

    started, cpu0 = time.monotonic(), cpu_time()
    store = store or Store()
    domain_id, run_id = ctx.domain, ctx.run_id
    reg = registry()
    d = reg.get(domain_id)
    snap = cleansed.snapshot
    findings = Findings(domain_id, run_id, "validate")
    out_prefix = zone_uri("validated", domain_id, run_id)
    accounting: list[dict] = []
    files: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="ikou-validate-") as tmp:
        work = Path(tmp)
        _, paths = publication.fetch_tables(store, cleansed.published, work / "in")
        rows_out = {}
        for t in d.standard.tables:
            out = work / f"{t.name}.parquet"
            rows_out[t.name] = map_file(paths[t.source], out, d, t)
            files[out.name] = out
        master_domain, master_table = reg.addressee_master()
        master_ids = None
        for t in d.standard.tables:
            refs = addressee_references(d, t)
            orphans = 0
            if refs:
                if master_ids is None:
                    if domain_id == master_domain:
                        master_ids = pq.read_table(
                            files[f"{master_table}.parquet"], columns=["atena_no"]
                        ).column("atena_no")
                    else:
                        master_ids = addressee_ids(master_domain, master_table, snap, work, store)
                orphans = file_orphans(files[f"{t.name}.parquet"], refs, master_ids, d, t, findings)
            acc = {
                "unit": t.name,
                "records_in": cleansed.units[t.source],
                "records_out": rows_out[t.name],
                "quarantined": 0,
                "merged": 0,
                "orphan_references": orphans,
            }
            acc["balanced"] = balanced(acc)
            accounting.append(acc)
        publication.publish(
            store,
            out_prefix,
            files,
            {
                "zone": "validated",
                "stage": "validate",
                "domain": domain_id,
                "run_id": run_id,
                "snapshot": snap,
                "input": cleansed.uri,
                "spec_version": d.spec.version,
                "layout_version": d.standard.layout_version,
                "accounting": accounting,
            },
        )
    write_report(
        domain_id,
        run_id,
        "findings/validate.json",
        {"summary": findings.summary(), "findings": findings.rows()},
        store,
    )
    return StageResult.of(
        ctx,
        "validate",
        snap,
        out_prefix,
        [UnitAccounting(**a) for a in accounting],
        time.monotonic() - started,
        findings.by_rule(),
        cpu_seconds=cpu_time() - cpu0,
        spec_version=d.spec.version,
        layout_version=d.standard.layout_version,
    )


def map_file(src: Path, out: Path, d, t) -> int:
    """The cleansed table ``src`` mapped to the standard table ``t`` into ``out``, a row group at
    a time (row groups of PARQUET_BATCH rows: the load and the hand-off read a validated table
    one row group at a time, :func:`ikou.load.parquet_batches`, so their memory stays flat too);
    the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(src)
    writer = None
    rows = 0
    pending: list = []
    held = 0

    def flush() -> None:
        nonlocal writer, rows, held
        mapped = map_table(pa.Table.from_batches(pending, schema=source.schema_arrow), d, t)
        if writer is None:
            writer = pq.ParquetWriter(out, mapped.schema, compression="zstd")
        writer.write_table(mapped, row_group_size=PARQUET_BATCH)
        rows += mapped.num_rows
        pending.clear()
        held = 0

    try:
        for batch in source.iter_batches(batch_size=PARQUET_BATCH):
            # whole row groups of PARQUET_BATCH rows, whatever the source's row groups
            while batch.num_rows:
                take = batch.slice(0, PARQUET_BATCH - held)
                pending.append(take)
                held += take.num_rows
                batch = batch.slice(take.num_rows)
                if held == PARQUET_BATCH:
                    flush()
        if pending or writer is None:  # the rest, or an empty table's schema
            flush()
    finally:
        if writer is not None:
            writer.close()
    return rows


def addressee_ids(master_domain: str, master_table: str, snapshot: str, work: Path, store: Store):
    """The 宛名番号 column (Arrow) of the addressee master's validated layout of the snapshot
    that passed gate_standard."""
    import pyarrow.parquet as pq

    try:
        prefix = publication.latest_validated(store, master_domain, snapshot)["uri"]
    except NotPublished as exc:
        raise StageError(exc.message) from None
    path = publication.fetch(store, prefix, f"{master_table}.parquet", work / "master")
    return pq.read_table(path, columns=["atena_no"]).column("atena_no")


def file_orphans(path: Path, ref_columns: list[str], master_ids, d, t, findings: Findings) -> int:
    """:func:`count_orphans` of a validated table's file: its reference columns only, and its
    business keys only when a reference is an orphan."""
    import pyarrow.parquet as pq

    refs = pq.read_table(path, columns=ref_columns)
    return count_orphans(refs, ref_columns, master_ids, d, t, findings, keys_from=path)


def count_orphans(
    table, ref_columns: list[str], master_ids, d, t, findings: Findings, keys_from=None
) -> int:
    """References (``ref_columns`` of ``table``) to a 宛名番号 not in ``master_ids`` (an Arrow
    array of the master's 宛名番号): one critical finding per reference, keyed hash of the
    record's business key (read from ``keys_from``, a Parquet file of ``table``'s rows, when
    the table does not hold the key columns). The lookup is Arrow's hash set, built once per
    column — no Python object per record."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(master_ids, pa.ChunkedArray):
        master_ids = master_ids.combine_chunks()
    total = 0
    keys = None
    for col in ref_columns:
        values = table.column(col)
        ids = master_ids if master_ids.type == values.type else master_ids.cast(values.type)
        bad = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=ids)))
        at = pc.indices_nonzero(bad)
        if not len(at):
            continue
        if keys is None:
            if all(k in table.column_names for k in t.business_keys) or keys_from is None:
                keys = table.select(t.business_keys)
            else:
                import pyarrow.parquet as pq

                keys = pq.read_table(keys_from, columns=list(t.business_keys))
        rows = keys.take(at)
        findings.extend(
            "orphan_reference",
            "critical",
            col,
            record_keys(d.id, t.name, zip(*[rows.column(k).to_pylist() for k in t.business_keys])),
            detail="宛名番号 not in the addressee master",
        )
        total += len(at)
    return total
