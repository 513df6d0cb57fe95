"""Benchmark: does the timing model hold? (issue 13 §3: a small run's projection within ±25 %).

    python -m ikou_dev.bench timing            # fit on 20k–200k residents, check at 1M
    python -m ikou_dev.bench --quick timing    # 500 / 1,000 → 2,000 (what the test suite runs)
    IKOU_BENCH_TIMING_FIT=20000,100000 IKOU_BENCH_TIMING_CHECK=1000000 python -m ikou_dev.bench timing

住民基本台帳 (``juki``) of cities of several sizes (the cleanse benchmark's cities, cached) runs
its ten tasks in order as plain functions against a local S3 endpoint and PostgreSQL (the gates
benchmark's stack), the largest fit volume first and the smallest last, all in one reports zone:
each rehearsal fits the timing model over the runs before it, as a nightly rehearsal fits over
the domain's history. The smallest run's model (:func:`ikou.rehearsal.timing.project` with the
other fit runs as its history — what its rehearsal report computed) then predicts every stage at
the check volume, which runs last; the figures give, stage by stage, the predicted and measured
uncontended seconds (the model's basis: max(CPU, wall ÷ κ)) and the error, beside what a model
of CPU time alone, one of wall time and the old linear scale would have said. Every run's wall and CPU seconds per stage and the load average
are recorded (the machine is shared).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

DOMAIN = "juki"
FIT = (200_000, 100_000, 50_000, 20_000)  # largest first: the smallest run comes last
CHECK = 1_000_000
QUICK_FIT = (1_000, 500)
QUICK_CHECK = 2_000
WARM_UP = 500  # residents of a first run that is thrown away (imports, caches, the C kernel)
TOLERANCE = 0.25


def _volumes(quick: bool) -> tuple[list[int], int]:
    if quick:
        return list(QUICK_FIT), QUICK_CHECK
    fit = os.environ.get("IKOU_BENCH_TIMING_FIT")
    fits = sorted((int(x) for x in fit.split(",")), reverse=True) if fit else list(FIT)
    return fits, int(os.environ.get("IKOU_BENCH_TIMING_CHECK", CHECK))


def run(workdir: Path, quick: bool) -> dict:
    from ikou_dev.bench.gates import stack

    fits, check = _volumes(quick)
    with stack(workdir) as target_url:
        return _run(fits, check, target_url)


def _one(residents: int, run_id: str | None = None) -> dict:
    """One juki run of a city of ``residents``: its rehearsal report's timing and the machine."""
    from ikou.pipeline import STAGES, RunContext
    from ikou.quality.gate import forget_context
    from ikou.stages import gate
    from ikou.storage import Store, forget_clients
    from ikou_dev.bench.cleanse import SNAPSHOT, build_city
    from ikou_dev.bench.gates import run_stage, upload_landing

    t0 = time.monotonic()
    city = build_city(residents)
    city_seconds = round(time.monotonic() - t0, 1)
    forget_clients()
    upload_landing(city, DOMAIN, SNAPSHOT)
    run_id = run_id or f"bench_timing_{residents}"
    ctx = RunContext.build(domain=DOMAIN, run_id=run_id, snapshot=SNAPSHOT)
    load_before = os.getloadavg()[0]
    results: dict = {}
    t = time.monotonic()
    for s in STAGES:
        results[s.name] = run_stage(s.name, ctx, results)
        forget_context()  # a gate task builds its own GX context
        gate.run(ctx, s.gate, results[s.name])
    wall = round(time.monotonic() - t, 1)
    rep = json.loads(
        Store().get_bytes(f"s3://ikou-reports/reports/{DOMAIN}/{run_id}/rehearsal.json")
    )
    t_ = rep["timing"]
    return {
        "residents": residents,
        "records": t_["legacy_records"],
        "run_id": run_id,
        "generated_at": rep["generated_at"],
        "verdict": rep["verdict"],
        "stage_seconds": t_["stage_seconds"],
        "stage_cpu_seconds": t_["stage_cpu_seconds"],
        "wall_over_cpu": t_["wall_over_cpu"],
        "run_wall_seconds": wall,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "city_seconds": city_seconds,
        "report_projection": {
            "expected_records": t_["expected_records"],
            "projected_hours": t_["projected_hours"],
            "linear_hours": t_["linear_hours"],
            "basis": t_["projection_basis"],
            "methods": t_["projection_methods"],
            "points": [p["records"] for p in t_["projection_points"]],
        },
    }


def _error(pred: float, measured: float) -> float | None:
    return round(pred / measured - 1, 3) if measured else None


