"""Cutover rehearsal: reconciliation, timing against the cutover window, GO / NO-GO or readiness.

Domains in the ``migration`` phase get a verdict. A rehearsal run loads into its own schema
(``ikou_rehearsal_<hex>``, see :mod:`ikou.load.target`); the rehearsal reconciles the validated
output with it, then drops the schema (rollback) — the reports stay. GO when:

* every gate passed without an override,
* the reconciliation found no mismatch beyond the domain's tolerance,
* every legacy record is accounted for (in = loaded + quarantined + merged), and
* the stage durations projected to the city's real volumes (see :mod:`ikou.rehearsal.timing`:
  a fixed overhead plus a per-record cost per stage, not a plain linear scale) fit the cutover
  window.

A cutover run (``mode=cutover``) runs on the real extract, so its time is measured, not
projected. It reconciles the live tables it just loaded: GO makes the domain live
(``ikou_cutover``); NO-GO (a mismatch, the accounting, or the measured time over the window)
drops the live tables again — the domain was not live before, the guard saw to it — and records
``rolled_back``: the legacy system stays (切り戻し).

Domains in ``preparation`` get a readiness report (cleansing findings, validation pass rates,
外字 worklist size) instead. Every verdict is recorded in the target database
(``ikou_rehearsal_log``): the cutover guard looks for its GO there. Reports (JSON + bilingual
HTML with charts, the trend over the previous rehearsals of the domain included) go to
``reports/{domain}/{run}/``; they hold counts, keyed hashes and verdicts only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import time
from pathlib import Path

from ikou.config import settings
from ikou.domains import registry
from ikou.storage import Store, is_s3, join, local_path, split_s3, zone_uri

log = logging.getLogger(__name__)

STAGE_ORDER = ("extract", "cleanse", "validate", "load")
#: stages and gates in the order a cutover runs them; gates are timed from their reports
TIMED = (
    "extract",
    "gate_raw",
    "cleanse",
    "gate_cleansed",
    "validate",
    "gate_standard",
    "load",
    "gate_target",
    "reconciliation",
)
GATES = ("gate_raw", "gate_cleansed", "gate_standard", "gate_target")
TREND_RUNS = 30


def _gate_reports(domain: str, run_id: str, store: Store) -> dict[str, dict]:
    out = {}
    prefix = zone_uri("reports", domain, run_id)
    for g in GATES:
        try:
            out[g] = json.loads(store.get_bytes(join(prefix, f"gates/{g}.json")))
        except FileNotFoundError:
            pass
    return out


def _gate_seconds(report: dict) -> float | None:
    try:
        a = dt.datetime.fromisoformat(report["started_at"])
        b = dt.datetime.fromisoformat(report["finished_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (b - a).total_seconds())


def accounting_rows(domain_id: str, results: dict, loaded: dict[str, int] | None) -> list[dict]:
    """Legacy file → final output: data records in = out + quarantined + merged, per legacy file."""
    d = registry().get(domain_id)
    ex = {a["unit"]: a for a in results["extract"]["accounting"]}
    cl = {a["unit"]: a for a in results["cleanse"]["accounting"]}
    va = {a["unit"]: a for a in results["validate"]["accounting"]}
    rows = []
    for lf in d.legacy_files:
        e = ex[lf.name]
        data_in = e["records_in"] - e.get("header", 0) - e.get("trailer", 0)
        tables = [t.name for t in d.layout.tables if t.source == lf.name]
        out = sum((loaded or {}).get(t, va[t]["records_out"]) for t in tables)
        merged = cl[lf.name].get("merged", 0)
        row = {
            "unit": lf.name,
            "legacy_records": data_in,
            "quarantined": e.get("quarantined", 0),
            "merged": merged,
            "output_records": out,
            "tables": tables,
            "where": "target" if loaded else "validated output",
        }
        row["balanced"] = data_in == out + row["quarantined"] + merged
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- history (trend)


def _list_with_times(store: Store, prefix: str) -> list[tuple[str, float]]:
    if is_s3(prefix):
        bucket, key = split_s3(prefix)
        out = []
        for page in store.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=key
        ):
            for obj in page.get("Contents", []):
                out.append((f"s3://{bucket}/{obj['Key']}", obj["LastModified"].timestamp()))
        return out
    root = local_path(prefix)
    return (
        [(str(p), p.stat().st_mtime) for p in root.rglob("*") if p.is_file()]
        if root.is_dir()
        else []
    )


def history(
    domain: str, store: Store, *, exclude_run: str | None = None, limit: int = TREND_RUNS
) -> list[dict]:
    """Previous rehearsal.json of the domain from the reports zone, oldest first (at most ``limit``)."""
    from ikou.storage import run_key

    prefix = zone_uri("reports", domain, "x").rsplit("/", 2)[0] + "/"
    skip = f"/{run_key(exclude_run)}/rehearsal.json" if exclude_run else None
    found = [
        (u, t)
        for u, t in _list_with_times(store, prefix)
        if u.endswith("/rehearsal.json") and not (skip and u.endswith(skip))
    ]
    found.sort(key=lambda x: x[1])
    out = []
    for uri, _ in found[-limit:]:
        try:
            out.append(json.loads(store.get_bytes(uri)))
        except Exception:  # noqa: BLE001 - one unreadable old report does not stop the trend
            log.warning("skipping unreadable %s", uri)
    out.sort(key=lambda r: r.get("generated_at", ""))
    return out


def trend_points(previous: list[dict], current: dict) -> list[dict]:
    pts = []
    for r in previous + [current]:
        t = r.get("timing", {})
        pts.append(
            {
                "run_id": r.get("run_id"),
                "generated_at": r.get("generated_at"),
                "snapshot": r.get("snapshot"),
                "mode": r.get("mode"),
                "verdict": r.get("verdict"),
                "projected_hours": t.get("projected_hours"),
                "elapsed_seconds": t.get("elapsed_seconds"),
                "legacy_records": t.get("legacy_records"),
                "mismatches": sum(
                    x.get("mismatches_found", x.get("mismatches", 0))
                    for x in r.get("reconciliation", [])
                ),
                "findings": sum(sum(f.values()) for f in r.get("findings", {}).values()),
                "gaiji_codes": r.get("gaiji_worklist", {}).get("unmapped_codes"),
                "current": r is current,
            }
        )
    return pts


# ----------------------------------------------------------------------------- the rehearsal


def _timing(
    domain_id: str,
    results: dict,
    gates: dict,
    recon_seconds: float | None,
    legacy: int,
    previous: list[dict],
    store: Store,
    mode: str = "rehearsal",
) -> dict:
    from ikou.rehearsal.timing import project, read_calibration

    reg = registry()
    d = reg.get(domain_id)
    window = reg.plan[domain_id].cutover_window_hours
    measured: dict[str, float] = {}
    for s in TIMED:
        if s in STAGE_ORDER and results.get(s):
            measured[s] = float(results[s]["seconds"])
        elif s in gates:
            g = _gate_seconds(gates[s])
            if g is not None:
                measured[s] = g
        elif s == "reconciliation" and recon_seconds is not None:
            measured[s] = recon_seconds
    hist = [
        {
            "records": h["timing"]["legacy_records"],
            "stage_seconds": h["timing"].get("stage_seconds", {}),
        }
        for h in previous
        if h.get("mode") == "rehearsal" and h.get("timing", {}).get("legacy_records")
    ]
    cal = read_calibration(store)
    overhead = {s: v["overhead_seconds"] for s, v in (cal or {}).get("stages", {}).items()}
    calibration = (cal or {}).get("master_run_id")
    if not overhead and mode == "rehearsal":
        # no master run has calibrated yet (the first night): fit across the latest rehearsals
        # of the other domains, which ran at other volumes, and this one
        overhead, calibration = _peer_overhead(domain_id, measured, legacy, store)
    elapsed = sum(measured.values())
    if mode == "cutover":
        # a cutover runs on the real extract: its time is measured, not projected
        proj = {
            "projected_hours": round(elapsed / 3600, 3),
            "linear_hours": round(elapsed / 3600, 3),
            "methods": ["measured"],
            "stages": {
                s: {
                    "measured_seconds": round(v, 3),
                    "overhead_seconds": 0.0,
                    "per_record_ms": 0.0,
                    "projected_seconds": round(v, 1),
                    "linear_seconds": round(v, 1),
                    "method": "measured",
                    "points": 1,
                }
                for s, v in measured.items()
            },
        }
    else:
        proj = project(measured, legacy, d.expected_records, history=hist, overhead=overhead)
    return {
        "stage_seconds": {k: round(v, 3) for k, v in measured.items()},
        "elapsed_seconds": round(elapsed, 3),
        "legacy_records": legacy,
        "expected_records": d.expected_records,
        "scale": round(d.expected_records / legacy, 2) if legacy else 0.0,
        "projected_hours": proj["projected_hours"],
        "linear_hours": proj["linear_hours"],
        "projection_stages": proj["stages"],
        "projection_methods": proj["methods"],
        "calibration": calibration,
        "window_hours": window,
        "within_window": proj["projected_hours"] <= window,
        "projection": (
            "a cutover runs on the real extract: measured, not projected"
            if mode == "cutover"
            else "time = a + b·records per stage (a: fixed per-task overhead, b: per-record cost), "
            "projected to the registry's expected records; methods: " + ", ".join(proj["methods"])
        ),
    }


def _peer_overhead(
    domain_id: str, measured: dict[str, float], legacy: int, store: Store
) -> tuple[dict[str, float], str | None]:
    """Fixed per-stage overhead fitted across the latest rehearsal of every other domain and this
    run (the smallest domains anchor the intercept); empty when there is nothing to fit."""
    from ikou.rehearsal.timing import calibrate

    obs: dict[str, list[tuple[int, float]]] = {
        s: [(legacy, t)] for s, t in measured.items() if legacy
    }
    peers = 0
    for d in registry().ids:
        if d == domain_id:
            continue
        prefix = zone_uri("reports", d, "x").rsplit("/", 2)[0] + "/"
        try:
            found = [
                (u, t) for u, t in _list_with_times(store, prefix) if u.endswith("/rehearsal.json")
            ]
            if not found:
                continue
            rep = json.loads(store.get_bytes(max(found, key=lambda x: x[1])[0]))
        except Exception:  # noqa: BLE001 - a peer that cannot be read is left out
            continue
        t = rep.get("timing", {})
        if rep.get("mode") != "rehearsal" or not t.get("legacy_records"):
            continue
        peers += 1
        for s, sec in t.get("stage_seconds", {}).items():
            if s in obs:
                obs[s].append((t["legacy_records"], sec))
    cal = calibrate(obs)
    return {s: v["overhead_seconds"] for s, v in cal.items()}, (
        f"fitted across {peers} other domains' latest rehearsals" if cal else None
    )


def _cached(domain_id: str, run_id: str, schema: str | None, store: Store) -> dict | None:
    """A retried rehearsal task after its rollback: the report it wrote stands."""
    from ikou.load.target import Target

    if not schema:
        return None
    prefix = zone_uri("reports", domain_id, run_id)
    try:
        report = json.loads(store.get_bytes(join(prefix, "rehearsal.json")))
    except FileNotFoundError:
        return None
    target = Target(settings().target_db_url, schema)
    try:
        if target.schema_exists() or not report.get("rollback", {}).get("done"):
            return None
    finally:
        target.dispose()
    return report


def rehearse_domain(
    domain_id: str, results: dict, *, run_id: str, mode: str, store: Store, who: str = ""
) -> dict:
    import pyarrow.parquet as pq

    from ikou.cutover import Control
    from ikou.load.target import LIVE_SCHEMA, Target
    from ikou.rehearsal.reconcile import reconcile_table
    from ikou.rehearsal.report import render_domain_report

    started = time.monotonic()
    reg = registry()
    d = reg.get(domain_id)
    p = reg.plan[domain_id]
    load = results.get("load")
    prefix = zone_uri("reports", domain_id, run_id)
    cached = (
        _cached(domain_id, run_id, (load or {}).get("target_schema"), store)
        if mode == "rehearsal"
        else None
    )
    if cached is not None:
        return _summary(cached, prefix, started)
    gates = _gate_reports(domain_id, run_id, store)
    overrides = {g: r["override"] for g, r in gates.items() if r.get("override")}
    tables: list[dict] = []
    recon_seconds = None
    target = None
    if p.phase == "migration":
        if not load:
            raise RuntimeError(f"{domain_id} is in the migration phase but nothing was loaded")
        target = Target(settings().target_db_url, load["target_schema"])
        vprefix = results["validate"]["uri"]
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="ikou-rehearsal-") as tmp:
            manifest = store.read_manifest(vprefix)
            for t in d.layout.tables:
                path = store.fetch(vprefix, f"{t.name}.parquet", Path(tmp), manifest)
                tables.append(
                    reconcile_table(
                        domain_id,
                        t,
                        pq.read_table(path),
                        target,
                        settings().hmac_secret,
                        tolerance=p.reconciliation_tolerance,
                    )
                )
        recon_seconds = time.monotonic() - t0
    in_target = {t["unit"]: t["rows_target"] for t in tables} if tables else None
    acc = accounting_rows(domain_id, results, in_target)
    legacy = sum(a["legacy_records"] for a in acc)
    previous = history(domain_id, store, exclude_run=run_id)
    timing = _timing(domain_id, results, gates, recon_seconds, legacy, previous, store, mode)
    report = {
        "domain": domain_id,
        "name_ja": d.name_ja,
        "name_en": d.name_en,
        "run_id": run_id,
        "mode": mode,
        "snapshot": results["extract"]["snapshot"],
        "phase": p.phase,
        "wave": p.wave,
        "target_date": str(p.target_date),
        "spec_version": d.spec.version,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "accounting": acc,
        "reconciliation": tables,
        "tolerance": p.reconciliation_tolerance,
        "timing": timing,
        "gates": {
            g: {
                "verdict": r.get("verdict"),
                "warnings": len(r.get("warnings", [])),
                "critical_failures": len(r.get("critical_failures", [])),
                "seconds": _gate_seconds(r),
            }
            for g, r in gates.items()
        },
        "overrides": overrides,
        "findings": {
            s: results[s].get("findings", {})
            for s in ("extract", "cleanse", "validate")
            if results.get(s)
        },
        "gaiji_worklist": {
            "unmapped_codes": results["extract"].get("gaiji_codes", 0),
            "occurrences": results["extract"].get("gaiji_unmapped", 0),
        },
        "handoff": {
            "uri": (load or {}).get("uri"),
            "manifest_sha256": (load or {}).get("manifest_sha256"),
        },
    }
    if p.phase == "migration":
        reasons = []
        if overrides:
            reasons.append(
                "gates overridden: "
                + ", ".join(sorted(overrides))
                + " (an override never makes a GO)"
            )
        bad = [t["unit"] for t in tables if t["mismatches"]]
        if bad:
            reasons.append(
                "reconciliation mismatches in "
                + ", ".join(
                    f"{t['unit']} ({t['missing']} missing, {t['extra']} extra, {t['changed']} changed"
                    + (
                        f", aggregates {', '.join(t['aggregate_mismatches'])}"
                        if t["aggregate_mismatches"]
                        else ""
                    )
                    + ")"
                    for t in tables
                    if t["mismatches"]
                )
            )
        if not all(a["balanced"] for a in acc):
            reasons.append(
                "accounting does not close (in ≠ loaded + quarantined + merged) for "
                + ", ".join(a["unit"] for a in acc if not a["balanced"])
            )
        if not timing["within_window"]:
            reasons.append(
                f"projected {timing['projected_hours']:.1f} h at {d.expected_records:,} records exceeds "
                f"the {timing['window_hours']:g} h cutover window"
                if mode == "rehearsal"
                else f"the cutover took {timing['projected_hours']:.1f} h, over its {timing['window_hours']:g} h "
                "window: the legacy system stays (切り戻し)"
            )
        report["verdict"] = "NO-GO" if reasons else "GO"
        ok = [
            "all gates passed without override",
            "reconciliation clean"
            + (
                f" (within tolerance {p.reconciliation_tolerance:g})"
                if p.reconciliation_tolerance
                else ""
            ),
            "accounting closes",
        ]
        ok.append(
            f"{'projected' if mode == 'rehearsal' else 'took'} {timing['projected_hours']:.2f} h, within the "
            f"{timing['window_hours']:g} h window"
        )
        report["reasons"] = reasons or ok
    else:
        pass_rates = {}
        for g, r in gates.items():
            exps = [e for u in r.get("units", []) for e in u.get("expectations", [])]
            if exps:
                pass_rates[g] = round(sum(1 for e in exps if e["success"]) / len(exps), 4)
        report["verdict"] = "READINESS"
        report["readiness"] = {
            "validation_pass_rates": pass_rates,
            "cleansing_findings": sum(report["findings"].get("cleanse", {}).values()),
            "validation_findings": sum(report["findings"].get("validate", {}).values()),
            "gaiji_worklist_codes": report["gaiji_worklist"]["unmapped_codes"],
            "gaiji_worklist_occurrences": report["gaiji_worklist"]["occurrences"],
            "accounting_closes": all(a["balanced"] for a in acc),
            "projected_hours": timing["projected_hours"],
            "window_hours": timing["window_hours"],
        }
        report["reasons"] = ["preparation phase: readiness report instead of GO / NO-GO"]
    report["trend"] = trend_points(previous, report)
    control = Control()
    if target is not None and mode == "rehearsal":
        report["rollback"] = {"schema": target.schema, "done": False}
    if target is not None and mode == "cutover":
        report["cutover"] = _finish_cutover(domain_id, report, target, control, load, who)
    _write(report, prefix, store, render_domain_report)
    control.record_rehearsal(
        report,
        report_uri=join(prefix, "rehearsal.html"),
        manifest_sha256=(load or {}).get("manifest_sha256") or "",
    )
    if target is not None and mode == "rehearsal" and target.schema != LIVE_SCHEMA:
        # Rollback: the rehearsal schema goes; the reports (written above) stay.
        target.drop_schema()
        control.log_dropped(domain=domain_id, schema=target.schema)
        report["rollback"] = {
            "schema": target.schema,
            "done": True,
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        _write(report, prefix, store, render_domain_report)
    if target is not None:
        target.dispose()
    return _summary(report, prefix, started)


def _finish_cutover(domain_id: str, report: dict, target, control, load: dict, who: str) -> dict:
    """A cutover run's end: live on GO, the live tables dropped again on NO-GO."""
    d = registry().get(domain_id)
    sha = load.get("manifest_sha256") or ""
    if report["verdict"] == "GO":
        control.record(
            "live",
            domain=domain_id,
            snapshot=report["snapshot"],
            run_id=report["run_id"],
            who=who,
            manifest_sha256=sha,
            detail="reconciled after the cutover load",
        )
        return {"status": "live", "manifest_sha256": sha, "who": who}
    target.drop_domain(domain_id, d.layout)
    control.record(
        "rolled_back",
        domain=domain_id,
        snapshot=report["snapshot"],
        run_id=report["run_id"],
        who=who,
        manifest_sha256=sha,
        detail="; ".join(report["reasons"]),
    )
    return {
        "status": "rolled_back",
        "manifest_sha256": sha,
        "who": who,
        "detail": "the live tables loaded by this run were dropped: the domain is not live",
    }


