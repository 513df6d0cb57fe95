"""The rehearsal stage: reconciliation, timing against the cutover window, the verdict.

Migration-phase domains get GO / NO-GO (see :mod:`ikou.rehearsal` for the rules), preparation
-phase domains a readiness report. A rehearsal reconciles the validated output with its own
schema and drops the schema afterwards (rollback; the reports stay); a cutover reconciles the
live tables it just loaded: GO makes the domain live, NO-GO drops them again (切り戻し). Every
verdict is recorded in the target database (``ikou_rehearsal_log``), where the cutover guard
looks for its GO.

After a delta load (差分, ``StageResult.delta`` of the load) the reconciliation is the delta's
(:func:`ikou.rehearsal.reconcile_delta.reconcile_delta_table`: an in-database digest of every
row, the changed keys compared in full) instead of streaming the whole table; the report's
``reconciliation_method`` says which. A ``load_ahead`` run (the full load ahead of a delta
cutover) records ``loaded_ahead`` on GO, never ``live``; a NO-GO delta cutover returns the live
schema to the base (the load ahead, loaded again) and keeps ``loaded_ahead``.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from ikou.config import settings
from ikou.domains import registry
from ikou.load.control import Control
from ikou.load.delta import fetch_delta_set
from ikou.load.delta_run import return_to_base
from ikou.load.target import LIVE_SCHEMA, Target
from ikou.pipeline import RunContext, StageResult, cpu_time
from ikou.rehearsal import (
    accounting_rows,
    gate_reports,
    gate_seconds,
    history,
    run_timing,
    trend_points,
)
from ikou.rehearsal.reconcile import reconcile_table
from ikou.rehearsal.reconcile_delta import reconcile_delta_table
from ikou.rehearsal.report import render_domain_report
from ikou.storage import Store, join, publication, zone_uri


def cached_report(domain_id: str, run_id: str, schema: str | None, store: Store) -> dict | None:
    """A retried rehearsal task after its rollback: the report it wrote stands."""
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


def run(
    ctx: RunContext,
    extracted: StageResult,
    cleansed: StageResult,
    validated: StageResult,
    loaded: StageResult | None = None,
    store: Store | None = None,
) -> StageResult:
    """Reconciliation, timing and the verdict (rehearsal: then the rehearsal schema is dropped;
    cutover: GO makes the domain live, NO-GO drops the live tables it loaded). ``loaded`` is
    None when the load was skipped (a preparation-phase domain)."""
    import pyarrow.parquet as pq

    started = time.monotonic()
    store = store or Store()
    domain_id, run_id, mode, who = ctx.domain, ctx.run_id, ctx.mode, ctx.who
    results: dict[str, StageResult | None] = {
        "extract": extracted,
        "cleanse": cleansed,
        "validate": validated,
        "load": loaded,
    }
    reg = registry()
    d = reg.get(domain_id)
    p = reg.plan[domain_id]
    load = loaded
    prefix = zone_uri("reports", domain_id, run_id)
    cached = (
        cached_report(domain_id, run_id, load.target_schema if load else None, store)
        if mode == "rehearsal"
        else None
    )
    if cached is not None:
        return summary(ctx, cached, prefix, started)
    gates = gate_reports(domain_id, run_id, store)
    overrides = {g: r["override"] for g, r in gates.items() if r.get("override")}
    tables: list[dict] = []
    recon_seconds = recon_cpu = None
    target = None
    delta = load.delta if load is not None and load.delta else None
    method = {
        "method": "delta" if delta else "full",
        "detail": DELTA_RECONCILIATION if delta else FULL_RECONCILIATION,
    }
    if p.phase == "migration":
        if not load:
            raise RuntimeError(f"{domain_id} is in the migration phase but nothing was loaded")
        target = Target(settings().target_db_url, load.target_schema or "")
        vprefix = validated.published
        t0, c0 = time.monotonic(), cpu_time()
        with tempfile.TemporaryDirectory(prefix="ikou-rehearsal-") as tmp:
            manifest = publication.read_manifest(store, vprefix)
            delta_csvs: dict[str, Path] = {}
            if delta:
                (Path(tmp) / "delta").mkdir()
                _, delta_csvs = fetch_delta_set(store, delta["set"], Path(tmp) / "delta")
            for t in d.standard.tables:
                path = publication.fetch(store, vprefix, f"{t.name}.parquet", Path(tmp), manifest)
                secret = settings().hmac_secret
                tables.append(
                    reconcile_delta_table(
                        domain_id, t, pq.read_table(path), target, secret, delta_csvs[t.name]
                    )
                    if delta
                    else reconcile_table(
                        domain_id,
                        t,
                        pq.read_table(path),
                        target,
                        secret,
                        tolerance=p.reconciliation_tolerance,
                    )
                )
        recon_seconds, recon_cpu = time.monotonic() - t0, cpu_time() - c0
    in_target = {t["unit"]: t["rows_target"] for t in tables} if tables else None
    acc = accounting_rows(domain_id, results, in_target)
    legacy = sum(a["legacy_records"] for a in acc)
    previous = history(domain_id, store, exclude_run=run_id)
    timing_ = run_timing(
        domain_id,
        results,
        gates,
        (recon_seconds, recon_cpu),
        legacy,
        previous,
        store,
        mode,
        delta=delta,
    )
    report = {
        "domain": domain_id,
        "name_ja": d.name_ja,
        "name_en": d.name_en,
        "run_id": run_id,
        "mode": mode,
        "snapshot": extracted.snapshot,
        "phase": p.phase,
        "wave": p.wave,
        "target_date": str(p.target_date),
        "spec_version": d.spec.version,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "accounting": acc,
        "reconciliation": tables,
        "reconciliation_method": method,
        "tolerance": p.reconciliation_tolerance,
        "timing": timing_,
        "gates": {
            g: {
                "verdict": r.get("verdict"),
                "warnings": len(r.get("warnings", [])),
                "critical_failures": len(r.get("critical_failures", [])),
                "seconds": gate_seconds(r),
            }
            for g, r in gates.items()
        },
        "overrides": overrides,
        "findings": {
            s: r.findings
            for s, r in (("extract", extracted), ("cleanse", cleansed), ("validate", validated))
        },
        "gaiji_worklist": {
            "unmapped_codes": extracted.gaiji_codes,
            "occurrences": extracted.gaiji_unmapped,
        },
        "handoff": {
            "uri": load.uri if load else None,
            "manifest_sha256": load.manifest_sha256 if load else None,
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
                (
                    "reconciliation (delta) mismatches in "
                    if delta
                    else "reconciliation mismatches in "
                )
                + ", ".join(mismatch_text(t) for t in tables if t["mismatches"])
            )
        if not all(a["balanced"] for a in acc):
            reasons.append(
                "accounting does not close (in ≠ loaded + quarantined + merged) for "
                + ", ".join(a["unit"] for a in acc if not a["balanced"])
            )
        if timing_.get("assessed", True) and not timing_["within_window"]:
            reasons.append(
                f"projected {timing_['projected_hours']:.1f} h at {d.expected_records:,} records "
                f"({timing_.get('path', 'full')} path) exceeds the {timing_['window_hours']:g} h "
                "cutover window"
                if mode == "rehearsal"
                else f"the cutover took {timing_['projected_hours']:.1f} h, over its {timing_['window_hours']:g} h "
                "window: the legacy system stays (切り戻し)"
            )
        report["verdict"] = "NO-GO" if reasons else "GO"
        ok = [
            "all gates passed without override",
            "reconciliation clean"
            + (
                f" (within tolerance {p.reconciliation_tolerance:g})"
                if p.reconciliation_tolerance and not delta
                else ""
            )
            + (" (delta: in-database digest, changed keys in full)" if delta else ""),
            "accounting closes",
        ]
        if timing_.get("assessed", True):
            ok.append(
                f"{'projected' if mode == 'rehearsal' else 'took'} {timing_['projected_hours']:.2f} h, "
                f"within the {timing_['window_hours']:g} h window"
            )
        else:
            ok.append("timing against the window not assessed: " + timing_["not_assessed_because"])
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
            "projected_hours": timing_["projected_hours"],
            "window_hours": timing_["window_hours"],
        }
        report["reasons"] = ["preparation phase: readiness report instead of GO / NO-GO"]
    report["trend"] = trend_points(previous, report)
    control = Control()
    if target is not None and mode == "rehearsal":
        report["rollback"] = {"schema": target.schema, "done": False}
    if target is not None and load is not None and mode == "cutover":
        report["cutover"] = finish_cutover(domain_id, report, target, control, load, who, store)
    if target is not None and load is not None and mode == "load_ahead":
        report["cutover"] = finish_load_ahead(domain_id, report, target, control, load, who)
    write(report, prefix, store)
    control.record_rehearsal(
        report,
        report_uri=join(prefix, "rehearsal.html"),
        manifest_sha256=(load.manifest_sha256 if load else None) or "",
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
        write(report, prefix, store)
    if target is not None:
        target.dispose()
    return summary(ctx, report, prefix, started)


def mismatch_text(t: dict) -> str:
    """One reconciled table's mismatches, for a NO-GO reason (counts and column names only)."""
    aggs = (
        f", aggregates {', '.join(t['aggregate_mismatches'])}"
        if t.get("aggregate_mismatches")
        else ""
    )
    if "digest_match" in t:  # the delta's reconciliation
        return (
            f"{t['unit']} ({t['changed_mismatches']} of {t['changed_keys']} changed keys differ, "
            f"digest {'matches' if t['digest_match'] else 'differs'}, "
            f"{t['rows_target']} rows of {t['rows_source']}{aggs})"
        )
    return f"{t['unit']} ({t['missing']} missing, {t['extra']} extra, {t['changed']} changed{aggs})"


