"""The gate's pure parts: scrubbing a validation result, severities, the failure summary, links."""

from __future__ import annotations

import json

from ikou.quality.gate import _effective_severity, docs_url, failure_summary, gate_url
from ikou.quality.results import exception_type, scrub


def test_scrub_removes_every_place_a_value_could_hide():
    result = {
        "results": [
            {
                "result": {
                    "element_count": 3,
                    "unexpected_count": 1,
                    "partial_unexpected_list": ["山田　太郎"],
                    "partial_unexpected_counts": [{"value": "山田　太郎", "count": 1}],
                    "unexpected_index_list": [7],
                    "details": {"value_counts": [{"value": "x"}]},
                    "observed_value": "山田　太郎",
                },
                "exception_info": {
                    "raised_exception": True,
                    "exception_message": "invalid literal: '山田'",
                    "exception_traceback": "Traceback\nValueError: invalid literal: '山田'",
                },
            },
            {
                "result": {"observed_value": 300},
                "exception_info": {
                    "m1": {
                        "raised_exception": True,
                        "exception_message": "bad 佐藤",
                        "exception_traceback": "x\ngreat_expectations.exceptions.exceptions.MetricResolutionError: bad 佐藤",
                    }
                },
            },
            {"result": {"observed_value": "decimal128(13, 0)[pyarrow]"}},
        ],
        "meta": {
            "batch_markers": {"ge_load_time": "20260101", "pandas_data_fingerprint": "md5"},
            "batch_parameters": {"dataframe": "<DATAFRAME>"},
            "batch_spec": {
                "batch_data": "PandasDataFrame",
                "query": "SELECT * FROM x WHERE name = '山田'",
            },
        },
    }
    out = json.dumps(scrub(result), ensure_ascii=False)
    assert "山田" not in out and "佐藤" not in out and "md5" not in out and "SELECT" not in out
    r0, r1, r2 = result["results"]
    assert r0["result"] == {
        "element_count": 3,
        "unexpected_count": 1,
        "observed_value": "(removed)",
    }
    assert r0["exception_info"]["exception_message"] == "ValueError (message removed)"
    assert r1["result"]["observed_value"] == 300
    assert r1["exception_info"]["exception_message"] == "MetricResolutionError (message removed)"
    assert r2["result"]["observed_value"] == "decimal128(13, 0)[pyarrow]"  # a type name stays
    assert result["meta"]["batch_parameters"] == {"dataframe": "<stage output>"}


def test_exception_type_never_the_message():
    assert exception_type({"exception_traceback": "a\nKeyError: '山田'"}) == "KeyError"
    assert exception_type({}) == "exception"


def test_effective_severity():
    cfg = {"severity": "warning", "meta": {"critical_in_modes": ["cutover"]}}
    assert _effective_severity(cfg, "rehearsal") == "warning"
    assert _effective_severity(cfg, "cutover") == "critical"
    assert _effective_severity({"severity": "critical"}, "rehearsal") == "critical"
    assert _effective_severity({}, "rehearsal") == "critical"


def test_failure_summary_is_readable_and_points_to_the_pages(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://ui.example:8080/")
    report = {
        "gate": "gate_standard",
        "domain": "juki",
        "mode": "rehearsal",
        "run_id": "r1",
        "critical_failures": [
            "juki.jumin.gate_standard: expect_x(atena_no) — 3 of 300 records (1.00 %)"
        ],
        "warnings": ["w"],
        "units": [
            {"unit": "jumin", "success": False, "docs_page": "validations/a/b.html"},
            {"unit": "atena", "success": True, "docs_page": "validations/c.html"},
        ],
        "report": "s3://ikou-reports/reports/juki/r1/gates/gate_standard.json",
    }
    text = failure_summary(report)
    assert (
        text.splitlines()[0]
        == "gate_standard of juki failed (rehearsal run r1): 1 critical expectation(s) failed"
    )
    assert "✗ juki.jumin.gate_standard: expect_x(atena_no) — 3 of 300 records" in text
    assert "validation page (jumin): http://ui.example:8080/ikou/docs/validations/a/b.html" in text
    assert "(atena)" not in text  # only the failing units' pages
    assert "gate report: s3://ikou-reports/reports/juki/r1/gates/gate_standard.json" in text
    assert "gate_override_reason" in text
    report["mode"] = "cutover"
    report["override_refused"] = "cutover runs cannot override a critical gate"
    text = failure_summary(report)
    assert "override refused" in text and "gate_override_reason" not in text


def test_links(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080")
    assert docs_url("validations/x.html") == "http://127.0.0.1:8080/ikou/docs/validations/x.html"
    assert gate_url("migrate_juki", "manual__2026-01-01T00:00:00+00:00", "gate_raw") == (
        "http://127.0.0.1:8080/ikou/gates/migrate_juki/manual__2026-01-01T00%3A00%3A00%2B00%3A00/gate_raw"
    )