def compare(runs: list[dict], check: dict) -> dict:
    """The smallest fit run's projections at the check run's records against its measurement:
    on the model's basis (uncontended seconds), on CPU time alone, on wall time, and the old
    linear scale of the wall time."""
    from ikou.rehearsal.timing import contention, project, uncontended

    small = min(runs, key=lambda r: r["records"])
    history = [r for r in runs if r is not small]
    n, expected = small["records"], check["records"]
    run = {"run_id": small["run_id"], "generated_at": small["generated_at"]}

    def cpu_only(r: dict) -> dict:  # a run whose wall time is its CPU time: κ = 1, cost = CPU
        return {**r, "stage_seconds": r["stage_cpu_seconds"]}

    model = project(
        small["stage_seconds"],
        n,
        expected,
        history=history,
        stage_cpu=small["stage_cpu_seconds"],
        run=run,
    )
    cpu = project(
        small["stage_cpu_seconds"],
        n,
        expected,
        history=[cpu_only(r) for r in history],
        stage_cpu=small["stage_cpu_seconds"],
        run=run,
    )
    wall = project(small["stage_seconds"], n, expected, history=history, run=run)
    measured = uncontended(check["stage_seconds"], check["stage_cpu_seconds"])
    stages = {}
    for s, v in model["stages"].items():
        m_cpu = check["stage_cpu_seconds"].get(s) or 0.0
        m_wall = check["stage_seconds"].get(s, 0.0)
        stages[s] = {
            "predicted": v["projected_seconds"],
            "measured": round(measured.get(s, m_wall), 2),
            "error": _error(v["projected_seconds"], measured.get(s, m_wall)),
            "predicted_cpu": cpu["stages"][s]["projected_seconds"],
            "measured_cpu": m_cpu,
            "error_cpu": _error(cpu["stages"][s]["projected_seconds"], m_cpu),
            "predicted_wall": wall["stages"][s]["projected_seconds"],
            "measured_wall": m_wall,
            "error_wall": _error(wall["stages"][s]["projected_seconds"], m_wall),
            "linear_wall": wall["stages"][s]["linear_seconds"],
            "error_linear_wall": _error(wall["stages"][s]["linear_seconds"], m_wall),
            "a": v["overhead_seconds"],
            "b_ms": v["per_record_ms"],
            "method": v["method"],
            "points": v["point_records"],
        }
    tot = sum(measured.values())
    tot_cpu = sum(check["stage_cpu_seconds"].values())
    tot_wall = sum(check["stage_seconds"].values())
    errors = [abs(v["error"]) for v in stages.values() if v["error"] is not None]
    return {
        "from_run": small["run_id"],
        "from_records": n,
        "at_records": expected,
        "basis": model["basis"],
        "contention_of_the_check_run": round(
            contention(check["stage_seconds"], check["stage_cpu_seconds"]), 2
        ),
        "points": [p["records"] for p in model["points"]],
        "stages": stages,
        "total": {
            "predicted": model["projected_seconds"],
            "measured": round(tot, 1),
            "error": _error(model["projected_seconds"], tot),
        },
        "total_cpu": {
            "predicted": cpu["projected_seconds"],
            "measured": round(tot_cpu, 1),
            "error": _error(cpu["projected_seconds"], tot_cpu),
        },
        "total_wall": {
            "predicted": wall["projected_seconds"],
            "measured": round(tot_wall, 1),
            "error": _error(wall["projected_seconds"], tot_wall),
            "linear": round(wall["linear_hours"] * 3600, 1),
            "error_linear": _error(wall["linear_hours"] * 3600, tot_wall),
        },
        "max_stage_error": round(max(errors), 3) if errors else None,
        "stages_within_tolerance": sum(e <= TOLERANCE for e in errors),
        "tolerance": TOLERANCE,
        "every_stage_within_tolerance": bool(errors) and max(errors) <= TOLERANCE,
    }


def _run(fits: list[int], check: int, target_url: str) -> dict:
    import sqlalchemy as sa

    import great_expectations  # noqa: F401 - preloaded in the scheduler, as plugins/ikou_preload.py does
    from ikou.rehearsal.timing import points_uri
    from ikou.storage import Store

    # a task process has imported Ikou before it runs (the scheduler preloads it): so has this
    # one after a first run, which is then forgotten (its report and its remembered point)
    _one(WARM_UP, "bench_timing_warm_up")
    store = Store()
    store.delete_prefix(f"s3://ikou-reports/reports/{DOMAIN}/bench_timing_warm_up/")
    store.delete_prefix(points_uri(DOMAIN))
    runs = [_one(n) for n in fits]
    checked = _one(check)
    return {
        "domain": DOMAIN,
        "target": sa.engine.make_url(target_url).get_backend_name(),
        "fit_residents": fits,
        "check_residents": check,
        "runs": runs + [checked],
        "prediction": compare(runs, checked),
    }
