"""Benchmark: the cutover-window part of the delta path against the full path (issue 12), for
住民基本台帳 (``juki``) of a synthesized city and a month of its changes.

    python -m ikou_dev.bench delta           # 1,000,000 residents (IKOU_BENCH_DELTA_RESIDENTS)
    python -m ikou_dev.bench --quick delta   # 2,000 residents (what the test suite runs)

The city: ``ikou synth --residents N --snapshot BASE`` and ``ikou synth --changes-from BASE
--snapshot NEW --change-rate 0.015 --months 1`` (moves, arrivals, births, deaths, marriages,
corrections … and their answer key; ``IKOU_BENCH_DELTA_CHANGE_RATE``), written straight into the
landing zone of a local S3 endpoint beside a fresh PostgreSQL database (the gates benchmark's
``stack``, as the timing benchmark runs it). 住民基本台帳 then runs as the DAG's tasks do, as
plain ``ikou.stages`` calls (not timed): BASE extract → gate_raw → cleanse → gate_cleansed →
validate → gate_standard → load (its full hand-off set, the delta's base); NEW the same with
``base_snapshot=BASE`` (名寄せ carries over).

Then the cutover window on that validated output, both paths, with the tasks' functions:

* full path (run ``bench_delta_full``): ``load`` (the hand-off set of NEW published, then loaded
  in one transaction) + ``gate_target`` (the whole tables) + the reconciliation (``rehearsal``:
  every row of the target streamed and compared by keyed hash);
* delta path (the NEW run): ``diff`` (NEW's full hand-off set — what the target will equal —
  and the delta set) + ``load`` after the diff, of which the delta's apply is timed (the base it
  applies to is loaded in full first into the run's schema: the load ahead, days before the
  weekend, ``base_load_seconds`` apart) + the delta-scoped ``gate_target`` + the delta's
  reconciliation (in-database digest, the touched keys in full).

Each timing is the task's function (the reconciliation: what the rehearsal report records as its
``reconciliation`` stage). Asserted: every gate passes, both reconciliations are exact, and the
delta applied once more is a no-op (``already_applied``) before the delta's reconciliation runs.
Wall and CPU seconds and the load average are recorded (the machine is shared).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

DOMAIN = "juki"
BASE, NEW = "2026-10-01", "2026-11-01"
SEED = 7
FULL_RESIDENTS = 1_000_000
QUICK_RESIDENTS = 2_000
CHANGE_RATE = 0.015  # a month of changes (issue 12)
LANDING = "s3://ikou-restricted/landing"
BOUND = 0.25


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> dict:
    wall, cpu = _clock()
    return {"seconds": round(wall - start[0], 3), "cpu_seconds": round(cpu - start[1], 3)}


def _env_number(name: str, default, kind, low, high):
    value = os.environ.get(name, "").strip()
    number = kind(value) if value else default
    if not low <= number <= high:
        raise ValueError(f"{name} {value!r}: expected a value from {low} to {high}")
    return number


def run(workdir: Path, quick: bool) -> dict:
    from ikou_dev.bench.gates import stack

    residents = (
        QUICK_RESIDENTS
        if quick
        else _env_number("IKOU_BENCH_DELTA_RESIDENTS", FULL_RESIDENTS, int, 100, 10_000_000)
    )
    rate = _env_number("IKOU_BENCH_DELTA_CHANGE_RATE", CHANGE_RATE, float, 0.0001, 0.5)
    with stack(Path(workdir)) as url:
        if not url.startswith("postgresql"):
            # the delta-scoped gate_target and the timed paths are PostgreSQL's
            raise RuntimeError("the delta benchmark needs the local PostgreSQL (IKOU_BENCH_PG_URL)")
        return _run(residents, rate)


def _report(run_id: str, name: str) -> dict:
    from ikou.storage import Store, join, zone_uri

    return json.loads(Store().get_bytes(join(zone_uri("reports", DOMAIN, run_id), name)))


def upstream(ctx) -> dict:
    """extract → gate_raw → cleanse → gate_cleansed → validate → gate_standard of ``ctx``, as the
    DAG's tasks call them (a gate raises on a critical failure); the gated results by stage."""
    from ikou.pipeline import STAGES
    from ikou.quality.gate import forget_context
    from ikou.stages import gate
    from ikou_dev.bench.gates import run_stage

    results: dict = {}
    for s in STAGES[:3]:
        out = run_stage(s.name, ctx, results)
        forget_context()  # a gate task builds its own GX context
        results[s.name] = gate.run(ctx, s.gate, out)
    return results


