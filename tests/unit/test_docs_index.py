"""Ikou's Data Docs index (ikou.quality.docs_index.render_index): Japanese names in plan order, the
latest run first, verdict and override marks, JST times with the 和暦 date."""

from __future__ import annotations

import re

from ikou.quality.docs_index import render_index, run_time_iso


def _e(domain, run, run_time, unit="ATENA", gate="gate_raw", verdict="pass", override=None):
    return {
        "page": f"validations/{domain}/{unit}/{gate}/{run}/{run_time}/b.html",
        "domain": domain,
        "unit": unit,
        "gate": gate,
        "run_id": run,
        "run_time": run_time,
        "mode": "rehearsal",
        "verdict": verdict,
        "success": verdict == "pass",
        "override": override,
        "evaluated": 3,
        "met": 3 if verdict == "pass" else 2,
    }


ENTRIES = [
    _e("juki", "old", "20261203T010000.000000Z"),
    _e("juki", "new", "20261204T150500.000000Z", verdict="overridden", override={"by": "e"}),
    _e("juki", "new", "20261204T150000.000000Z", unit="JUKI"),
    _e("inkan", "r1", "20261204T010000.000000Z", verdict="fail"),
    _e("zzz_unplanned", "r1", "20261204T010000.000000Z"),
]


def test_domains_by_japanese_name_in_plan_order():
    html = render_index(ENTRIES, "2026-12-04T13:00:00+00:00")  # the registry's plan
    heads = re.findall(r"<h2 id='([\w]+)'>([^<]+)</h2>", html)
    assert heads == [
        ("juki", "住民基本台帳 (juki)"),
        ("inkan", "印鑑登録 (inkan)"),
        ("zzz_unplanned", "zzz_unplanned"),  # outside the plan: after it, by id
    ]
    # given order wins (not alphabetical)
    html = render_index(ENTRIES, "x", domains=[("inkan", "印鑑"), ("juki", "住基")])
    assert [h for h, _ in re.findall(r"<h2 id='(\w+)'>([^<]+)</h2>", html)][:2] == ["inkan", "juki"]


def test_latest_run_first_with_verdict_and_override_marks():
    html = render_index(ENTRIES, "2026-12-04T13:00:00+00:00")
    juki = html.split("<h2 id='juki'>")[1].split("</table>")[0]
    rows = re.findall(r"<tr class='run'><td>([^<]+)</td>", juki)
    assert rows == ["new", "old"]
    new = juki.split("<tr class='run'>")[1]
    assert "⚠ 上書き合格 / passed by override *" in new  # worst gate verdict, override mark
    assert "⚠ ATENA*" in new and "✓ JUKI" in new
    inkan = html.split("<h2 id='inkan'>")[1].split("</table>")[0]
    assert "✗ 不合格 / fail" in inkan and "✗ ATENA" in inkan


def test_times_in_jst_with_wareki():
    html = render_index(ENTRIES, "2026-12-04T15:30:00+00:00")
    assert "2026-12-05 00:05 JST（令和8年12月5日）" in html  # run time 15:05 UTC
    assert "作成 / built 2026-12-05 00:30:00 JST（令和8年12月5日）" in html
    assert run_time_iso("20261204T150500.123456Z") == "2026-12-04T15:05:00+00:00"
    assert run_time_iso("not-a-time") is None
    assert "<script" not in html
