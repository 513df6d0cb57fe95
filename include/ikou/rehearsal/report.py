"""HTML reports (Japanese with English beside it), with inline SVG charts: no scripts, no fonts
or assets fetched from anywhere, so they render the same inside the Airflow UI and offline.

Charts: horizontal bars (stage durations, findings), a stacked bar of the projected stages
against the cutover window, and a trend line over the previous rehearsals of the domain.
Times in JST, dates with their 和暦 beside the ISO date (ikou.reports.html.when / day)."""

from __future__ import annotations

from html import escape

from ikou.pipeline import STAGES
from ikou.reports.html import bars, day, h2, jst, page, stacked, trend, when


def _kv_table(rows: list[tuple[str, object]]) -> str:
    return (
        "<table>"
        + "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
        + "</table>"
    )


#: 日本語 labels of the stages and gates (from the stage table) and of the reconciliation step
STAGE_JA = {
    **{s.name: s.label_ja for s in STAGES},
    **{s.gate: s.gate_label_ja for s in STAGES},
    "reconciliation": "照合",
}


def render_domain_report(r: dict) -> str:
    t = r["timing"]
    body = [
        f"<p>判定 / verdict: <span class='{r['verdict']}'>{escape(r['verdict'])}</span> — "
        + "; ".join(escape(x) for x in r["reasons"])
        + "</p>",
        _kv_table(
            [
                ("分野 / domain", f"{r['name_ja']} ({r['name_en']})"),
                ("実行 / run", r["run_id"]),
                ("スナップショット / snapshot", day(r["snapshot"])),
                ("モード / mode", r["mode"]),
                ("フェーズ / phase", r["phase"]),
                ("移行陣 / wave", f"{r['wave']} ({day(r.get('target_date', ''))})"),
                ("生成 / generated", when(r.get("generated_at", ""))),
            ]
        ),
    ]
    if r.get("cutover"):
        c = r["cutover"]
        cls = "LIVE" if c["status"] == "live" else "bad"
        body.append(
            f"<p>本番移行 / cutover: <span class='{cls}'>{escape(c['status'])}</span> "
            f"(manifest sha256 <code>{escape(c.get('manifest_sha256') or '')}</code>, by {escape(c.get('who') or '')})"
            f"{' — ' + escape(c['detail']) if c.get('detail') else ''}</p>"
        )
    if r.get("rollback"):
        rb = r["rollback"]
        body.append(
            f"<p class='muted'>ロールバック / rollback of the rehearsal schema <code>{escape(rb['schema'])}</code>: "
            f"{'dropped ' + escape(when(rb.get('at', ''))) if rb.get('done') else 'pending'} — the reports stay.</p>"
        )
    body.append(h2("所要時間 (実測)", "Stage durations, measured"))
    body.append(
        bars([(f"{STAGE_JA.get(k, k)} {k}", v) for k, v in t["stage_seconds"].items()], unit="s")
    )
    body.append(
        f"<p>実測 / measured {t['elapsed_seconds']:,.1f} s for {t['legacy_records']:,} legacy records.</p>"
    )
    waited = {k: v for k, v in (t.get("stage_slot_wait_seconds") or {}).items() if v}
    if waited:
        body.append(
            "<p class='muted'>空き待ち / waiting for a free task slot (mapped parts; not in the "
            "durations above, which are what the stage's tasks ran): "
            + ", ".join(f"{escape(k)} {v:,.1f} s" for k, v in waited.items())
            + "</p>"
        )
    body.append(
        h2("本番規模推計と移行時間枠", "Projected to the city's volume, against the cutover window")
    )
    ps = t.get("projection_stages", {})
    body.append(
        stacked(
            [(k, v["projected_seconds"] / 3600) for k, v in ps.items()], t["window_hours"], unit="h"
        )
    )
    body.append(
        f"<p>本番規模推計 / projected to {t['expected_records']:,} records: <b>{t['projected_hours']:,.2f} h</b> "
        f"(window {t['window_hours']:g} h, {escape(window_word(t))}; a plain linear "
        f"scale would say {t.get('linear_hours', 0):,.2f} h). {escape(t['projection'])}</p>"
    )
    body.append(paths_section(t))
    if ps:
        body.append(
            "<table><tr><th>stage</th><th>measured s</th><th>CPU s</th><th>basis</th>"
            "<th>overhead a (s)</th><th>per record b (ms)</th>"
            "<th>projected s</th><th>method</th><th>points (records)</th></tr>"
            + "".join(
                f"<tr><td>{escape(STAGE_JA.get(k, k))} {escape(k)}</td><td class='num'>{v['measured_seconds']:,.2f}</td>"
                f"<td class='num'>{'' if v.get('measured_cpu_seconds') is None else format(v['measured_cpu_seconds'], ',.2f')}</td>"
                f"<td>{escape(v.get('basis', 'wall'))}</td>"
                f"<td class='num'>{v['overhead_seconds']:,.2f}</td><td class='num'>{v['per_record_ms']:,.4f}</td>"
                f"<td class='num'>{v['projected_seconds']:,.0f}</td><td>{escape(v['method'])}</td>"
                f"<td>{escape(', '.join(f'{n:,}' for n in v.get('point_records', [])))}</td></tr>"
                for k, v in ps.items()
            )
            + "</table>"
        )
        pts = t.get("projection_points") or []
        if pts:
            body.append(
                "<p class='muted'>推計の根拠 / the projection rests on: "
                + "; ".join(
                    f"{p['records']:,} records — {escape(str(p.get('run_id')))}"
                    f" ({escape(when(p.get('generated_at') or ''))})"
                    for p in pts
                )
                + "</p>"
            )
    trend_pts = r.get("trend") or []
    body.append(
        h2("夜間リハーサルの推移", f"Trend over the nightly rehearsals ({len(trend_pts)} runs)")
    )
    if r["phase"] == "migration":
        body.append(trend(trend_pts, "projected_hours", "h", limit=t["window_hours"]))
        body.append(trend(trend_pts, "mismatches", "mismatches", height=120))
    else:
        body.append(trend(trend_pts, "findings", "findings"))
        body.append(trend(trend_pts, "gaiji_codes", "外字 codes", height=120))
    if trend_pts:
        body.append(
            "<table><tr><th>generated (JST)</th><th>run</th><th>snapshot</th><th>verdict</th><th>projected h</th>"
            "<th>mismatches</th><th>findings</th></tr>"
            + "".join(
                f"<tr><td>{escape(jst(p.get('generated_at')))}</td><td>{escape(str(p.get('run_id')))}</td>"
                f"<td>{escape(str(p.get('snapshot')))}</td><td class='{escape(str(p.get('verdict')))}'>"
                f"{escape(str(p.get('verdict')))}</td><td class='num'>{(p.get('projected_hours') or 0):,.2f}</td>"
                f"<td class='num'>{p.get('mismatches') or 0:,}</td><td class='num'>{p.get('findings') or 0:,}</td></tr>"
                for p in reversed(trend_pts[-10:])
            )
            + "</table>"
        )
    body.append(h2("件数の照合", "Accounting: legacy records in = loaded + quarantined + merged"))
    body.append(
        "<table><tr><th>file</th><th>legacy</th><th>loaded / output</th><th>quarantined</th><th>merged</th>"
        "<th>closes</th></tr>"
        + "".join(
            f"<tr><td>{escape(a['unit'])}</td><td class='num'>{a['legacy_records']:,}</td>"
            f"<td class='num'>{a['output_records']:,}</td><td class='num'>{a['quarantined']:,}</td>"
            f"<td class='num'>{a['merged']:,}</td><td class='{'ok' if a['balanced'] else 'bad'}'>"
            f"{'✓' if a['balanced'] else '✗'}</td></tr>"
            for a in r["accounting"]
        )
        + "</table>"
    )
    method = r.get("reconciliation_method") or {}
    if method:
        body.append(
            f"<p>照合方式 / reconciliation: <b>{escape(method.get('method', ''))}</b> — "
            f"{escape(method.get('detail', ''))}</p>"
        )
    if r["reconciliation"] and method.get("method") == "delta":
        body.append(h2("照合 (差分)", "Reconciliation after the delta: validated ↔ target"))
        body.append(delta_reconciliation(r["reconciliation"]))
    elif r["reconciliation"]:
        body.append(h2("照合 (標準レイアウト ↔ 移行先)", "Reconciliation validated ↔ target"))
        body.append(
            "<table><tr><th>table</th><th>source</th><th>target</th><th>missing</th><th>extra</th><th>changed</th>"
            "<th>aggregates</th><th>tolerated</th></tr>"
            + "".join(
                f"<tr><td>{escape(x['unit'])}</td><td class='num'>{x['rows_source']:,}</td>"
                f"<td class='num'>{x['rows_target']:,}</td><td class='num'>{x['missing']:,}</td>"
                f"<td class='num'>{x['extra']:,}</td><td class='num'>{x['changed']:,}</td>"
                f"<td class='{'ok' if x.get('aggregates_match') else 'bad'}'>"
                f"{'✓' if x.get('aggregates_match') else '✗ ' + escape(', '.join(x.get('aggregate_mismatches', [])))}"
                f"</td><td class='num'>{x.get('allowed', 0):,}</td></tr>"
                for x in r["reconciliation"]
            )
            + "</table>"
        )
    for x in r["reconciliation"]:
        kinds = x.get("mismatches_by_kind") or {}
        listed = [(k, h) for k in ("missing", "extra", "changed") for h in kinds.get(k, [])]
        listed += [("changed key", h) for h in x.get("mismatched_keys", []) if "digest_match" in x]
        if listed:
            body.append(
                f"<p>{escape(x['unit'])}: 不一致レコード (鍵付きハッシュ) / mismatching records by keyed "
                f"hash (record:{escape(r['domain'])}:{escape(x['unit'])}), first {len(listed)}:</p><table>"
                "<tr><th>kind</th><th>record key (HMAC)</th></tr>"
                + "".join(
                    f"<tr><td>{k}</td><td><code>{escape(h)}</code></td></tr>"
                    for k, h in listed[:50]
                )
                + "</table>"
            )
        ct = x.get("control_totals") or {}
        if ct:
            body.append(
                "<table><tr><th>control total (sum)</th><th>source</th><th>target</th><th></th></tr>"
                + "".join(
                    f"<tr><td>{escape(c)}</td><td class='num'>{escape(str(v['source']))}</td><td class='num'>"
                    f"{escape(str(v['target']))}</td><td class='{'ok' if v['match'] else 'bad'}'>"
                    f"{'✓' if v['match'] else '✗'}</td></tr>"
                    for c, v in ct.items()
                )
                + "</table>"
            )
    body.append(h2("品質ゲート", "Quality gates"))
    body.append(
        "<table><tr><th>gate</th><th>verdict</th><th>warnings</th><th>critical</th><th>seconds</th></tr>"
        + "".join(
            f"<tr><td>{escape(g)}</td><td>{escape(str(v['verdict']))}</td><td class='num'>{v['warnings']}</td>"
            f"<td class='num'>{v['critical_failures']}</td><td class='num'>{(v.get('seconds') or 0):,.0f}</td></tr>"
            for g, v in r["gates"].items()
        )
        + "</table>"
    )
    if r.get("overrides"):
        body.append("<p class='bad'>上書き / overrides: " + escape(str(r["overrides"])) + "</p>")
    body.append(h2("検出事項", "Quality findings by rule"))
    rows = [(f"{s}: {rule}", n) for s, f in r["findings"].items() for rule, n in f.items()]
    body.append(bars(rows, unit="") if rows else "<p>なし / none</p>")
    body.append(
        f"<p>外字ワークリスト / 外字 worklist: {r['gaiji_worklist']['unmapped_codes']} codes, "
        f"{r['gaiji_worklist']['occurrences']} occurrences (gaiji_worklist.json)</p>"
    )
    if r.get("readiness"):
        body.append(h2("移行準備状況", "Readiness") + _kv_table(list(r["readiness"].items())))
    body.append(
        "<p class='muted'>個人情報なし: counts, keyed hashes (HMAC-SHA256) and verdicts only. "
        "JSON: rehearsal.json beside this page.</p>"
    )
    return page(
        f"移行リハーサル報告 {r['name_ja']}", f"Rehearsal report {r['name_en']}", "".join(body)
    )