def gate_target(ctx, loaded) -> tuple[object, dict]:
    """The ``gate_target`` task on a load's result, timed; its report's verdict and scope."""
    from ikou.quality.gate import forget_context
    from ikou.stages import gate

    forget_context()
    start = _clock()
    gated = gate.run(ctx, "gate_target", loaded)
    figures = _since(start)
    rep = _report(ctx.run_id, "gates/gate_target.json")
    assert rep["verdict"] == "pass", (ctx.run_id, rep["verdict"])
    figures |= {
        "verdict": rep["verdict"],
        "scope": rep["scope"],
        "rows_checked": sum(
            (u.get("scope") or {}).get("rows", loaded.units.get(u["unit"], 0)) for u in rep["units"]
        ),
    }
    return gated, figures


def reconciliation(ctx, results: dict, loaded, delta: bool) -> dict:
    """The ``rehearsal`` task (reconciliation, then the rehearsal schema's rollback); the timing
    is its report's ``reconciliation`` stage. Asserts the reconciliation exact."""
    from ikou.stages import rehearse

    rehearse.run(ctx, results["extract"], results["cleanse"], results["validate"], loaded)
    rep = _report(ctx.run_id, "rehearsal.json")
    assert rep["reconciliation_method"]["method"] == ("delta" if delta else "full"), rep
    for t in rep["reconciliation"]:
        exact = t["mismatches"] == 0 and t["counts_match"] and t["aggregates_match"]
        if delta:
            exact = exact and t["digest_match"] and t["changed_mismatches"] == 0
        assert exact and t["rows_target"] == t["rows_source"], (ctx.run_id, t)
    timing = rep["timing"]
    return {
        "seconds": timing["stage_seconds"]["reconciliation"],
        "cpu_seconds": timing["stage_cpu_seconds"].get("reconciliation"),
        "exact": True,
        "rows_target": {t["unit"]: t["rows_target"] for t in rep["reconciliation"]},
        "verdict": rep["verdict"],  # GO / NO-GO also weighs the projected window: recorded only
    }


def reapply(loaded) -> str:
    """The delta set applied once more to the target it was applied to: the load log shows its
    ``result_sha256``, so nothing is applied (``already_applied``)."""
    from ikou.config import settings
    from ikou.load.delta_apply import ALREADY_APPLIED, load_delta
    from ikou.load.target import Target
    from ikou.storage import Store

    target = Target(settings().target_db_url, loaded.target_schema or "")
    try:
        out = load_delta(
            target, DOMAIN, Store(), loaded.delta["set"], run_id=loaded.run_id, mode="rehearsal"
        )
    finally:
        target.dispose()
    assert out["status"] == ALREADY_APPLIED, out["status"]
    return out["status"]


