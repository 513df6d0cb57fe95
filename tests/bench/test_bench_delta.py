"""The delta benchmark's quick profile runs (no timing assertions: figures are for bench/results)."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration]


def test_quick_delta_benchmark_runs(tmp_path, pg_url):
    from ikou_dev.bench import BENCHMARKS, run_one

    assert "delta" in BENCHMARKS
    doc = run_one("delta", quick=True, results_dir=tmp_path)
    f = doc["figures"]
    assert f["rows_base"] == {"atena": 5_000, "jumin": 5_000}
    assert f["delta_rows"]["atena"]["I"] == 166 and f["delta_rows"]["atena"]["D"] == 100
    for path in ("full_path", "delta_path"):
        assert f[path]["seconds"] > 0
    assert f["delta_share_of_full"] > 0
    written = json.loads((tmp_path / "delta.quick.json").read_text())
    assert written["command"] == "python -m ikou_dev.bench --quick delta"
