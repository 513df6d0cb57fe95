"""The load benchmark's quick profile runs (no timing assertions: figures are for bench/results)."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration]


def test_quick_load_benchmark_runs(tmp_path, pg_url):
    from ikou_dev.bench import run_one

    doc = run_one("load", quick=True, results_dir=tmp_path)
    f = doc["figures"]
    assert f["rows"] == 20_000 and f["target"] == "postgresql"
    for k in ("after", "before", "to_sql"):
        assert f[k]["best_rows_per_s"] > 0 and f[k]["runs"] >= 1
    assert f["ratio_vs_to_sql"] > 0 and isinstance(f["meets_100k_rows_per_s"], bool)
    # the partitioned load, each step in processes of its own: 2 partitions staged side by side
    p = f["partitioned"]["partitioned_2"]
    assert p["stage"]["processes"] == 2
    for step in ("split", "stage", "swap"):
        assert p[step]["peak_rss_mb"] > 0 and p[step]["step_seconds"] > 0
    written = json.loads((tmp_path / "load.quick.json").read_text())
    assert (
        written["command"] == "python -m ikou_dev.bench --quick load"
        and written["machine"]["cores"]
    )
