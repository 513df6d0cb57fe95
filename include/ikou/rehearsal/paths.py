"""The two paths of a cutover weekend, timed and projected: the full load, and the full load
ahead then the delta (差分移行, issue 12).

The full path holds, inside the window, every stage: extract, cleanse, validate (each gated),
load, gate_target and the reconciliation. The delta path holds the same extract, cleanse and
validate of the weekend's snapshot, then only ``diff`` + the delta's apply + ``gate_target`` +
the delta's reconciliation: the full load of the base ran days before (``load_ahead``) and is
not in the window.

A delta rehearsal measures both: its load loads the base in full (timed apart:
``base_load_seconds``, the full path's load) and applies the delta (``apply_seconds``). Its
reconciliation is the delta's, so the full path's reconciliation comes from the domain's
earlier full rehearsals (the timing model's remembered points) or is "not measured". A full
rehearsal measures the full path only: its delta path is "not measured" — never invented.

Projection to the city's volume (:func:`ikou.rehearsal.timing.project`): the shared stages as the
full path projects them; ``diff`` and the delta reconciliation scan whole tables, so they scale
with the records; the apply and ``gate_target`` (after a delta it checks the touched rows only:
:mod:`ikou.load.delta_scope`) scale with the changes. The change rate is measured
from the two snapshots (the diff's counts: changed rows ÷ rows, per day between the snapshots)
when the run has a base, else the plan's ``change_rate_per_day``; it is projected over the
plan's days from ``full_load_date`` to the wave's ``target_date`` (or the measured days).
"""

from __future__ import annotations

import datetime as dt

from ikou.rehearsal.timing import cost_of, fit_line, project

#: stages both paths hold inside the window
SHARED = ("extract", "gate_raw", "cleanse", "gate_cleansed", "validate", "gate_standard")
#: the delta path's own stages inside the window
DELTA_STAGES = ("diff", "delta_apply", "gate_target", "delta_reconciliation")
NOT_MEASURED = "not measured"


def change_rate(
    delta: dict | None,
    rows: int,
    snapshot: str,
    base_snapshot: str | None,
    plan,
) -> dict:
    """The share of rows that change between the full load ahead and the cutover, and where it
    comes from: ``measured`` (the diff's counts between the two snapshots), ``plan``
    (``change_rate_per_day`` × days since ``full_load_date``) or ``None`` (neither is known)."""
    plan_days = (
        (plan.target_date - plan.full_load_date).days
        if getattr(plan, "full_load_date", None)
        else None
    )
    if delta and base_snapshot:
        changes = sum(int(n) for ops in (delta.get("ops") or {}).values() for n in ops.values())
        days = max(1, (dt.date.fromisoformat(snapshot) - dt.date.fromisoformat(base_snapshot)).days)
        rate = changes / rows if rows else 0.0
        per_day = rate / days
        over = plan_days or days
        return {
            "source": "measured",
            "changes": changes,
            "rows": rows,
            "days": days,
            "share": round(rate, 6),
            "rate_per_day": round(per_day, 8),
            "projected_days": over,
            "projected_share": round(min(1.0, per_day * over), 6),
        }
    if getattr(plan, "change_rate_per_day", None) and plan_days:
        return {
            "source": "plan",
            "rate_per_day": plan.change_rate_per_day,
            "projected_days": plan_days,
            "projected_share": round(min(1.0, plan.change_rate_per_day * plan_days), 6),
        }
    return {"source": None}


def from_history(stage: str, history: list[dict], expected: int) -> dict | None:
    """A stage this run did not measure, projected from the domain's earlier runs that did (a
    robust line over their volumes, else the latest one scaled); None when none did."""
    pts = [
        (int(h["records"]), c)
        for h in history
        if h.get("records") and (c := cost_of(h, stage, "uncontended")) is not None
    ]
    if not pts:
        pts = [
            (int(h["records"]), c)
            for h in history
            if h.get("records") and (c := cost_of(h, stage, "wall")) is not None
        ]
    if not pts:
        return None
    fit = fit_line(pts)
    if fit is not None:
        a, b = fit
        method = "history fit"
    else:
        n, t = pts[-1]
        a, b = 0.0, t / n
        method = "history linear"
    return {
        "measured_seconds": None,
        "overhead_seconds": round(a, 3),
        "per_record_ms": round(b * 1000, 6),
        "projected_seconds": round(a + b * expected, 1),
        "method": method,
        "point_records": sorted({n for n, _ in pts}),
    }


