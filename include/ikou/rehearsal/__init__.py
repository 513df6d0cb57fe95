"""Cutover rehearsal: reconciliation, timing against the cutover window, GO / NO-GO or readiness.

Domains in the ``migration`` phase get a verdict. A rehearsal run loads into its own schema
(``ikou_rehearsal_<hex>``, see :mod:`ikou.load.target`); the rehearsal reconciles the validated
output with it, then drops the schema (rollback) — the reports stay. GO when:

* every gate passed without an override,
* the reconciliation found no mismatch beyond the domain's tolerance,
* every legacy record is accounted for (in = loaded + quarantined + merged), and
* the stage costs projected to the city's real volumes (see :mod:`ikou.rehearsal.timing`:
  a fixed overhead plus a per-record cost per stage, fitted over the domain's rehearsals at
  several volumes, in CPU seconds where recorded so that a busy machine does not inflate them;
  not a plain linear scale) fit the cutover window.

A cutover run (``mode=cutover``) runs on the real extract, so its time is measured, not
projected. It reconciles the live tables it just loaded: GO makes the domain live
(``ikou_cutover``); NO-GO (a mismatch, the accounting, or the measured time over the window)
drops the live tables again — the domain was not live before, the guard saw to it — and records
``rolled_back``: the legacy system stays (切り戻し).

Domains in ``preparation`` get a readiness report (cleansing findings, validation pass rates,
外字 worklist size) instead. Every verdict is recorded in the target database
(``ikou_rehearsal_log``): the cutover guard looks for its GO there. Reports (JSON + bilingual
HTML with charts, the trend over the previous rehearsals of the domain included) go to
``reports/{domain}/{run}/``; they hold counts, keyed hashes and verdicts only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from ikou.domains import registry
from ikou.pipeline import GATE_AFTER, LOADING_STAGES, StageResult
from ikou.storage import Store, join, run_key, zone_uri

log = logging.getLogger(__name__)

STAGE_ORDER = LOADING_STAGES
#: stages and gates in the order a cutover runs them; gates are timed from their reports
TIMED = (*(x for s in LOADING_STAGES for x in (s, GATE_AFTER[s])), "reconciliation")
GATES = tuple(GATE_AFTER[s] for s in LOADING_STAGES)
TREND_RUNS = 30


def gate_reports(domain: str, run_id: str, store: Store) -> dict[str, dict]:
    out = {}
    prefix = zone_uri("reports", domain, run_id)
    for g in GATES:
        try:
            out[g] = json.loads(store.get_bytes(join(prefix, f"gates/{g}.json")))
        except FileNotFoundError:
            pass
    return out


def gate_seconds(report: dict) -> float | None:
    """A gate's wall seconds: as the gate measured them, else from its start and end stamps."""
    if report.get("seconds_total") is not None:
        return float(report["seconds_total"])
    try:
        a = dt.datetime.fromisoformat(report["started_at"])
        b = dt.datetime.fromisoformat(report["finished_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (b - a).total_seconds())


def accounting_rows(
    domain_id: str, results: dict[str, StageResult | None], loaded: dict[str, int] | None
) -> list[dict]:
    """Legacy file → final output: data records in = out + quarantined + merged, per legacy file."""
    d = registry().get(domain_id)

    def rows_of(stage: str) -> dict[str, dict]:
        r = results.get(stage)
        return {a.unit: a.row() for a in r.accounting} if r is not None else {}

    ex, cl, va = rows_of("extract"), rows_of("cleanse"), rows_of("validate")
    rows = []
    for lf in d.legacy_files:
        e = ex[lf.name]
        data_in = e["records_in"] - e.get("header", 0) - e.get("trailer", 0)
        tables = [t.name for t in d.layout.tables if t.source == lf.name]
        out = sum((loaded or {}).get(t, va[t]["records_out"]) for t in tables)
        merged = cl[lf.name].get("merged", 0)
        row = {
            "unit": lf.name,
            "legacy_records": data_in,
            "quarantined": e.get("quarantined", 0),
            "merged": merged,
            "output_records": out,
            "tables": tables,
            "where": "target" if loaded else "validated output",
        }
        row["balanced"] = data_in == out + row["quarantined"] + merged
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- history (trend)


def _list_with_times(store: Store, prefix: str) -> list[tuple[str, float]]:
    return [(o.uri, o.modified) for o in store.objects(prefix)]


def history(
    domain: str, store: Store, *, exclude_run: str | None = None, limit: int = TREND_RUNS
) -> list[dict]:
    """Previous rehearsal.json of the domain from the reports zone, oldest first (at most ``limit``)."""
    prefix = zone_uri("reports", domain, "x").rsplit("/", 2)[0] + "/"
    skip = f"/{run_key(exclude_run)}/rehearsal.json" if exclude_run else None
    found = [
        (u, t)
        for u, t in _list_with_times(store, prefix)
        if u.endswith("/rehearsal.json") and not (skip and u.endswith(skip))
    ]
    found.sort(key=lambda x: x[1])
    out = []
    for uri, _ in found[-limit:]:
        try:
            out.append(json.loads(store.get_bytes(uri)))
        except Exception:  # noqa: BLE001 - one unreadable old report does not stop the trend
            log.warning("skipping unreadable %s", uri)
    out.sort(key=lambda r: r.get("generated_at", ""))
    return out


def trend_points(previous: list[dict], current: dict) -> list[dict]:
    pts = []
    for r in previous + [current]:
        t = r.get("timing", {})
        pts.append(
            {
                "run_id": r.get("run_id"),
                "generated_at": r.get("generated_at"),
                "snapshot": r.get("snapshot"),
                "mode": r.get("mode"),
                "verdict": r.get("verdict"),
                "projected_hours": t.get("projected_hours"),
                "elapsed_seconds": t.get("elapsed_seconds"),
                "legacy_records": t.get("legacy_records"),
                "mismatches": sum(
                    x.get("mismatches_found", x.get("mismatches", 0))
                    for x in r.get("reconciliation", [])
                ),
                "findings": sum(sum(f.values()) for f in r.get("findings", {}).values()),
                "gaiji_codes": r.get("gaiji_worklist", {}).get("unmapped_codes"),
                "current": r is current,
            }
        )
    return pts


# ----------------------------------------------------------------------------- the rehearsal


def run_timing(
    domain_id: str,
    results: dict[str, StageResult | None],
    gates: dict,
    recon: tuple[float | None, float | None] | float | None,
    legacy: int,
    previous: list[dict],
    store: Store,
    mode: str = "rehearsal",
    delta: dict | None = None,
) -> dict:
    """The run's stage costs (wall and CPU seconds) and their projection to the registry's
    volume (:mod:`ikou.rehearsal.timing`); ``recon``: the reconciliation's (wall, CPU) seconds;
    ``delta``: the load's delta figures after a delta load (both paths are timed, see
    :mod:`ikou.rehearsal.paths`). (Not named ``timing``: importing the submodule would replace a
    package attribute of that name.)"""
    from ikou.rehearsal.paths import change_rate, choose, delta_path, full_path
    from ikou.rehearsal.timing import (
        MIN_SPREAD,
        project,
        read_calibration,
        read_points,
        remember_point,
    )

    reg = registry()
    d = reg.get(domain_id)
    plan = reg.plan[domain_id]
    window = plan.cutover_window_hours
    recon_seconds, recon_cpu = recon if isinstance(recon, tuple) else (recon, None)
    measured: dict[str, float] = {}
    cpu: dict[str, float] = {}
    waited: dict[str, float] = {}
    for s in TIMED:
        r = results.get(s)
        if s in STAGE_ORDER and r is not None:
            measured[s] = float(r.seconds)
            if r.task_seconds is not None and mode == "rehearsal":
                # a stage of mapped parts costs what its tasks ran; the time a part waited for a
                # free slot (other domains' tasks, in a master run) is the schedule's, which the
                # capacity plan simulates — counted here as well, it would count twice, and a
                # domain's projection would depend on what else ran that night. A cutover's time
                # is its real span (measured, not projected).
                measured[s] = float(r.task_seconds)
                waited[s] = round(max(0.0, float(r.seconds) - float(r.task_seconds)), 3)
            if r.cpu_seconds is not None:
                cpu[s] = float(r.cpu_seconds)
        elif s in gates:
            g = gate_seconds(gates[s])
            if g is not None:
                measured[s] = g
                if gates[s].get("cpu_seconds_total") is not None:
                    cpu[s] = float(gates[s]["cpu_seconds_total"])
        elif s == "reconciliation" and recon_seconds is not None:
            measured[s] = recon_seconds
            if recon_cpu is not None:
                cpu[s] = recon_cpu
    # a delta rehearsal's full path: the base's full load (timed apart) is its load; its
    # reconciliation (the delta's) is not the full one, which comes from the history
    path_measured, path_cpu = dict(measured), dict(cpu)
    missing: list[str] = []
    if delta and mode == "rehearsal":
        measured = {k: v for k, v in measured.items() if k != "reconciliation"}
        cpu = {k: v for k, v in cpu.items() if k != "reconciliation"}
        missing = ["reconciliation"]
        if delta.get("base_load_seconds") is not None:
            measured["load"] = float(delta["base_load_seconds"])
            if delta.get("base_load_cpu_seconds") is not None:
                cpu["load"] = float(delta["base_load_cpu_seconds"])
    run_id = next((r.run_id for r in results.values() if r is not None), None)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    hist = fit_points(previous, read_points(store, domain_id) if mode == "rehearsal" else [])
    hist = [h for h in hist if h.get("run_id") != run_id]
    cal = read_calibration(store)
    overhead = {s: v["overhead_seconds"] for s, v in (cal or {}).get("stages", {}).items()}
    calibration = (cal or {}).get("master_run_id")
    if not overhead and mode == "rehearsal":
        # no master run has calibrated yet (the first night): fit across the latest rehearsals
        # of the other domains, which ran at other volumes, and this one
        overhead, calibration = peer_overhead(domain_id, measured, cpu, legacy, store)
    elapsed = sum(path_measured.values())
    cpu_total = sum(path_cpu.values())
    if mode in ("cutover", "load_ahead"):
        # a cutover runs on the real extract: its time is measured, not projected
        proj = {
            "projected_hours": round(elapsed / 3600, 3),
            "linear_hours": round(elapsed / 3600, 3),
            "methods": ["measured"],
            "basis": "wall",
            "contention": 1.0,
            "points": [{"records": legacy, "run_id": run_id, "generated_at": now}],
            "stages": {
                s: {
                    "measured_seconds": round(v, 3),
                    "measured_cpu_seconds": cpu.get(s),
                    "basis": "wall",
                    "overhead_seconds": 0.0,
                    "per_record_ms": 0.0,
                    "projected_seconds": round(v, 1),
                    "linear_seconds": round(v, 1),
                    "method": "measured",
                    "points": 1,
                    "point_records": [legacy],
                }
                for s, v in measured.items()
            },
        }
    else:
        proj = project(
            measured,
            legacy,
            d.expected_records,
            history=hist,
            overhead=overhead,
            stage_cpu=cpu,
            run={"run_id": run_id, "generated_at": now},
        )
        if legacy and measured:
            remember_point(
                store,
                domain_id,
                {
                    "run_id": run_id,
                    "generated_at": now,
                    "records": legacy,
                    "stage_seconds": {k: round(v, 3) for k, v in measured.items()},
                    "stage_cpu_seconds": {k: round(v, 3) for k, v in cpu.items()},
                },
            )
    basis = proj["basis"]
    scale = d.expected_records / legacy if legacy else 0.0
    # A rehearsal projection from one run, with neither a fit over volumes nor a calibrated
    # overhead, is linear scaling: the run's fixed per-task costs multiplied with the volume. At a
    # small fraction of the city that is an upper bound far above any real duration — it can
    # show neither that the cutover fits its window nor that it does not, so it decides nothing.
    uncalibrated = (
        f"the projection rests on this run alone ({legacy:,} records, 1/{scale:,.0f} of the "
        f"city's {d.expected_records:,}) with no calibrated overhead: linear scaling would say "
        f"{proj['projected_hours']:,.1f} h; rehearse at a second volume (≥ {MIN_SPREAD:g}× apart) "
        "or let a master run calibrate the overheads"
    )
    assessed = (
        mode != "rehearsal" or proj["methods"] != ["linear"] or scale <= MAX_UNCALIBRATED_SCALE
    )
    not_assessed = None if assessed else uncalibrated
    if mode == "load_ahead":
        assessed = False
        not_assessed = (
            "a load ahead runs days before the cutover weekend: its time is not held against "
            "the window (the delta cutover's is)"
        )
    # both paths (full; full ahead + delta) at the city's volume; the verdict uses the plan's
    validate = results.get("validate")
    rows = sum(validate.units.values()) if validate is not None else 0
    snapshot = next((r.snapshot for r in results.values() if r is not None and r.snapshot), "")
    change = change_rate(delta, rows, snapshot, (delta or {}).get("base_snapshot"), plan)
    paths: dict = {"change": change}
    projected = proj["projected_hours"]
    if mode == "rehearsal":
        full = full_path(proj, hist, d.expected_records, missing)
        dpath = delta_path(
            delta, full["stages"], path_measured, path_cpu, legacy, d.expected_records, change,
            overhead,
        )  # fmt: skip
        chosen = choose(plan.cutover, full, dpath, window)
        paths.update(full=full, delta=dpath, **chosen)
        projected = chosen["hours"]
    else:
        paths.update(path="delta" if delta else "full", planned=plan.cutover, measured=True)
    return {
        "path": paths["path"],
        "paths": paths,
        "stage_seconds": {k: round(v, 3) for k, v in path_measured.items()},
        "stage_cpu_seconds": {k: round(v, 3) for k, v in path_cpu.items()},
        # per stage of mapped parts: the seconds its parts waited for a free slot (not in
        # stage_seconds, which are what the stage's tasks ran)
        "stage_slot_wait_seconds": waited,
        "elapsed_seconds": round(elapsed, 3),
        "cpu_seconds": round(cpu_total, 3),
        "wall_over_cpu": round(elapsed / cpu_total, 2) if cpu_total else None,
        "contention": proj["contention"],
        "legacy_records": legacy,
        "expected_records": d.expected_records,
        "scale": round(d.expected_records / legacy, 2) if legacy else 0.0,
        "projected_hours": projected,
        "linear_hours": proj["linear_hours"],
        "projection_stages": proj["stages"],
        "projection_methods": proj["methods"],
        "projection_basis": basis,
        "projection_points": proj["points"],
        "calibration": calibration,
        "window_hours": window,
        "within_window": projected <= window,
        "assessed": assessed,
        "not_assessed_because": not_assessed,
        "projection": (
            "a cutover runs on the real extract: measured (wall time), not projected"
            if mode in ("cutover", "load_ahead")
            else "cost = a + b·records per stage (a: fixed per-task overhead, b: per-record cost), "
            "projected to the registry's expected records; basis: "
            + {
                "uncontended": "uncontended seconds, max(CPU, wall ÷ κ) per stage, with the "
                f"run's contention factor κ = {proj['contention']:g} (the median wall / CPU "
                "ratio of its stages; 1 on an idle machine)",
                "wall": "wall time (no CPU time recorded)",
                "mixed": f"uncontended seconds (κ = {proj['contention']:g}) where CPU time "
                "was recorded, else wall time",
            }[basis]
            + "; methods: "
            + ", ".join(proj["methods"])
            + "; points: "
            + ", ".join(f"{p['records']:,} records ({p.get('run_id')})" for p in proj["points"][:8])
            + (f" and {len(proj['points']) - 8} more" if len(proj["points"]) > 8 else "")
        ),
    }


def fit_points(previous: list[dict], remembered: list[dict]) -> list[dict]:
    """The domain's earlier rehearsals as points of the timing model (one per run): from its
    previous reports and its remembered points (older runs at other volumes)."""
    out: dict[str, dict] = {}
    for p in remembered:
        if p.get("records"):
            out[str(p.get("run_id"))] = p
    for h in previous:
        t = h.get("timing", {})
        if h.get("mode") != "rehearsal" or not t.get("legacy_records"):
            continue
        if (t.get("paths") or {}).get("delta", {}).get("measured"):
            continue  # a delta run: its remembered point holds the full path's figures
        out[str(h.get("run_id"))] = {
            "run_id": h.get("run_id"),
            "generated_at": h.get("generated_at"),
            "records": t["legacy_records"],
            "stage_seconds": t.get("stage_seconds", {}),
            "stage_cpu_seconds": t.get("stage_cpu_seconds", {}),
        }
    return sorted(out.values(), key=lambda p: str(p.get("generated_at")))


#: the largest volume factor a projection from one uncalibrated run may scale by and still decide
#: the verdict on time (a rehearsal at 5 % of the city or more)
MAX_UNCALIBRATED_SCALE = 20.0


def peer_overhead(
    domain_id: str, measured: dict[str, float], cpu: dict[str, float], legacy: int, store: Store
) -> tuple[dict[str, float], str | None]:
    """Fixed per-stage overhead fitted across the latest rehearsal of every other domain and this
    run (the smallest domains anchor the intercept); empty when there is nothing to fit."""
    from ikou.rehearsal.timing import calibrate, observations

    reports = [
        {"timing": {"legacy_records": legacy, "stage_seconds": measured, "stage_cpu_seconds": cpu}}
    ]
    for d in registry().ids:
        if d == domain_id:
            continue
        prefix = zone_uri("reports", d, "x").rsplit("/", 2)[0] + "/"
        try:
            found = [
                (u, t) for u, t in _list_with_times(store, prefix) if u.endswith("/rehearsal.json")
            ]
            if not found:
                continue
            rep = json.loads(store.get_bytes(max(found, key=lambda x: x[1])[0]))
        except Exception:  # noqa: BLE001 - a peer that cannot be read is left out
            continue
        if rep.get("mode") != "rehearsal" or not rep.get("timing", {}).get("legacy_records"):
            continue
        reports.append(rep)
    obs = {s: pts for s, pts in observations(reports).items() if s in measured}
    cal = calibrate(obs)
    return {s: v["overhead_seconds"] for s, v in cal.items()}, (
        f"fitted across {len(reports) - 1} other domains' latest rehearsals" if cal else None
    )
