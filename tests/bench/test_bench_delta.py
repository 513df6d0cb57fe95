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
    # gate_target is timed in both paths (what the cutover window runs) and passes in both (the
    # synthetic 個人番号 carry check digits): the whole table after the full load, the delta's
    # inserted and updated rows after the delta load
    full, delta = (f[path]["gate_target"] for path in ("full_path", "delta_path"))
    assert full["seconds"] > 0 and delta["seconds"] > 0
    assert (full["verdict"], full["scope"], full["rows_checked"]) == ("pass", "whole", 2 * 5_011)
    touched = sum(f["delta_rows"][t]["I"] + f["delta_rows"][t]["U"] for t in ("atena", "jumin"))
    assert (delta["verdict"], delta["scope"], delta["rows_checked"]) == ("pass", "delta", touched)
    for path in ("full_path", "delta_path"):
        assert f[path]["seconds"] > 0
    assert f["delta_share_of_full"] > 0
    written = json.loads((tmp_path / "delta.quick.json").read_text())
    assert written["command"] == "python -m ikou_dev.bench --quick delta"
