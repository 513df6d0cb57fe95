"""How both sides of a reconciliation read a value: canonical text, keyed hashes, aggregates.

A value's canonical text is the same for Arrow, PostgreSQL and SQLite values
(:func:`canonical_converter`); a record is named by the keyed hash of its business key
(:func:`key_hash`, the hash findings use); per-column aggregates (count, nulls, sums, min / max)
come from the validated table (:func:`aggregates_source`), from PostgreSQL in one query
(:func:`aggregates_postgresql`) or from streamed rows (:class:`Agg`), and are reported with min /
max as keyed hashes (:func:`public_aggregates`). Used by :mod:`ikou.rehearsal.reconcile` and
:mod:`ikou.rehearsal.reconcile_delta`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from decimal import Decimal

from ikou.load.target import Target

MAX_LISTED = 100  # mismatching keys listed per kind and table (all are counted)


# ----------------------------------------------------------------------------- canonical text


def canonical_converter(col):
    """value -> canonical text, the same for Arrow, PostgreSQL and SQLite values (None -> None)."""
    if col.type == "decimal":
        q = Decimal(1).scaleb(-(col.scale or 0))

        def conv(v):
            return None if v is None else str(Decimal(str(v)).quantize(q))
    elif col.type == "integer":

        def conv(v):
            return None if v is None else str(int(v))
    elif col.type == "date":

        def conv(v):
            if v is None:
                return None
            return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v)[:10]
    else:

        def conv(v):
            return None if v is None else str(v)

    return conv


def canonical_texts(col, arr, conv=None):
    """An Arrow array of ``col``'s values -> their canonical texts as an Arrow string array, the
    same texts :func:`canonical_converter` gives value by value (nulls stay null). String, code
    and date columns are converted in Arrow; the others value by value by ``conv`` (the column's
    :func:`canonical_converter`, made once by the caller for a column read in many batches)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if col.type in ("string", "code") and pa.types.is_string(arr.type):
        return arr
    if col.type in ("string", "code") and pa.types.is_large_string(arr.type):
        return arr.cast(pa.string())
    if col.type == "date" and pa.types.is_date32(arr.type):
        return pc.cast(arr, pa.string())  # ISO 8601, as date.isoformat()
    conv = conv or canonical_converter(col)
    return pa.array([conv(v) for v in arr.to_pylist()], pa.string())


NULL = "\x00"


def key_purpose(domain: str, table: str) -> str:
    return f"record:{domain}:{table}"


def key_hash(domain: str, table: str, key_values, secret: bytes) -> str:
    """The keyed hash naming a record of a standard table in reports (ikou.hashing.record_key)."""
    msg = f"{key_purpose(domain, table)}\x1f" + "\x1e".join(str(v) for v in key_values)
    return hmac.new(secret, msg.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class Agg:
    """Aggregates of one column from canonical texts (the SQLite target's side)."""

    def __init__(self, col):
        self.col = col
        self.count = 0
        self.nulls = 0
        self.sum = Decimal(0) if col.type in ("integer", "decimal") else None
        self.min = None
        self.max = None

    def add(self, t: str | None) -> None:
        if t is None:
            self.nulls += 1
            return
        self.count += 1
        if self.sum is not None:
            v = Decimal(t)
            self.sum += v
            if self.min is None or v < self.min:
                self.min = v
            if self.max is None or v > self.max:
                self.max = v
        else:
            if self.min is None or t < self.min:
                self.min = t
            if self.max is None or t > self.max:
                self.max = t

    def result(self) -> dict:
        conv = canonical_converter(self.col)
        return _agg_dict(
            self.col,
            self.count,
            self.nulls,
            self.sum if self.count else None,
            conv(self.min),
            conv(self.max),
        )


def _agg_dict(col, count, nulls, total, mn, mx) -> dict:
    out = {"count": int(count), "nulls": int(nulls), "min": mn, "max": mx}
    if col.type in ("integer", "decimal"):
        out["sum"] = None if total is None else _sum_text(col, total)
    return out


def _sum_text(col, total) -> str:
    if col.type == "integer":
        return str(int(total))
    q = Decimal(1).scaleb(-(col.scale or 0))
    return str(Decimal(str(total)).quantize(q))


# ----------------------------------------------------------------------------- the two sides


def aggregates_source(table, cols) -> dict[str, dict]:
    import pyarrow.compute as pc

    out = {}
    for c in cols:
        arr = table.column(c.name)
        conv = canonical_converter(c)
        count = int(pc.count(arr).as_py())
        mm = pc.min_max(arr).as_py() if count else {"min": None, "max": None}
        total = pc.sum(arr).as_py() if c.type in ("integer", "decimal") and count else None
        out[c.name] = _agg_dict(
            c, count, int(arr.null_count), total, conv(mm["min"]), conv(mm["max"])
        )
    return out


def aggregate_parts(cols) -> list[str]:
    """The SQL aggregates of :func:`aggregates_postgresql` (after a leading ``COUNT(*)``)."""
    parts = []
    for c in cols:
        q = f'"{c.name}"'
        parts.append(f"COUNT({q})")
        if c.type in ("string", "code"):
            parts += [f'MIN({q} COLLATE "C")', f'MAX({q} COLLATE "C")']
        else:
            parts += [f"MIN({q})", f"MAX({q})"]
        if c.type in ("decimal", "integer"):
            parts.append(f"SUM({q})")
    return parts


def parse_aggregates(row: list, cols) -> dict[str, dict]:
    """The result of ``SELECT COUNT(*), *aggregate_parts(cols)`` as per-column aggregates."""
    row = list(row)
    total = int(row.pop(0))
    out = {}
    for c in cols:
        conv = canonical_converter(c)
        count = int(row.pop(0))
        mn, mx = row.pop(0), row.pop(0)
        s = row.pop(0) if c.type in ("decimal", "integer") else None
        out[c.name] = _agg_dict(c, count, total - count, s, conv(mn), conv(mx))
    return out


def aggregates_postgresql(target: Target, name: str, cols) -> dict[str, dict]:
    sql = f"SELECT COUNT(*), {', '.join(aggregate_parts(cols))} FROM {target.qualified(name)}"
    with target.engine().connect() as conn:
        row = list(conn.exec_driver_sql(sql).one())
    return parse_aggregates(row, cols)


# ----------------------------------------------------------------------------- comparison


def public_aggregates(aggs: dict[str, dict], cols, secret: bytes, purpose: str) -> dict[str, dict]:
    """Aggregates fit for a report: min / max of non-code columns as keyed hashes."""
    by_name = {c.name: c for c in cols}
    out = {}
    for name, a in aggs.items():
        a = dict(a)
        if by_name[name].type != "code":
            for k in ("min", "max"):
                if a[k] is not None:
                    a[k] = (
                        "hmac:"
                        + hmac.new(
                            secret,
                            f"{purpose}:{name}:{k}\x1f{a[k]}".encode("utf-8"),
                            hashlib.sha256,
                        ).hexdigest()[:16]
                    )
        out[name] = a
    return out


def control_totals(cols, agg_src: dict, agg_tgt: dict) -> dict[str, dict]:
    """The sums of the integer and decimal columns on both sides."""
    return {
        c.name: {
            "source": agg_src[c.name].get("sum"),
            "target": agg_tgt[c.name].get("sum"),
            "match": agg_src[c.name].get("sum") == agg_tgt[c.name].get("sum"),
        }
        for c in cols
        if c.type in ("integer", "decimal")
    }
