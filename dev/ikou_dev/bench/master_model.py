"""The master benchmark's check of the timing model (issue 13 §3): what the model projects for
every domain and stage at the 1M city from the cities of ≤ 500k residents, against the measured
run. ``python -m ikou_dev.bench.master_model --model bench/results/master.json`` (re)computes a
results file's check and the per-domain ratios between cities. The check runs on
``figures.timing_series.cities`` when the file has such a series (the ≤ 500k cities and the 1M
city of one host and code version, measured apart from the §2 cities), else on
``figures.cities``; ``timing_model_on_spans`` is the same check on the stages' spans (their
parts' waits for a free slot added back). When the file has ``figures.alone_series`` (every domain
run alone, city by city: ``IKOU_BENCH_MASTER_ALONE=1``), ``timing_model`` is the check on it — the
model projects one domain's run — and ``timing_model_in_master`` the check on the master's series.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import median

CHECK = 1_000_000  # the measured city the model is checked against
FIT_MAX = 500_000  # the model rests only on cities of at most this many residents (issue 13 §3)
TOLERANCE = 0.25


def model_check(cities: list[dict], check: int = CHECK, fit_max: int = FIT_MAX) -> dict:
    """Per domain and stage, what the timing model (:func:`ikou.rehearsal.timing.project`, as the
    smallest run's rehearsal report computes it with the other fit cities as its history)
    predicts at the ``check`` city from the completed cities of ≤ ``fit_max`` residents, against
    the measured run (uncontended seconds: the model's basis); the stages outside ±25 %."""
    from ikou_dev.bench.timing import compare

    # a domain whose run finished has its report, even when the master as a whole did not end
    done = {c["residents"]: c for c in cities if c.get("domains")}
    fits = sorted(n for n in done if n <= fit_max)
    if check not in done or not fits:
        return {
            "checked": False,
            "reason": f"needs domain runs of a city of {check:,} and of one of ≤ {fit_max:,} "
            "residents",
        }

    def point(row: dict) -> dict:
        return {
            "records": row["legacy_records"],
            "run_id": row["run_id"],
            "generated_at": None,
            "stage_seconds": row["stage_seconds"],
            "stage_cpu_seconds": row["stage_cpu_seconds"],
        }

    domains, misses = {}, []
    for d, row in sorted(done[check]["domains"].items()):
        runs = [
            point(done[n]["domains"][d])
            for n in fits
            if done[n]["domains"].get(d, {}).get("report")
        ]
        if not row.get("report") or not runs:
            continue
        c = compare(runs, point(row))
        domains[d] = {
            k: c[k] for k in ("from_records", "at_records", "points", "total", "max_stage_error")
        } | {
            "stages": {
                s: {k: v[k] for k in ("predicted", "measured", "error", "a", "b_ms", "method")}
                for s, v in c["stages"].items()
            }
        }
        for s, v in c["stages"].items():
            if v["error"] is not None and abs(v["error"]) > TOLERANCE:
                misses.append(
                    {
                        "domain": d,
                        "stage": s,
                        **{k: v[k] for k in ("predicted", "measured", "error")},
                    }
                )
    errors = [
        abs(v["error"])
        for x in domains.values()
        for v in x["stages"].values()
        if v["error"] is not None
    ]
    pred = sum(x["total"]["predicted"] for x in domains.values())
    meas = sum(x["total"]["measured"] for x in domains.values())
    by_stage: dict[str, list[float]] = {}
    for x in domains.values():
        for s, v in x["stages"].items():
            if v["error"] is not None:
                by_stage.setdefault(s, []).append(v["error"])
    return {
        "checked": True,
        "fit_residents": fits,
        "check_residents": check,
        "tolerance": TOLERANCE,
        # issue 13 §3: each domain's projection (its stages' total) within ±25 %
        "domains_checked": len(domains),
        "domains_within_tolerance": sum(
            abs(x["total"]["error"]) <= TOLERANCE
            for x in domains.values()
            if x["total"].get("error") is not None
        ),
        "domain_misses": {
            d: x["total"]["error"]
            for d, x in sorted(domains.items())
            if x["total"].get("error") is not None and abs(x["total"]["error"]) > TOLERANCE
        },
        "stages_checked": len(errors),
        "stages_within_tolerance": sum(e <= TOLERANCE for e in errors),
        "misses": sorted(misses, key=lambda m: -m["measured"]),
        "misses_over_one_second": sum(m["measured"] >= 1 for m in misses),
        "median_error_by_stage": {s: round(median(v), 3) for s, v in by_stage.items()},
        "city_total": {
            "predicted": round(pred, 1),
            "measured": round(meas, 1),
            "error": round(pred / meas - 1, 3) if meas else None,
        },
        "domains": domains,
    }


def with_slot_waits(cities: list[dict]) -> list[dict]:
    """The cities with each stage's seconds as its span again (the seconds its tasks ran plus the
    time its mapped parts waited for a free slot, ``stage_slot_wait_seconds``): the model checked
    on the spans, as it was before the stages recorded their tasks' seconds."""
    out = []
    for c in cities:
        domains = {}
        for d, row in (c.get("domains") or {}).items():
            waits = row.get("stage_slot_wait_seconds") or {}
            seconds = {
                s: round(v + waits.get(s, 0.0), 3)
                for s, v in (row.get("stage_seconds") or {}).items()
            }
            domains[d] = row | {"stage_seconds": seconds}
        out.append(c | {"domains": domains})
    return out


def _stage_costs(done: dict, fits: list[int], city: dict) -> dict:
    """Per domain of ``city``: the timing model's seconds per stage at its measured records, from
    the fit cities ``done[n]`` (n in ``fits``) only (as :func:`model_check`), as capacity costs."""
    from ikou.domains import registry
    from ikou.rehearsal.capacity import DomainCost
    from ikou.rehearsal.timing import project

    reg = registry()
    costs = {}
    for d, row in sorted(city["domains"].items()):
        runs = [done[n]["domains"][d] for n in fits if done[n]["domains"].get(d, {}).get("report")]
        if not row.get("legacy_records") or not runs:
            continue
        small = min(runs, key=lambda r: r["legacy_records"])
        history = [
            {
                "records": r["legacy_records"],
                "stage_seconds": r["stage_seconds"],
                "stage_cpu_seconds": r["stage_cpu_seconds"],
                "run_id": r["run_id"],
            }
            for r in runs
            if r is not small
        ]
        p = project(
            small["stage_seconds"],
            small["legacy_records"],
            row["legacy_records"],
            history=history,
            stage_cpu=small["stage_cpu_seconds"],
            run={"run_id": small["run_id"]},
        )
        stages = tuple((s, v["projected_seconds"], 0.0) for s, v in p["stages"].items())
        costs[d] = DomainCost(d, tuple(reg.get(d).refers_to), stages, 1, {})
    return costs


def task_overhead(costs: dict, measured: float, workers: int) -> float:
    """The seconds of orchestration a stage task that make the capacity plan's schedule of
    ``costs`` on ``workers`` slots last the ``measured`` master wall time (0 when the stages
    alone already take longer). The schedule grows with the overhead: bisection."""
    from ikou.rehearsal.capacity import schedule

    lo, hi = 0.0, measured
    if schedule(costs, 1.0, workers) >= measured:
        return 0.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if schedule(costs, 1.0, workers, mid) < measured:
            lo = mid
        else:
            hi = mid
    return round((lo + hi) / 2, 2)


def capacity_check(
    cities: list[dict],
    workers: int = 2,
    fit_max: int = FIT_MAX,
    costs_from: list[dict] | None = None,
) -> dict:
    """The capacity plan (:mod:`ikou.rehearsal.capacity`: the master's graph list-scheduled on
    ``workers`` one-core slots) against every measured master run: each city's domains cost what
    the timing model projects from the cities of ≤ ``fit_max`` residents; the orchestration a
    stage task adds (what the rehearsal reports do not time) is calibrated on those same cities
    (their median) and so predicts the larger cities out of sample. ``costs_from``: the cities
    the costs are fitted on (each domain run alone: uncontended, as the plan assumes), when not
    the master runs themselves."""
    from ikou.rehearsal.capacity import critical_path, schedule

    done = {c["residents"]: c for c in cities if c.get("domains")}
    fit_done = {c["residents"]: c for c in costs_from if c.get("domains")} if costs_from else done
    fits = sorted(n for n in fit_done if n <= fit_max)
    whole = [n for n in sorted(done) if done[n].get("completed") and done[n].get("master_seconds")]
    if not fits or not whole:
        return {
            "checked": False,
            "reason": f"needs a completed master run and domain runs of ≤ {fit_max:,} residents",
        }
    costs = {n: _stage_costs(fit_done, fits, done[n]) for n in whole}
    calibrated = {
        n: task_overhead(costs[n], done[n]["master_seconds"], workers) for n in whole if n in fits
    }
    overhead = median(calibrated.values()) if calibrated else None
    rows = []
    for n in whole:
        measured = done[n]["master_seconds"]
        stages_only = schedule(costs[n], 1.0, workers)
        row = {
            "residents": n,
            "tasks": sum(len(c.stages) for c in costs[n].values()),
            "measured_seconds": measured,
            "stages_only_seconds": round(stages_only, 1),
            "stages_only_error": round(stages_only / measured - 1, 3),
            "critical_path": critical_path(costs[n], 1.0)[0],
            "in_sample": n in fits,
        }
        if overhead is not None:
            planned = schedule(costs[n], 1.0, workers, overhead)
            row |= {
                "planned_seconds": round(planned, 1),
                "error": round(planned / measured - 1, 3),
            }
        rows.append(row)
    return {
        "checked": True,
        "workers": workers,
        "fit_residents": fits,
        "task_overhead_seconds": overhead,
        "task_overhead_by_city": calibrated,
        "cities": rows,
    }


def domain_ratios(cities: list[dict]) -> list[dict]:
    """Per domain, its run's wall seconds and its stages' CPU seconds in each city over the
    previous city's (every domain run that finished counts, even in a master that did not end)."""
    have = [c for c in cities if c.get("domains")]
    out = []
    for a, b in zip(have, have[1:]):
        rows = {}
        for d, y in sorted(b["domains"].items()):
            x = a["domains"].get(d) or {}
            if not (x.get("report") and y.get("report")):
                continue
            cpu_x, cpu_y = (sum((r.get("stage_cpu_seconds") or {}).values()) for r in (x, y))
            rows[d] = {
                "records": round(y["legacy_records"] / x["legacy_records"], 2),
                "wall_seconds": round(y["wall_seconds"] / x["wall_seconds"], 2)
                if x.get("wall_seconds") and y.get("wall_seconds")
                else None,
                "cpu_seconds": round(cpu_y / cpu_x, 2) if cpu_x else None,
            }
        out.append({"from": a["residents"], "to": b["residents"], "domains": rows})
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m ikou_dev.bench.master_model --model FILE``: (re)compute a results file's model check."""
    from ikou.argparsing import Parser

    p = Parser(prog="python -m ikou_dev.bench.master_model", description=main.__doc__)
    p.add_argument("--model", type=Path, required=True, help="a master.json to check the model on")
    args = p.parse_args(argv)
    doc = json.loads(args.model.read_text())
    figures = doc["figures"]
    # the model is checked on one host's series of ≤ 500k cities and the 1M city: a series of its
    # own (``timing_series``) when the cities of §2 were measured on another host
    series = (figures.get("timing_series") or {}).get("cities") or figures["cities"]
    # what the model projects is one domain's run: checked on the series of every domain run
    # alone (``alone_series``, IKOU_BENCH_MASTER_ALONE=1) when there is one; the check on the
    # full master's series (its domains sharing the cores) is kept beside it
    alone = (figures.get("alone_series") or {}).get("cities")
    figures["timing_model"] = model_check(alone or series)
    if alone:
        in_master = model_check(series)
        figures["timing_model_in_master"] = {k: v for k, v in in_master.items() if k != "domains"}
    spans = model_check(with_slot_waits(series))
    figures["timing_model_on_spans"] = {k: v for k, v in spans.items() if k != "domains"}
    figures["domain_ratios"] = domain_ratios(figures["cities"])
    figures["capacity_check"] = capacity_check(figures["cities"])
    if alone:
        # the plan as ``ikou plan capacity`` makes it: uncontended costs (each domain alone, ≤ 500k)
        # scheduled on two slots, against the masters of the same host's series
        figures["capacity_check_on_alone_costs"] = capacity_check(series, costs_from=alone)
    args.model.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    print(
        json.dumps(
            {k: v for k, v in figures["timing_model"].items() if k != "domains"}
            | {
                k: figures[k]
                for k in ("capacity_check", "capacity_check_on_alone_costs")
                if k in figures
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
