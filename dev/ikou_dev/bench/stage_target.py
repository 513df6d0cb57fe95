"""The juki stages of :mod:`ikou_dev.bench.stage_process` and then the target's: ``load``,
``gate_target`` and ``rehearse`` (the full reconciliation), each in a process of its own, on a
PostgreSQL database of the run's own (created on the benchmark server, dropped afterwards).

    python -m ikou_dev.bench.stage_target RESIDENTS [OUT.json|-] [KEEP_DIR]

(by hand; issue 13 §2: does a stage's work grow with the city?). Each stage runs as its task
does: ``load`` as the DAG's ``load_plan`` → ``load_parts`` → ``load`` (one process here: its CPU
seconds are the three tasks', as the stage's ``cpu_seconds``), ``gate_target`` and the rehearsal
with the delta benchmark's functions (the gate passing, the reconciliation exact). The figures
are :mod:`ikou_dev.bench.stage_process`'s (CPU s, wall s, peak RSS of the process);
``rehearse`` adds its report's ``reconciliation`` stage (``reconciliation_seconds`` /
``reconciliation_cpu_seconds``). ``KEEP_DIR/reports`` receives the reports (the rehearsal's
reconciliation: counts, keyed hashes, aggregates — compare them before / after a change).

``IKOU_BENCH_BEFORE_INCLUDE=DIR`` (another code version's ``include``, e.g. ``git archive`` of a
commit) adds ``reconcile_before`` and ``reconcile`` before ``rehearse``: the rehearsal's
reconciliation alone (:func:`ikou.rehearsal.reconcile.reconcile_table` of every standard table,
as ``rehearse`` calls it), with that version's code and with this one, on the same loaded
target — their results compared (``same_as_before``: identical counts, hashes, aggregates).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ikou_dev.bench.stage_process import STAGES, by_hand, stages, timed

TARGET_STAGES = ("load", "gate_target", "rehearse")
ALL_STAGES = STAGES + TARGET_STAGES


def with_target(
    residents: int, seed: int, snapshot: str, workdir: Path, keep: Path | None = None
) -> dict:
    """:func:`ikou_dev.bench.stage_process.stages` with the target stages, on a fresh PostgreSQL
    database; returns {stage: figures}."""
    from ikou_dev.bench.gates import target_db

    before = os.environ.get("IKOU_BENCH_BEFORE_INCLUDE")
    run = ALL_STAGES
    stage_env = {}
    if before:
        run = STAGES + ("load", "gate_target", "reconcile_before", "reconcile", "rehearse")
        dev = str(Path(__file__).resolve().parents[2])
        stage_env["reconcile_before"] = {"PYTHONPATH": os.pathsep.join([before, dev])}
    url, drop = target_db(workdir)
    try:
        if not url.startswith("postgresql"):
            raise RuntimeError("the target stages need the local PostgreSQL (IKOU_BENCH_PG_URL)")
        return stages(
            residents,
            seed,
            snapshot,
            workdir,
            keep,
            run=run,
            children={s: "ikou_dev.bench.stage_target" for s in run if s not in STAGES},
            env_extra={"IKOU_TARGET_DB_URL": url, "GX_ANALYTICS_ENABLED": "false"},
            stage_env=stage_env,
        )
    finally:
        drop()


def child(stage: str, run_id: str, snapshot: str, before: Path, out: Path) -> None:
    """One target stage in this process (the results before it in ``before``)."""
    from ikou.pipeline import StageResult
    from ikou.stages import load
    from ikou_dev.bench.delta import gate_target, reconciliation

    results = {k: StageResult.model_validate(v) for k, v in json.loads(before.read_text()).items()}

    def run_load(ctx):
        planned = load.plan(ctx, results["validate"])
        parts = [load.part(ctx, p) for p in planned]
        res = load.run(ctx, results["validate"], plan=planned, parts=parts)
        return res, {"partitions": max(1, len(planned)), "rows": dict(res.units)}

    def run_gate(ctx):
        gated, figures = gate_target(ctx, results["load"])
        return gated, {"rows_checked": figures["rows_checked"]}

    def run_rehearse(ctx):
        loaded = results.get("gate_target") or results["load"]
        figures = reconciliation(ctx, results, loaded, delta=False)
        return None, {
            "reconciliation_seconds": figures["seconds"],
            "reconciliation_cpu_seconds": figures["cpu_seconds"],
            "rows_target": figures["rows_target"],
        }

    def run_reconcile(ctx):
        tables = reconcile_all(results["validate"], results["gate_target"])
        if stage == "reconcile_before":
            before.with_name("reconciled_before.json").write_text(json.dumps(tables))
            return None, {}
        earlier = before.with_name("reconciled_before.json")
        same = json.loads(earlier.read_text()) == tables if earlier.exists() else None
        return None, {"same_as_before": same}

    call = {
        "load": run_load,
        "gate_target": run_gate,
        "reconcile_before": run_reconcile,
        "reconcile": run_reconcile,
        "rehearse": run_rehearse,
    }[stage]
    timed(stage, run_id, snapshot, call, out)


def reconcile_all(validated, loaded) -> list[dict]:
    """The rehearsal's full reconciliation of every standard table (as ``rehearse`` calls it),
    its results as the report holds them."""
    import tempfile

    import pyarrow.parquet as pq

    from ikou.config import settings
    from ikou.domains import registry
    from ikou.load.target import Target
    from ikou.rehearsal.reconcile import reconcile_table
    from ikou.storage import Store, publication

    store, reg = Store(), registry()
    target = Target(settings().target_db_url, loaded.target_schema or "")
    out = []
    try:
        with tempfile.TemporaryDirectory(prefix="ikou-reconcile-") as tmp:
            manifest = publication.read_manifest(store, validated.published)
            for t in reg.get(validated.domain).standard.tables:
                path = publication.fetch(
                    store, validated.published, f"{t.name}.parquet", Path(tmp), manifest
                )
                out.append(
                    reconcile_table(
                        validated.domain,
                        t,
                        pq.read_table(path),
                        target,
                        settings().hmac_secret,
                        tolerance=reg.plan[validated.domain].reconciliation_tolerance,
                    )
                )
    finally:
        target.dispose()
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--child":
        stage, run_id, snapshot, before, out = argv[1:6]
        child(stage, run_id, snapshot, Path(before), Path(out))
        return 0
    return by_hand(argv, with_target)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
