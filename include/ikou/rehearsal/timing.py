"""Projecting a rehearsal's stage costs to the city's real volumes: one model for the rehearsal's
verdict, the city report and the capacity plan (:mod:`ikou.rehearsal.capacity`).

A stage's cost is not proportional to its records: every task pays a fixed overhead (starting
the S3 client, reading manifests, loading the GX context, creating tables …) whatever the
volume. Scaling one small run linearly multiplies that overhead — at 1 % of the city a 2-second
overhead becomes 200 seconds of imaginary work. The model is therefore

    cost_s(n) = a_s + b_s · n          (per stage s; n = legacy data records of the domain)

and the projection is Σ_s a_s + b_s · N_expected.

**What is measured (the basis).** Every stage records its wall time and its task's CPU time
(user + system of the task process and its waited-for children, :func:`ikou.pipeline.cpu_time`).
On a machine shared with other work wall time grows with the load (a 200,000-resident rehearsal
at load 8–11 on 2 cores took 4.3× its CPU time); projecting it turned such runs NO-GO. CPU time
alone does not grow, but leaves out what another process does for the task (PostgreSQL's side
of a COPY or of ``gate_target``, the S3 server's). So the basis is ``uncontended`` seconds:

    κ = max(1, median over the run's stages of wall / CPU)   (the run's contention factor)
    cost_s = max(cpu_s, wall_s / κ)

A stage run as mapped parts (extract, cleanse and load of a large domain: a plan, the parts,
a merge) is measured by what its tasks ran (``StageResult.task_seconds``), not by its span: in a
master run its parts wait for a free task slot while other domains' tasks hold them (at 1M
residents up to 26 s of a stage's span: 選挙人名簿管理's load), and that wait is the schedule's — the capacity plan
simulates it, and a domain's projection must not depend on what else ran that night. The
report lists the waits apart (``stage_slot_wait_seconds``).

On an idle machine κ ≈ 1 and the cost is the wall time; on a busy one the CPU-bound stages
measure κ and every stage's wall time is deflated by it, so a database-bound stage keeps its
waiting for the server (at 1M residents under load 7–10, load and gate_target came out at 10.9
and 10.8 s, the idle machine's wall times being 11.5 and 11.8 s). A stage without a CPU figure
(an older report) is on the ``wall`` basis. Each stage says its ``basis``; the report gives κ.

**Where a_s and b_s come from**, best first:

1. ``fit``: a robust line (Theil–Sen: the median of the pairwise slopes, then the median
   intercept — exact on points of one line, unmoved by one outlier among four or more) over
   this domain's own rehearsals at different volumes: the current run, the previous runs'
   ``rehearsal.json`` and the domain's remembered points (``reports/_calibration/points/
   {domain}.json``: the latest runs of every volume, so a rehearsal at another
   ``IKOU_RESIDENTS`` months ago still counts). Needs volumes at least 1.5× apart.
2. ``overhead``: a_s is the fixed overhead fitted across the domains of the latest master run
   (``reports/_calibration/stage_overhead.json``, see :mod:`ikou.rehearsal.city`; on the first
   night the same fit over the latest rehearsal of every other domain); b_s = (t_s − a_s) / n.
3. ``linear``: neither is available yet — cost × expected ÷ actual, reported as such.

a_s ≥ 0 and b_s ≥ 0. Every stage lists the points it rests on (records, run id, date).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from statistics import median

CALIBRATION = "_calibration/stage_overhead.json"
POINTS = "_calibration/points/{domain}.json"
MIN_SPREAD = 1.5  # the largest volume must be this many times the smallest for a fit
KEEP_PER_VOLUME = 3  # remembered points per volume band (the latest)
VOLUME_BAND = 1.25  # volumes within 25 % of each other share a band
MAX_POINTS = 60


@dataclass(frozen=True)
class StageModel:
    """cost = a + b · records for one stage, and what it rests on."""

    stage: str
    a: float  # fixed seconds
    b: float  # seconds per record
    basis: str = "uncontended"  # or "wall"

    def seconds(self, records: float) -> float:
        return self.a + self.b * records


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """A robust line a + b·n through (n, seconds) points (Theil–Sen); None without enough
    spread in n. a and b are never negative; when no per-record cost can be seen (the slope is
    negative: noise dominates) the overhead is the median time, at most the smallest."""
    pts = [(float(n), float(t)) for n, t in points if n and n > 0 and t is not None]
    if len(pts) < 2:
        return None
    ns = [n for n, _ in pts]
    if max(ns) < MIN_SPREAD * min(ns):
        return None
    slopes = [
        (tj - ti) / (nj - ni)
        for i, (ni, ti) in enumerate(pts)
        for nj, tj in pts[i + 1 :]
        if nj != ni
    ]
    b = median(slopes)
    if b <= 0:
        ts = [t for _, t in pts]
        return max(0.0, min(median(ts), min(ts))), 0.0
    a = median(t - b * n for n, t in pts)
    if a < 0:  # no negative overhead: the per-record cost through the origin
        a = 0.0
        b = median(t / n for n, t in pts)
    return a, b


MIN_CPU = 0.05  # seconds: a stage with less CPU time says nothing about contention


def contention(wall: dict[str, float], cpu: dict[str, float | None]) -> float:
    """κ: the median wall / CPU ratio of a run's stages, at least 1 (1 when nothing says)."""
    ratios = [
        float(wall[s]) / float(c)
        for s, c in cpu.items()
        if c is not None and float(c) >= MIN_CPU and s in wall
    ]
    return max(1.0, median(ratios)) if ratios else 1.0