def delta_reconciliation(tables: list[dict]) -> str:
    """The delta's reconciliation per table: rows, the in-database digest, the changed keys."""
    return (
        "<table><tr><th>table</th><th>source</th><th>target</th><th>digest</th>"
        "<th>changed keys</th><th>differing</th><th>aggregates</th></tr>"
        + "".join(
            f"<tr><td>{escape(x['unit'])}</td><td class='num'>{x['rows_source']:,}</td>"
            f"<td class='num'>{x['rows_target']:,}</td>"
            f"<td class='{'ok' if x.get('digest_match') else 'bad'}'>"
            f"{'✓' if x.get('digest_match') else '✗'} <code>{escape(str(x.get('digest_target', '')))}</code></td>"
            f"<td class='num'>{x.get('changed_keys', 0):,}</td>"
            f"<td class='num'>{x.get('changed_mismatches', 0):,}</td>"
            f"<td class='{'ok' if x.get('aggregates_match') else 'bad'}'>"
            f"{'✓' if x.get('aggregates_match') else '✗ ' + escape(', '.join(x.get('aggregate_mismatches', [])))}"
            "</td></tr>"
            for x in tables
        )
        + "</table>"
    )


def path_hours(p: dict) -> str:
    """One path's hours at the city's volume, or "not measured" (never an invented number)."""
    if not p or p.get("hours") is None:
        return "not measured"
    text = f"{p['hours']:,.2f} h"
    if p.get("not_measured"):
        text += " (without " + ", ".join(p["not_measured"]) + ": not measured)"
    return text


