"""The synth benchmark's quick profile runs (no timing assertions: figures are for bench/results)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_quick_synth_benchmark_runs(tmp_path):
    from ikou_dev.bench import BENCHMARKS, run_one

    assert "synth" in BENCHMARKS
    doc = run_one("synth", quick=True, results_dir=tmp_path / "results", workdir=tmp_path)
    assert doc["command"] == "python -m ikou_dev.bench --quick synth"
    f = doc["figures"]
    assert set(f["sizes"]) == {"2000", "20000"}
    for size, fig in f["sizes"].items():
        assert fig["residents"] == int(size)
        for k in ("seconds", "cpu_seconds", "peak_rss_mb", "bytes", "files", "records"):
            assert fig[k] > 0, (size, k)
        assert fig["files"] == 66
    r = f["ratio"]
    assert r["residents"] == 10
    assert r["bytes"] == round(f["sizes"]["20000"]["bytes"] / f["sizes"]["2000"]["bytes"], 2)
    assert 5 < r["records"] < 15  # the records grow with the city
    assert "goal_met" not in f  # judged on the full profile only
    written = json.loads((tmp_path / "results" / "synth.quick.json").read_text())
    assert written == doc