def full_path(proj: dict, history: list[dict], expected: int, missing: list[str]) -> dict:
    """The full path's projection (``proj``: :func:`project` of the stages measured on it) with
    the ``missing`` stages from the history, or named as not measured."""
    stages = dict(proj["stages"])
    not_measured = []
    for s in missing:
        h = from_history(s, history, expected)
        if h is None:
            not_measured.append(s)
        else:
            stages[s] = h
    seconds = sum(v["projected_seconds"] for v in stages.values())
    return {
        "hours": round(seconds / 3600, 3),
        "stages": stages,
        "not_measured": not_measured,
        "complete": not not_measured,
    }


def delta_path(
    delta: dict | None,
    full_stages: dict,
    measured: dict[str, float],
    cpu: dict[str, float],
    legacy: int,
    expected: int,
    change: dict,
    overhead: dict[str, float] | None = None,
) -> dict:
    """The delta path projected to ``expected`` records; ``measured`` / ``cpu`` hold this run's
    ``gate_target`` and ``reconciliation`` (the delta's). Without a delta: not measured."""
    if not delta:
        return {"measured": False, "hours": None, "note": NOT_MEASURED}
    shared = {s: full_stages[s] for s in SHARED if s in full_stages}
    scan = {
        "diff": delta.get("diff_seconds"),
        "delta_reconciliation": measured.get("reconciliation"),
    }
    scan_cpu = {
        "diff": delta.get("diff_cpu_seconds"),
        "delta_reconciliation": cpu.get("reconciliation"),
    }
    walls = {s: float(v) for s, v in scan.items() if v is not None}
    cpus = {s: float(v) for s, v in scan_cpu.items() if v is not None and s in walls}
    stages = dict(shared)
    stages.update(project(walls, legacy, expected, overhead=overhead, stage_cpu=cpus)["stages"])
    changes = int(change.get("changes") or 0)
    share = change.get("projected_share")
    expected_changes = round(share * expected) if share is not None else None
    per_change = {
        "delta_apply": (delta.get("apply_seconds") or 0.0, delta.get("apply_cpu_seconds")),
        "gate_target": (measured.get("gate_target"), cpu.get("gate_target")),
    }
    for stage, (wall, stage_cpu) in per_change.items():
        if wall is None:
            continue
        if changes and expected_changes is not None:
            projected = project(
                {stage: float(wall)},
                changes,
                expected_changes,
                stage_cpu={stage: float(stage_cpu)} if stage_cpu is not None else {},
            )["stages"][stage]
        else:  # no change seen: the stage's fixed cost only
            projected = {
                "measured_seconds": round(float(wall), 3),
                "projected_seconds": round(float(wall), 1),
                "method": "fixed (no changes measured)",
            }
        projected["per"] = "changed rows"
        stages[stage] = projected
    not_measured = [s for s in DELTA_STAGES if s not in stages]
    seconds = sum(v["projected_seconds"] for v in stages.values())
    window_part = sum(stages[s]["projected_seconds"] for s in DELTA_STAGES if s in stages)
    return {
        "measured": True,
        "hours": round(seconds / 3600, 3),
        "window_part_hours": round(window_part / 3600, 3),
        "stages": stages,
        "expected_changes": expected_changes,
        "not_measured": not_measured,
        "complete": not not_measured,
    }


def choose(cutover: str, full: dict, delta: dict, window: float) -> dict:
    """The path the plan chose (``full`` | ``full_ahead_then_delta``) and the figures the verdict
    uses: the delta path when planned and measured, else the full path (saying why)."""
    planned = "delta" if cutover == "full_ahead_then_delta" else "full"
    note = None
    path = planned
    if planned == "delta" and not delta.get("measured"):
        path = "full"
        note = (
            "the plan cuts over by full_ahead_then_delta but this run measured no delta path "
            "(no base_snapshot): judged on the full path"
        )
    hours = delta["hours"] if path == "delta" else full["hours"]
    return {
        "planned": planned,
        "path": path,
        "hours": hours,
        "within_window": hours <= window,
        "note": note,
        "full_fits": full["hours"] <= window,
        "delta_fits": (delta["hours"] <= window) if delta.get("measured") else None,
    }