def uncontended(wall: dict[str, float], cpu: dict[str, float | None]) -> dict[str, float]:
    """Each stage's cost with the run's contention taken out: max(CPU, wall / κ); stages
    without a CPU figure are left out."""
    k = contention(wall, cpu)
    return {
        s: max(float(c), float(wall[s]) / k) for s, c in cpu.items() if c is not None and s in wall
    }


def cost_of(point: dict, stage: str, basis: str) -> float | None:
    """A point's cost of a stage on a basis (None: not recorded on that basis)."""
    if basis == "uncontended":
        return uncontended(
            point.get("stage_seconds") or {}, point.get("stage_cpu_seconds") or {}
        ).get(stage)
    v = (point.get("stage_seconds") or {}).get(stage)
    return None if v is None else float(v)


def project(
    stage_seconds: dict[str, float],
    records: int,
    expected: int,
    *,
    history: list[dict] | None = None,
    overhead: dict[str, float] | None = None,
    stage_cpu: dict[str, float] | None = None,
    run: dict | None = None,
) -> dict:
    """Projected seconds per stage at ``expected`` records, with the method, the basis and the
    points used for each.

    ``stage_seconds`` / ``stage_cpu``: this run's wall and CPU seconds per stage (the basis is
    ``uncontended`` where CPU is given, see the module docstring). ``history``: other rehearsals of the domain as ``{"records": n,
    "stage_seconds": {...}, "stage_cpu_seconds": {...}, "run_id", "generated_at"}``.
    ``overhead``: fixed seconds per stage fitted across domains (the calibration). ``run``:
    this run's ``run_id`` / ``generated_at`` (named among the points)."""
    history = history or []
    stage_cpu = stage_cpu or {}
    costs = uncontended(stage_seconds, stage_cpu)
    here = {
        "records": records,
        "run_id": (run or {}).get("run_id"),
        "generated_at": (run or {}).get("generated_at"),
    }
    per_stage = {}
    total = linear_total = 0.0
    used: dict[str, dict] = {}
    for s, wall in stage_seconds.items():
        basis = "uncontended" if s in costs else "wall"
        t = costs[s] if basis == "uncontended" else float(wall)
        linear = t * expected / records if records else 0.0
        linear_total += linear
        others = [
            (h, c) for h in history if h.get("records") and (c := cost_of(h, s, basis)) is not None
        ]
        fit = fit_line([(records, t)] + [(h["records"], c) for h, c in others])
        points = [here]
        if fit is not None:
            a, b = fit
            method = "fit"
            points += [
                {k: h.get(k) for k in ("records", "run_id", "generated_at")} for h, _ in others
            ]
        elif overhead and s in overhead and records:
            a = max(0.0, min(float(overhead[s]), t))
            b = (t - a) / records
            method = "overhead"
        else:
            a, b = 0.0, (t / records if records else 0.0)
            method = "linear"
        proj = StageModel(s, a, b, basis).seconds(expected)
        total += proj
        for p in points:
            used[str(p.get("run_id"))] = p
        per_stage[s] = {
            "measured_seconds": round(float(wall), 3),
            "measured_cpu_seconds": None if s not in stage_cpu else round(float(stage_cpu[s]), 3),
            "basis": basis,
            "cost_seconds": round(t, 3),
            "overhead_seconds": round(a, 3),
            "per_record_ms": round(b * 1000, 6),
            "projected_seconds": round(proj, 1),
            "linear_seconds": round(linear, 1),
            "method": method,
            "points": len(points),
            "point_records": sorted({int(p["records"]) for p in points}),
        }
    bases = sorted({v["basis"] for v in per_stage.values()})
    return {
        "stages": per_stage,
        "projected_seconds": round(total, 1),
        "projected_hours": round(total / 3600, 3),
        "linear_hours": round(linear_total / 3600, 3),
        "methods": sorted({v["method"] for v in per_stage.values()}),
        "basis": bases[0] if len(bases) == 1 else "mixed",
        "contention": round(contention(stage_seconds, stage_cpu), 2),
        "points": sorted(used.values(), key=lambda p: (p["records"], str(p.get("generated_at")))),
    }