FULL_RECONCILIATION = (
    "full: every row of the target streamed and compared by keyed hash per business key, "
    "aggregates and control totals"
)
DELTA_RECONCILIATION = (
    "delta: an order-independent digest of every row's keyed hash computed in the database, "
    "counts, aggregates and control totals, and every key the delta touched compared in full"
)


def record_event(
    control, status: str, domain_id: str, report: dict, who: str, sha: str, **kw
) -> None:
    """The cutover state this run ends in (``live``, ``loaded_ahead``, ``rolled_back``), keyed by
    the run's domain, snapshot, run id, who and the hand-off's sha256; ``kw``: source, detail."""
    control.record(
        status,
        domain=domain_id,
        snapshot=report["snapshot"],
        run_id=report["run_id"],
        who=who,
        manifest_sha256=sha,
        **kw,
    )


def finish_cutover(
    domain_id: str, report: dict, target, control, load: StageResult, who: str, store: Store
) -> dict:
    """A cutover run's end: live on GO; on NO-GO the live tables dropped again — or, after a
    delta cutover, returned to the base (the load ahead) with ``loaded_ahead`` kept."""
    d = registry().get(domain_id)
    sha = load.manifest_sha256 or ""
    delta = load.delta or None
    if report["verdict"] == "GO":
        detail = (
            f"reconciled after the delta cutover (loaded ahead with {delta['base_snapshot']})"
            if delta
            else "reconciled after the cutover load"
        )
        record_event(control, "live", domain_id, report, who, sha, detail=detail)
        return {"status": "live", "manifest_sha256": sha, "who": who}
    reasons = "; ".join(report["reasons"])
    if delta:
        return_to_base(target, domain_id, delta, store, run_id=report["run_id"], who=who)
        detail = (
            f"the live tables were returned to the base {delta['base_snapshot']} (the load "
            "ahead, loaded again): the domain is not live and stays loaded_ahead"
        )
        record_event(
            control, "rolled_back", domain_id, report, who, sha, detail=f"{reasons} — {detail}"
        )
        return {"status": "rolled_back", "manifest_sha256": sha, "who": who, "detail": detail}
    target.drop_domain(domain_id, d.standard)
    control.log_dropped(domain=domain_id, schema=target.schema)
    record_event(control, "rolled_back", domain_id, report, who, sha, detail=reasons)
    return {
        "status": "rolled_back",
        "manifest_sha256": sha,
        "who": who,
        "detail": "the live tables loaded by this run were dropped: the domain is not live",
    }


