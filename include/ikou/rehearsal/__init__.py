"""Cutover rehearsal: reconciliation, timing against the cutover window, GO / NO-GO or readiness.

Domains in the ``migration`` phase get a verdict: GO when every gate passed without override,
the reconciliation found no mismatch, every legacy record is accounted for (in = loaded +
quarantined + merged) and the elapsed time, projected linearly to the city's real volumes (the
registry's expected record counts), fits the cutover window. Domains in ``preparation`` get a
readiness report (cleansing findings, validation pass rates, 外字 worklist size) instead.
Reports (JSON + bilingual HTML) go to ``reports/{domain}/{run}/``; they hold counts, keyed
hashes and verdicts only.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from ikou.config import settings
from ikou.domains import registry
from ikou.storage import Store, join, zone_uri

STAGE_ORDER = ("extract", "cleanse", "validate", "load")


def _gate_reports(domain: str, run_id: str, store: Store) -> dict[str, dict]:
    out = {}
    prefix = zone_uri("reports", domain, run_id)
    for g in ("gate_raw", "gate_cleansed", "gate_standard", "gate_target"):
        try:
            out[g] = json.loads(store.get_bytes(join(prefix, f"gates/{g}.json")))
        except FileNotFoundError:
            pass
    return out


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
        row = {"unit": lf.name, "legacy_records": data_in, "quarantined": e.get("quarantined", 0), "merged": merged,
               "output_records": out, "tables": tables}
        row["balanced"] = data_in == out + row["quarantined"] + merged
        rows.append(row)
    return rows


def rehearse_domain(domain_id: str, results: dict, *, run_id: str, mode: str, store: Store) -> dict:
    import pyarrow.parquet as pq

    from ikou.load.target import Target
    from ikou.rehearsal.reconcile import reconcile_table
    from ikou.rehearsal.report import render_domain_report

    started = time.monotonic()
    reg = registry()
    d = reg.get(domain_id)
    p = reg.plan[domain_id]
    load = results.get("load")
    gates = _gate_reports(domain_id, run_id, store)
    overrides = {g: r["override"] for g, r in gates.items() if r.get("override")}
    recon: list[dict] = []
    tables: list[dict] = []
    loaded = load["units"] if load else None
    acc = accounting_rows(domain_id, results, loaded)
    if p.phase == "migration":
        if not load:
            raise RuntimeError(f"{domain_id} is in the migration phase but nothing was loaded")
        target = Target(settings().target_db_url, load["target_schema"])
        vprefix = results["validate"]["uri"]
        with tempfile.TemporaryDirectory(prefix="ikou-rehearsal-") as tmp:
            manifest = store.read_manifest(vprefix)
            for t in d.layout.tables:
                path = store.fetch(vprefix, f"{t.name}.parquet", Path(tmp), manifest)
                tables.append(reconcile_table(domain_id, t, pq.read_table(path), target, settings().hmac_secret))
    for a in acc:
        tab = [t for t in tables if t["unit"] in a["tables"]]
        recon.append({
            "unit": a["unit"], "balanced": a["balanced"],
            "mismatches": sum(t["mismatches"] for t in tab),
            "counts_match": all(t["counts_match"] for t in tab) if tab else True,
        })
    stage_seconds = {s: float(results[s]["seconds"]) for s in STAGE_ORDER if results.get(s)}
    elapsed = sum(stage_seconds.values())
    legacy = sum(a["legacy_records"] for a in acc)
    scale = d.expected_records / legacy if legacy else 0.0
    projected_hours = elapsed * scale / 3600
    window = p.cutover_window_hours
    report = {
        "domain": domain_id, "name_ja": d.name_ja, "name_en": d.name_en, "run_id": run_id, "mode": mode,
        "snapshot": results["extract"]["snapshot"], "phase": p.phase, "wave": p.wave,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "accounting": acc, "reconciliation": tables,
        "timing": {"stage_seconds": stage_seconds, "elapsed_seconds": round(elapsed, 3), "legacy_records": legacy,
                   "expected_records": d.expected_records, "scale": round(scale, 2),
                   "projected_hours": round(projected_hours, 3), "window_hours": window,
                   "within_window": projected_hours <= window,
                   "projection": "linear in records (stage time × expected ÷ actual records)"},
        "gates": {g: {"verdict": r.get("verdict"), "warnings": len(r.get("warnings", [])),
                      "critical_failures": len(r.get("critical_failures", []))} for g, r in gates.items()},
        "overrides": overrides,
        "findings": {s: results[s].get("findings", {}) for s in ("extract", "cleanse", "validate") if results.get(s)},
        "gaiji_worklist": {"unmapped_codes": results["extract"].get("gaiji_codes", 0),
                           "occurrences": results["extract"].get("gaiji_unmapped", 0)},
    }
    if p.phase == "migration":
        reasons = []
        if overrides:
            reasons.append("gates overridden: " + ", ".join(sorted(overrides)))
        bad = [t["unit"] for t in tables if t["mismatches"]]
        if bad:
            reasons.append("reconciliation mismatches in " + ", ".join(bad))
        if not all(a["balanced"] for a in acc):
            reasons.append("accounting does not close (in ≠ loaded + quarantined + merged)")
        if not report["timing"]["within_window"]:
            reasons.append(f"projected {projected_hours:.1f} h exceeds the {window:g} h cutover window")
        report["verdict"] = "NO-GO" if reasons else "GO"
        report["reasons"] = reasons or ["all gates passed, reconciliation clean, accounting closes, within window"]
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
            "gaiji_worklist_codes": report["gaiji_worklist"]["unmapped_codes"],
            "accounting_closes": all(a["balanced"] for a in acc),
        }
        report["reasons"] = ["preparation phase: readiness report instead of GO / NO-GO"]
    prefix = zone_uri("reports", domain_id, run_id)
    store.put_bytes(join(prefix, "rehearsal.json"), json.dumps(report, ensure_ascii=False, indent=2, default=str)
                    .encode("utf-8"), content_type="application/json")
    store.put_bytes(join(prefix, "rehearsal.html"), render_domain_report(report).encode("utf-8"),
                    content_type="text/html; charset=utf-8")
    return {"domain": domain_id, "stage": "rehearsal", "run_id": run_id, "verdict": report["verdict"],
            "reasons": report["reasons"], "reconciliation": recon, "report": join(prefix, "rehearsal.html"),
            "projected_hours": report["timing"]["projected_hours"], "window_hours": window,
            "records_in": legacy, "records_out": sum(a["output_records"] for a in acc),
            "seconds": round(time.monotonic() - started, 3)}
