"""The Data Docs site built offline-ready (local S3 endpoint, the real GX site builder): a new
validation page and GX's index are published with links to the served assets only, the assets
and their licences are uploaded once, and pages published before (with CDN links) are rewritten
in place by the first build that serves the assets."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.integration]

RESULT_KEY = "juki/ATENA/gate_raw/offline_r1/20261204T010000.000000Z/batch.json"


def _result_json() -> dict:
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    part = {"values": ["1", "2", "3"], "weights": [0.6, 0.3, 0.1]}
    cfg = ExpectationConfiguration(
        type="expect_column_kl_divergence_to_be_less_than",
        kwargs={"column": "ATENA-KBN", "partition_object": part, "threshold": None},
    )
    res = ExpectationValidationResult(
        success=True,
        expectation_config=cfg,
        result={
            "observed_value": 0.1,
            "details": {"observed_partition": part, "expected_partition": part},
        },
    )
    vr = ExpectationSuiteValidationResult(
        success=True,
        results=[res],
        suite_name="juki.ATENA.gate_raw",
        statistics={
            "evaluated_expectations": 1,
            "successful_expectations": 1,
            "unsuccessful_expectations": 0,
            "success_percent": 100.0,
        },
        meta={
            "run_id": {"run_name": "offline_r1", "run_time": "2026-12-04T01:00:00+00:00"},
            "ikou": {
                "domain": "juki",
                "unit": "ATENA",
                "gate": "gate_raw",
                "run_id": "offline_r1",
                "mode": "rehearsal",
                "verdict": "pass",
            },
        },
    )
    return vr.to_json_dict()


def test_site_is_published_with_served_assets_and_old_pages_are_rewritten(s3_endpoint):
    from ikou.config import settings
    from ikou.quality import docs
    from ikou.quality.offline import external_loads, load_assets
    from ikou.storage import Store

    store = Store()
    bucket = settings().reports_bucket
    assets = load_assets()
    store.put_bytes(
        f"s3://{bucket}/gx/validations/{RESULT_KEY}", json.dumps(_result_json()).encode()
    )
    first = docs.build_site(lock_timeout=120, gx_index=True)
    assert first["new_pages"] >= 1 and first["vendor_assets_uploaded"] is True
    page_key = "docs/validations/" + RESULT_KEY.replace(".json", ".html")
    page = store.get_bytes(f"s3://{bucket}/{page_key}").decode("utf-8")
    assert "vegaEmbed(" in page and "id='ikou-gate'" in page
    assert external_loads(page) == [] and "cdn.jsdelivr.net" not in page
    assert "../../../../../../static/vendor/npm/vega@5." in page
    gx_index = store.get_bytes(f"s3://{bucket}/docs/index.html").decode("utf-8")
    assert external_loads(gx_index) == [] and 'src="static/vendor/npm/jquery@3.7.1/' in gx_index
    for rel in assets.files:  # every served file, licences included
        assert store.exists(f"s3://{bucket}/docs/static/vendor/{rel}"), rel
    index = store.get_bytes(f"s3://{bucket}/docs/ikou/index.html").decode("utf-8")
    assert (
        "住民基本台帳 (juki)" in index and "✓ ATENA" in index and "JST（令和8年12月4日）" in index
    )

    # a site built before the assets were served: its pages still name the CDNs
    old = page.replace(
        "../../../../../../static/vendor/npm/jquery@3.7.1/dist/jquery.min.js",
        "https://code.jquery.com/jquery-3.7.1.min.js",
    )
    assert "code.jquery.com" in old
    store.put_bytes(f"s3://{bucket}/{page_key}", old.encode("utf-8"))
    site = json.loads(store.get_bytes(f"s3://{bucket}/{docs.SITE_MANIFEST}"))
    site.pop("vendor")
    store.put_bytes(f"s3://{bucket}/{docs.SITE_MANIFEST}", json.dumps(site).encode())
    second = docs.build_site(lock_timeout=120)
    assert second["new_pages"] == 0 and second["pages_rewritten_offline"] >= 1
    again = store.get_bytes(f"s3://{bucket}/{page_key}").decode("utf-8")
    assert "code.jquery.com" not in again and external_loads(again) == []
    third = docs.build_site(lock_timeout=120)  # nothing left to do
    assert third["vendor_assets_uploaded"] is False and third["pages_rewritten_offline"] == 0
