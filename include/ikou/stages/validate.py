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
from ikou.hashing import keyed_hashes
from ikou.load import PARQUET_BATCH
from ikou.pipeline import RunContext, StageResult, UnitAccounting, cpu_time
from ikou.stages.common import StageError, balanced, write_report
from ikou.storage import NotPublished, Store, publication, zone_uri


def run(ctx: RunContext, cleansed: StageResult, store: Store | None = None) -> StageResult:
    """Map the cleansed tables to the domain's standard layout; check references."""
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
    files, tables = {}, {}
    with tempfile.TemporaryDirectory(prefix="ikou-validate-") as tmp:
        work = Path(tmp)
        _, paths = publication.fetch_tables(store, cleansed.published, work / "in")
        for t in d.standard.tables:
            src = pq.read_table(paths[t.source])
            tables[t.name] = map_table(src, d, t, findings)
        master_domain, master_table = reg.addressee_master()
        master_ids = None
        for t in d.standard.tables:
            refs = addressee_references(d, t)
            orphans = 0
            if refs:
                if master_ids is None:
                    if domain_id == master_domain:
                        master_ids = set(tables[master_table].column("atena_no").to_pylist())
                    else:
                        master_ids = set(
                            addressee_ids(
                                master_domain, master_table, snap, work, store
                            ).to_pylist()
                        )
                orphans = count_orphans(tables[t.name], refs, master_ids, d, t, findings)
            out = work / f"{t.name}.parquet"
            # row groups of PARQUET_BATCH rows: the load and the hand-off read a validated table
            # one row group at a time (ikou.load.parquet_batches), so their memory stays flat
            pq.write_table(tables[t.name], out, compression="zstd", row_group_size=PARQUET_BATCH)
            files[out.name] = out
            acc = {
                "unit": t.name,
                "records_in": cleansed.units[t.source],
                "records_out": tables[t.name].num_rows,
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


def count_orphans(table, ref_columns: list[str], master_ids: set, d, t, findings: Findings) -> int:
    total = 0
    keys = [
        "\x1e".join(str(v) for v in vals)
        for vals in zip(*[table.column(k).to_pylist() for k in t.business_keys])
    ]
    for col in ref_columns:
        values = table.column(col).to_pylist()
        bad = [i for i, v in enumerate(values) if v is not None and v not in master_ids]
        if bad:
            hashes = keyed_hashes([keys[i] for i in bad], purpose=f"record:{d.id}:{t.name}")
            findings.extend(
                "orphan_reference",
                "critical",
                col,
                hashes,
                detail="宛名番号 not in the addressee master",
            )
            total += len(bad)
    return total
