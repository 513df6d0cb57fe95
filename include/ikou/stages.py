"""The five stages and the gate of a domain run, as plain functions the DAG tasks call.

Each stage reads its input through the previous stage's published manifest, writes its output
under a run-scoped prefix of its zone, publishes it (manifest last) and returns a small dict for
XCom: URIs, counts, seconds, findings by rule — never records. Every stage accounts for every
record: in = out + quarantined + merged (+ header and trailer records at extract).

    extract   landing/{d}/{snapshot}/  -> raw/{d}/{run}/        (+ quarantine/{d}/{run}/)
    cleanse   raw                      -> cleansed/{d}/{run}/   (+ ledger)
    validate  cleansed                 -> validated/{d}/{run}/  (standard layout)
    load      validated                -> handoff/{d}/{run}/ + target database
    rehearse  everything               -> reports/{d}/{run}/    (reconciliation, timing, verdict)

Reports (``reports/{d}/{run}/``) hold counts, keyed hashes and verdicts only.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from pathlib import Path

from ikou.config import settings
from ikou.domains import registry
from ikou.findings import Findings
from ikou.storage import (
    MANIFEST,
    NotPublished,
    Store,
    join,
    landing_uri,
    reference_uri,
    run_key,
    zone_uri,
)

log = logging.getLogger(__name__)


class StageError(RuntimeError):
    """A stage cannot run (missing input, refused cutover …); the message says what to do."""


class CutoverRefused(StageError):
    pass


# ----------------------------------------------------------------------------- helpers


def _store() -> Store:
    return Store()


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def write_report(domain: str, run_id: str, name: str, obj: dict, store: Store | None = None) -> str:
    """A JSON document in the reports zone (no personal data: counts, hashes, verdicts)."""
    uri = join(zone_uri("reports", domain, run_id), name)
    (store or _store()).put_bytes(uri, _dumps(obj), content_type="application/json")
    return uri


def resolve_snapshot(domain: str, snapshot: str = "", store: Store | None = None) -> str:
    """The given snapshot, or the latest one in the landing zone that is published."""
    store = store or _store()
    if snapshot:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", snapshot):
            raise StageError(f"snapshot must be YYYY-MM-DD, not {snapshot!r}")
        return snapshot
    prefix = landing_uri(domain, "").rstrip("/") + "/"
    candidates = [s for s in store.list_dirs(prefix) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s)]
    for snap in sorted(candidates, reverse=True):
        if store.exists(join(landing_uri(domain, snap), MANIFEST)):
            return snap
    raise StageError(f"no published snapshot of {domain} in {prefix} (run `ikou synth` or deliver the extract)")


def _result(domain: str, stage: str, run_id: str, snapshot: str, uri: str, accounting: list[dict],
            started: float, findings: Findings | None = None, **extra) -> dict:
    res = {
        "domain": domain, "stage": stage, "run_id": run_id, "snapshot": snapshot, "uri": uri,
        "records_in": sum(a["records_in"] for a in accounting),
        "records_out": sum(a["records_out"] for a in accounting),
        "quarantined": sum(a.get("quarantined", 0) for a in accounting),
        "merged": sum(a.get("merged", 0) for a in accounting),
        "units": {a["unit"]: a["records_out"] for a in accounting},
        "accounting": accounting,
        "findings": findings.by_rule() if findings is not None else {},
        "seconds": round(time.monotonic() - started, 3),
    }
    res.update(extra)
    return res


def _balanced(a: dict) -> bool:
    return a["records_in"] == (a["records_out"] + a.get("quarantined", 0) + a.get("merged", 0)
                               + a.get("header", 0) + a.get("trailer", 0))


def _fetch_tables(prefix: str, workdir: Path, store: Store) -> tuple[dict, dict[str, Path]]:
    manifest = store.read_manifest(prefix)
    paths = {}
    for f in manifest["files"]:
        if f["name"].endswith(".parquet") and not f["name"].startswith("_"):
            paths[f["name"][: -len(".parquet")]] = store.fetch(prefix, f["name"], workdir, manifest)
    return manifest, paths


def _check_cutover(mode: str, confirm_cutover: bool) -> None:
    if mode not in ("rehearsal", "cutover"):
        raise StageError(f"mode must be rehearsal or cutover, not {mode!r}")
    if mode == "cutover" and not confirm_cutover:
        raise CutoverRefused("cutover refused: a person must confirm it with confirm_cutover=true")


# ----------------------------------------------------------------------------- extract


def extract(domain_id: str, *, run_id: str, mode: str = "rehearsal", snapshot: str = "", confirm_cutover: bool = False,
            **_ignored) -> dict:
    """Decode the domain's legacy files of a snapshot into the raw zone (Parquet)."""
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import DecodeOptions, decode_to_parquet

    started = time.monotonic()
    _check_cutover(mode, confirm_cutover)
    store = _store()
    d = registry().get(domain_id)
    snap = resolve_snapshot(domain_id, snapshot, store)
    landing = landing_uri(domain_id, snap)
    manifest = store.read_manifest(landing)
    findings = Findings(domain_id, run_id, "extract")
    accounting, summaries, files = [], {}, {}
    quarantine_files, worklist_rows = {}, []
    raw_prefix = zone_uri("raw", domain_id, run_id)
    with tempfile.TemporaryDirectory(prefix="ikou-extract-") as tmp:
        work = Path(tmp)
        gaiji_path = None
        ref = reference_uri(snap)
        if store.exists(join(ref, "gaiji.csv")):
            gaiji_path = store.download(join(ref, "gaiji.csv"), work / "gaiji.csv")
        for lf in d.legacy_files:
            entry = next((f for f in manifest["files"] if f.get("legacy_file") == lf.name), None)
            if entry is None:
                raise StageError(f"{landing}: the snapshot manifest lists no file for legacy file {lf.name}")
            src = store.fetch(landing, entry["name"], work, manifest)
            cb = parse_copybook(lf.copybook_path.read_text(encoding="utf-8"), source=lf.copybook)
            opts = DecodeOptions(
                encoding=lf.encoding, recfm=lf.recfm, lrecl=lf.lrecl,
                record_type_field=lf.record_type_field, record_types=dict(lf.record_types),
                header_layouts=tuple(v for k, v in lf.record_types.items() if k == "H"),
                trailer_layouts=tuple(v for k, v in lf.record_types.items() if k == "T"),
                record_count_field=lf.trailer.count_field, control_totals=dict(lf.trailer.sums),
                mixed_fields=tuple(lf.mixed_fields), gaiji=str(gaiji_path) if gaiji_path else None,
                gaiji_policy=settings().gaiji_policy, file_name=entry["name"],
            )
            out = work / f"{lf.name}.parquet"
            qpath = work / f"{lf.name}.quarantine.jsonl"
            gpath = work / f"{lf.name}.gaiji.parquet"
            summary = decode_to_parquet(src, cb, opts, out, qpath, gaiji_path=gpath)
            files[out.name] = out
            quarantine_files[qpath.name] = qpath
            summaries[lf.name] = summary.to_dict()
            count_ok = all(c.ok for c in summary.trailer_checks if c.name == "record_count")
            sums_ok = all(c.ok for c in summary.trailer_checks if c.name == "sum")
            for c in summary.trailer_checks:
                if not c.ok:
                    findings.add("trailer_control_total", "critical", c.trailer_field,
                                 detail=f"{c.name}: trailer {c.expected} vs file {c.actual} {c.detail}".strip())
            for reason, n in summary.by_reason.items():
                findings.add("decode_error", "warning", "", count=n, detail=reason)
            worklist_rows.extend(_gaiji_occurrences(d, lf, out, gpath))
            acc = {"unit": lf.name, "records_in": summary.records_in, "records_out": summary.records_out,
                   "header": summary.header_records, "trailer": summary.trailer_records,
                   "quarantined": summary.quarantined, "merged": 0,
                   "trailer_count_ok": count_ok, "trailer_sums_ok": sums_ok,
                   "quarantine_rate": round(summary.quarantined / max(summary.records_in, 1), 6),
                   "unmapped_gaiji": summary.gaiji_unmapped, "gaiji_mapped": summary.gaiji_mapped,
                   "bytes": summary.bytes_read, "decode_seconds": round(summary.seconds, 3)}
            acc["balanced"] = _balanced(acc) and summary.accounted
            accounting.append(acc)
        worklist = _gaiji_worklist(domain_id, run_id, snap, worklist_rows)
        for row in worklist["codes"]:
            findings.add("unmapped_gaiji", "warning" if mode != "cutover" else "critical",
                         ",".join(row["fields"]), count=row["occurrences"], detail=f"legacy code {row['legacy_code']}")
        qprefix = zone_uri("quarantine", domain_id, run_id)
        store.publish(qprefix, quarantine_files, {"zone": "quarantine", "domain": domain_id, "run_id": run_id,
                                                   "snapshot": snap, "stage": "extract",
                                                   "records": {a["unit"]: a["quarantined"] for a in accounting}})
        store.publish(raw_prefix, files, {
            "zone": "raw", "stage": "extract", "domain": domain_id, "run_id": run_id, "snapshot": snap,
            "mode": mode, "landing": landing, "landing_files": manifest["files"], "accounting": accounting,
            "decode": summaries, "quarantine": qprefix,
        })
    write_report(domain_id, run_id, "gaiji_worklist.json", worklist, store)
    write_report(domain_id, run_id, "findings/extract.json",
                 {"summary": findings.summary(), "findings": findings.rows()}, store)
    return _result(domain_id, "extract", run_id, snap, raw_prefix, accounting, started, findings,
                   quarantine=qprefix, gaiji_unmapped=sum(a["unmapped_gaiji"] for a in accounting),
                   gaiji_codes=len(worklist["codes"]), mode=mode)


