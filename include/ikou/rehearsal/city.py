"""The city-wide view of a master run: verdicts and readiness of the 20 domains, the critical path
through ``cuts_over_after`` with measured and projected durations, and whether each wave's
cutover weekend holds.

The cutover weekend of a wave starts Saturday 00:00 (the plan's ``target_date``, Asia/Tokyo)
and ends when the offices open on Monday at 08:30: 56.5 hours. A wave's weekend holds when
every domain of the wave is GO (or already live), each fits its own cutover window, the
critical path of the wave (domains that must follow each other by ``cuts_over_after`` run one
after the other, the others side by side) fits the weekend, and every domain the wave must
follow from earlier waves is live or planned earlier. Preparation-phase waves get readiness
only. Each domain's projection says its basis (CPU or wall seconds) and the runs (volumes) it
rests on. The master run also fits the fixed per-stage overhead across its domains
(:mod:`ikou.rehearsal.timing`, CPU seconds where recorded) and re-projects the domains whose own projection had no better
model than linear.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from html import escape

from ikou.domains import registry
from ikou.domains.graph import longest_path
from ikou.pipeline import MasterPlan, domain_run_id
from ikou.reports.html import bars, bars_with_limits, h2, page
from ikou.storage import Store, join, zone_uri
from ikou.wareki import format_date_ja, format_jst_ja

log = logging.getLogger(__name__)

WEEKEND_HOURS = 56.5  # Saturday 00:00 → Monday 08:30 (開庁) JST


def _read(store: Store, uri: str) -> dict | None:
    try:
        return json.loads(store.get_bytes(uri))
    except FileNotFoundError:
        return None


def _live_domains() -> dict:
    try:
        from ikou.load.control import Control

        return {
            d: {"at": e.at, "snapshot": e.snapshot, "who": e.who, "source": e.source}
            for d, e in Control().live().items()
        }
    except Exception as exc:  # noqa: BLE001 - the city report still says what it can
        log.warning("cutover state not readable: %s", exc)
        return {}


def _reproject(rep: dict, overhead: dict[str, float]) -> float | None:
    """A domain's projection with tonight's calibration, where its own method was linear."""
    from ikou.rehearsal.timing import project

    t = rep.get("timing", {})
    if not t.get("stage_seconds") or not t.get("legacy_records"):
        return None
    if "linear" not in t.get("projection_methods", ["linear"]):
        return t.get("projected_hours")
    if ((t.get("paths") or {}).get("delta") or {}).get("measured"):
        # a delta run's stage seconds mix both paths: its own projection of each stands
        return t.get("projected_hours")
    return project(
        t["stage_seconds"],
        t["legacy_records"],
        t["expected_records"],
        overhead=overhead,
        stage_cpu=t.get("stage_cpu_seconds"),
    )["projected_hours"]


def _weekend(
    wave,
    members: dict[str, dict],
    edges: dict[str, list[str]],
    weights: dict[str, float],
    live: dict,
    plan,
    today: dt.date,
    go_valid_days: int,
) -> dict:
    reasons: list[str] = []
    in_wave = list(wave.domains)
    sub = {d: [x for x in edges[d] if x in wave.domains] for d in in_wave}
    hours, crit = longest_path(
        sub, {d: (0.0 if d in live else weights.get(d, 0.0)) for d in in_wave}
    )
    phases = {plan[d].phase for d in in_wave}
    if phases == {"preparation"}:
        return {
            "holds": None,
            "critical_path": crit,
            "projected_hours": round(hours, 3),
            "reasons": ["preparation phase: readiness only, no cutover verdict yet"],
        }
    all_live = all(d in live for d in in_wave)
    if all_live:
        return {
            "holds": True,
            "critical_path": crit,
            "projected_hours": 0.0,
            "reasons": ["every domain is live"],
        }
    for d in in_wave:
        if d in live:
            continue
        m = members.get(d)
        if m is None:
            reasons.append(f"{d} was not rehearsed in this run")
            continue
        if plan[d].phase != "migration":
            reasons.append(f"{d} is still in the preparation phase")
        elif m["verdict"] != "GO":
            reasons.append(f"{d} is {m['verdict']}")
        ph = weights.get(d)
        if ph is not None and ph > plan[d].cutover_window_hours:
            reasons.append(
                f"{d} projected {ph:.1f} h > its {plan[d].cutover_window_hours:g} h window"
            )
        for pred in edges[d]:
            if (
                pred not in wave.domains
                and pred not in live
                and plan[pred].target_date >= wave.target_date
            ):
                reasons.append(f"{d} must follow {pred}, which is neither live nor planned earlier")
    if hours > WEEKEND_HOURS:
        reasons.append(
            f"critical path {' → '.join(crit)} {hours:.1f} h > the {WEEKEND_HOURS:g} h weekend"
        )
    notes = []
    if wave.target_date < today:
        notes.append(
            f"the planned weekend ({wave.target_date}) has passed and "
            + ", ".join(d for d in in_wave if d not in live)
            + " not live"
        )
        reasons.append(notes[-1])
    elif (wave.target_date - today).days > go_valid_days:
        notes.append(
            f"a GO rehearsal is needed again within {go_valid_days} days before {wave.target_date}"
        )
    return {
        "holds": not reasons,
        "critical_path": crit,
        "projected_hours": round(hours, 3),
        "reasons": reasons or ["all GO, within windows, critical path fits the weekend"],
        "notes": notes,
    }


def build_city_report(
    plan: MasterPlan, *, master_run_id: str, store: Store, today: dt.date | None = None
) -> dict:
    from ikou.rehearsal.timing import calibrate, observations, write_calibration

    reg = registry()
    today = today or dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).date()
    selected = list(plan.domains)
    domains: dict[str, dict] = {}
    failed: list[str] = []
    reports: dict[str, dict] = {}
    for d in reg.plan.rehearsal_order():
        if d not in selected:
            continue
        run_id = domain_run_id(master_run_id, d)
        prefix = zone_uri("reports", d, run_id)
        rep = _read(store, join(prefix, "rehearsal.json"))
        gate = _read(store, join(prefix, "gates/gate_reconciliation.json"))
        ok = bool(rep) and bool(gate) and gate.get("passed", False)
        if not ok:
            failed.append(d)
        if rep:
            reports[d] = rep
        t = (rep or {}).get("timing", {})
        domains[d] = {
            "run_id": run_id,
            "name_ja": reg.get(d).name_ja,
            "phase": reg.plan[d].phase,
            "wave": reg.plan[d].wave,
            "verdict": rep.get("verdict", "?") if ok else "FAILED",
            "reasons": (rep or {}).get(
                "reasons", ["the domain run did not complete (see its DAG run)"]
            )
            if ok
            else (
                (rep or {}).get("reasons", [])
                + [
                    "gate_reconciliation did not pass"
                    if rep
                    else "the domain run did not complete (see its DAG run)"
                ]
            ),
            "measured_seconds": t.get("elapsed_seconds"),
            "legacy_records": t.get("legacy_records"),
            "expected_records": t.get("expected_records"),
            "projected_hours": t.get("projected_hours"),
            "linear_hours": t.get("linear_hours"),
            "projection_basis": t.get("projection_basis", "wall" if t else None),
            "projection_points": [p.get("records") for p in t.get("projection_points") or []],
            "window_hours": reg.plan[d].cutover_window_hours,
            "within_window": t.get("within_window"),
            **both_paths(t, reg.plan[d]),
            "readiness": (rep or {}).get("readiness"),
            "report": join(prefix, "rehearsal.html") if rep else None,
            "report_link": f"../../{d}/{prefix.rstrip('/').rsplit('/', 1)[1]}/rehearsal.html"
            if rep
            else None,
        }
    # tonight's fixed per-stage overhead, from all domains (the small ones anchor it)
    cal = calibrate(observations(list(reports.values())))
    cal_uri = write_calibration(store, cal, master_run_id)
    overhead = {s: v["overhead_seconds"] for s, v in cal.items()}
    for d, rep in reports.items():
        ph = _reproject(rep, overhead)
        domains[d]["projected_hours_calibrated"] = ph
    live = _live_domains()
    for d, v in domains.items():
        v["live"] = live.get(d)
    edges = {d: list(p.cuts_over_after) for d, p in reg.plan.entries.items()}
    weights = {
        d: (v.get("projected_hours_calibrated") or v["projected_hours"] or 0.0)
        for d, v in domains.items()
    }
    total, path = longest_path(
        edges, {d: (0.0 if d in live else weights.get(d, 0.0)) for d in reg.plan.entries}
    )
    measured_path = sum((domains.get(d, {}).get("measured_seconds") or 0.0) for d in path)
    days = reg.plan.source.rehearsal.go_valid_days
    waves = []
    for w in reg.plan.waves:
        members = {d: domains[d] for d in w.domains if d in domains}
        res = _weekend(w, members, edges, weights, live, reg.plan, today, days)
        waves.append(
            {
                "wave": w.id,
                "name_ja": w.name_ja,
                "name_en": w.name_en,
                "target_date": str(w.target_date),
                "domains": list(w.domains),
                "rehearsed": list(members),
                "weekend_holds": res["holds"],
                "critical_path": res["critical_path"],
                "projected_hours": res["projected_hours"],
                "weekend_hours": WEEKEND_HOURS,
                "reasons": res["reasons"],
                "notes": res.get("notes", []),
            }
        )
    next_wave = next(
        (w for w in waves if w["target_date"] >= str(today) and w["weekend_holds"] is not None),
        None,
    )
    report = {
        "master_run_id": master_run_id,
        "snapshot": plan.snapshot,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "today": str(today),
        "domains": domains,
        "failed_domains": failed,
        "live_domains": sorted(live),
        "critical_path": {
            "domains": path,
            "projected_hours": round(total, 3),
            "measured_seconds": round(measured_path, 3),
            "segments": [
                {
                    "domain": d,
                    "projected_hours": 0.0 if d in live else weights.get(d, 0.0),
                    "measured_seconds": domains.get(d, {}).get("measured_seconds"),
                    "live": d in live,
                }
                for d in path
            ],
        },
        "waves": waves,
        "next_weekend": next_wave,
        "calibration": {"uri": cal_uri, "stages": cal},
        "counts": {
            v: sum(1 for x in domains.values() if x["verdict"] == v)
            for v in ("GO", "NO-GO", "READINESS", "FAILED")
        },
    }
    prefix = zone_uri("reports", "_city", master_run_id)
    store.put_bytes(
        join(prefix, "city.json"),
        json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"),
        content_type="application/json",
    )
    store.put_bytes(
        join(prefix, "city.html"),
        render_city_report(report).encode("utf-8"),
        content_type="text/html; charset=utf-8",
    )
    report["report"] = join(prefix, "city.html")
    return {
        "domains": {d: v["verdict"] for d, v in domains.items()},
        "failed_domains": failed,
        "counts": report["counts"],
        "report": report["report"],
        "critical_path": report["critical_path"],
        "next_weekend": (
            {
                "wave": next_wave["wave"],
                "target_date": next_wave["target_date"],
                "holds": next_wave["weekend_holds"],
            }
            if next_wave
            else None
        ),
    }


def both_paths(t: dict, plan) -> dict:
    """A domain's two cutover paths from its rehearsal's timing: full-load hours, delta hours
    (None: the delta path was not measured — no number is made up), the path the plan chose,
    and whether the domain fits its window only with the delta."""
    paths = t.get("paths") or {}
    full = (paths.get("full") or {}).get("hours", t.get("projected_hours"))
    delta = (paths.get("delta") or {}).get("hours")
    window = plan.cutover_window_hours
    return {
        "full_hours": full,
        "delta_hours": delta,
        "delta_window_part_hours": (paths.get("delta") or {}).get("window_part_hours"),
        "planned_path": "delta" if plan.cutover == "full_ahead_then_delta" else "full",
        "verdict_path": paths.get("path", "full"),
        "fits_only_with_delta": (
            full is not None and delta is not None and full > window and delta <= window
        ),
    }


def paths_table(domains: dict) -> str:
    """Per migration-phase domain: full-load hours vs delta hours against its window."""

    def hours(v) -> str:
        return "not measured" if v is None else f"{v:,.2f}"

    rows = [(d, v) for d, v in domains.items() if v.get("phase") == "migration"]
    only = [d for d, v in rows if v.get("fits_only_with_delta")]
    return (
        "<p>差分移行でのみ週末に収まる分野 / fit the weekend only with the delta: "
        + escape(", ".join(only) or "none")
        + "</p><table><tr><th>分野</th><th>domain</th><th>枠 h window</th><th>全件 h full</th>"
        "<th>差分 h full ahead + delta</th><th>計画 plan</th><th>判定の経路 verdict path</th>"
        "<th>差分でのみ fits only with the delta</th></tr>"
        + "".join(
            f"<tr><td>{escape(v['name_ja'])}</td><td>{escape(d)}</td>"
            f"<td class='num'>{v['window_hours']:g}</td>"
            f"<td class='num'>{hours(v.get('full_hours'))}</td>"
            f"<td class='num'>{hours(v.get('delta_hours'))}</td>"
            f"<td>{escape(str(v.get('planned_path')))}</td><td>{escape(str(v.get('verdict_path')))}</td>"
            f"<td>{'✓' if v.get('fits_only_with_delta') else ''}</td></tr>"
            for d, v in rows
        )
        + "</table>"
    )


def render_city_report(report: dict) -> str:
    domains = report["domains"]

    def link(v: dict) -> str:
        return f"<a href='{escape(v['report_link'])}'>report</a>" if v.get("report_link") else ""

    def ph(v: dict) -> float:
        return v.get("projected_hours_calibrated") or v.get("projected_hours") or 0.0

    rows = "".join(
        f"<tr><td>{escape(v['name_ja'])}</td><td>{escape(d)}</td><td>{v['wave']}</td><td>{v['phase']}</td>"
        f"<td class='{v['verdict']}'>{v['verdict']}</td>"
        f"<td>{'✓ ' + escape(v['live']['at'][:10]) if v.get('live') else ''}</td>"
        f"<td class='num'>{(v.get('measured_seconds') or 0):,.1f}</td><td class='num'>{ph(v):,.2f}</td>"
        f"<td>{escape(v.get('projection_basis') or '')} "
        f"{escape(', '.join(f'{n:,}' for n in v.get('projection_points') or []))}</td>"
        f"<td class='num'>{v['window_hours']:g}</td><td>{escape('; '.join(v['reasons']))}</td><td>{link(v)}</td></tr>"
        for d, v in domains.items()
    )
    c = report["counts"]
    cp = report["critical_path"]
    body = [
        f"<p>master run {escape(report['master_run_id'])}, snapshot "
        f"{escape(format_date_ja(str(report['snapshot'])) if report.get('snapshot') else '')}"
        f" — 生成 / generated {escape(format_jst_ja(report.get('generated_at', '')))}; "
        f"<span class='GO'>GO {c['GO']}</span>, <span class='NO-GO'>NO-GO {c['NO-GO']}</span>, "
        f"<span class='READINESS'>READINESS {c['READINESS']}</span>, <span class='FAILED'>FAILED {c['FAILED']}</span>; "
        f"live: {escape(', '.join(report['live_domains']) or 'none')}</p>"
    ]
    nw = report.get("next_weekend")
    if nw:
        body.append(
            f"<p>次の移行週末 / next cutover weekend: wave {nw['wave']} ({escape(nw['name_ja'])}) "
            f"{escape(format_date_ja(str(nw['target_date'])))} — "
            f"<b class='{'GO' if nw['weekend_holds'] else 'NO-GO'}'>"
            f"{'holds 予定どおり' if nw['weekend_holds'] else 'does not hold 要対応'}</b>: "
            f"{escape('; '.join(nw['reasons']))}</p>"
        )
    body.append(h2("分野別の判定", "Verdicts and readiness by domain"))
    body.append(
        "<table><tr><th>分野</th><th>domain</th><th>wave</th><th>phase</th><th>判定 verdict</th><th>live</th>"
        "<th>実測 s</th><th>推計 h</th><th>推計の根拠 basis, records of the points</th><th>枠 h</th><th>理由 reasons</th><th></th></tr>"
        + rows
        + "</table>"
    )
    body.append(
        h2("本番規模推計と移行時間枠", "Projected hours against each domain's window (red tick)")
    )
    body.append(
        bars_with_limits([(d, ph(v), v["window_hours"]) for d, v in domains.items()], unit="h")
    )
    body.append(h2("全件移行と差分移行", "Full load vs full ahead + delta, against each window"))
    body.append(paths_table(domains))
    body.append(h2("クリティカルパス", "Critical path through cuts_over_after"))
    body.append(
        f"<p>{' → '.join(escape(x) for x in cp['domains'])}: projected {cp['projected_hours']:.2f} h "
        f"(measured in this rehearsal {cp['measured_seconds']:,.1f} s; live domains count 0)</p>"
    )
    body.append(
        bars(
            [
                (s["domain"] + (" (live)" if s["live"] else ""), s["projected_hours"])
                for s in cp["segments"]
            ],
            unit="h",
        )
    )
    body.append(
        h2("移行週末", f"Cutover weekends (Saturday 00:00 → Monday 08:30 JST, {WEEKEND_HOURS:g} h)")
    )
    body.append(
        "<table><tr><th>wave</th><th>date</th><th>critical path</th><th>h</th><th>holds</th><th>why</th></tr>"
        + "".join(
            f"<tr><td>{escape(w['name_ja'])}</td><td>{escape(format_date_ja(str(w['target_date'])))}</td>"
            f"<td>{escape(' → '.join(w['critical_path']))}</td><td class='num'>{w['projected_hours']:.2f}</td>"
            f"<td>{'—' if w['weekend_holds'] is None else ('✓' if w['weekend_holds'] else '✗')}</td>"
            f"<td>{escape('; '.join(w['reasons'] + w.get('notes', [])))}</td></tr>"
            for w in report["waves"]
        )
        + "</table>"
    )
    cal = report.get("calibration", {}).get("stages") or {}
    if cal:
        body.append(
            h2("段階ごとの固定費", "Fixed overhead per stage, fitted across tonight's domains")
        )
        body.append(
            "<table><tr><th>stage</th><th>overhead a (s)</th><th>per record b (ms)</th><th>domains</th></tr>"
            + "".join(
                f"<tr><td>{escape(s)}</td><td class='num'>{v['overhead_seconds']:,.2f}</td>"
                f"<td class='num'>{v['per_record_ms']:,.4f}</td><td class='num'>{v['points']}</td></tr>"
                for s, v in cal.items()
            )
            + "</table>"
        )
    return page("市全体の移行リハーサル", "City-wide rehearsal", "".join(body))
