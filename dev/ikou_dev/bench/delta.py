"""Benchmark: the cutover-window part of the delta path against the full path (issue 12), for
住民基本台帳's two standard tables on the local PostgreSQL.

* full path: the full load of the new snapshot (``load_target``) + the full reconciliation of
  every table (``reconcile_table``: keyed hash per key and row, streamed);
* delta path: the diff and the delta set (``build_delta_handoff``) + the delta load
  (``apply_delta``) onto a target holding the base + the delta reconciliation
  (``reconcile_delta_table``: the in-database digest, the touched keys in full).

``gate_target`` is left out of both (the gates benchmark measures it). The new snapshot differs
from the base like a month of changes: every 50th row deleted, two columns of every 37th row
changed, 1/30 new rows (about 7 % of the rows touched: more than the issue's 1.5 %, so the
delta's share here is an upper bound).

    python -m ikou_dev.bench delta           # 500,000 rows a table (IKOU_BENCH_DELTA_ROWS)
    python -m ikou_dev.bench --quick delta   # 5,000 rows a table (what the test suite runs)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

DOMAIN = "juki"
ROWS_QUICK = 5_000
ROWS_FULL = 500_000


def snapshot_pair(rows: int, seed: int = 1) -> tuple[dict, dict]:
    """Two validated snapshots of 住民基本台帳 (table -> pyarrow table): the new one has every
    50th row deleted, two columns of every 37th row changed, and ``rows // 30`` new rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ikou.domains import registry
    from ikou_dev.bench.load import synthetic_table

    base, new = {}, {}
    extra = rows // 30
    i = np.arange(rows)
    changed = pa.array(i % 37 == 5)
    kept = pa.array(i % 50 != 3)
    for t in registry().get(DOMAIN).layout.tables:
        b = synthetic_table(DOMAIN, t.name, rows, seed=seed)
        other = synthetic_table(DOMAIN, t.name, rows + extra, seed=seed + 1)
        cols = [c.name for c in t.columns if c.name not in t.business_keys][:2]
        arrays = [
            pc.if_else(changed, other.column(c).slice(0, rows), b.column(c)) if c in cols
            else b.column(c)
            for c in b.column_names
        ]  # fmt: skip
        base[t.name] = b
        new[t.name] = pa.concat_tables(
            [pa.Table.from_arrays(arrays, schema=b.schema).filter(kept), other.slice(rows)]
        )
    return base, new


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> dict:
    wall, cpu = _clock()
    return {"seconds": round(wall - start[0], 3), "cpu_seconds": round(cpu - start[1], 3)}


def run(workdir: Path, quick: bool) -> dict:
    from ikou.domains import registry
    from ikou.load import build_handoff, clean_load, load_target, write_manifest
    from ikou.load.control import Control
    from ikou.load.delta import build_delta_handoff
    from ikou.load.delta_apply import apply_delta
    from ikou.load.target import Target, rehearsal_schema
    from ikou.rehearsal.reconcile import reconcile_table
    from ikou.rehearsal.reconcile_delta import reconcile_delta_table
    from ikou_dev.bench.load import drop_database, pg_database

    rows = ROWS_QUICK if quick else int(os.environ.get("IKOU_BENCH_DELTA_ROWS", ROWS_FULL))
    work = Path(workdir)
    secret = b"bench-delta"
    tables = registry().get(DOMAIN).layout.tables
    start = _clock()
    base, new = snapshot_pair(rows)
    figures: dict = {
        "domain": DOMAIN,
        "rows_base": {t.name: base[t.name].num_rows for t in tables},
        "rows_new": {t.name: new[t.name].num_rows for t in tables},
        "generate": _since(start),
    }
    sets = {}
    for side, data in (("base", base), ("new", new)):
        folder = work / side
        (folder / "in").mkdir(parents=True)
        inputs = {}
        for name, table in data.items():
            import pyarrow.parquet as pq

            pq.write_table(table, folder / "in" / f"{name}.parquet")
            inputs[name] = (table, folder / "in" / f"{name}.parquet")
        _, manifest = build_handoff(
            DOMAIN, inputs, folder, run_id=f"bench-{side}", snapshot="2026-11-01",
            mode="rehearsal", input_files=[],
        )  # fmt: skip
        sets[side] = ({n: folder / f"{n}.csv" for n in data}, write_manifest(folder, manifest))
    admin, dbname, url = pg_database()
    if url is None:
        raise RuntimeError("the delta benchmark needs the local PostgreSQL (IKOU_BENCH_PG_URL)")
    before = os.environ.get("IKOU_TARGET_DB_URL")
    try:
        os.environ["IKOU_TARGET_DB_URL"] = url
        full = Target(url, rehearsal_schema("bench-full"))
        start = _clock()
        load_target(full, DOMAIN, sets["new"][0], run_id="bench-full", snapshot="2026-11-01",
                    manifest_sha256=sets["new"][1], mode="rehearsal")  # fmt: skip
        full_load = _since(start)
        start = _clock()
        recs = [reconcile_table(DOMAIN, t, new[t.name], full, secret) for t in tables]
        full_rec = _since(start)
        assert all(r["mismatches"] == 0 for r in recs), "the full load does not reconcile"
        # the delta target: the base, loaded in full beforehand (not timed: days ahead)
        ahead = Target(url, "ikou_bench_ahead")
        clean_load(ahead, DOMAIN, sets["base"][0])
        Control(url).ensure().log_load(
            domain=DOMAIN, run_id="bench-ahead", mode="rehearsal", schema=ahead.schema,
            snapshot="2026-10-01", manifest_sha256=sets["base"][1], rows=0,
        )  # fmt: skip
        (work / "delta").mkdir()
        start = _clock()
        files, manifest = build_delta_handoff(
            DOMAIN, base, new, work / "delta", run_id="bench-delta", snapshot="2026-11-01",
            base_snapshot="2026-10-01", mode="rehearsal", base_sha256=sets["base"][1],
            result_sha256=sets["new"][1], secret=secret,
        )  # fmt: skip
        diff = _since(start)
        csvs = {e["table"]: work / "delta" / e["file"] for e in manifest["tables"]}
        start = _clock()
        out = apply_delta(ahead, DOMAIN, manifest, csvs, run_id="bench-delta", mode="rehearsal")
        apply = _since(start)
        assert out["status"] == "applied", out
        start = _clock()
        recs = [
            reconcile_delta_table(DOMAIN, t, new[t.name], ahead, secret, csvs[t.name])
            for t in tables
        ]
        delta_rec = _since(start)
        assert all(r["mismatches"] == 0 for r in recs), "the delta does not reconcile"
        full.dispose()
        ahead.dispose()
    finally:
        drop_database(admin, dbname)
        # the process goes on (the quick profile runs inside the test session): never leave the
        # dropped database as its target
        if before is None:
            os.environ.pop("IKOU_TARGET_DB_URL", None)
        else:
            os.environ["IKOU_TARGET_DB_URL"] = before
    full_total = full_load["seconds"] + full_rec["seconds"]
    delta_total = diff["seconds"] + apply["seconds"] + delta_rec["seconds"]
    figures.update(
        {
            "delta_rows": {e["table"]: e["ops"] for e in manifest["tables"]},
            "full_path": {
                "load": full_load,
                "reconcile": full_rec,
                "seconds": round(full_total, 3),
            },
            "delta_path": {
                "diff": diff,
                "apply": apply,
                "reconcile": delta_rec,
                "seconds": round(delta_total, 3),
            },
            "delta_share_of_full": round(delta_total / full_total, 3),
        }
    )
    return figures