def models(projection_stages: dict[str, dict]) -> list[StageModel]:
    """The fitted model of each stage, as a report's ``timing.projection_stages`` records it."""
    return [
        StageModel(
            s,
            float(v.get("overhead_seconds") or 0.0),
            float(v.get("per_record_ms") or 0.0) / 1000,
            v.get("basis", "wall"),
        )
        for s, v in projection_stages.items()
    ]


# ----------------------------------------------------------------------------- remembered points


def band(records: int) -> int:
    """The volume band of a point: volumes within 25 % of each other share one."""
    return int(math.floor(math.log(max(records, 1)) / math.log(VOLUME_BAND)))


def keep_points(points: list[dict]) -> list[dict]:
    """The latest :data:`KEEP_PER_VOLUME` points of each volume band, one per run, oldest first."""
    by_run: dict[str, dict] = {}
    for p in sorted(points, key=lambda p: str(p.get("generated_at"))):
        if p.get("records"):
            by_run[str(p.get("run_id"))] = p
    bands: dict[int, list[dict]] = {}
    for p in by_run.values():
        bands.setdefault(band(int(p["records"])), []).append(p)
    kept = [p for ps in bands.values() for p in ps[-KEEP_PER_VOLUME:]]
    kept.sort(key=lambda p: str(p.get("generated_at")))
    return kept[-MAX_POINTS:]


def points_uri(domain: str) -> str:
    from ikou.config import settings

    return f"s3://{settings().reports_bucket}/reports/{POINTS.format(domain=domain)}"


def read_points(store, domain: str) -> list[dict]:
    """The domain's remembered points (empty when none or unreadable)."""
    try:
        return list(json.loads(store.get_bytes(points_uri(domain))).get("points", []))
    except FileNotFoundError:
        return []
    except Exception:  # noqa: BLE001 - missing points only weaken the projection
        return []


def remember_point(store, domain: str, point: dict) -> None:
    """Add a rehearsal's point (records, wall and CPU seconds per stage, run id, date)."""
    kept = keep_points(read_points(store, domain) + [point])
    doc = {
        "domain": domain,
        "model": "cost = a + b·records per stage; the latest points of every volume band",
        "points": kept,
    }
    store.put_bytes(
        points_uri(domain),
        json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8"),
        content_type="application/json",
    )


# ----------------------------------------------------------------------------- cross-domain overhead


def read_calibration(store) -> dict | None:
    from ikou.config import settings

    uri = f"s3://{settings().reports_bucket}/reports/{CALIBRATION}"
    try:
        return json.loads(store.get_bytes(uri))
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a missing calibration only weakens the projection
        return None


def calibrate(observations: dict[str, list[tuple[int, float]]]) -> dict[str, dict]:
    """Per stage, the fixed overhead a_s from (records, seconds) of many domains of one night."""
    out = {}
    for s, pts in observations.items():
        fit = fit_line(pts)
        if fit is None:
            continue
        a, b = fit
        out[s] = {
            "overhead_seconds": round(a, 3),
            "per_record_ms": round(b * 1000, 6),
            "points": len(pts),
            "smallest_records": min(n for n, _ in pts),
            "largest_records": max(n for n, _ in pts),
        }
    return out


def observations(reports: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """(records, cost) per stage over rehearsal reports: uncontended seconds where CPU time was
    recorded, else wall."""
    obs: dict[str, list[tuple[int, float]]] = {}
    for rep in reports:
        t = rep.get("timing", {})
        if not t.get("legacy_records"):
            continue
        costs = uncontended(t.get("stage_seconds", {}), t.get("stage_cpu_seconds") or {})
        # a delta run's load and reconciliation are not the full path's: left out; its scans of
        # whole tables (diff, the delta's reconciliation) are observed under their own names
        delta = (t.get("paths") or {}).get("delta") or {}
        skip = ("load", "reconciliation") if delta.get("measured") else ()
        for s, sec in t.get("stage_seconds", {}).items():
            if s in skip:
                continue
            obs.setdefault(s, []).append((t["legacy_records"], float(costs.get(s, sec))))
        for s in ("diff", "delta_reconciliation"):
            v = (delta.get("stages") or {}).get(s) or {}
            cost = v.get("cost_seconds", v.get("measured_seconds"))
            if cost is not None:
                obs.setdefault(s, []).append((t["legacy_records"], float(cost)))
    return obs


def write_calibration(store, stages: dict[str, dict], master_run_id: str) -> str | None:
    import datetime as dt

    from ikou.config import settings

    if not stages:
        return None
    uri = f"s3://{settings().reports_bucket}/reports/{CALIBRATION}"
    doc = {
        "master_run_id": master_run_id,
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": "cost = a + b·records per stage (uncontended seconds where CPU time was "
        "recorded), a robust line "
        "across the domains of one master run",
        "stages": stages,
    }
    store.put_bytes(
        uri,
        json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8"),
        content_type="application/json",
    )
    return uri
