"""The cleanse and dedupe benchmarks' quick profiles run here so the harness cannot rot.

Figures are measured by ``python -m ikou_dev.bench cleanse dedupe`` (bench/results/*.json), never
asserted as timings: these tests check the shape of the documents and that the figures are sane.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    from ikou_dev.bench import run_one

    results = tmp_path_factory.mktemp("results")
    work = tmp_path_factory.mktemp("work")
    out = {
        name: run_one(name, quick=True, results_dir=results, workdir=work)
        for name in ("cleanse", "dedupe")
    }
    for name, doc in out.items():
        assert json.loads((results / f"{name}.quick.json").read_text(encoding="utf-8")) == doc
    return out


def _positive(d: dict, *keys: str) -> None:
    for k in keys:
        assert isinstance(d[k], (int, float)) and not isinstance(d[k], bool) and d[k] > 0, (k, d[k])


def test_cleanse_document(docs):
    doc = docs["cleanse"]
    assert doc["benchmark"] == "cleanse" and doc["quick"] is True
    assert doc["command"] == "python -m ikou_dev.bench --quick cleanse"
    f = doc["figures"]
    assert f["residents"] == 2000
    _positive(f, "rows", "seconds", "rows_per_second")
    assert set(f["files"]) == {"ATENA", "JUKI"}
    for unit in f["files"].values():
        _positive(unit, "rows", "seconds", "rows_per_second", "changes")
    assert f["rows"] == sum(u["rows"] for u in f["files"].values())
    st = f["stages"]
    assert st["residents"] == [1000, 2000] and set(st["by_residents"]) == {"1000", "2000"}
    for by in st["by_residents"].values():
        for stage in ("extract", "cleanse", "validate"):
            _positive(by[stage], "seconds", "cpu_seconds", "peak_rss_mb", "records_in")
        assert by["largest_peak_rss_mb"] == max(
            by[s]["peak_rss_mb"] for s in ("extract", "cleanse", "validate")
        )
        # every record accounted: what extract put out, cleanse took in (out + merged)
        assert by["cleanse"]["records_in"] == by["extract"]["records_out"]
        assert by["cleanse"]["records_in"] == by["cleanse"]["records_out"] + by["cleanse"]["merged"]
    assert set(st["per_doubling"]) == {"extract", "cleanse", "validate"}


def test_dedupe_document(docs):
    doc = docs["dedupe"]
    assert (
        doc["benchmark"] == "dedupe" and doc["command"] == "python -m ikou_dev.bench --quick dedupe"
    )
    f = doc["figures"]
    _positive(f, "addressee_records", "seconds", "records_per_second", "true_pairs")
    assert 0 <= f["auto_precision"] <= 1 and 0 <= f["recall"] <= 1
    assert f["found_pairs"] <= f["true_pairs"] and f["auto_true_pairs"] <= f["auto_pairs"]
    assert set(f["stage_seconds"]) == {"features", "model", "predict", "cluster", "total"}
    assert f["goals"] == {"auto_precision": 0.99, "recall": 0.95, "seconds_1m": 600}
    assert "goals_met" not in f  # judged on the full profile only