def _gaiji_occurrences(d, lf, raw_path: Path, gaiji_path: Path) -> list[dict]:
    """Unmapped 外字 occurrences with the keyed hash of their record (never the key itself)."""
    import pyarrow.parquet as pq

    from ikou.hashing import keyed_hashes

    if not gaiji_path.exists():
        return []
    occ = pq.read_table(gaiji_path)
    if occ.num_rows == 0:
        return []
    raw = pq.read_table(raw_path, columns=["_record", *lf.business_keys])
    by_record = dict(zip(raw.column("_record").to_pylist(),
                         zip(*[raw.column(k).to_pylist() for k in lf.business_keys])))
    recs = occ.column("_record").to_pylist()
    keys = ["\x1e".join(str(v) for v in by_record.get(r, ("?",))) for r in recs]
    hashes = keyed_hashes(keys, purpose=f"record:{d.id}:{lf.name}")
    rows = []
    for i, r in enumerate(occ.to_pylist()):
        rows.append({"file": lf.name, "field": r["field"], "legacy_code": r["legacy_code"],
                     "encoding": r["encoding"], "record_key": hashes[i], "candidates": r.get("candidates") or []})
    return rows


def _gaiji_worklist(domain: str, run_id: str, snapshot: str, rows: list[dict]) -> dict:
    """The 外字 worklist for 文字同定: per unmapped code its count, fields, affected records."""
    codes: dict[tuple[str, str], dict] = {}
    for r in rows:
        k = (r["encoding"], r["legacy_code"])
        c = codes.setdefault(k, {"encoding": r["encoding"], "legacy_code": r["legacy_code"], "occurrences": 0,
                                 "fields": set(), "record_keys": set(), "candidates": set()})
        c["occurrences"] += 1
        c["fields"].add(f"{r['file']}.{r['field']}")
        c["record_keys"].add(r["record_key"])
        c["candidates"].update(r["candidates"])
    out = []
    for c in sorted(codes.values(), key=lambda x: (-x["occurrences"], x["legacy_code"])):
        out.append({**c, "fields": sorted(c["fields"]), "record_keys": sorted(c["record_keys"]),
                    "records": len(c["record_keys"]), "candidates": sorted(c["candidates"])})
    return {"domain": domain, "run_id": run_id, "snapshot": snapshot, "unmapped_codes": len(out),
            "occurrences": sum(c["occurrences"] for c in out), "codes": out,
            "note": "文字同定 worklist: legacy codes missing from the city's 外字 table; record keys are keyed hashes"}


