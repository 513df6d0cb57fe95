"""The city-wide report (ikou.rehearsal.city) and the domain report's HTML (ikou.rehearsal.report)
from rehearsal reports placed in the reports zone."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ikou.pipeline import MasterPlan
from ikou.storage import Store, join, zone_uri

MASTER = "scheduled__2026-11-27T16:00:00+00:00"


def _put(store: Store, domain: str, rep: dict | None, gate_passed: bool = True) -> None:
    prefix = zone_uri("reports", domain, f"{MASTER}__{domain}")
    if rep is not None:
        store.put_bytes(join(prefix, "rehearsal.json"), json.dumps(rep).encode())
    store.put_bytes(
        join(prefix, "gates/gate_reconciliation.json"),
        json.dumps({"passed": gate_passed, "verdict": "pass" if gate_passed else "fail"}).encode(),
    )


def _rep(domain: str, verdict: str, hours: float, records: int, seconds: dict) -> dict:
    return {
        "domain": domain,
        "verdict": verdict,
        "reasons": [f"{verdict} reasons"],
        "mode": "rehearsal",
        "timing": {
            "projected_hours": hours,
            "linear_hours": hours * 3,
            "elapsed_seconds": sum(seconds.values()),
            "legacy_records": records,
            "expected_records": records * 100,
            "stage_seconds": seconds,
            "projection_methods": ["fit"],
            "within_window": True,
        },
    }


@pytest.fixture
def city(s3_endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("IKOU_TARGET_DB_URL", f"sqlite:///{tmp_path / 'target.sqlite'}")
    store = Store()
    _put(store, "juki", _rep("juki", "GO", 20.0, 3000, {"extract": 4.0, "load": 2.0}))
    _put(store, "inkan", _rep("inkan", "GO", 2.0, 400, {"extract": 1.4, "load": 0.6}))
    _put(store, "koseki", _rep("koseki", "GO", 30.0, 1300, {"extract": 2.3, "load": 1.0}))
    _put(
        store, "koseki_fuhyo", _rep("koseki_fuhyo", "GO", 20.0, 1300, {"extract": 2.3, "load": 1.0})
    )
    _put(store, "senkyo", _rep("senkyo", "NO-GO", 5.0, 1200, {"extract": 2.2, "load": 0.9}))
    _put(
        store,
        "kojin_juminzei",
        {
            **_rep("kojin_juminzei", "READINESS", 3.0, 800, {"extract": 1.8, "load": 0.0}),
            "readiness": {"gaiji_worklist_codes": 3},
        },
    )
    _put(store, "shugaku", None, gate_passed=False)  # the run failed before its rehearsal
    yield store
    store.delete_prefix(
        "s3://ikou-reports/reports/_calibration/"
    )  # the fake night calibrates nothing else


def test_city_report(city):
    from ikou.load.control import Control
    from ikou.rehearsal.city import build_city_report

    Control().record_live("juki", "2025-01-04", "移行担当")
    domains = ["juki", "inkan", "shugaku", "koseki", "koseki_fuhyo", "senkyo", "kojin_juminzei"]
    out = build_city_report(
        MasterPlan(domains=domains, snapshot="2026-11-01"),
        master_run_id=MASTER,
        store=city,
        today=dt.date(2026, 12, 1),
    )
    assert out["domains"]["shugaku"] == "FAILED" and out["failed_domains"] == ["shugaku"]
    assert out["counts"] == {"GO": 4, "NO-GO": 1, "READINESS": 1, "FAILED": 1}
    rep = json.loads(city.get_bytes(join(zone_uri("reports", "_city", MASTER), "city.json")))
    # critical path through cuts_over_after: juki is live (counts 0), koseki → koseki_fuhyo is the longest
    assert rep["critical_path"]["domains"][-2:] == ["koseki", "koseki_fuhyo"]
    assert rep["critical_path"]["projected_hours"] == pytest.approx(50.0)
    assert rep["live_domains"] == ["juki"]
    waves = {w["wave"]: w for w in rep["waves"]}
    assert waves[1]["weekend_holds"] is False and any(
        "inkan" in r and "passed" in r for r in waves[1]["reasons"]
    )
    w3 = waves[3]
    assert w3["weekend_holds"] is False  # senkyo is NO-GO
    assert any("senkyo is NO-GO" in r for r in w3["reasons"]) and w3[
        "projected_hours"
    ] == pytest.approx(50.0)
    assert waves[5]["weekend_holds"] is None  # preparation: readiness only
    assert any("GO rehearsal is needed again" in n for n in w3["notes"])
    assert rep["next_weekend"]["wave"] == 3
    # tonight's calibration of the fixed overhead per stage, from the domains' measurements
    assert rep["calibration"]["stages"]["extract"]["points"] == 6
    cal = json.loads(city.get_bytes("s3://ikou-reports/reports/_calibration/stage_overhead.json"))
    assert cal["master_run_id"] == MASTER
    html = city.get_bytes(join(zone_uri("reports", "_city", MASTER), "city.html")).decode()
    assert (
        "クリティカルパス" in html
        and "Critical path" in html
        and "../../juki/" in html
        and "<svg" in html
    )


def test_weekend_holds_when_all_go_and_the_path_fits(city):
    from ikou.rehearsal.city import build_city_report

    _put(city, "senkyo", _rep("senkyo", "GO", 5.0, 1200, {"extract": 2.2, "load": 0.9}))
    out = build_city_report(
        MasterPlan(domains=["juki", "koseki", "koseki_fuhyo", "senkyo"], snapshot="2026-11-01"),
        master_run_id=MASTER,
        store=city,
        today=dt.date(2027, 1, 5),
    )
    rep = json.loads(city.get_bytes(join(zone_uri("reports", "_city", MASTER), "city.json")))
    w3 = next(w for w in rep["waves"] if w["wave"] == 3)
    assert w3["weekend_holds"] is True, w3["reasons"]
    assert out["next_weekend"] == {"wave": 3, "target_date": "2027-01-09", "holds": True}
    _put(
        city, "koseki", _rep("koseki", "GO", 40.0, 1300, {"extract": 2.3})
    )  # within its own 48 h window
    build_city_report(
        MasterPlan(domains=["juki", "koseki", "koseki_fuhyo", "senkyo"], snapshot="2026-11-01"),
        master_run_id=MASTER,
        store=city,
        today=dt.date(2027, 1, 5),
    )
    rep = json.loads(city.get_bytes(join(zone_uri("reports", "_city", MASTER), "city.json")))
    w3 = next(w for w in rep["waves"] if w["wave"] == 3)
    assert w3["weekend_holds"] is False and any("56.5 h weekend" in r for r in w3["reasons"])


def test_domain_report_html_has_charts_trend_and_no_keys():
    from ikou.rehearsal.report import render_domain_report

    r = {
        "domain": "juki",
        "name_ja": "住民基本台帳",
        "name_en": "Resident registry",
        "run_id": "r3",
        "mode": "rehearsal",
        "snapshot": "2026-10-01",
        "phase": "migration",
        "wave": 1,
        "target_date": "2025-01-04",
        "verdict": "NO-GO",
        "reasons": ["reconciliation mismatches in atena"],
        "generated_at": "2026-10-03T01:00:00+00:00",
        "timing": {
            "stage_seconds": {"extract": 3.0, "load": 1.0},
            "elapsed_seconds": 4.0,
            "legacy_records": 600,
            "expected_records": 3_220_000,
            "projected_hours": 5.0,
            "linear_hours": 6.0,
            "window_hours": 48,
            "within_window": True,
            "projection": "time = a + b·records",
            "projection_stages": {
                "extract": {
                    "measured_seconds": 3.0,
                    "overhead_seconds": 1.0,
                    "per_record_ms": 3.3,
                    "projected_seconds": 10000,
                    "linear_seconds": 16000,
                    "method": "overhead",
                }
            },
        },
        "accounting": [
            {
                "unit": "ATENA",
                "legacy_records": 600,
                "output_records": 599,
                "quarantined": 0,
                "merged": 0,
                "balanced": False,
                "tables": ["atena"],
            }
        ],
        "reconciliation": [
            {
                "unit": "atena",
                "rows_source": 600,
                "rows_target": 599,
                "missing": 1,
                "extra": 0,
                "changed": 0,
                "aggregates_match": False,
                "aggregate_mismatches": ["shimei"],
                "allowed": 0,
                "mismatches_by_kind": {"missing": ["ab" * 16], "extra": [], "changed": []},
                "control_totals": {},
            }
        ],
        "gates": {
            "gate_raw": {"verdict": "pass", "warnings": 1, "critical_failures": 0, "seconds": 2}
        },
        "findings": {"cleanse": {"notation_variant": 12}},
        "gaiji_worklist": {"unmapped_codes": 2, "occurrences": 3},
        "rollback": {
            "schema": "ikou_rehearsal_0123456789ab",
            "done": True,
            "at": "2026-10-03T01:01:00+00:00",
        },
        "trend": [
            {
                "generated_at": "2026-10-01T01:00:00+00:00",
                "verdict": "GO",
                "projected_hours": 4.0,
                "mismatches": 0,
                "findings": 10,
                "snapshot": "2026-10-01",
            },
            {
                "generated_at": "2026-10-02T01:00:00+00:00",
                "verdict": "GO",
                "projected_hours": 4.5,
                "mismatches": 0,
                "findings": 11,
                "snapshot": "2026-10-01",
            },
            {
                "generated_at": "2026-10-03T01:00:00+00:00",
                "verdict": "NO-GO",
                "projected_hours": 5.0,
                "mismatches": 1,
                "findings": 12,
                "snapshot": "2026-10-01",
                "current": True,
            },
        ],
    }
    html = render_domain_report(r)
    assert "夜間リハーサルの推移" in html and "Trend over the nightly rehearsals (3 runs)" in html
    assert html.count("<polyline") == 2 and "移行時間枠 window 48 h" in html
    assert "ab" * 16 in html and "ikou_rehearsal_0123456789ab" in html
    assert "<script" not in html
