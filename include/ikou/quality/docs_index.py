"""Ikou's pages in the Data Docs: the banner with the gate's verdict (and any override) on top of
each validation page, and Ikou's own index (``docs/ikou/index.html``: domains in the plan's order
by their Japanese names, runs newest first, the gates' verdicts, times in JST with the 和暦 date).
Static HTML, counts and verdicts only. :mod:`ikou.quality.docs` builds the site."""

from __future__ import annotations

import datetime as dt
import html
import logging
from pathlib import Path

from ikou.quality.suite_policy import GATES
from ikou.wareki import format_jst_ja

log = logging.getLogger(__name__)


def banner(meta: dict, result: dict) -> str:
    """Ikou's gate verdict (and any override) for the top of a validation page. No data values."""
    ik = meta.get("ikou") or {}
    verdict = ik.get("verdict", "?")
    colour = {"pass": "#1e7b34", "overridden": "#9a6700", "fail": "#b3261e"}.get(verdict, "#555")
    stats = result.get("statistics") or {}
    rows = [
        ("分野 / domain", ik.get("domain")),
        ("ゲート / gate", ik.get("gate")),
        ("単位 / unit", ik.get("unit")),
        ("実行 / run", ik.get("run_id")),
        ("日時 / time", format_jst_ja((meta.get("run_id") or {}).get("run_time") or "", True)),
        ("モード / mode", ik.get("mode")),
        ("判定 / gate verdict", verdict),
        (
            "期待値 / expectations",
            f"{stats.get('successful_expectations', '?')} of "
            f"{stats.get('evaluated_expectations', '?')} met",
        ),
    ]
    ov = ik.get("override")
    if ov:
        rows.append(
            (
                "上書き / override",
                f"by {ov.get('by')} at {format_jst_ja(ov.get('at'), seconds=True)}: "
                f"{ov.get('reason')}",
            )
        )
    if ik.get("override_refused"):
        rows.append(("上書き拒否 / override refused", ik["override_refused"]))
    sev = ik.get("severity") or []
    if sev:
        rows.append(
            (
                "重大度 / severities",
                f"{sev.count('critical')} critical, {sev.count('warning')} warning",
            )
        )
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(str(k))}</th>"
        f"<td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return (
        f"<div id='ikou-gate' style='border:3px solid {colour};margin:12px;padding:8px 12px;"
        f"font-family:sans-serif'><b style='color:{colour}'>Ikou 品質ゲート / quality gate: "
        f"{html.escape(verdict)}</b> — <a href='../../../../../../ikou/index.html'>一覧 / index</a>"
        f"<table>{body}</table></div>"
    )


def inject_banner(page: Path, banner: str) -> None:
    text = page.read_text(encoding="utf-8")
    i = text.find("<body")
    if i >= 0:
        j = text.find(">", i) + 1
        text = text[:j] + banner + text[j:]
    else:
        text = banner + text
    page.write_text(text, encoding="utf-8")


def index_entry(rel: str, result: dict) -> dict:
    meta = result.get("meta") or {}
    ik = meta.get("ikou") or {}
    parts = rel.split("/")  # domain/unit/gate/run/time/batch.json
    stats = result.get("statistics") or {}
    return {
        "page": "validations/" + rel[: -len(".json")] + ".html",
        "domain": ik.get("domain") or parts[0],
        "unit": ik.get("unit") or parts[1],
        "gate": ik.get("gate") or parts[2],
        "run_id": ik.get("run_id") or parts[3],
        "run_time": parts[4] if len(parts) > 4 else "",
        "mode": ik.get("mode"),
        "verdict": ik.get("verdict") or ("pass" if result.get("success") else "fail"),
        "success": bool(result.get("success")),
        "override": ik.get("override"),
        "evaluated": stats.get("evaluated_expectations"),
        "met": stats.get("successful_expectations"),
    }


#: verdict -> (mark, text) in the index; a run's verdict is the worst of its gates'
VERDICT_MARKS = {
    "pass": ("✓", "合格 / pass"),
    "overridden": ("⚠", "上書き合格 / passed by override"),
    "fail": ("✗", "不合格 / fail"),
}
_WORST = ("fail", "overridden", "pass")


def run_time_iso(run_time: str) -> str | None:
    """GX's run time in a result's path (``20261204T134028.123456Z``) as ISO 8601 (UTC)."""
    try:
        t = dt.datetime.strptime(run_time, "%Y%m%dT%H%M%S.%fZ")
    except (TypeError, ValueError):
        return None
    return t.replace(tzinfo=dt.timezone.utc).isoformat(timespec="seconds")


