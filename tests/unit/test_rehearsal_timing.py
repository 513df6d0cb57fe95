"""The projection of stage durations to real volumes (ikou.rehearsal.timing)."""

from __future__ import annotations

import pytest

from ikou.rehearsal.timing import (
    band,
    calibrate,
    contention,
    fit_line,
    keep_points,
    models,
    project,
    uncontended,
)


def test_fit_recovers_overhead_and_per_record_cost():
    pts = [(n, 2.0 + 0.001 * n) for n in (100, 1_000, 5_000)]
    a, b = fit_line(pts)
    assert a == pytest.approx(2.0, abs=1e-6) and b == pytest.approx(0.001, rel=1e-6)


def test_no_fit_without_spread():
    assert fit_line([(1000, 3.0), (1100, 3.2)]) is None
    assert fit_line([(1000, 3.0)]) is None


def test_fit_clamps_to_the_measurements():
    a, b = fit_line([(100, 1.0), (1000, 0.9)])  # noise: time falls with volume
    assert b == 0.0 and 0.0 <= a <= 0.9
    a, b = fit_line([(100, 0.2), (1000, 5.0)])  # intercept would be negative
    assert a == 0.0 and b > 0


def test_overhead_is_not_scaled_up():
    # 1,000 records in 10 s of which 8 s fixed overhead; the city has 1,000,000 records
    linear = project({"extract": 10.0}, 1_000, 1_000_000)
    assert linear["stages"]["extract"]["method"] == "linear"
    assert linear["projected_seconds"] == pytest.approx(10_000, rel=1e-6)
    better = project({"extract": 10.0}, 1_000, 1_000_000, overhead={"extract": 8.0})
    st = better["stages"]["extract"]
    assert st["method"] == "overhead" and st["overhead_seconds"] == 8.0
    assert better["projected_seconds"] == pytest.approx(8 + 2 / 1000 * 1_000_000, rel=1e-6)
    assert better["linear_hours"] == linear["projected_hours"]


def test_history_at_other_volumes_gives_a_fit():
    hist = [
        {"records": 200, "stage_seconds": {"load": 1.2}},
        {"records": 5_000, "stage_seconds": {"load": 6.0}},
    ]
    p = project({"load": 2.0}, 1_000, 100_000, history=hist, overhead={"load": 0.5})
    st = p["stages"]["load"]
    assert st["method"] == "fit" and st["points"] == 3
    assert st["overhead_seconds"] == pytest.approx(1.0, abs=0.05)
    assert p["methods"] == ["fit"]


def test_overhead_never_exceeds_the_measurement():
    p = project({"cleanse": 1.0}, 10, 1_000, overhead={"cleanse": 5.0})
    assert (
        p["stages"]["cleanse"]["overhead_seconds"] == 1.0
        and p["stages"]["cleanse"]["per_record_ms"] == 0
    )


def test_calibration_across_domains():
    obs = {"extract": [(50, 1.05), (400, 1.4), (3_000, 4.0)], "load": [(100, 0.3)]}
    cal = calibrate(obs)
    assert set(cal) == {"extract"}  # one point is no fit
    assert cal["extract"]["overhead_seconds"] == pytest.approx(1.0, abs=0.05)
    assert cal["extract"]["points"] == 3


# ----------------------------------------------------------------------------- the robust fit


def test_fit_is_exact_on_points_of_one_line():
    a0, b0 = 4.25, 0.00037  # seconds, seconds per record
    pts = [(n, a0 + b0 * n) for n in (20_000, 50_000, 100_000, 200_000, 500_000)]
    a, b = fit_line(pts)
    assert a == pytest.approx(a0, rel=1e-9) and b == pytest.approx(b0, rel=1e-9)
    assert fit_line(pts[:2]) == (pytest.approx(a0), pytest.approx(b0))  # two points: their line


@pytest.mark.parametrize("bad", [0, 2, 4])
def test_one_outlier_does_not_move_the_fit(bad):
    """A run slowed down threefold (another job on the machine): the line stays where the other
    runs put it — least squares would have moved both a and b."""
    a0, b0 = 2.0, 0.001
    pts = [(n, a0 + b0 * n) for n in (1_000, 2_000, 5_000, 10_000, 20_000)]
    n, t = pts[bad]
    pts[bad] = (n, 3 * t)
    a, b = fit_line(pts)
    assert a == pytest.approx(a0, rel=1e-9) and b == pytest.approx(b0, rel=1e-9)


