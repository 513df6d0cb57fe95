"""A capacity plan for the nightly rehearsal: how long the whole city takes on W workers, which
chain of domains decides it, and how many workers end it by the morning.

From the calibrated per-record costs — the one timing model of :mod:`ikou.rehearsal.timing`
that each domain's latest rehearsal fitted (per stage a fixed overhead ``a`` and a per-record
cost ``b``, in CPU seconds where recorded, over the domain's rehearsals at several volumes;
``calibration_points`` names them) — a city of N
residents costs each stage ``a + b · n`` seconds, where ``n`` is the domain's records scaled
from the registry's city (``plan.yaml`` ``city.residents``: the residents its expected_records
describe). The master runs a domain once the domains it refers to have published their validated
data (their stages up to and including ``gate_standard``, :data:`ikou.pipeline.PUBLISHING_TASKS`:
the rest of their runs — load, gate_target, reconciliation — overlaps it), its stages one after
another, each stage a task taking one worker slot; the plan schedules that graph on W slots with
the longest remaining path first (what the domain DAGs' priority weights give the scheduler: a
domain others wait for before them, within a run the task with more downstream first) and
reports:

- ``wall_hours``: the night's wall time on W workers;
- ``critical_path``: the chain of domains (``refers_to``) that no number of workers shortens;
- ``min_workers_0600``: the fewest workers that end by 06:00 JST starting at 01:00
  (``rehearsal.night_hours``), or None when even unlimited workers cannot (the critical path
  is longer than the night);
- ``calibration_points``: which rehearsal each domain's costs come from.

The rehearsal reports time the stages, not the orchestrator around them: a task's start-up and
the scheduler's latency between tasks (seconds each on Airflow, whatever the volume) are given
as ``task_overhead`` (``--task-overhead``; the master benchmark calibrates it on the measured
master runs, README "Timing model and capacity plan"), added to every stage task.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ikou.errors import BadArgument, Unreadable
from ikou.pipeline import PUBLISHING_TASKS

MAX_WORKERS = 256
MAX_TASK_OVERHEAD = 3600  # seconds the orchestrator adds to a stage task: more is a typo


@dataclass(frozen=True)
class DomainCost:
    domain: str
    refers_to: tuple[str, ...]
    stages: tuple[tuple[str, float, float], ...]  # (stage, overhead seconds, per-record seconds)
    records_city: int  # the registry city's records of the domain
    source: dict  # where the costs come from (run, records, generated_at, methods, basis, points)

    def seconds(self, scale: float, task_overhead: float = 0.0) -> list[tuple[str, float]]:
        """Each stage's seconds at ``scale`` × the registry's city; ``task_overhead``: what the
        orchestrator adds to every stage task (start-up, scheduling) on top of the stage's own
        time, which the rehearsal reports do not see."""
        from ikou.rehearsal.timing import StageModel

        n = self.records_city * scale
        return [(s, StageModel(s, a, b).seconds(n) + task_overhead) for s, a, b in self.stages]

    @property
    def published_after(self) -> int:
        """How many of the stages (in run order) come before the domains referring to this one
        may start: up to the last of :data:`~ikou.pipeline.PUBLISHING_TASKS` (its validated data
        is published); all of them when the costs name none (nothing says when it publishes)."""
        names = [s for s, _, _ in self.stages]
        last = max((i for i, s in enumerate(names) if s in PUBLISHING_TASKS), default=None)
        return len(names) if last is None else last + 1


def domain_cost(domain: str, refers_to, report: dict) -> DomainCost:
    """A domain's stage costs from its rehearsal.json: the model its rehearsal fitted
    (``timing.projection_stages``, :func:`ikou.rehearsal.timing.models`), the same one its
    verdict rests on."""
    from ikou.rehearsal.timing import models

    t = report.get("timing") or {}
    stages = [(m.stage, m.a, m.b) for m in models(t.get("projection_stages") or {})]
    return DomainCost(
        domain=domain,
        refers_to=tuple(refers_to),
        stages=tuple(stages),
        records_city=int(t.get("expected_records") or 0),
        source={
            "run_id": report.get("run_id"),
            "generated_at": report.get("generated_at"),
            "legacy_records": t.get("legacy_records"),
            "methods": t.get("projection_methods"),
            "basis": t.get("projection_basis", "wall"),
            "points": [
                {k: p.get(k) for k in ("records", "run_id", "generated_at")}
                for p in t.get("projection_points") or []
            ],
        },
    )


def schedule(
    costs: dict[str, DomainCost], scale: float, workers: int, task_overhead: float = 0.0
) -> float:
    """Seconds to run every domain's stages on ``workers`` slots (list scheduling, longest
    remaining path first; a domain starts when the domains it refers to have published their
    validated data, :attr:`DomainCost.published_after`)."""
    durations = {d: [sec for _, sec in c.seconds(scale, task_overhead)] for d, c in costs.items()}
    published = {d: c.published_after for d, c in costs.items()}
    children: dict[str, list[str]] = {d: [] for d in costs}
    for d, c in costs.items():
        for r in c.refers_to:
            if r in costs:
                children[r].append(d)
    # bottom level of each domain: the longest path from its start to the end of the night
    bottom: dict[str, float] = {}

    def rest(d: str, i: int) -> float:
        """The longest path from stage ``i`` of ``d`` on: its own stages, or those up to the
        publication and the longest chain of the domains referring to it."""
        own = sum(durations[d][i:])
        if i >= published[d]:
            return own  # the referring domains have started already
        after = max((bottom[c] for c in children[d]), default=0.0)
        return max(own, sum(durations[d][i : published[d]]) + after)

    for d in reversed(_topological(costs)):
        bottom[d] = rest(d, 0)
    waiting = {d: sum(1 for r in c.refers_to if r in costs) for d, c in costs.items()}
    ready: list[tuple[float, str, int]] = []  # (-priority, domain, next stage index)
    running: list[tuple[float, str, int]] = []  # (end time, domain, stage index)
    now, free = 0.0, workers

    def start(domain: str) -> None:
        if durations[domain]:
            heapq.heappush(ready, (-bottom[domain], domain, 0))
        else:
            release(domain)  # nothing to run: published at once

    def release(domain: str) -> None:  # its validated data is published
        for c in children[domain]:
            waiting[c] -= 1
            if waiting[c] == 0:
                start(c)

    for d in sorted(d for d, n in waiting.items() if n == 0):
        start(d)
    while ready or running:
        while ready and free:
            _, d, i = heapq.heappop(ready)
            heapq.heappush(running, (now + durations[d][i], d, i))
            free -= 1
        now, d, i = heapq.heappop(running)
        free += 1
        if i + 1 == published[d]:
            release(d)
        if i + 1 < len(durations[d]):
            heapq.heappush(ready, (-rest(d, i + 1), d, i + 1))
    return now


def critical_path(
    costs: dict[str, DomainCost], scale: float, task_overhead: float = 0.0
) -> tuple[list[str], float]:
    """The longest chain of domains through ``refers_to`` (seconds with unlimited workers): each
    domain starts when the last of the domains it refers to has published its validated data,
    and the chain ends with the end of its last domain."""
    seconds = {d: [sec for _, sec in c.seconds(scale, task_overhead)] for d, c in costs.items()}
    # domain → (when it starts, the chain that starts it)
    begins: dict[str, tuple[float, list[str]]] = {}
    for d in _topological(costs):
        begins[d] = max(
            (
                (begins[r][0] + sum(seconds[r][: costs[r].published_after]), begins[r][1] + [r])
                for r in costs[d].refers_to
                if r in begins
            ),
            key=lambda x: x[0],
            default=(0.0, []),
        )
    ends = [(begin + sum(seconds[d]), path + [d]) for d, (begin, path) in begins.items()]
    total, path = max(ends, key=lambda x: x[0], default=(0.0, []))
    return path, total


def _topological(costs: dict[str, DomainCost]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()

    def visit(d: str) -> None:
        if d in seen:
            return
        seen.add(d)
        for r in costs[d].refers_to:
            if r in costs:
                visit(r)
        out.append(d)

    for d in sorted(costs):
        visit(d)
    return out


def check_arguments(residents: int, workers: int, task_overhead: float = 0.0) -> None:
    """The plan's arguments, checked before anything is read (a typo is exit 2, not exit 4)."""
    if not 1 <= workers <= MAX_WORKERS:
        raise BadArgument(f"--workers {workers}: expected 1–{MAX_WORKERS}")
    if not 1 <= residents <= 10_000_000:
        raise BadArgument(f"--residents {residents}: expected 1–10,000,000")
    if not 0 <= task_overhead <= MAX_TASK_OVERHEAD:  # NaN fails too
        raise BadArgument(
            f"--task-overhead {task_overhead:g}: expected 0–{MAX_TASK_OVERHEAD} seconds a task"
        )