# ----------------------------------------------------------------------------- cleanse


def cleanse(domain_id: str, extract_result: dict, *, run_id: str, mode: str = "rehearsal", **_ignored) -> dict:
    """Apply the domain's cleansing rules to the raw tables; ledger every change."""
    import pyarrow.parquet as pq

    from ikou.cleanse.stage import cleanse_table

    started = time.monotonic()
    store = _store()
    d = registry().get(domain_id)
    snap = extract_result["snapshot"]
    findings = Findings(domain_id, run_id, "cleanse")
    out_prefix = zone_uri("cleansed", domain_id, run_id)
    accounting, files, ledger_counts = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="ikou-cleanse-") as tmp:
        work = Path(tmp)
        _, paths = _fetch_tables(extract_result["uri"], work / "in", store)
        for lf in d.legacy_files:
            table = pq.read_table(paths[lf.name])
            result = cleanse_table(table, d, lf, findings)
            out = work / f"{lf.name}.parquet"
            pq.write_table(result.table, out, compression="zstd")
            files[out.name] = out
            led = work / f"{lf.name}.ledger.parquet"
            pq.write_table(result.ledger, led, compression="zstd")
            files[led.name] = led
            vals = work / f"_values.{lf.name}.ledger.parquet"
            pq.write_table(result.ledger_values, vals, compression="zstd")
            files[vals.name] = vals
            for k, v in result.changes.items():
                ledger_counts[f"{lf.name}.{k}"] = v
            acc = {"unit": lf.name, "records_in": table.num_rows, "records_out": result.table.num_rows,
                   "quarantined": 0, "merged": 0, "changes": sum(result.changes.values())}
            acc["balanced"] = _balanced(acc)
            accounting.append(acc)
        store.publish(out_prefix, files, {"zone": "cleansed", "stage": "cleanse", "domain": domain_id,
                                          "run_id": run_id, "snapshot": snap, "input": extract_result["uri"],
                                          "accounting": accounting, "ledger_counts": ledger_counts})
    write_report(domain_id, run_id, "findings/cleanse.json",
                 {"summary": findings.summary(), "ledger_counts": ledger_counts, "findings": findings.rows()}, store)
    return _result(domain_id, "cleanse", run_id, snap, out_prefix, accounting, started, findings,
                   changes=sum(ledger_counts.values()), mode=mode)


