"""The projection of stage durations to real volumes (ikou.rehearsal.timing)."""

from __future__ import annotations

import pytest

from ikou.rehearsal.timing import calibrate, fit_line, project


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
