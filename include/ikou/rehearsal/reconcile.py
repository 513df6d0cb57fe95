"""Reconciliation between the validated standard-layout output and what the target holds.

As data-validation tools do: row counts, per-column aggregates (count, null count; sum, min,
max for amounts and integers) and a keyed hash per business key and per row compared on both
sides. Mismatches are listed by the keyed hash of their business key, never by value. The
target is streamed (server-side cursor), never pulled into a dataframe.
"""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

from ikou.load.target import Target, canonical

MAX_LISTED = 100  # mismatching keys listed per table (all are counted)


def _digests(rows, key_idx: list[int], cols, secret: bytes, purpose: str) -> dict[str, str]:
    base_key = hmac.new(secret, f"{purpose}:key\x1f".encode(), hashlib.sha256)
    base_row = hmac.new(secret, f"{purpose}:row\x1f".encode(), hashlib.sha256)
    out: dict[str, str] = {}
    for row in rows:
        texts = [canonical(v, c) for v, c in zip(row, cols)]
        k = base_key.copy()
        k.update("\x1e".join(texts[i] for i in key_idx).encode("utf-8"))
        r = base_row.copy()
        r.update("\x1e".join(texts).encode("utf-8"))
        out[k.hexdigest()[:32]] = r.hexdigest()[:32]
    return out


def _aggregates_source(table, cols) -> dict[str, dict]:
    import pyarrow.compute as pc

    out = {}
    for c in cols:
        arr = table.column(c.name)
        agg = {"count": int(pc.count(arr).as_py()), "nulls": int(arr.null_count)}
        if c.type in ("decimal", "integer"):
            s = pc.sum(arr).as_py()
            agg["sum"] = None if s is None else str(Decimal(str(s)).normalize()) if c.type == "decimal" else str(s)
        out[c.name] = agg
    return out


def _aggregates_target(target: Target, name: str, cols) -> dict[str, dict]:
    parts = []
    for c in cols:
        q = f'"{c.name}"'
        parts.append(f"COUNT({q})")
        if c.type in ("decimal", "integer"):
            parts.append(f"SUM(CAST({q} AS NUMERIC))" if target.dialect == "postgresql" else f"SUM({q})")
    sql = f"SELECT COUNT(*), {', '.join(parts)} FROM {target.qualified(name)}"
    with target.engine().connect() as conn:
        row = list(conn.exec_driver_sql(sql).one())
    total = row.pop(0)
    out = {}
    for c in cols:
        count = int(row.pop(0))
        agg = {"count": count, "nulls": int(total) - count}
        if c.type in ("decimal", "integer"):
            s = row.pop(0)
            agg["sum"] = None if s is None else (str(Decimal(str(s)).normalize()) if c.type == "decimal" else str(int(s)))
        out[c.name] = agg
    return out


def reconcile_table(domain: str, table_layout, validated, target: Target, secret: bytes) -> dict:
    """Compare one standard table; returns counts and keyed hashes only."""
    name = f"{domain}__{table_layout.name}"
    cols = list(table_layout.columns)
    col_names = [c.name for c in cols]
    key_idx = [col_names.index(k) for k in table_layout.business_keys]
    purpose = f"reconcile:{domain}:{table_layout.name}"
    src_rows = zip(*[validated.column(n).to_pylist() for n in col_names])
    src = _digests(src_rows, key_idx, cols, secret, purpose)
    if not target.exists(name):
        return {"unit": table_layout.name, "rows_source": validated.num_rows, "rows_target": 0, "missing": len(src),
                "extra": 0, "changed": 0, "mismatches": len(src), "counts_match": False, "aggregates_match": False,
                "aggregate_mismatches": [], "mismatched_keys": sorted(src)[:MAX_LISTED], "target_table": name,
                "error": "target table missing"}
    tgt = _digests(target.stream(name, col_names, list(table_layout.business_keys)), key_idx, cols, secret, purpose)
    missing = [k for k in src if k not in tgt]
    extra = [k for k in tgt if k not in src]
    changed = [k for k, h in src.items() if k in tgt and tgt[k] != h]
    agg_src = _aggregates_source(validated, cols)
    agg_tgt = _aggregates_target(target, name, cols)
    agg_bad = sorted(c for c in agg_src if agg_src[c] != agg_tgt.get(c))
    mismatched = sorted(set(missing) | set(extra) | set(changed))
    return {
        "unit": table_layout.name, "target_table": name,
        "rows_source": validated.num_rows, "rows_target": len(tgt),
        "missing": len(missing), "extra": len(extra), "changed": len(changed),
        "mismatches": len(mismatched) + len(agg_bad),
        "counts_match": validated.num_rows == len(tgt),
        "aggregates_match": not agg_bad, "aggregate_mismatches": agg_bad,
        "mismatched_keys": mismatched[:MAX_LISTED],
        "control_totals": {c: agg_src[c]["sum"] for c in agg_src if "sum" in agg_src[c]},
    }
