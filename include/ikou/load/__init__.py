"""Load: the standard-layout hand-off files and the transactional target load.

Hand-off (``handoff/{domain}/{run}/``): one CSV per standard table in the dialect of DESIGN.md
(UTF-8, RFC 4180 quoting, CRLF, empty field = null, BOM off unless ``IKOU_CSV_BOM=1``), Parquet
beside each, and ``manifest.json`` — spec and layout versions, files with row counts and
sha256, columns, the CSV dialect, the input files' sha256, the code version and the 宛名番号
old → new map of 名寄せ — written last, so a reader never sees a half-written set.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from ikou.config import settings
from ikou.domains import registry
from ikou.load.target import Target, schema_for
from ikou.storage import Store, code_version, join, zone_uri

CSV_DIALECT = {"encoding": "UTF-8", "bom": False, "delimiter": ",", "quoting": "RFC 4180 (text fields quoted)",
               "line_terminator": "CRLF", "null": "empty field", "header": True}
HANDOFF_MANIFEST = "manifest.json"


def write_csv(table, path: Path, bom: bool = False) -> None:
    import pyarrow.csv as pacsv

    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        if bom:
            fh.write(b"\xef\xbb\xbf")
        pacsv.write_csv(table, fh, pacsv.WriteOptions(quoting_style="needed", eol="\r\n", null_string=""))
    os.replace(tmp, path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_domain(domain_id: str, validate_result: dict, *, run_id: str, mode: str, store: Store,
                atena_map: dict[str, str] | None = None) -> dict:
    import pyarrow.parquet as pq

    d = registry().get(domain_id)
    bom = os.environ.get("IKOU_CSV_BOM", "0") == "1"
    prefix = zone_uri("handoff", domain_id, run_id)
    target = Target(settings().target_db_url, schema_for(mode))
    with tempfile.TemporaryDirectory(prefix="ikou-load-") as tmp:
        work = Path(tmp)
        vprefix = validate_result["uri"]
        vmanifest = store.read_manifest(vprefix)
        raw_manifest = store.read_manifest(zone_uri("raw", domain_id, run_id)) if store.exists(
            join(zone_uri("raw", domain_id, run_id), "_manifest.json")) else {}
        files: dict[str, Path] = {}
        entries, csvs = [], {}
        for t in d.layout.tables:
            pq_path = store.fetch(vprefix, f"{t.name}.parquet", work / "in", vmanifest)
            table = pq.read_table(pq_path)
            csv_path = work / f"{t.name}.csv"
            write_csv(table, csv_path, bom)
            out_pq = work / f"{t.name}.parquet"
            os.replace(pq_path, out_pq)
            files[csv_path.name] = csv_path
            files[out_pq.name] = out_pq
            csvs[t.name] = csv_path
            entries.append({"table": t.name, "label_ja": t.label_ja, "file": csv_path.name, "parquet": out_pq.name,
                            "rows": table.num_rows, "sha256": _sha256(csv_path), "business_keys": list(t.business_keys),
                            "columns": [{"name": c.name, "label_ja": c.label_ja, "type": c.type, "length": c.length,
                                         "precision": c.precision, "scale": c.scale, "required": c.required}
                                        for c in t.columns]})
        manifest = {
            "domain": domain_id, "run_id": run_id, "snapshot": validate_result["snapshot"], "mode": mode,
            "spec_version": d.spec.version, "layout_version": d.layout.layout_version,
            "tables": entries, "csv_dialect": {**CSV_DIALECT, "bom": bom},
            "input_files": [{"name": f["name"], "sha256": f.get("sha256"), "records": f.get("records")}
                            for f in raw_manifest.get("landing_files", [])],
            "code_version": code_version(),
            "atena_no_map": [{"old": k, "new": v} for k, v in sorted((atena_map or {}).items())],
        }
        mpath = work / HANDOFF_MANIFEST
        mpath.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        manifest_sha = _sha256(mpath)
        # The hand-off manifest is published last among the files; Ikou's own publication marker
        # (_manifest.json, listing every file with its sha256) follows it.
        store.publish(prefix, {**files, HANDOFF_MANIFEST: mpath},
                      {"zone": "handoff", "stage": "load", "domain": domain_id, "run_id": run_id,
                       "snapshot": validate_result["snapshot"], "handoff_manifest_sha256": manifest_sha})
        rows = target.load(domain_id, d.layout, csvs, run_id=run_id, snapshot=validate_result["snapshot"],
                           manifest_sha256=manifest_sha)
    return {"handoff": prefix, "rows": rows, "target_url": target.url, "schema": target.schema,
            "tables": {t: f"{domain_id}__{t}" for t in rows}, "manifest_sha256": manifest_sha,
            "dialect": target.dialect}