def paths_section(t: dict) -> str:
    """Both cutover paths at the city's volume against the window, and the change rate."""
    paths = t.get("paths") or {}
    if "full" not in paths:
        return ""
    ch = paths.get("change") or {}
    if ch.get("source") == "measured":
        change = (
            f"measured between the two snapshots: {ch['changes']:,} of {ch['rows']:,} rows in "
            f"{ch['days']} days ({ch['share']:.2%}); over {ch['projected_days']} days "
            f"{ch['projected_share']:.2%}"
        )
    elif ch.get("source") == "plan":
        change = (
            f"the plan's change_rate_per_day {ch['rate_per_day']:g} × {ch['projected_days']} days "
            f"since full_load_date = {ch['projected_share']:.2%}"
        )
    else:
        change = "not known (no base snapshot, no change_rate_per_day in the plan)"
    delta = paths.get("delta") or {}
    rows = [
        ("全件移行 / full path", path_hours(paths["full"])),
        (
            "事前全件投入＋差分 / full ahead + delta",
            path_hours(delta)
            + (
                f" — of which diff + apply + gate_target + reconciliation "
                f"{delta['window_part_hours']:,.2f} h"
                if delta.get("window_part_hours") is not None
                else ""
            ),
        ),
        ("変化率 / change rate", change),
        (
            "判定に使う経路 / verdict uses",
            f"{paths.get('path')} (plan: {paths.get('planned')})"
            + (f" — {paths['note']}" if paths.get("note") else ""),
        ),
    ]
    return (
        h2("全件移行と差分移行", f"Both paths against the {t['window_hours']:g} h window")
        + "<table>"
        + "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
        + "</table>"
    )


def window_word(timing: dict) -> str:
    """The projection against the window: within, EXCEEDS, or not assessed (uncalibrated)."""
    if not timing.get("assessed", True):
        return "not assessed: " + str(timing.get("not_assessed_because"))
    return "within" if timing["within_window"] else "EXCEEDS"