def _write(report: dict, prefix: str, store: Store, render) -> None:
    store.put_bytes(
        join(prefix, "rehearsal.json"),
        json.dumps(report, ensure_ascii=False, indent=2, default=str).encode("utf-8"),
        content_type="application/json",
    )
    store.put_bytes(
        join(prefix, "rehearsal.html"),
        render(report).encode("utf-8"),
        content_type="text/html; charset=utf-8",
    )


def _summary(report: dict, prefix: str, started: float) -> dict:
    """What the rehearsal task returns (XCom) and gate_reconciliation checks: counts, verdicts."""
    recon = []
    tables = report.get("reconciliation", [])
    for a in report["accounting"]:
        tab = [t for t in tables if t["unit"] in a["tables"]]
        recon.append(
            {
                "unit": a["unit"],
                "balanced": a["balanced"],
                "mismatches": sum(t["mismatches"] for t in tab),
                "mismatches_found": sum(t.get("mismatches_found", t["mismatches"]) for t in tab),
                "counts_match": all(t["counts_match"] for t in tab) if tab else True,
            }
        )
    t = report["timing"]
    return {
        "domain": report["domain"],
        "stage": "rehearsal",
        "run_id": report["run_id"],
        "mode": report["mode"],
        "verdict": report["verdict"],
        "reasons": report["reasons"],
        "reconciliation": recon,
        "report": join(prefix, "rehearsal.html"),
        "projected_hours": t["projected_hours"],
        "window_hours": t["window_hours"],
        "records_in": t["legacy_records"],
        "records_out": sum(a["output_records"] for a in report["accounting"]),
        "cutover": report.get("cutover"),
        "rollback": report.get("rollback"),
        "seconds": round(time.monotonic() - started, 3),
    }
