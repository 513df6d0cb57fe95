"""HTML reports (Japanese with English beside it), with inline SVG charts: no scripts, no fonts
or assets fetched from anywhere, so they render the same inside the Airflow UI and offline."""

from __future__ import annotations

from html import escape

CSS = """
body{font-family:'Noto Sans JP','Hiragino Sans',Meiryo,sans-serif;margin:24px;color:#1d2733;max-width:1100px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccd}
.en{color:#5b6775;font-size:90%} table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccd;padding:4px 8px;text-align:left;font-size:14px} th{background:#eef1f5}
.GO{color:#0a7d28;font-weight:bold}.NO-GO{color:#b3261e;font-weight:bold}.READINESS{color:#1f5fa8;font-weight:bold}
.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#0a7d28}.bad{color:#b3261e}
"""


def page(title_ja: str, title_en: str, body: str) -> str:
    return (f"<!doctype html><html lang='ja'><head><meta charset='utf-8'><title>{escape(title_ja)} / {escape(title_en)}"
            f"</title><style>{CSS}</style></head><body><h1>{escape(title_ja)} <span class='en'>{escape(title_en)}</span>"
            f"</h1>{body}</body></html>")


def bars(items: list[tuple[str, float]], limit: float | None = None, unit: str = "s", width: int = 640) -> str:
    """Horizontal bars (label, value) with an optional limit line (e.g. the cutover window)."""
    top = max([v for _, v in items] + [limit or 0, 1e-9])
    h = 24 * len(items) + 30
    out = [f"<svg width='{width}' height='{h}' role='img' xmlns='http://www.w3.org/2000/svg'>"]
    for i, (label, v) in enumerate(items):
        w = (width - 220) * v / top
        y = 10 + 24 * i
        out.append(f"<text x='0' y='{y + 14}' font-size='12'>{escape(label)}</text>")
        out.append(f"<rect x='150' y='{y}' width='{w:.1f}' height='18' fill='#4a78b0'/>")
        out.append(f"<text x='{155 + w:.1f}' y='{y + 14}' font-size='12'>{v:,.2f} {unit}</text>")
    if limit:
        x = 150 + (width - 220) * limit / top
        out.append(f"<line x1='{x:.1f}' y1='0' x2='{x:.1f}' y2='{h}' stroke='#b3261e' stroke-dasharray='4'/>")
        out.append(f"<text x='{x + 3:.1f}' y='{h - 4}' font-size='11' fill='#b3261e'>window {limit:g} {unit}</text>")
    out.append("</svg>")
    return "".join(out)


def _kv_table(rows: list[tuple[str, object]]) -> str:
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows) + "</table>"


def render_domain_report(r: dict) -> str:
    t = r["timing"]
    body = [f"<p>判定 / verdict: <span class='{r['verdict']}'>{escape(r['verdict'])}</span> — "
            + "; ".join(escape(x) for x in r["reasons"]) + "</p>",
            _kv_table([("分野 / domain", f"{r['name_ja']} ({r['name_en']})"), ("実行 / run", r["run_id"]),
                       ("スナップショット / snapshot", r["snapshot"]), ("モード / mode", r["mode"]),
                       ("フェーズ / phase", r["phase"]), ("移行陣 / wave", r["wave"])])]
    body.append("<h2>所要時間と移行時間枠 <span class='en'>Stage durations against the cutover window</span></h2>")
    body.append(bars([(k, v) for k, v in t["stage_seconds"].items()], unit="s"))
    body.append(f"<p>実測 / measured {t['elapsed_seconds']:,.1f} s for {t['legacy_records']:,} records; "
                f"本番規模推計 / projected to {t['expected_records']:,} records: {t['projected_hours']:,.2f} h "
                f"(window {t['window_hours']:g} h, {'within' if t['within_window'] else 'EXCEEDS'}). {escape(t['projection'])}</p>")
    body.append(bars([("projected", t["projected_hours"])], limit=t["window_hours"], unit="h"))
    body.append("<h2>件数の照合 <span class='en'>Accounting: legacy records in = output + quarantined + merged</span></h2>")
    body.append("<table><tr><th>file</th><th>legacy</th><th>output</th><th>quarantined</th><th>merged</th><th>closes</th></tr>"
                + "".join(f"<tr><td>{escape(a['unit'])}</td><td class='num'>{a['legacy_records']:,}</td>"
                          f"<td class='num'>{a['output_records']:,}</td><td class='num'>{a['quarantined']:,}</td>"
                          f"<td class='num'>{a['merged']:,}</td><td class='{'ok' if a['balanced'] else 'bad'}'>"
                          f"{'✓' if a['balanced'] else '✗'}</td></tr>" for a in r["accounting"]) + "</table>")
    if r["reconciliation"]:
        body.append("<h2>照合 <span class='en'>Reconciliation validated ↔ target</span></h2>")
        body.append("<table><tr><th>table</th><th>source</th><th>target</th><th>missing</th><th>extra</th><th>changed</th>"
                    "<th>aggregates</th></tr>" + "".join(
                        f"<tr><td>{escape(x['unit'])}</td><td class='num'>{x['rows_source']:,}</td>"
                        f"<td class='num'>{x['rows_target']:,}</td><td class='num'>{x['missing']:,}</td>"
                        f"<td class='num'>{x['extra']:,}</td><td class='num'>{x['changed']:,}</td>"
                        f"<td class='{'ok' if x.get('aggregates_match') else 'bad'}'>"
                        f"{'✓' if x.get('aggregates_match') else '✗'}</td></tr>" for x in r["reconciliation"]) + "</table>")
    body.append("<h2>品質ゲート <span class='en'>Quality gates</span></h2>")
    body.append("<table><tr><th>gate</th><th>verdict</th><th>warnings</th><th>critical</th></tr>" + "".join(
        f"<tr><td>{escape(g)}</td><td>{escape(str(v['verdict']))}</td><td class='num'>{v['warnings']}</td>"
        f"<td class='num'>{v['critical_failures']}</td></tr>" for g, v in r["gates"].items()) + "</table>")
    if r.get("overrides"):
        body.append("<p class='bad'>上書き / overrides: " + escape(str(r["overrides"])) + "</p>")
    body.append("<h2>検出事項 <span class='en'>Findings by rule</span></h2>")
    rows = [(f"{s}: {rule}", n) for s, f in r["findings"].items() for rule, n in f.items()]
    body.append(bars(rows, unit="") if rows else "<p>なし / none</p>")
    body.append(f"<p>外字ワークリスト / 外字 worklist: {r['gaiji_worklist']['unmapped_codes']} codes, "
                f"{r['gaiji_worklist']['occurrences']} occurrences</p>")
    if r.get("readiness"):
        body.append("<h2>移行準備状況 <span class='en'>Readiness</span></h2>" + _kv_table(list(r["readiness"].items())))
    return page(f"移行リハーサル報告 {r['name_ja']}", f"Rehearsal report {r['name_en']}", "".join(body))