def _run(residents: int, rate: float) -> dict:
    from ikou.pipeline import RunContext
    from ikou.stages import diff, load
    from ikou.storage import forget_clients
    from ikou_dev.synth import synthesize
    from ikou_dev.synth.delta import synthesize_changes

    forget_clients()  # the stack's endpoint
    figures: dict = {
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "domain": DOMAIN,
        "residents": residents,
        "snapshots": {"base": BASE, "new": NEW},
        "change_rate": rate,
        "months": 1,
    }
    start = _clock()
    synthesize(residents, SEED, BASE, LANDING, domains=[DOMAIN])
    changes = synthesize_changes(BASE, NEW, LANDING, change_rate=rate, months=1, domains=[DOMAIN])
    figures["synth"] = _since(start) | {
        "changed_people": changes["changed_people"],
        "changed_records": changes["changed_records"],
    }
    # the two snapshots through the stages before the window (not timed)
    start = _clock()
    base_ctx = RunContext.build(domain=DOMAIN, run_id="bench_delta_base", snapshot=BASE)
    base = upstream(base_ctx)
    base_load = load.run(base_ctx, base["validate"])  # publishes the base's full hand-off set
    new_ctx = RunContext.build(
        domain=DOMAIN, run_id="bench_delta_new", snapshot=NEW, base_snapshot=BASE
    )
    new = upstream(new_ctx)
    figures["upstream"] = _since(start)
    validated = new["validate"]
    # full path: a run of NEW without a base (the full load)
    full_ctx = RunContext.build(domain=DOMAIN, run_id="bench_delta_full", snapshot=NEW)
    start = _clock()
    loaded_full = load.run(full_ctx, validated)
    full_load = _since(start)
    gated_full, full_gate = gate_target(full_ctx, loaded_full)
    full_rec = reconciliation(full_ctx, new, gated_full, delta=False)
    # delta path: the NEW run (base_snapshot set)
    start = _clock()
    diffed = diff.run(new_ctx, validated)
    diff_t = _since(start)
    loaded = load.run(new_ctx, validated, diffed)
    d = loaded.delta
    assert d["status"] == "applied", d["status"]
    apply_t = {"seconds": d["apply_seconds"], "cpu_seconds": d["apply_cpu_seconds"]}
    gated, delta_gate = gate_target(new_ctx, loaded)
    again = reapply(loaded)
    delta_rec = reconciliation(new_ctx, new, gated, delta=True)
    assert delta_rec["rows_target"] == full_rec["rows_target"], "the paths end apart"

    rows_base = dict(base_load.units)
    rows_new = dict(validated.units)
    ops = {t: dict(o) for t, o in d["ops"].items()}
    touched = {t: sum(o.values()) for t, o in ops.items()}
    full_total = full_load["seconds"] + full_gate["seconds"] + full_rec["seconds"]
    delta_total = diff_t["seconds"] + apply_t["seconds"] + delta_gate["seconds"]
    delta_total += delta_rec["seconds"]
    cpu = [
        sum(p[k]["cpu_seconds"] or 0.0 for k in p)
        for p in (
            {"load": full_load, "gate_target": full_gate, "reconciliation": full_rec},
            {"diff": diff_t, "apply": apply_t, "gate_target": delta_gate, "r": delta_rec},
        )
    ]
    figures.update(
        {
            "rows_base": rows_base,
            "rows_new": rows_new,
            "delta_rows": ops,
            # touched rows / base rows: what the month changed in the standard tables
            "measured_change_rate": {t: round(touched[t] / rows_base[t], 5) for t in ops},
            "measured_change_rate_all": round(sum(touched.values()) / sum(rows_base.values()), 5),
            "base_load_ahead": {
                "seconds": d["base_load_seconds"],
                "cpu_seconds": d["base_load_cpu_seconds"],
                "timed": False,
            },
            "full_path": {
                "load": full_load,
                "gate_target": full_gate,
                "reconciliation": full_rec,
                "seconds": round(full_total, 3),
                "cpu_seconds": round(cpu[0], 3),
            },
            "delta_path": {
                "diff": diff_t,
                "apply": apply_t,
                "gate_target": delta_gate,
                "reconciliation": delta_rec,
                "reapply": again,
                "seconds": round(delta_total, 3),
                "cpu_seconds": round(cpu[1], 3),
            },
            "delta_share_of_full": round(delta_total / full_total, 3),
            "delta_share_of_full_cpu": round(cpu[1] / cpu[0], 3) if cpu[0] else None,
            "bound": BOUND,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        }
    )
    return figures