def test_many_runs_at_one_volume_and_a_few_at_others():
    """Thirty nightly runs at 20k and two at 200k (with noise): the fit still sees the slope."""
    pts = [(20_000, 10.0 + 0.0005 * 20_000 + (i % 3 - 1) * 0.2) for i in range(30)]
    pts += [(200_000, 10.0 + 0.0005 * 200_000), (100_000, 10.0 + 0.0005 * 100_000)]
    a, b = fit_line(pts)
    assert a == pytest.approx(10.0, abs=0.3) and b == pytest.approx(0.0005, rel=0.02)


# ----------------------------------------------------------------------------- basis and points


def test_cpu_time_is_the_basis_where_recorded():
    """Wall time 50× the CPU time (a shared machine): the projection rests on the CPU time, and
    says so; without CPU figures it is the wall time's."""
    wall = {"extract": 500.0, "load": 200.0}
    cpu = {"extract": 10.0, "load": 4.0}
    hist = [
        {
            "records": 10_000,
            "run_id": "r-10k",
            "generated_at": "2026-12-01T16:00:00+00:00",
            "stage_seconds": {"extract": 40.0, "load": 16.0},
            "stage_cpu_seconds": {"extract": 20.0, "load": 8.0},
        }
    ]
    p = project(wall, 5_000, 1_000_000, history=hist, stage_cpu=cpu)
    assert p["basis"] == "uncontended" and {v["basis"] for v in p["stages"].values()} == {
        "uncontended"
    }
    # cpu: extract 0 + 0.002·n, load 0 + 0.0008·n → 2,000 + 800 s at a million records
    assert p["projected_seconds"] == pytest.approx(2_800, rel=1e-6)
    walls = project(wall, 5_000, 1_000_000)  # the same run, its wall time scaled
    assert walls["basis"] == "wall" and walls["projected_seconds"] == pytest.approx(700 * 200)


def test_a_point_without_cpu_time_is_left_out_of_a_cpu_fit():
    hist = [{"records": 10_000, "run_id": "old", "stage_seconds": {"extract": 40.0}}]
    p = project({"extract": 500.0}, 5_000, 1_000_000, history=hist, stage_cpu={"extract": 10.0})
    assert p["stages"]["extract"]["method"] == "linear" and p["stages"]["extract"]["points"] == 1


def test_the_projection_names_its_points():
    hist = [
        {
            "records": n,
            "run_id": f"manual__{n}",
            "generated_at": f"2026-12-0{i + 1}T16:00:00+00:00",
            "stage_seconds": {"cleanse": 1.0 + 0.001 * n},
            "stage_cpu_seconds": {"cleanse": 0.5 + 0.0005 * n},
        }
        for i, n in enumerate((100_000, 200_000))
    ]
    p = project(
        {"cleanse": 21.0},
        20_000,
        3_220_000,
        history=hist,
        stage_cpu={"cleanse": 10.5},
        run={"run_id": "scheduled__tonight", "generated_at": "2026-12-04T16:00:00+00:00"},
    )
    st = p["stages"]["cleanse"]
    assert st["method"] == "fit" and st["point_records"] == [20_000, 100_000, 200_000]
    assert st["projected_seconds"] == pytest.approx(0.5 + 0.0005 * 3_220_000, abs=0.1)
    assert [(x["records"], x["run_id"]) for x in p["points"]] == [
        (20_000, "scheduled__tonight"),
        (100_000, "manual__100000"),
        (200_000, "manual__200000"),
    ]
    assert p["points"][1]["generated_at"] == "2026-12-01T16:00:00+00:00"


def test_remembered_points_keep_the_latest_runs_of_every_volume():
    pts = [
        {"run_id": f"night-{i}", "generated_at": f"2026-11-{i + 1:02d}", "records": 20_000 + i}
        for i in range(10)
    ]
    pts.append({"run_id": "big", "generated_at": "2026-10-01", "records": 1_000_000})
    pts.append({"run_id": "night-9", "generated_at": "2026-11-10", "records": 20_009})  # retried
    kept = keep_points(pts)
    assert [p["run_id"] for p in kept] == ["big", "night-7", "night-8", "night-9"]
    assert band(20_000) == band(20_009) != band(1_000_000)


