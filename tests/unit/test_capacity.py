"""The capacity plan of the nightly rehearsal (ikou.rehearsal.capacity): list scheduling of the
domains' stages on W workers, the critical path, the fewest workers that end by 06:00."""

from __future__ import annotations

import pytest

from ikou.errors import BadArgument, Unreadable
from ikou.rehearsal.capacity import (
    DomainCost,
    capacity_plan,
    critical_path,
    domain_cost,
    load_costs,
    schedule,
)


def cost(name: str, seconds: list[float], refers=(), per_record=0.0, records=0) -> DomainCost:
    return DomainCost(
        domain=name,
        refers_to=tuple(refers),
        stages=tuple((f"s{i}", s, per_record) for i, s in enumerate(seconds)),
        records_city=records,
        source={"run_id": f"r_{name}", "legacy_records": 1},
    )


def test_one_worker_runs_everything_one_after_another():
    costs = {"a": cost("a", [10, 20]), "b": cost("b", [5]), "c": cost("c", [7], refers=["a"])}
    assert schedule(costs, 1.0, 1) == pytest.approx(42)


def test_enough_workers_give_the_critical_path():
    costs = {
        "a": cost("a", [10, 20]),
        "b": cost("b", [5]),
        "c": cost("c", [7], refers=["a"]),
        "d": cost("d", [1], refers=["b", "c"]),
    }
    path, seconds = critical_path(costs, 1.0)
    assert path == ["a", "c", "d"] and seconds == pytest.approx(38)
    assert schedule(costs, 1.0, 8) == pytest.approx(38)
    assert schedule(costs, 1.0, 2) >= 38


def test_the_longest_remaining_path_goes_first():
    """Two workers: the long chain must start at once, not after the short independent tasks."""
    costs = {
        "long": cost("long", [10]),
        "after": cost("after", [10], refers=["long"]),
        "x": cost("x", [3]),
        "y": cost("y", [3]),
        "z": cost("z", [3]),
    }
    assert schedule(costs, 1.0, 2) == pytest.approx(20)


def test_records_scale_with_the_city():
    costs = {"a": cost("a", [2.0], per_record=0.001, records=1_000_000)}
    # 2 s overhead + 1 ms × 1M records × (3M / 1.5M residents) = 2002 s
    plan = capacity_plan(costs, 3_000_000, 1, 1_500_000, night_hours=5)
    assert plan["wall_hours"] == pytest.approx(2002 / 3600, abs=1e-3)
    assert plan["domain_hours"]["a"] == pytest.approx(2002 / 3600, abs=1e-3)


def test_min_workers_to_end_by_six():
    costs = {d: cost(d, [3600.0]) for d in "abcdefgh"}  # eight independent one-hour domains
    plan = capacity_plan(costs, 1_500_000, 1, 1_500_000, night_hours=5)
    assert plan["wall_hours"] == pytest.approx(8)
    assert plan["min_workers_0600"] == 2  # 4 h on two workers; one worker takes 8 h
    chain = {"a": cost("a", [4 * 3600.0]), "b": cost("b", [2 * 3600.0], refers=["a"])}
    never = capacity_plan(chain, 1_500_000, 64, 1_500_000, night_hours=5)
    assert never["min_workers_0600"] is None and never["critical_path"]["hours"] == pytest.approx(6)


def test_bad_arguments_are_one_line():
    with pytest.raises(BadArgument, match="--workers 0"):
        capacity_plan({}, 1000, 0, 1_500_000, 5)
    with pytest.raises(BadArgument, match="--residents"):
        capacity_plan({}, 0, 1, 1_500_000, 5)


def test_domain_cost_reads_a_rehearsal_report():
    report = {
        "run_id": "manual__1",
        "generated_at": "2026-12-04T01:00:00+00:00",
        "timing": {
            "legacy_records": 600,
            "expected_records": 3_000_000,
            "projection_methods": ["overhead"],
            "projection_stages": {
                "extract": {"overhead_seconds": 2.0, "per_record_ms": 0.01},
                "gate_raw": {"overhead_seconds": 1.5, "per_record_ms": 0.0},
            },
        },
    }
    c = domain_cost("juki", [], report)
    assert c.records_city == 3_000_000 and c.source["run_id"] == "manual__1"
    assert c.seconds(1.0) == [("extract", pytest.approx(32.0)), ("gate_raw", 1.5)]


def test_no_rehearsal_no_plan(s3_endpoint):
    from ikou.domains import registry
    from ikou.storage import Store

    # (the session's S3 endpoint may hold other tests' rehearsals of a few domains: never all 20)
    with pytest.raises(Unreadable, match=r"no calibration data for \d+ domain.*make run"):
        load_costs(registry(), Store())


def test_task_overhead_adds_to_every_stage_task():
    """The orchestrator's start-up and latency come on top of each stage task's own time."""
    costs = {"a": cost("a", [10, 20]), "b": cost("b", [5], refers=["a"])}
    assert schedule(costs, 1.0, 1, task_overhead=4) == pytest.approx(35 + 3 * 4)
    assert critical_path(costs, 1.0, task_overhead=4)[1] == pytest.approx(35 + 12)
    plan = capacity_plan(costs, 1_500_000, 2, 1_500_000, night_hours=5, task_overhead=4)
    assert plan["task_overhead_seconds"] == 4
    assert plan["wall_hours"] == pytest.approx(47 / 3600, abs=1e-3)
    assert "plus 4 s of orchestration a stage task" in plan["model"]
    with pytest.raises(BadArgument, match=r"--task-overhead -1: expected 0–3600"):
        capacity_plan(costs, 1_000, 1, 1_500_000, 5, task_overhead=-1)
    with pytest.raises(BadArgument, match="--task-overhead nan"):
        capacity_plan(costs, 1_000, 1, 1_500_000, 5, task_overhead=float("nan"))


def staged(name: str, stages: dict[str, float], refers=()) -> DomainCost:
    return DomainCost(
        domain=name,
        refers_to=tuple(refers),
        stages=tuple((s, sec, 0.0) for s, sec in stages.items()),
        records_city=0,
        source={"run_id": f"r_{name}"},
    )


JUKI = {
    "extract": 10,
    "gate_raw": 1,
    "validate": 3,
    "gate_standard": 1,
    "load": 20,
    "gate_target": 5,
}


def test_a_referring_domain_starts_once_the_validated_data_is_published():
    """jido starts after juki's gate_standard (15 s), overlapping juki's load and gate_target:
    the night is 15 + 30 s on two workers, not 40 + 30 s (juki's whole run first)."""
    costs = {"juki": staged("juki", JUKI), "jido": staged("jido", {"validate": 30}, ["juki"])}
    assert costs["juki"].published_after == 4  # extract … gate_standard
    assert schedule(costs, 1.0, 2) == pytest.approx(45)
    assert schedule(costs, 1.0, 1) == pytest.approx(70)  # one worker: everything in a row
    path, seconds = critical_path(costs, 1.0)
    assert path == ["juki", "jido"] and seconds == pytest.approx(45)
    # the referred domain's tail is the longer: it decides the night, alone
    short = {"juki": costs["juki"], "jido": staged("jido", {"validate": 5}, ["juki"])}
    assert critical_path(short, 1.0) == (["juki"], pytest.approx(40))
    assert schedule(short, 1.0, 2) == pytest.approx(40)


def test_costs_naming_no_publishing_stage_publish_at_their_end():
    a = staged("a", {"s0": 10, "s1": 20})
    assert a.published_after == 2
    costs = {"a": a, "b": staged("b", {"validate": 5}, ["a"])}
    assert schedule(costs, 1.0, 4) == pytest.approx(35)
