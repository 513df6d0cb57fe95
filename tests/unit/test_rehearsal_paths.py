"""Timing both cutover paths (issue 12 §3, ikou.rehearsal.paths): the change rate measured or
planned, the delta path "not measured" unless it was, the plan's path for the verdict, and the
domain report showing both paths and the delta's reconciliation."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from ikou.rehearsal.paths import change_rate, choose, delta_path, from_history, full_path
from ikou.rehearsal.report import render_domain_report

PLAN = SimpleNamespace(
    target_date=dt.date(2027, 1, 4),
    full_load_date=dt.date(2026, 12, 21),
    change_rate_per_day=0.0005,
    cutover="full_ahead_then_delta",
)
DELTA = {
    "ops": {"atena": {"I": 10, "U": 20, "D": 0}, "jumin": {"I": 5, "U": 15, "D": 10}},
    "base_snapshot": "2026-03-01",
    "diff_seconds": 2.0,
    "diff_cpu_seconds": 1.5,
    "apply_seconds": 1.2,
    "apply_cpu_seconds": 0.4,
    "base_load_seconds": 6.0,
}


def test_the_change_rate_is_measured_from_the_two_snapshots_else_planned():
    m = change_rate(DELTA, 6000, "2026-04-01", "2026-03-01", PLAN)
    assert (m["source"], m["changes"], m["days"]) == ("measured", 60, 31)
    assert m["share"] == 0.01 and m["projected_days"] == 14
    assert m["projected_share"] == round(0.01 / 31 * 14, 6)
    p = change_rate(None, 6000, "2026-04-01", None, PLAN)
    assert p == {
        "source": "plan",
        "rate_per_day": 0.0005,
        "projected_days": 14,
        "projected_share": 0.007,
    }
    assert change_rate(None, 6000, "2026-04-01", None, SimpleNamespace())["source"] is None


def test_a_full_run_measures_no_delta_path_and_the_verdict_says_which_path():
    full = {"hours": 30.0, "stages": {}, "not_measured": [], "complete": True}
    dpath = delta_path(None, {}, {}, {}, 1000, 100_000, {"source": None})
    assert dpath == {"measured": False, "hours": None, "note": "not measured"}
    chosen = choose("full_ahead_then_delta", full, dpath, 24)
    assert chosen["planned"] == "delta" and chosen["path"] == "full"
    assert not chosen["within_window"] and "measured no delta path" in chosen["note"]
    assert chosen["delta_fits"] is None and chosen["full_fits"] is False


def test_the_delta_path_scales_the_scans_by_records_and_the_apply_and_gate_by_changes():
    shared = {"extract": {"projected_seconds": 3600.0}, "load": {"projected_seconds": 36000.0}}
    change = change_rate(DELTA, 6000, "2026-04-01", "2026-03-01", PLAN)
    d = delta_path(
        DELTA, shared, {"gate_target": 1.0, "reconciliation": 0.5}, {}, 1000, 100_000, change
    )
    assert d["measured"] and d["complete"] and "load" not in d["stages"]  # loaded ahead
    # 1.5 s uncontended (its CPU: the run's only CPU figure sets κ) × 100 (the records' scale)
    assert d["stages"]["diff"]["projected_seconds"] == 150.0
    expected_changes = round(change["projected_share"] * 100_000)
    assert d["expected_changes"] == expected_changes
    # gate_target after a delta checks the touched rows only: 1 s for the 60 changes measured,
    # scaled to the projected changes (wall: no CPU figure), not to the table's records
    gate = d["stages"]["gate_target"]
    assert gate["per"] == "changed rows"
    assert gate["projected_seconds"] == round(expected_changes / 60, 1) != 100.0
    # the apply: per changed row (60 measured → the projected changes), on the CPU/wall basis
    apply = d["stages"]["delta_apply"]
    assert apply["per"] == "changed rows" and apply["projected_seconds"] > 0
    hours = (3600 + 150 + gate["projected_seconds"] + 50 + apply["projected_seconds"]) / 3600
    assert abs(d["hours"] - hours) < 0.01
    full = {"hours": 11.0, "stages": shared, "not_measured": [], "complete": True}
    chosen = choose("full_ahead_then_delta", full, d, 8)
    assert chosen["path"] == "delta" and chosen["within_window"] and not chosen["full_fits"]


def test_a_stage_the_run_did_not_measure_comes_from_the_history_or_is_not_measured():
    history = [
        {"records": 1000, "stage_seconds": {"reconciliation": 2.0}},
        {"records": 4000, "stage_seconds": {"reconciliation": 5.0}},
    ]
    h = from_history("reconciliation", history, 100_000)
    assert h["method"] == "history fit" and h["projected_seconds"] == 101.0
    proj = {"stages": {"load": {"projected_seconds": 36.0}}}
    assert full_path(proj, history, 100_000, ["reconciliation"])["hours"] == round(137 / 3600, 3)
    bare = full_path(proj, [], 100_000, ["reconciliation"])
    assert bare["not_measured"] == ["reconciliation"] and not bare["complete"]


def test_the_domain_report_shows_both_paths_and_the_delta_reconciliation():
    timing = {
        "stage_seconds": {"load": 7.2},
        "elapsed_seconds": 7.2,
        "legacy_records": 1000,
        "expected_records": 100_000,
        "projected_hours": 1.2,
        "linear_hours": 2.0,
        "window_hours": 24,
        "within_window": True,
        "projection": "cost = a + b·records",
        "projection_stages": {},
        "paths": {
            "change": change_rate(DELTA, 6000, "2026-04-01", "2026-03-01", PLAN),
            "full": {"hours": 30.0, "not_measured": ["reconciliation"]},
            "delta": {"measured": True, "hours": 1.2, "window_part_hours": 0.2},
            "path": "delta",
            "planned": "delta",
        },
    }
    table = {
        "unit": "atena",
        "rows_source": 100,
        "rows_target": 100,
        "digest_match": True,
        "digest_target": "100:00ff",
        "changed_keys": 30,
        "changed_mismatches": 0,
        "mismatched_keys": [],
        "aggregates_match": True,
        "control_totals": {},
    }
    html = render_domain_report(
        {
            "domain": "juki",
            "name_ja": "住民基本台帳",
            "name_en": "resident register",
            "run_id": "r1",
            "snapshot": "2026-04-01",
            "mode": "rehearsal",
            "phase": "migration",
            "wave": 1,
            "verdict": "GO",
            "reasons": ["ok"],
            "timing": timing,
            "accounting": [],
            "reconciliation": [table],
            "reconciliation_method": {"method": "delta", "detail": "delta: digest"},
            "gates": {},
            "findings": {},
            "gaiji_worklist": {"unmapped_codes": 0, "occurrences": 0},
        }
    )
    assert "30.00 h (without reconciliation: not measured)" in html
    assert "1.20 h — of which diff + apply + gate_target + reconciliation 0.20 h" in html
    assert "60 of 6,000 rows in 31 days (1.00%)" in html
    assert "照合方式 / reconciliation: <b>delta</b>" in html and "100:00ff" in html
    timing["paths"]["delta"] = {"measured": False, "hours": None, "note": "not measured"}
    assert "<th>事前全件投入＋差分 / full ahead + delta</th><td>not measured</td>" in (
        render_domain_report(
            {
                "domain": "juki",
                "name_ja": "住民基本台帳",
                "name_en": "resident register",
                "run_id": "r1",
                "snapshot": "2026-04-01",
                "mode": "rehearsal",
                "phase": "migration",
                "wave": 1,
                "verdict": "GO",
                "reasons": ["ok"],
                "timing": timing,
                "accounting": [],
                "reconciliation": [],
                "gates": {},
                "findings": {},
                "gaiji_worklist": {"unmapped_codes": 0, "occurrences": 0},
            }
        )
    )


def test_the_city_report_shows_which_domains_fit_the_weekend_only_with_the_delta():
    from ikou.rehearsal.city import both_paths, paths_table

    plan = SimpleNamespace(cutover_window_hours=24.0, cutover="full_ahead_then_delta")
    measured = {"paths": {"full": {"hours": 40.0}, "delta": {"hours": 6.0}, "path": "delta"}}
    v = both_paths(measured, plan)
    assert (v["full_hours"], v["delta_hours"], v["fits_only_with_delta"]) == (40.0, 6.0, True)
    # a full run: the delta path was never measured — no number, and no claim it fits
    unmeasured = {"projected_hours": 40.0, "paths": {"full": {"hours": 40.0}, "path": "full"}}
    u = both_paths(unmeasured, SimpleNamespace(cutover_window_hours=24.0, cutover="full"))
    assert u["delta_hours"] is None and not u["fits_only_with_delta"]
    assert u["planned_path"] == "full"
    html = paths_table(
        {
            "juki": {"name_ja": "住民基本台帳", "phase": "migration", "window_hours": 24.0, **v},
            "inkan": {"name_ja": "印鑑登録", "phase": "migration", "window_hours": 24.0, **u},
            "senkyo": {"name_ja": "選挙", "phase": "preparation", "window_hours": 24.0, **u},
        }
    )
    assert "fit the weekend only with the delta: juki</p>" in html
    assert "<td class='num'>40.00</td><td class='num'>not measured</td>" in html
    assert "senkyo" not in html  # preparation: nothing is loaded


def test_the_night_calibrates_the_delta_scans_under_their_own_names():
    """A delta run's diff and delta reconciliation feed the master's overhead fit (so the next
    projection of the delta path is not linear scaling of fixed costs); its mixed load and
    reconciliation do not feed the full path's."""
    from ikou.rehearsal.timing import observations

    def rep(records: int, diff: float) -> dict:
        return {
            "timing": {
                "legacy_records": records,
                "stage_seconds": {"extract": 1.0, "load": 9.0, "reconciliation": 9.0},
                "paths": {
                    "delta": {
                        "measured": True,
                        "stages": {
                            "diff": {"cost_seconds": diff},
                            "delta_reconciliation": {"measured_seconds": 0.5},
                        },
                    }
                },
            }
        }

    obs = observations([rep(100, 2.0), rep(1000, 2.5)])
    assert obs["diff"] == [(100, 2.0), (1000, 2.5)]
    assert obs["delta_reconciliation"] == [(100, 0.5), (1000, 0.5)]
    assert "load" not in obs and "reconciliation" not in obs and len(obs["extract"]) == 2
