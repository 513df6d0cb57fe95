"""The decode benchmark's quick profile runs here so the harness cannot rot.

Figures are measured by ``python -m ikou_dev.bench decode`` (bench/results/decode.json), never
asserted: this test checks the shape of the result and that every figure is a positive number.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    from ikou_dev.bench import run_one

    results = tmp_path_factory.mktemp("results")
    doc = run_one(
        "decode", quick=True, results_dir=results, workdir=tmp_path_factory.mktemp("work")
    )
    assert json.loads((results / "decode.quick.json").read_text(encoding="utf-8")) == doc
    return doc


def _positive(d: dict, *keys: str) -> None:
    for k in keys:
        assert isinstance(d[k], (int, float)) and not isinstance(d[k], bool) and d[k] > 0, (k, d[k])


def test_document(doc):
    assert doc["benchmark"] == "decode" and doc["quick"] is True
    assert doc["command"] == "python -m ikou_dev.bench --quick decode"
    assert {"cpu", "cores", "python"} <= set(doc["machine"])
    # the host's speed around the run, so figures of different times can be compared
    for when in ("before", "after"):
        _positive(doc["host_probe"][when], "cpu", "wall")
    f = doc["figures"]
    assert f["profile"] == "quick"
    assert set(f) == {"profile", "load_average", "a_throughput", "b_cli_vs_jvm"}


def test_throughput_figures(doc):
    a = doc["figures"]["a_throughput"]
    assert {
        "file",
        "engine",
        "per_record_python",
        "values_agree_on_sample",
        "speedup_per_core",
        "stream_5x",
        "goals",
    } <= set(a)
    _positive(a["file"], "bytes", "records", "data_records")
    assert a["file"]["lrecl"] == 500 and a["file"]["bytes"] == a["file"]["records"] * 500
    _positive(
        a["engine"],
        "seconds_wall",
        "seconds_cpu",
        "mb_per_s_per_core",
        "mb_per_s_wall",
        "records_per_s_per_core",
        "records_per_s_wall",
        "peak_rss_mb",
    )
    assert a["engine"]["records_in"] == a["file"]["records"] and a["engine"]["accounted"] is True
    assert a["engine"]["trailer_ok"] is True
    _positive(
        a["per_record_python"],
        "sample_records",
        "seconds_cpu",
        "mb_per_s_per_core",
        "records_per_s_per_core",
        "extrapolated_seconds_for_file",
    )
    assert a["per_record_python"]["extrapolated"] is True
    assert a["values_agree_on_sample"]["agree"] is True  # both decoders read the same values
    _positive(a, "speedup_per_core")
    s = a["stream_5x"]
    _positive(s, "bytes", "records_in", "seconds_cpu", "peak_rss_mb", "mb_per_s_per_core")
    assert s["bytes"] == 5 * a["file"]["bytes"] and s["records_in"] == 5 * a["file"]["records"]
    assert s["accounted"] is True
    assert set(a["goals"]) == {
        "engine_mb_per_s_per_core_ge_50",
        "speedup_ge_20x_per_record_python",
        "peak_rss_5x_input_lt_1gb",
    }
    assert all(isinstance(v, bool) for v in a["goals"].values())


def test_cli_figures(doc):
    b = doc["figures"]["b_cli_vs_jvm"]
    assert b["file"]["lrecl"] == 140 and b["file"]["bytes"] == 140 * b["file"]["records"]
    ik = b["ikou_decode"]
    assert len(ik["runs_s"]) == b["repetitions"] == 3
    _positive(ik, "median_s", "min_s", "cpu_median_s")
    assert f"records={b['file']['records']}" in ik["last_output"]
    if "skipped" in b["jvm"]:
        assert b["jvm"]["skipped"]
        return
    _positive(b["jvm"], "median_s", "min_s", "cpu_median_s")
    assert len(b["jvm"]["runs_s"]) == 3 and b["jvm"]["java"]
    assert b["outputs_identical"] is True  # the same CSV bytes from both decoders
    _positive(b, "jvm_over_ikou")
    assert isinstance(b["goal"]["met"], bool)
