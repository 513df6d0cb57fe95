"""The delta benchmark's quick profile: a 2,000-resident city and a month of its changes through
住民基本台帳's tasks, both paths of the cutover window (no timing assertions: figures are for
bench/results; the benchmark itself asserts every gate passing, both reconciliations exact and
the re-applied delta a no-op — these check that the figures say so)."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration]


def test_quick_delta_benchmark_runs_on_a_synthesized_city(tmp_path, pg_url):
    from ikou_dev.bench import BENCHMARKS, run_one

    assert "delta" in BENCHMARKS
    doc = run_one("delta", quick=True, results_dir=tmp_path)
    f = doc["figures"]
    assert f["residents"] == 2_000 and f["change_rate"] == 0.015
    # the city's month of changes reached both standard tables: inserts, updates and deletes
    # (moves, births, deaths …) — the synth's answer key holds all three kinds too
    assert set(f["synth"]["changed_records"]) == {"insert", "update", "delete"}
    assert set(f["delta_rows"]) == {"atena", "jumin"}
    for table, ops in f["delta_rows"].items():
        assert ops["I"] > 0 and ops["U"] > 0 and ops["D"] > 0, (table, ops)
        assert f["rows_new"][table] == f["rows_base"][table] + ops["I"] - ops["D"], table
        assert 0 < f["measured_change_rate"][table] < 0.2, f["measured_change_rate"]
    full, delta = f["full_path"], f["delta_path"]
    # gate_target passes on both paths: the whole tables after the full load, the delta's
    # inserted and updated rows after the delta load
    assert (full["gate_target"]["verdict"], full["gate_target"]["scope"]) == ("pass", "whole")
    assert full["gate_target"]["rows_checked"] == sum(f["rows_new"].values())
    touched = sum(o["I"] + o["U"] for o in f["delta_rows"].values())
    assert (delta["gate_target"]["verdict"], delta["gate_target"]["scope"]) == ("pass", "delta")
    assert delta["gate_target"]["rows_checked"] == touched
    # both reconciliations exact, the tables of both paths alike; re-applying is a no-op
    assert full["reconciliation"]["exact"] and delta["reconciliation"]["exact"]
    assert full["reconciliation"]["rows_target"] == f["rows_new"]
    assert delta["reconciliation"]["rows_target"] == f["rows_new"]
    assert delta["reapply"] == "already_applied"
    assert f["base_load_ahead"]["timed"] is False
    for path in (full, delta):
        assert path["seconds"] > 0
    assert f["delta_share_of_full"] > 0
    written = json.loads((tmp_path / "delta.quick.json").read_text())
    assert written["command"] == "python -m ikou_dev.bench --quick delta"
