"""The stage-by-stage harness with the target's stages (ikou_dev.bench.stage_target) on a small
city, so it cannot rot: each stage in a process of its own reports its figures, the load
accounts every validated row, the gate passes and the reconciliation is exact (the delta
benchmark's functions assert both); with another code version's ``include`` (here the same
one) the reconciliation runs with both and their results are compared."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]


def test_target_stages_each_in_a_process(tmp_path, pg_url, monkeypatch):
    import ikou
    from ikou_dev.bench.stage_target import with_target

    monkeypatch.setenv("IKOU_BENCH_PG_URL", pg_url)
    monkeypatch.setenv("IKOU_BENCH_BEFORE_INCLUDE", str(Path(ikou.__file__).parents[1]))
    st = with_target(300, 7, "2026-11-01", tmp_path)
    assert list(st) == [
        "extract",
        "cleanse",
        "validate",
        "load",
        "gate_target",
        "reconcile_before",
        "reconcile",
        "rehearse",
    ]
    for figures in st.values():
        assert figures["cpu_seconds"] > 0 and figures["peak_rss_mb"] > 0, figures
    assert st["load"]["records_out"] == st["validate"]["records_out"]
    assert sum(st["load"]["rows"].values()) == st["validate"]["records_out"]
    assert st["gate_target"]["rows_checked"] == st["validate"]["records_out"]
    assert st["reconcile"]["same_as_before"] is True
    assert st["rehearse"]["rows_target"] == st["load"]["rows"]
    assert st["rehearse"]["reconciliation_cpu_seconds"] > 0
