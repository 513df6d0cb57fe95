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
    # the month of changes: 1.5 % of the rows touched (40 % inserts, 25 % deletions)
    assert f["change_rate"] == 0.015
    assert f["delta_rows"]["atena"]["I"] == 30 and f["delta_rows"]["atena"]["D"] == 19
    assert 0 < f["delta_rows"]["atena"]["U"] <= 27
    # gate_target is timed in both paths (what the cutover window runs) on the same rows: the
    # same verdict (the synthetic identifiers fail their check-digit expectation in both)
    gates = [f[path]["gate_target"] for path in ("full_path", "delta_path")]
    assert gates[0]["seconds"] > 0 and gates[1]["seconds"] > 0
    assert gates[0]["verdict"] == gates[1]["verdict"]
    assert gates[0]["critical_failures"] == gates[1]["critical_failures"]
    for path in ("full_path", "delta_path"):
        assert f[path]["seconds"] > 0
    assert f["delta_share_of_full"] > 0
    written = json.loads((tmp_path / "delta.quick.json").read_text())
    assert written["command"] == "python -m ikou_dev.bench --quick delta"
