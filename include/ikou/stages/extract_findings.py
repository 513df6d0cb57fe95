"""The extract stage's findings: one per quarantined record, and the 外字 worklist (文字同定).

Codes, offsets, field names and keyed hashes only: the raw bytes stay in the quarantine zone.
"""

from __future__ import annotations

import json
from pathlib import Path

from ikou.findings import Findings
from ikou.hashing import record_keys


def quarantine_findings(findings: Findings, qpath: Path) -> None:
    """One finding per quarantined record, naming the file, the record, its byte offset, the
    field and the reason (codes and offsets only: the raw bytes stay in the quarantine zone)."""
    if not qpath.exists():
        return
    with open(qpath, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            q = json.loads(line)
            where = f"{q.get('_file')} record {q.get('_record')} offset {q.get('_offset')}"
            extra = f" ({q['detail']})" if q.get("detail") else ""
            findings.add(
                "decode_error",
                "warning",
                q.get("field") or "",
                detail=f"{where}: {q.get('reason')}{extra}",
            )


def gaiji_occurrences(d, lf, raw_path: Path, gaiji_path: Path) -> list[dict]:
    """Unmapped 外字 occurrences with the keyed hash of their record (never the key itself)."""
    import pyarrow.parquet as pq

    if not gaiji_path.exists():
        return []
    occ = pq.read_table(gaiji_path)
    if occ.num_rows == 0:
        return []
    raw = pq.read_table(raw_path, columns=["_record", *lf.business_keys])
    by_record = dict(
        zip(
            raw.column("_record").to_pylist(),
            zip(*[raw.column(k).to_pylist() for k in lf.business_keys]),
        )
    )
    recs = occ.column("_record").to_pylist()
    hashes = record_keys(d.id, lf.name, (by_record.get(r, ("?",)) for r in recs))
    rows = []
    for i, r in enumerate(occ.to_pylist()):
        rows.append(
            {
                "file": lf.name,
                "field": r["field"],
                "legacy_code": r["legacy_code"],
                "encoding": r["encoding"],
                "record_key": hashes[i],
                "candidates": r.get("candidates") or [],
            }
        )
    return rows


def gaiji_worklist(domain: str, run_id: str, snapshot: str, rows: list[dict]) -> dict:
    """The 外字 worklist for 文字同定: per unmapped code its count, fields, affected records."""
    codes: dict[tuple[str, str], dict] = {}
    for r in rows:
        k = (r["encoding"], r["legacy_code"])
        c = codes.setdefault(
            k,
            {
                "encoding": r["encoding"],
                "legacy_code": r["legacy_code"],
                "occurrences": 0,
                "fields": set(),
                "record_keys": set(),
                "candidates": set(),
            },
        )
        c["occurrences"] += 1
        c["fields"].add(f"{r['file']}.{r['field']}")
        c["record_keys"].add(r["record_key"])
        c["candidates"].update(r["candidates"])
    out = []
    for c in sorted(codes.values(), key=lambda x: (-x["occurrences"], x["legacy_code"])):
        out.append(
            {
                **c,
                "fields": sorted(c["fields"]),
                "record_keys": sorted(c["record_keys"]),
                "records": len(c["record_keys"]),
                "candidates": sorted(c["candidates"]),
            }
        )
    return {
        "domain": domain,
        "run_id": run_id,
        "snapshot": snapshot,
        "unmapped_codes": len(out),
        "occurrences": sum(c["occurrences"] for c in out),
        "codes": out,
        "note": "文字同定 worklist: legacy codes missing from the city's 外字 table; record keys are keyed hashes",
    }