def finish_load_ahead(
    domain_id: str, report: dict, target, control, load: StageResult, who: str
) -> dict:
    """A ``load_ahead`` run's end: ``loaded_ahead`` on GO (never live: the delta cutover follows);
    on NO-GO the live tables it loaded are dropped again."""
    sha = load.manifest_sha256 or ""
    if report["verdict"] == "GO":
        detail = (
            f"the full load of {report['snapshot']} reconciled in the live schema ahead of the "
            f"cutover: a delta cutover with base_snapshot {report['snapshot']} may follow"
        )
        record_event(
            control, "loaded_ahead", domain_id, report, who, sha, source="load_ahead", detail=detail
        )
        return {"status": "loaded_ahead", "manifest_sha256": sha, "who": who, "detail": detail}
    target.drop_domain(domain_id, registry().get(domain_id).standard)
    control.log_dropped(domain=domain_id, schema=target.schema)
    detail = "the live tables loaded ahead by this run were dropped: the domain is not loaded ahead"
    record_event(
        control,
        "rolled_back",
        domain_id,
        report,
        who,
        sha,
        source="load_ahead",
        detail="; ".join(report["reasons"]) + " — " + detail,
    )
    return {"status": "rolled_back", "manifest_sha256": sha, "who": who, "detail": detail}


def write(report: dict, prefix: str, store: Store) -> None:
    store.put_bytes(
        join(prefix, "rehearsal.json"),
        json.dumps(report, ensure_ascii=False, indent=2, default=str).encode("utf-8"),
        content_type="application/json",
    )
    store.put_bytes(
        join(prefix, "rehearsal.html"),
        render_domain_report(report).encode("utf-8"),
        content_type="text/html; charset=utf-8",
    )


def summary(ctx: RunContext, report: dict, prefix: str, started: float) -> StageResult:
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
    return StageResult(
        domain=report["domain"],
        stage="rehearsal",
        run_id=report["run_id"],
        snapshot=report["snapshot"],
        mode=report["mode"],
        uri=prefix,
        verdict=report["verdict"],
        reasons=report["reasons"],
        reconciliation=recon,
        report=join(prefix, "rehearsal.html"),
        projected_hours=t["projected_hours"],
        window_hours=t["window_hours"],
        records_in=t["legacy_records"],
        records_out=sum(a["output_records"] for a in report["accounting"]),
        cutover=report.get("cutover"),
        rollback=report.get("rollback"),
        seconds=round(time.monotonic() - started, 3),
    )