# ----------------------------------------------------------------------------- validate


def latest_validated_pointer(domain: str, snapshot: str) -> str:
    return join(zone_uri("validated", domain, "_latest"), f"{snapshot}.json")


def validate(domain_id: str, cleanse_result: dict, *, run_id: str, mode: str = "rehearsal", **_ignored) -> dict:
    """Map the cleansed tables to the domain's versioned standard layout; check references."""
    import pyarrow.parquet as pq

    from ikou.domains.mapping import addressee_references, map_table

    started = time.monotonic()
    store = _store()
    reg = registry()
    d = reg.get(domain_id)
    snap = cleanse_result["snapshot"]
    findings = Findings(domain_id, run_id, "validate")
    out_prefix = zone_uri("validated", domain_id, run_id)
    accounting, files, tables = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="ikou-validate-") as tmp:
        work = Path(tmp)
        _, paths = _fetch_tables(cleanse_result["uri"], work / "in", store)
        for t in d.layout.tables:
            src = pq.read_table(paths[t.source])
            mapped = map_table(src, d, t, findings)
            tables[t.name] = mapped
        master_domain, master_table = reg.addressee_master()
        master_ids = None
        for t in d.layout.tables:
            refs = addressee_references(d, t)
            orphans = 0
            if refs:
                if master_ids is None:
                    master_ids = _addressee_ids(master_domain, master_table, snap, tables if domain_id == master_domain else None,
                                                work, store)
                orphans = _count_orphans(tables[t.name], refs, master_ids, d, t, findings)
            out = work / f"{t.name}.parquet"
            pq.write_table(tables[t.name], out, compression="zstd")
            files[out.name] = out
            src_rows = cleanse_result["units"][t.source]
            acc = {"unit": t.name, "records_in": src_rows, "records_out": tables[t.name].num_rows,
                   "quarantined": 0, "merged": 0, "orphan_references": orphans}
            acc["balanced"] = _balanced(acc)
            accounting.append(acc)
        store.publish(out_prefix, files, {"zone": "validated", "stage": "validate", "domain": domain_id,
                                          "run_id": run_id, "snapshot": snap, "input": cleanse_result["uri"],
                                          "spec_version": d.spec.version, "layout_version": d.layout.layout_version,
                                          "accounting": accounting})
    write_report(domain_id, run_id, "findings/validate.json", {"summary": findings.summary(), "findings": findings.rows()},
                 store)
    return _result(domain_id, "validate", run_id, snap, out_prefix, accounting, started, findings, mode=mode,
                   spec_version=d.spec.version, layout_version=d.layout.layout_version)


