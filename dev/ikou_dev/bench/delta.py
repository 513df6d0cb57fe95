"""Benchmark: the cutover-window part of the delta path against the full path (issue 12), for
住民基本台帳's two standard tables on the local PostgreSQL.

* full path: the full load of the new snapshot (``load_target``) + the full reconciliation of
  every table (``reconcile_table``: keyed hash per key and row, streamed);
* delta path: the diff and the delta set (``build_delta_handoff``) + the delta load
  (``apply_delta``) onto a target holding the base + the delta reconciliation
  (``reconcile_delta_table``: the in-database digest, the touched keys in full).

``gate_target`` (the target tables' expectations inside the database, as the DAG's task runs
them) is timed in both paths: after the full load and after the delta load (on the whole table:
the gate checks what the cutover publishes).

The new snapshot differs from the base like a month of changes at the ``change rate`` (touched
rows / base rows; default the issue's 1.5 %, ``IKOU_BENCH_DELTA_CHANGE_RATE``): a quarter of the
changes are deletions, 35 % updates of two columns, 40 % new rows.

    python -m ikou_dev.bench delta           # 1,000,000 rows a table (IKOU_BENCH_DELTA_ROWS)
    python -m ikou_dev.bench --quick delta   # 5,000 rows a table (what the test suite runs)
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

DOMAIN = "juki"
ROWS_QUICK = 5_000
ROWS_FULL = 1_000_000
CHANGE_RATE = 0.015  # a month of changes (issue 12)
#: shares of the changes: deletions, updates, insertions
DELETE, UPDATE, INSERT = 0.25, 0.35, 0.40


def snapshot_pair(rows: int, seed: int = 1, change_rate: float = CHANGE_RATE) -> tuple[dict, dict]:
    """Two validated snapshots of 住民基本台帳 (table -> pyarrow table): of ``change_rate × rows``
    changes, every k-th row deleted (25 %), two columns of every j-th row changed (35 %) and
    new rows (40 %)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ikou.domains import registry
    from ikou_dev.bench.load import synthetic_table

    base, new = {}, {}
    extra = int(rows * change_rate * INSERT)
    every_delete = max(2, round(1 / (change_rate * DELETE)))
    every_update = max(2, round(1 / (change_rate * UPDATE)))
    i = np.arange(rows)
    changed = pa.array(i % every_update == 1)
    kept = pa.array(i % every_delete != 0)
    for t in registry().get(DOMAIN).layout.tables:
        b = with_check_digits(t, synthetic_table(DOMAIN, t.name, rows, seed=seed), seed)
        other = with_check_digits(
            t, synthetic_table(DOMAIN, t.name, rows + extra, seed=seed + 1), seed + 1
        )
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