def test_capacity_uses_the_model_the_rehearsal_fitted():
    from ikou.rehearsal.capacity import domain_cost

    p = project({"load": 30.0}, 20_000, 1_000_000, stage_cpu={"load": 12.0}, overhead={"load": 2})
    c = domain_cost(
        "juki",
        [],
        {
            "run_id": "r",
            "timing": {
                "expected_records": 1_000_000,
                "projection_stages": p["stages"],
                "projection_basis": p["basis"],
                "projection_points": p["points"],
            },
        },
    )
    assert c.seconds(1.0) == [("load", pytest.approx(p["projected_seconds"], abs=0.1))]
    assert c.source["basis"] == "uncontended" and models(p["stages"])[0].basis == "uncontended"


def test_uncontended_seconds_keep_a_database_bound_stage_s_waiting():
    """CPU-bound stages took 3× their CPU time (κ = 3): a stage that mostly waits for PostgreSQL
    (1 s CPU, 12 s wall) costs 12 / 3 = 4 s, not its 1 s of CPU; on an idle machine (κ = 1) the
    cost is the wall time."""
    wall = {"extract": 30.0, "cleanse": 60.0, "validate": 9.0, "load": 12.0}
    cpu = {"extract": 10.0, "cleanse": 20.0, "validate": 3.0, "load": 1.0}
    assert contention(wall, cpu) == 3.0
    assert uncontended(wall, cpu) == {
        "extract": 10.0,
        "cleanse": 20.0,
        "validate": 3.0,
        "load": 4.0,
    }
    idle = {"extract": 10.0, "cleanse": 20.0, "validate": 3.0, "load": 4.0}
    assert contention(idle, cpu) == 1.0 and uncontended(idle, cpu)["load"] == 4.0
    assert contention({"x": 1.0}, {"x": None}) == 1.0  # nothing says: no deflation
    multi = {"extract": 5.0}  # two threads: more CPU than wall
    assert uncontended(multi, {"extract": 8.0}) == {"extract": 8.0}


def test_a_mapped_stage_s_clock_leaves_out_the_parts_wait_for_a_slot():
    """mapped_clock: the span from the plan's start, every task's CPU time, and the seconds the
    plan, the parts and the merge ran — which the timing model fits (a part that waited five
    minutes for a free slot did not cost five minutes)."""
    import time

    from ikou.pipeline import (
        CleansePartResult,
        ExtractPart,
        cpu_time,
        mapped_clock,
        with_plan_clock,
    )

    def planned(at):
        return [
            ExtractPart(
                file="F",
                landing_name="F",
                snapshot="2026-10-01",
                index=i,
                parts=2,
                start=i,
                end=i + 1,
                size=2,
                planned_at=at,
            )  # fmt: skip
            for i in range(2)
        ]

    parts = with_plan_clock(planned(time.time() - 3.0), time.time() - 3.0, cpu_time() - 0.5)
    assert [p.plan_seconds for p in parts] == [pytest.approx(3.0, abs=0.5)] * 2
    assert [p.plan_cpu_seconds for p in parts] == [pytest.approx(0.5, abs=0.2)] * 2

    def ran(seconds, cpu):
        return CleansePartResult(file="F", index=0, parts=2, start=0, end=1, planned_at=0.0,
                                 files={}, sha256={}, bytes={}, records_in=1, records_out=1,
                                 changes=0, findings=0, seconds=seconds, cpu_seconds=cpu)  # fmt: skip

    waited = [p.model_copy(update={"planned_at": time.time() - 300.0}) for p in parts]
    span, cpu, task = mapped_clock(time.monotonic(), cpu_time(), waited, [ran(5, 4), ran(7, 6)])
    assert span == pytest.approx(300.0, abs=1) and cpu == pytest.approx(10.5, abs=0.2)
    assert task == pytest.approx(3.0 + 5 + 7, abs=0.5)
    # parts that ran side by side on two slots: the span is shorter than their sum, and is it
    side = [p.model_copy(update={"planned_at": time.time() - 11.0}) for p in parts]
    span, _, task = mapped_clock(time.monotonic(), cpu_time(), side, [ran(7, 6), ran(7, 6)])
    assert task == round(span, 3) and span == pytest.approx(11.0, abs=0.5)
    # one task alone: no task seconds (its seconds are its running time)
    assert mapped_clock(time.monotonic(), cpu_time(), [], [])[2] is None