def _addressee_ids(master_domain: str, master_table: str, snapshot: str, in_run: dict | None, work: Path,
                   store: Store) -> set:
    import pyarrow.parquet as pq

    if in_run is not None:
        return set(in_run[master_table].column("atena_no").to_pylist())
    pointer = latest_validated_pointer(master_domain, snapshot)
    try:
        prefix = json.loads(store.get_bytes(pointer))["uri"]
    except FileNotFoundError:
        raise StageError(
            f"the addressee master ({master_domain}) of snapshot {snapshot} has not passed gate_standard yet: "
            f"run migrate_{master_domain} first (the master DAG orders this)") from None
    manifest = store.read_manifest(prefix)
    path = store.fetch(prefix, f"{master_table}.parquet", work / "master", manifest)
    return set(pq.read_table(path, columns=["atena_no"]).column("atena_no").to_pylist())


def _count_orphans(table, ref_columns: list[str], master_ids: set, d, t, findings: Findings) -> int:
    from ikou.hashing import keyed_hashes

    total = 0
    keys = ["\x1e".join(str(v) for v in vals) for vals in zip(*[table.column(k).to_pylist() for k in t.business_keys])]
    for col in ref_columns:
        values = table.column(col).to_pylist()
        bad = [i for i, v in enumerate(values) if v is not None and v not in master_ids]
        if bad:
            hashes = keyed_hashes([keys[i] for i in bad], purpose=f"record:{d.id}:{t.name}")
            findings.extend("orphan_reference", "critical", col, hashes, detail="宛名番号 not in the addressee master")
            total += len(bad)
    return total


# ----------------------------------------------------------------------------- gate


def _frames_for_gate(gate: str, stage_result: dict, work: Path, store: Store):
    import pandas as pd
    import pyarrow.parquet as pq

    from ikou.quality.gate import Unit

    units = []
    if gate in ("gate_raw", "gate_cleansed", "gate_standard"):
        _, paths = _fetch_tables(stage_result["uri"], work, store)
        for unit, rows in stage_result["units"].items():
            frame = pq.read_table(paths[unit]).to_pandas(types_mapper=pd.ArrowDtype)
            units.append(Unit(unit, frame, expected_rows=rows))
        acc = pd.DataFrame(stage_result["accounting"])
        units.append(Unit("accounting", acc))
    elif gate == "gate_target":
        for unit, rows in stage_result["units"].items():
            units.append(Unit(unit, None, expected_rows=rows))
    elif gate == "gate_reconciliation":
        units.append(Unit("reconciliation", pd.DataFrame(stage_result["reconciliation"])))
    else:
        raise ValueError(f"unknown gate {gate!r}")
    return units


