"""The city-wide view of a master run: verdicts and readiness of the 20 domains, the critical
path through ``cuts_over_after`` with projected durations, and whether each wave's cutover
weekend holds."""

from __future__ import annotations

import datetime as dt
import json

from ikou.domains import registry
from ikou.domains.graph import longest_path
from ikou.rehearsal.report import bars, page
from ikou.storage import Store, join, zone_uri


def _read(store: Store, uri: str) -> dict | None:
    try:
        return json.loads(store.get_bytes(uri))
    except FileNotFoundError:
        return None


def build_city_report(plan: dict, *, master_run_id: str, store: Store) -> dict:
    from html import escape

    reg = registry()
    selected = list(plan.get("domains", []))
    domains: dict[str, dict] = {}
    failed: list[str] = []
    for d in reg.plan.rehearsal_order():
        if d not in selected:
            continue
        run_id = f"{master_run_id}__{d}"
        prefix = zone_uri("reports", d, run_id)
        rep = _read(store, join(prefix, "rehearsal.json"))
        gate = _read(store, join(prefix, "gates/gate_reconciliation.json"))
        ok = bool(rep) and bool(gate) and gate.get("passed", False)
        if not ok:
            failed.append(d)
        domains[d] = {
            "run_id": run_id, "phase": reg.plan[d].phase, "wave": reg.plan[d].wave,
            "verdict": (rep or {}).get("verdict", "FAILED" if not ok else "?") if ok else "FAILED",
            "reasons": (rep or {}).get("reasons", ["the domain run did not complete (see its DAG run)"]),
            "projected_hours": (rep or {}).get("timing", {}).get("projected_hours"),
            "window_hours": reg.plan[d].cutover_window_hours,
            "report": join(prefix, "rehearsal.html") if rep else None,
        }
    edges = {d: list(p.cuts_over_after) for d, p in reg.plan.entries.items()}
    weights = {d: (v["projected_hours"] or 0.0) for d, v in domains.items()}
    total, path = longest_path(edges, weights)
    waves = []
    for w in reg.plan.waves:
        members = [d for d in w.domains if d in domains]
        if not members:
            continue
        sub = {d: [x for x in edges[d] if x in w.domains] for d in w.domains}
        hours, crit = longest_path(sub, {d: weights.get(d, 0.0) for d in w.domains})
        ok = all(domains[d]["verdict"] in ("GO", "READINESS") for d in members)
        waves.append({"wave": w.id, "name_ja": w.name_ja, "target_date": str(w.target_date),
                      "critical_path": crit, "projected_hours": round(hours, 3),
                      "weekend_holds": ok and hours <= 60.0,  # Saturday 00:00 to Monday 12:00
                      "domains": members})
    report = {
        "master_run_id": master_run_id, "snapshot": plan.get("snapshot"),
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "domains": domains, "failed_domains": failed,
        "critical_path": {"domains": path, "projected_hours": round(total, 3)}, "waves": waves,
        "counts": {v: sum(1 for x in domains.values() if x["verdict"] == v) for v in ("GO", "NO-GO", "READINESS", "FAILED")},
    }
    prefix = zone_uri("reports", "_city", master_run_id)
    store.put_bytes(join(prefix, "city.json"), json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"),
                    content_type="application/json")
    rows = "".join(
        f"<tr><td>{escape(reg.get(d).name_ja)}</td><td>{escape(d)}</td><td>{v['wave']}</td><td>{v['phase']}</td>"
        f"<td class='{v['verdict']}'>{v['verdict']}</td><td class='num'>{(v['projected_hours'] or 0):.2f}</td>"
        f"<td class='num'>{v['window_hours']:g}</td><td>{escape('; '.join(v['reasons']))}</td></tr>"
        for d, v in domains.items())
    body = (f"<p>master run {escape(master_run_id)}, snapshot {escape(str(plan.get('snapshot')))}; "
            f"GO {report['counts']['GO']}, NO-GO {report['counts']['NO-GO']}, READINESS {report['counts']['READINESS']}, "
            f"FAILED {report['counts']['FAILED']}</p>"
            "<table><tr><th>分野</th><th>domain</th><th>wave</th><th>phase</th><th>判定 verdict</th>"
            "<th>推計 h</th><th>枠 h</th><th>理由 reasons</th></tr>" + rows + "</table>"
            "<h2>クリティカルパス <span class='en'>Critical path (cuts_over_after)</span></h2>"
            f"<p>{' → '.join(escape(x) for x in path)}: {total:.2f} h</p>"
            + bars([(d, weights.get(d, 0.0)) for d in path], unit="h")
            + "<h2>移行週末 <span class='en'>Cutover weekends</span></h2><table><tr><th>wave</th><th>date</th>"
              "<th>critical path</th><th>h</th><th>holds</th></tr>"
            + "".join(f"<tr><td>{escape(w['name_ja'])}</td><td>{w['target_date']}</td><td>{escape(' → '.join(w['critical_path']))}"
                      f"</td><td class='num'>{w['projected_hours']:.2f}</td><td>{'✓' if w['weekend_holds'] else '✗'}</td></tr>"
                      for w in waves) + "</table>")
    store.put_bytes(join(prefix, "city.html"), page("市全体の移行リハーサル", "City-wide rehearsal", body).encode("utf-8"),
                    content_type="text/html; charset=utf-8")
    report["report"] = join(prefix, "city.html")
    return {"domains": {d: v["verdict"] for d, v in domains.items()}, "failed_domains": failed,
            "report": report["report"], "critical_path": report["critical_path"]}
