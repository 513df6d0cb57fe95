"""Reports show times in JST and dates with their 和暦 beside the ISO date (ikou.wareki)."""

from __future__ import annotations


def _domain_report() -> dict:
    return {
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


def test_rehearsal_report_times_in_jst_and_dates_in_wareki():
    from ikou.rehearsal.report import render_domain_report

    html = render_domain_report(_domain_report())
    # generated 2026-10-03T01:00Z = 10:00 in Tokyo
    assert "2026-10-03 10:00 JST（令和8年10月3日）" in html
    assert "2026-10-01（令和8年10月1日）" in html  # the snapshot
    assert "2025-01-04（令和7年1月4日）" in html  # the wave's cutover date
    assert "dropped 2026-10-03 10:01 JST（令和8年10月3日）" in html  # the rollback
    assert "2026-10-02 10:00 JST" in html  # the trend table
    assert "+00:00" not in html


def test_cleansing_report_times_in_jst_and_dates_in_wareki():
    from types import SimpleNamespace

    from ikou.cleanse.report import build, render

    report = build(
        SimpleNamespace(id="juki", name_ja="住民基本台帳", name_en="Resident registry"),
        run_id="r1",
        snapshot="2019-05-01",
        mode="rehearsal",
        files=[{"unit": "ATENA", "records_in": 10, "records_out": 9}],
        fixed={"kana.ATENA.SHIMEI-KANA": 2},
        problems={"date_format.ATENA.SEINENGAPPI": 1},
        severities={"warning": 1},
        stats={},
        names={},
        merge={},
        previous=[{"run_id": "r0", "generated_at": "2019-04-30T14:00:00+00:00", "findings": 1}],
    )
    report["generated_at"] = report["trend"][-1]["generated_at"] = "2019-04-30T15:30:00+00:00"
    html = render(report)
    assert "2019-05-01（令和元年5月1日）" in html  # the snapshot, first day of 令和
    assert "2019-05-01 00:30 JST（令和元年5月1日）" in html  # 15:30 UTC on 平成31年4月30日
    assert "2019-04-30 23:00 JST（平成31年4月30日）" in html  # the previous run, still 平成