def gate(domain_id: str, gate_name: str, stage_result: dict, *, run_id: str, mode: str = "rehearsal",
         override_reason: str = "", triggered_by: str = "", **_ignored) -> dict:
    """Run the gate's checkpoints on the stage output; raise GateFailed on a critical failure."""
    from ikou.quality.gate import GateFailed, gx_target_url, run_gate

    if stage_result is None:
        raise StageError(f"{gate_name}: the stage before it produced no result")
    store = _store()
    target_url = None
    if gate_name == "gate_target":
        target_url = gx_target_url(stage_result["target_url"], stage_result.get("target_schema"))
    with tempfile.TemporaryDirectory(prefix="ikou-gate-") as tmp:
        units = _frames_for_gate(gate_name, stage_result, Path(tmp), store)
        try:
            report = run_gate(domain_id, gate_name, units, run_id=run_id, mode=mode, override_reason=override_reason,
                              who=triggered_by, target_url=target_url)
        except GateFailed as exc:
            write_report(domain_id, run_id, f"gates/{gate_name}.json", exc.report, store)
            raise
    write_report(domain_id, run_id, f"gates/{gate_name}.json", report, store)
    if gate_name == "gate_standard":
        store.put_bytes(latest_validated_pointer(domain_id, stage_result["snapshot"]),
                        _dumps({"uri": stage_result["uri"], "run_id": run_id}), content_type="application/json")
    return {"gate": gate_name, "verdict": report["verdict"], "warnings": len(report["warnings"]),
            "critical_failures": len(report["critical_failures"]), "override": report["override"],
            "units": [u["validation_result"] for u in report["units"]]}


# ----------------------------------------------------------------------------- load


def load(domain_id: str, validate_result: dict, *, run_id: str, mode: str = "rehearsal", **_ignored) -> dict:
    """Hand-off files (CSV + manifest, Parquet beside) and the transactional target load."""
    from ikou.load import load_domain

    started = time.monotonic()
    res = load_domain(domain_id, validate_result, run_id=run_id, mode=mode, store=_store())
    accounting = [{"unit": t, "records_in": validate_result["units"][t], "records_out": n, "quarantined": 0,
                   "merged": 0} for t, n in res["rows"].items()]
    for a in accounting:
        a["balanced"] = _balanced(a)
    return _result(domain_id, "load", run_id, validate_result["snapshot"], res["handoff"], accounting, started,
                   target_url=res["target_url"], target_schema=res["schema"], tables=res["tables"],
                   manifest_sha256=res["manifest_sha256"], mode=mode)


# ----------------------------------------------------------------------------- rehearsal


def rehearse(domain_id: str, results: dict, *, run_id: str, mode: str = "rehearsal", **_ignored) -> dict:
    from ikou.rehearsal import rehearse_domain

    return rehearse_domain(domain_id, results, run_id=run_id, mode=mode, store=_store())


# ----------------------------------------------------------------------------- master


def plan_master_run(domains: list[str], snapshot: str = "") -> dict:
    reg = registry()
    unknown = [x for x in domains if x not in reg]
    if unknown:
        raise StageError(f"unknown domains {unknown}; known: {', '.join(reg.ids)}")
    order = reg.plan.rehearsal_order(domains or None)
    snap = resolve_snapshot(order[0], snapshot) if order else snapshot
    return {"domains": order, "snapshot": snap}


def city_report(plan: dict, *, run_id: str, **_ignored) -> dict:
    from ikou.rehearsal.city import build_city_report

    return build_city_report(plan or {"domains": [], "snapshot": ""}, master_run_id=run_id, store=_store())


def domain_run_id(master_run_id: str, domain: str) -> str:
    """The run id the master gives a domain run (its trigger_run_id)."""
    return f"{master_run_id}__{domain}"


__all__ = ["extract", "cleanse", "validate", "gate", "load", "rehearse", "plan_master_run", "city_report",
           "StageError", "CutoverRefused", "resolve_snapshot", "write_report", "run_key", "NotPublished"]