def capacity_plan(
    costs: dict[str, DomainCost],
    residents: int,
    workers: int,
    city_residents: int,
    night_hours: float,
    task_overhead: float = 0.0,
) -> dict:
    """The plan for ``residents`` on ``workers`` slots (see the module docstring);
    ``task_overhead``: seconds the orchestrator adds to every stage task."""
    check_arguments(residents, workers, task_overhead)
    scale = residents / city_residents
    wall = schedule(costs, scale, workers, task_overhead)
    path, path_seconds = critical_path(costs, scale, task_overhead)
    night = night_hours * 3600
    min_workers = None
    if path_seconds <= night:
        lo, hi = 1, MAX_WORKERS
        if schedule(costs, scale, hi, task_overhead) <= night:
            while lo < hi:  # the wall time does not grow with more workers
                mid = (lo + hi) // 2
                if schedule(costs, scale, mid, task_overhead) <= night:
                    hi = mid
                else:
                    lo = mid + 1
            min_workers = lo
    return {
        "residents": residents,
        "workers": workers,
        "wall_hours": round(wall / 3600, 3),
        "critical_path": {"domains": path, "hours": round(path_seconds / 3600, 3)},
        "night_hours": night_hours,
        "min_workers_0600": min_workers,
        "task_overhead_seconds": task_overhead,
        "domain_hours": {
            d: round(sum(sec for _, sec in c.seconds(scale, task_overhead)) / 3600, 3)
            for d, c in costs.items()
        },
        "calibration_points": {d: c.source for d, c in costs.items()},
        "model": "per stage a + b·records (the model each domain's latest rehearsal fitted over "
        "its rehearsals at several volumes, CPU seconds where recorded), records scaled from "
        f"the registry's city of {city_residents:,} residents, plus {task_overhead:g} s of "
        f"orchestration a stage task; list scheduling on {workers} one-slot workers, a domain "
        "after the domains it refers to have published their validated data (gate_standard)",
    }


def load_costs(reg, store) -> dict[str, DomainCost]:
    """Every planned domain's costs from its latest rehearsal in the reports zone; exit 4 when a
    domain has never been rehearsed (there is nothing to calibrate from)."""
    from ikou.rehearsal import history

    costs: dict[str, DomainCost] = {}
    missing = []
    for d in reg.plan.rehearsal_order():
        latest = [
            h for h in history(d, store, limit=5) if h.get("mode", "rehearsal") == "rehearsal"
        ]
        if not latest or not (latest[-1].get("timing") or {}).get("projection_stages"):
            missing.append(d)
            continue
        costs[d] = domain_cost(d, reg.get(d).refers_to, latest[-1])
    if missing:
        raise Unreadable(
            f"no calibration data for {len(missing)} domain(s) ({', '.join(missing[:5])}"
            + (" …" if len(missing) > 5 else "")
            + "): rehearse the whole city first (make run)"
        )
    return costs
