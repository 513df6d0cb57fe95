"""The timing-model benchmark's quick profile (fit on 1,000 and 500 residents, check at 2,000): the
harness cannot rot and its figures are there. The real figure comes from
`python -m ikou_dev.bench timing` (fit on 20k–200k, check at 1M); no timing is asserted here."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.slow]


def test_timing_benchmark_quick(tmp_path):
    from ikou_dev.bench import run_one

    doc = run_one("timing", quick=True, results_dir=tmp_path)
    f = doc["figures"]
    assert f["domain"] == "juki" and f["fit_residents"] == [1000, 500]
    assert [r["residents"] for r in f["runs"]] == [1000, 500, 2000]
    for r in f["runs"]:  # CPU time beside wall time, for every timed stage and gate
        assert set(r["stage_cpu_seconds"]) == set(r["stage_seconds"]) and r["stage_seconds"]
    # the smallest run's rehearsal fitted over the run before it, and names it
    small = f["runs"][1]["report_projection"]
    assert small["basis"] == "uncontended" and "fit" in small["methods"]
    assert sorted(small["points"]) == sorted({f["runs"][0]["records"], f["runs"][1]["records"]})
    p = f["prediction"]
    assert (
        p["from_records"] == f["runs"][1]["records"] and p["at_records"] == f["runs"][2]["records"]
    )
    assert set(p["stages"]) == set(f["runs"][2]["stage_seconds"])
    assert all(v["error"] is not None for v in p["stages"].values())
    saved = json.loads((tmp_path / "timing.quick.json").read_text())
    assert saved["command"] == "python -m ikou_dev.bench --quick timing"