def with_check_digits(table_layout, table, seed: int):
    """``table`` with valid 個人番号 (check digit of 総務省令第85号) in its my-number columns:
    the generic synthetic values are random digits, which gate_target rightly fails — and a
    benchmark of a failing gate measures no gate the cutover would pass."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ikou.domains import registry
    from ikou_dev.synth.keys import my_number_check

    lf = registry().get(DOMAIN).legacy_file(table_layout.source)
    rng = np.random.default_rng(seed)
    for i, c in enumerate(table_layout.columns):
        if c.transform or lf.fields[c.source].role != "my_number":
            continue
        bodies = rng.integers(10**10, 10**11, table.num_rows)
        numbers = pa.array(
            np.char.add(bodies.astype(str), my_number_check(bodies).astype(str)), pa.string()
        )
        old = table.column(i)
        valid = pc.if_else(pc.is_null(old), pa.nulls(len(numbers), pa.string()), numbers)
        table = table.set_column(i, c.name, valid.cast(old.type))
    return table


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> dict:
    wall, cpu = _clock()
    return {"seconds": round(wall - start[0], 3), "cpu_seconds": round(cpu - start[1], 3)}


def change_rate() -> float:
    value = os.environ.get("IKOU_BENCH_DELTA_CHANGE_RATE", "").strip()
    rate = float(value) if value else CHANGE_RATE
    if not 0 < rate <= 0.5:
        raise ValueError(f"IKOU_BENCH_DELTA_CHANGE_RATE {value!r}: expected a share in (0, 0.5]")
    return rate


def gate_target(target, rows: dict[str, int], run_id: str, scope=None) -> dict:
    """``gate_target`` on the target's tables, as its task runs it (GX inside the database); with
    ``scope`` (a :class:`~ikou.load.delta_scope.DeltaScope`) delta-scoped, as after a delta load.
    The verdict must be a pass: a benchmark of a failing gate is no figure."""
    from ikou.quality.gate import Unit, run_gate
    from ikou.stages.gate import scoped_units

    start = _clock()
    units = [Unit(name, None, expected_rows=n) for name, n in rows.items()]
    with scope if scope is not None else contextlib.nullcontext():
        if scope is not None:
            units = scoped_units(units, scope)
        report = run_gate(
            DOMAIN, "gate_target", units, run_id=run_id,
            target_url=target.gx_url if scope is None else scope.gx_url,
            parameters={"snapshot": "2026-11-01"},
        )  # fmt: skip
    return _since(start) | {
        "verdict": report["verdict"],
        "scope": report["scope"],
        "rows_checked": sum(u.expected_rows or 0 for u in units),
    }


def run(workdir: Path, quick: bool) -> dict:
    from ikou_dev.bench.gates import stack

    with stack(Path(workdir)) as url:
        if not url.startswith("postgresql"):
            raise RuntimeError("the delta benchmark needs the local PostgreSQL (IKOU_BENCH_PG_URL)")
        return _run(Path(workdir), quick, url)


def _run(work: Path, quick: bool, url: str) -> dict:
    from ikou.domains import registry
    from ikou.load import build_handoff, clean_load, load_target, write_manifest
    from ikou.load.control import Control
    from ikou.load.delta import build_delta_handoff
    from ikou.load.delta_apply import apply_delta
    from ikou.load.delta_scope import DeltaScope
    from ikou.load.target import Target, rehearsal_schema
    from ikou.rehearsal.reconcile import reconcile_table
    from ikou.rehearsal.reconcile_delta import reconcile_delta_table

    rows = ROWS_QUICK if quick else int(os.environ.get("IKOU_BENCH_DELTA_ROWS", ROWS_FULL))
    rate = change_rate()
    secret = b"bench-delta"
    tables = registry().get(DOMAIN).layout.tables
    start = _clock()
    base, new = snapshot_pair(rows, change_rate=rate)
    figures: dict = {
        # the machine is shared: wall seconds move with its load, CPU seconds much less
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "domain": DOMAIN,
        "change_rate": rate,
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
    new_rows = {name: t.num_rows for name, t in new.items()}
    full = Target(url, rehearsal_schema("bench-full"))
    start = _clock()
    load_target(full, DOMAIN, sets["new"][0], run_id="bench-full", snapshot="2026-11-01",
                manifest_sha256=sets["new"][1], mode="rehearsal")  # fmt: skip
    full_load = _since(start)
    full_gate = gate_target(full, new_rows, "bench-full")
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
    delta_gate = gate_target(
        ahead, new_rows, "bench-delta", DeltaScope(ahead, DOMAIN, manifest, csvs)
    )
    start = _clock()
    recs = [
        reconcile_delta_table(DOMAIN, t, new[t.name], ahead, secret, csvs[t.name]) for t in tables
    ]
    delta_rec = _since(start)
    assert all(r["mismatches"] == 0 for r in recs), "the delta does not reconcile"
    full.dispose()
    ahead.dispose()
    full_total = full_load["seconds"] + full_gate["seconds"] + full_rec["seconds"]
    delta_total = diff["seconds"] + apply["seconds"] + delta_gate["seconds"] + delta_rec["seconds"]
    figures.update(
        {
            "delta_rows": {e["table"]: e["ops"] for e in manifest["tables"]},
            "full_path": {
                "load": full_load,
                "gate_target": full_gate,
                "reconcile": full_rec,
                "seconds": round(full_total, 3),
            },
            "delta_path": {
                "diff": diff,
                "apply": apply,
                "gate_target": delta_gate,
                "reconcile": delta_rec,
                "seconds": round(delta_total, 3),
            },
            "delta_share_of_full": round(delta_total / full_total, 3),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "bound": 0.25,
        }
    )
    return figures