def domain_order(domains: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """(id, Japanese name) of every domain in the plan's order (the rehearsal order: by wave,
    each domain after the ones whose data it refers to)."""
    if domains is not None:
        return list(domains)
    try:
        from ikou.domains import registry

        reg = registry()
        return [(d, reg.get(d).name_ja) for d in reg.plan.rehearsal_order()]
    except Exception:  # noqa: BLE001 - an index without names beats no index
        log.warning("Data Docs index: the registry could not be read; domains by id")
        return []


def render_index(
    entries: list[dict], built_at: str, domains: list[tuple[str, str]] | None = None
) -> str:
    """Ikou's Data Docs index: static HTML (no scripts). Domains by their Japanese names in the
    plan's order (``domains``: (id, name) pairs; default: the registry's plan; domains outside
    the plan follow by id), each domain's latest run first; every gate's units with a verdict
    mark (✓ pass, ⚠ overridden, ✗ fail) and ``*`` where an engineer overrode the gate; each run's
    verdict (the worst of its gates) and time in JST with the 和暦 date beside the ISO one."""
    from collections import defaultdict

    by_domain: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        by_domain[e["domain"]][e["run_id"]].append(e)
    known = domain_order(domains)
    names = dict(known)
    order_ids = [d for d, _ in known if d in by_domain]
    order_ids += sorted(d for d in by_domain if d not in names)

    def title(d: str) -> str:
        return f"{names[d]} ({d})" if d in names else d

    parts = []
    for domain in order_ids:
        runs = by_domain[domain]
        order = sorted(runs, key=lambda r: max(x["run_time"] for x in runs[r]), reverse=True)
        parts.append(
            f"<h2 id='{html.escape(domain)}'>{html.escape(title(domain))}</h2><table><tr>"
            "<th>実行 / run</th><th>日時 / time (JST)</th><th>モード / mode</th>"
            "<th>ゲート判定 / gate verdict</th>" + "".join(f"<th>{g}</th>" for g in GATES) + "</tr>"
        )
        for run in order:
            cells = []
            es = runs[run]
            for g in GATES:
                ge = sorted((x for x in es if x["gate"] == g), key=lambda x: x["unit"])
                if not ge:
                    cells.append("<td>·</td>")
                    continue
                links = " ".join(
                    f"<a class='{html.escape(x['verdict'])}' href='../{html.escape(x['page'])}' "
                    f"title='{html.escape(x['unit'])}: {x['met']}/{x['evaluated']} met"
                    f"{' — overridden: see the banner' if x['override'] else ''}'>"
                    f"{VERDICT_MARKS.get(x['verdict'], ('?',))[0]} {html.escape(x['unit'])}"
                    f"{'*' if x['override'] else ''}</a>"
                    for x in ge
                )
                cells.append(f"<td>{links}</td>")
            mode = next((x["mode"] for x in es if x["mode"]), "")
            verdicts = {x["verdict"] for x in es}
            worst = next((v for v in _WORST if v in verdicts), min(verdicts))
            mark, text = VERDICT_MARKS.get(worst, ("?", worst))
            overridden = any(x["override"] for x in es)
            when = run_time_iso(max(x["run_time"] for x in es))
            parts.append(
                f"<tr class='run'><td>{html.escape(run)}</td>"
                f"<td>{html.escape(format_jst_ja(when) if when else '')}</td>"
                f"<td>{html.escape(str(mode or ''))}</td>"
                f"<td class='verdict {html.escape(worst)}'>{mark} {html.escape(text)}"
                f"{' *' if overridden else ''}</td>{''.join(cells)}</tr>"
            )
        parts.append("</table>")
    body = "".join(parts) or "<p>検証結果はまだありません / no validation results yet.</p>"
    toc = " · ".join(
        f"<a href='#{html.escape(d)}'>{html.escape(names.get(d, d))}</a>" for d in order_ids
    )
    built = format_jst_ja(built_at, seconds=True) or built_at
    return f"""<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">
<title>Ikou Data Docs — 品質検証結果 / validation results</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #ccc;padding:3px 6px;font-size:13px;vertical-align:top}} a.pass{{color:#1e7b34}}
a.fail,td.fail{{color:#b3261e;font-weight:bold}} a.overridden,td.overridden{{color:#9a6700;font-weight:bold}}
td.pass{{color:#1e7b34}} td a{{white-space:nowrap}}</style></head><body>
<h1>Ikou Data Docs — 品質検証結果 / validation results</h1>
<p>全分野・全実行の検証結果（件数のみ、個人データなし）。 All domains and runs: counts only, no personal data.
作成 / built {html.escape(built)}. <a href="../index.html">Great Expectations の索引 / GX index</a>
· ✓ 合格 / pass · ⚠ 上書き合格 / passed by override · ✗ 不合格 / fail · * ゲート上書き / gate overridden
(see the page's banner) · <a href="../static/vendor/manifest.json">ライセンス / licences of the served scripts</a></p>
<p>{toc}</p>
{body}</body></html>
"""
