"""The gate-cost benchmark's quick profile (2,000 residents): the harness cannot rot, and the gate
report figures it quotes are there. The real figure comes from `python -m ikou_dev.bench gates`
(1,000,000 residents); no timing is asserted here."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.slow]


def test_gates_benchmark_quick(tmp_path):
    from ikou_dev.bench import run_one

    doc = run_one("gates", quick=True, results_dir=tmp_path)
    f = doc["figures"]
    assert f["residents"] == 2000 and f["domain"] == "juki"
    assert set(f["verdicts"].values()) == {"pass"}
    assert set(f["seconds"]) == {
        "extract",
        "gate_raw",
        "cleanse",
        "gate_cleansed",
        "validate",
        "gate_standard",
        "load",
        "gate_target",
        "rehearsal",
        "gate_reconciliation",
    }
    assert 0 < f["gate_share"] < 1 and f["limit"] == 0.25
    assert f["gate_target_statements"] > 0
    if f["target"] == "postgresql":  # the suite ran inside the database: no table was pulled
        assert f["gate_target_max_rows_returned"] < min(f["output_rows"].values()) // 10
    saved = json.loads((tmp_path / "gates.quick.json").read_text())
    assert saved["command"] == "python -m ikou_dev.bench --quick gates" and saved["machine"]["cores"]
