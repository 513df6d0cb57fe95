"""Reconciliation between the validated standard-layout output and what the target holds.

As data-validation tools do, on both sides:

* row counts;
* per-column aggregates — count, null count, and for integers and decimals the sum (the control
  totals); min and max of every column. Min and max of a ``code`` column (a code list value) are
  reported as they are; every other min / max could be a personal value (the earliest birth date,
  a name) and is compared and reported as a keyed hash only;
* a keyed hash (HMAC-SHA256) per business key with a keyed hash of the whole row: a key on one
  side only is *missing* (in the validated output, not in the target) or *extra*; a key on both
  sides with different row hashes is *changed*.

Mismatching records are listed by the keyed hash of their business key — the same hash
findings use for a record of that standard table (``record:{domain}:{table}``), so a mismatch
can be joined with the gate findings — never by value. The target is streamed (server-side
cursor on PostgreSQL), never pulled into a dataframe. On PostgreSQL the aggregates are computed
by the database (an independent reading of what it holds; strings compared in the ``C``
collation, i.e. code-point order like Arrow's); SQLite has no exact decimal type, so an SQLite
target's aggregates come from the streamed rows.

Tolerance (``reconciliation_tolerance`` of the domain in plan.yaml, a share of rows, default 0):
up to ``floor(tolerance × source rows)`` mismatching records are tolerated (and the aggregate
differences they cause); they are still counted and listed. ``mismatches`` — what
``gate_reconciliation`` requires to be 0 — counts the mismatches beyond the tolerance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from decimal import Decimal

from ikou.load.target import Target, table_name

MAX_LISTED = 100  # mismatching keys listed per kind and table (all are counted)


# ----------------------------------------------------------------------------- canonical text


def _converter(col):
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


NULL = "\x00"


def key_purpose(domain: str, table: str) -> str:
    return f"record:{domain}:{table}"


def key_hash(domain: str, table: str, key_values, secret: bytes) -> str:
    """The keyed hash naming a record of a standard table in reports (ikou.hashing.record_key)."""
    msg = f"{key_purpose(domain, table)}\x1f" + "\x1e".join(str(v) for v in key_values)
    return hmac.new(secret, msg.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class _Digester:
    """Keyed digests of rows: business key -> row, as 16-byte digests (memory: ~100 B a row)."""

    def __init__(self, domain: str, table_layout, secret: bytes):
        self.cols = list(table_layout.columns)
        names = [c.name for c in self.cols]
        self.key_idx = [names.index(k) for k in table_layout.business_keys]
        self.conv = [_converter(c) for c in self.cols]
        self.base_key = hmac.new(
            secret, f"{key_purpose(domain, table_layout.name)}\x1f".encode(), hashlib.sha256
        )
        self.base_row = hmac.new(
            secret, f"reconcile-row:{domain}:{table_layout.name}\x1f".encode(), hashlib.sha256
        )
        self.digests: dict[bytes, bytes] = {}
        self.rows = 0
        self.duplicates = 0
        self.aggs = [_Agg(c) for c in self.cols]
        self.collect_aggs = False

    def add(self, row) -> None:
        texts = [f(v) for f, v in zip(self.conv, row)]
        if self.collect_aggs:
            for a, t in zip(self.aggs, texts):
                a.add(t)
        k = self.base_key.copy()
        k.update("\x1e".join(texts[i] or "" for i in self.key_idx).encode("utf-8"))
        r = self.base_row.copy()
        r.update("\x1e".join(NULL if t is None else t for t in texts).encode("utf-8"))
        kd = k.digest()[:16]
        if kd in self.digests:
            self.duplicates += 1
        self.digests[kd] = r.digest()[:16]
        self.rows += 1


class _Agg:
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
        conv = _converter(self.col)
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
        conv = _converter(c)
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
        conv = _converter(c)
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


def _public_aggs(aggs: dict[str, dict], cols, secret: bytes, purpose: str) -> dict[str, dict]:
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


def reconcile_table(
    domain: str, table_layout, validated, target: Target, secret: bytes, tolerance: float = 0.0
) -> dict:
    """Compare one standard table; returns counts, keyed hashes and aggregates fit for a report."""
    name = table_name(domain, table_layout.name)
    cols = list(table_layout.columns)
    col_names = [c.name for c in cols]
    purpose = f"reconcile-agg:{domain}:{table_layout.name}"
    src = _Digester(domain, table_layout, secret)
    for row in zip(*[validated.column(n).to_pylist() for n in col_names]):
        src.add(row)
    agg_src = aggregates_source(validated, cols)
    allowed = math.floor(tolerance * validated.num_rows + 1e-9)
    base = {
        "unit": table_layout.name,
        "target_table": name,
        "target_schema": target.schema,
        "rows_source": validated.num_rows,
        "tolerance": tolerance,
        "allowed": allowed,
    }
    if not target.exists(name):
        keys = sorted(k.hex() for k in src.digests)
        return {
            **base,
            "rows_target": 0,
            "missing": len(src.digests),
            "extra": 0,
            "changed": 0,
            "duplicate_keys": 0,
            "mismatches_found": len(src.digests),
            "mismatches": len(src.digests),
            "within_tolerance": False,
            "counts_match": False,
            "aggregates_match": False,
            "aggregate_mismatches": [],
            "mismatched_keys": keys[:MAX_LISTED],
            "mismatches_by_kind": {"missing": keys[:MAX_LISTED], "extra": [], "changed": []},
            "control_totals": {},
            "aggregates": {},
            "error": "target table missing",
        }
    tgt = _Digester(domain, table_layout, secret)
    tgt.collect_aggs = target.dialect != "postgresql"
    for row in target.stream(name, col_names):
        tgt.add(row)
    agg_tgt = (
        aggregates_postgresql(target, name, cols)
        if target.dialect == "postgresql"
        else {c.name: a.result() for c, a in zip(cols, tgt.aggs)}
    )
    missing = sorted(k.hex() for k in src.digests.keys() - tgt.digests.keys())
    extra = sorted(k.hex() for k in tgt.digests.keys() - src.digests.keys())
    changed = sorted(
        k.hex() for k, h in src.digests.items() if k in tgt.digests and tgt.digests[k] != h
    )
    agg_bad = sorted(c for c in agg_src if agg_src[c] != agg_tgt.get(c))
    row_mismatches = len(missing) + len(extra) + len(changed) + src.duplicates + tgt.duplicates
    found = row_mismatches + (len(agg_bad) if row_mismatches == 0 else 0)
    within = row_mismatches <= allowed and (row_mismatches > 0 or not agg_bad)
    counts_diff = abs(validated.num_rows - tgt.rows)
    control = control_totals(cols, agg_src, agg_tgt)
    pub_src = _public_aggs(agg_src, cols, secret, purpose)
    pub_tgt = _public_aggs(agg_tgt, cols, secret, purpose)
    return {
        **base,
        "rows_target": tgt.rows,
        "missing": len(missing),
        "extra": len(extra),
        "changed": len(changed),
        "duplicate_keys": src.duplicates + tgt.duplicates,
        "mismatches_found": found,
        "mismatches": 0 if within else found,
        "within_tolerance": within,
        "counts_match": counts_diff == 0 or counts_diff <= allowed,
        "aggregates_match": not agg_bad,
        "aggregate_mismatches": agg_bad,
        "mismatched_keys": sorted(set(missing) | set(extra) | set(changed))[:MAX_LISTED],
        "mismatches_by_kind": {
            "missing": missing[:MAX_LISTED],
            "extra": extra[:MAX_LISTED],
            "changed": changed[:MAX_LISTED],
        },
        "control_totals": control,
        "aggregates": {
            c.name: {
                "source": pub_src[c.name],
                "target": pub_tgt[c.name],
                "match": agg_src[c.name] == agg_tgt[c.name],
            }
            for c in cols
        },
    }


def table_digest(target: Target, domain: str, table_layout, secret: bytes = b"digest") -> str:
    """One digest of a target table's whole contents, independent of row order (tests: two loads
    give identical tables)."""
    d = _Digester(domain, table_layout, secret)
    for row in target.stream(
        table_name(domain, table_layout.name), [c.name for c in table_layout.columns]
    ):
        d.add(row)
    h = hashlib.sha256(f"{d.rows}:{d.duplicates}".encode())
    for k in sorted(d.digests):
        h.update(k)
        h.update(d.digests[k])
    return h.hexdigest()


# ----------------------------------------------------------------------------- after a delta
#
# A delta changes a few rows of a large table; streaming the whole table out to prove it equals
# the new snapshot would cost what the full load saved. So the proof is computed inside the
# database: per row a keyed hash of its canonical text (``'v' + text`` a value, ``''`` a null,
# fields joined by U+001F, behind a key derived from the HMAC secret), folded into one
# order-independent digest — the count and the sum of the hashes' first 64 bits (SQL ``sum``) —
# and compared with the same fold over the new validated table. PostgreSQL computes it in one
# query (``sha256``); SQLite has no hash function, so an SQLite target's rows are streamed and
# folded in Python. The aggregates and control totals are compared as in a full reconciliation,
# and every key the delta touched is compared in full: its row text (I / U) or its absence (D).


def _digest_key(domain: str, table: str, secret: bytes) -> str:
    """The per-table key of the row digest (never the secret itself: it is sent to the database)."""
    return hmac.new(
        secret, f"delta-digest:{domain}:{table}".encode("utf-8"), hashlib.sha256
    ).hexdigest()


def _fold(count: int, total: int) -> str:
    return f"{count}:{total % (1 << 64):016x}"


def _row_hash(key: str, text: str) -> int:
    return int.from_bytes(
        hashlib.sha256(f"{key}\x1f{text}".encode("utf-8")).digest()[:8], "big", signed=True
    )


def source_digest(table_layout, table, key: str, touched) -> tuple[int, dict[str, str]]:
    """The validated table's side: the sum of the keyed row hashes (rows folded in batches, never
    all as Python strings at once) and the canonical row text of each touched key present."""
    import pandas as pd
    import pyarrow.compute as pc

    from ikou.load.delta import canonical_text, key_text

    canon = [canonical_text(table.column(c.name)) for c in table_layout.columns]
    rows = canon[0] if len(canon) == 1 else pc.binary_join_element_wise(*canon, "\x1f")
    total = 0
    for start in range(0, len(rows), 100_000):
        total += sum(_row_hash(key, r) for r in rows.slice(start, 100_000).to_pylist())
    wanted = list(touched)
    pos = pd.Index(key_text(table, list(table_layout.business_keys))).get_indexer(wanted)
    return total, {k: rows[int(p)].as_py() for k, p in zip(wanted, pos) if p >= 0}


def _sql_text(col) -> str:
    q = f'"{col.name}"'
    inner = f"to_char({q}, 'YYYY-MM-DD')" if col.type == "date" else f"{q}::text"
    return f"coalesce('v' || {inner}, '')"


def _sqlite_text(value) -> str:
    return "" if value is None else f"v{value}"


def _target_digest_postgresql(
    target: Target, name: str, table_layout, key: str, changed: set[str]
) -> tuple[int, int, dict[str, str], dict[str, dict]]:
    """One scan: the count, the sum of the keyed row hashes and the aggregates; then the rows of
    the touched keys, joined on the key columns (the primary key's index)."""
    import csv
    import io

    from ikou.load.target import column_sql

    cols = list(table_layout.columns)
    keys = list(table_layout.business_keys)
    by_name = {c.name: c for c in cols}
    row_sql = " || chr(31) || ".join(_sql_text(c) for c in cols)
    key_sql = " || chr(31) || ".join(_sql_text(by_name[k]) for k in keys)
    found: dict[str, str] = {}
    raw = target.engine().raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "SELECT coalesce(sum(('x' || substr(encode(sha256(convert_to("
            f"%s || chr(31) || {row_sql}, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint), 0), "
            f"COUNT(*), {', '.join(aggregate_parts(cols))} FROM {target.qualified(name)}",
            (key,),
        )
        row = list(cur.fetchone())
        total = int(row.pop(0))
        aggs = parse_aggregates(row, cols)
        count = int(row[0])
        if changed:
            typed = ", ".join(
                column_sql(by_name[k], "postgresql").removesuffix(" NOT NULL") for k in keys
            )
            cur.execute(f"CREATE TEMP TABLE ikou_delta_keys ({typed}) ON COMMIT DROP")
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(_key_values(k) for k in changed)
            buf.seek(0)
            names = ", ".join(f'"{k}"' for k in keys)
            cur.copy_expert(f"COPY ikou_delta_keys ({names}) FROM STDIN WITH (FORMAT csv)", buf)
            cur.execute("ANALYZE ikou_delta_keys")
            cur.execute(
                f"SELECT {key_sql}, {row_sql} FROM {target.qualified(name)} "
                f"JOIN ikou_delta_keys USING ({names})"
            )
            found = {k: r for k, r in cur.fetchall()}
        raw.rollback()
    finally:
        raw.close()
    return count, total, found, aggs


def _target_digest_sqlite(
    target: Target, name: str, table_layout, key: str, changed: set[str], aggs: list
) -> tuple[int, int, dict[str, str]]:
    names = [c.name for c in table_layout.columns]
    key_idx = [names.index(k) for k in table_layout.business_keys]
    convs = [_converter(c) for c in table_layout.columns]
    count = total = 0
    found: dict[str, str] = {}
    for row in target.stream(name, names):
        texts = [_sqlite_text(v) for v in row]
        text = "\x1f".join(texts)
        total += _row_hash(key, text)
        count += 1
        for a, f, v in zip(aggs, convs, row):
            a.add(f(v))
        if changed:
            k = "\x1f".join(texts[i] for i in key_idx)
            if k in changed:
                found[k] = text
    return count, total, found


def delta_keys(table_layout, delta_csv) -> dict[str, str]:
    """The keys a delta file touches: key text -> op (``I`` / ``U`` / ``D``)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from ikou.load.delta import OP_COLUMN, key_text

    keys = list(table_layout.business_keys)
    t = pacsv.read_csv(
        delta_csv,
        convert_options=pacsv.ConvertOptions(
            include_columns=[OP_COLUMN, *keys],
            column_types={k: pa.string() for k in [OP_COLUMN, *keys]},
            strings_can_be_null=False,
        ),
    )
    return dict(zip(key_text(t, keys).tolist(), t.column(OP_COLUMN).to_pylist()))


def _key_values(text: str) -> list[str]:
    return [p[1:] for p in text.split("\x1f")]


def reconcile_delta_table(
    domain: str, table_layout, validated, target: Target, secret: bytes, delta_csv
) -> dict:
    """After a delta: prove the target table equals the new validated table (counts, totals and
    aggregates, an in-database digest of every row) and compare every key the delta touched in
    full. Returns counts, digests and keyed hashes only."""
    name = table_name(domain, table_layout.name)
    cols = list(table_layout.columns)
    key = _digest_key(domain, table_layout.name, secret)
    touched = delta_keys(table_layout, delta_csv)
    src_total, by_key = source_digest(table_layout, validated, key, touched)
    base = {"unit": table_layout.name, "target_table": name, "target_schema": target.schema}
    if not target.exists(name):
        return {**base, "rows_source": validated.num_rows, "rows_target": 0, "mismatches": 1,
                "error": "target table missing"}  # fmt: skip
    aggs = [_Agg(c) for c in cols]
    if target.dialect == "postgresql":
        count, total, found, agg_tgt = _target_digest_postgresql(
            target, name, table_layout, key, set(touched)
        )
    else:
        count, total, found = _target_digest_sqlite(
            target, name, table_layout, key, set(touched), aggs
        )
        agg_tgt = {c.name: a.result() for c, a in zip(cols, aggs)}
    agg_src = aggregates_source(validated, cols)
    bad_keys = []
    for k, op in touched.items():
        want = None if op == "D" else by_key.get(k)
        if found.get(k) != want or (op != "D" and want is None):
            bad_keys.append(key_hash(domain, table_layout.name, _key_values(k), secret))
    agg_bad = sorted(c for c in agg_src if agg_src[c] != agg_tgt.get(c))
    digest_src, digest_tgt = _fold(validated.num_rows, src_total), _fold(count, total)
    mismatches = (
        len(bad_keys) + (digest_src != digest_tgt) + len(agg_bad) + (count != validated.num_rows)
    )
    return {
        **base,
        "rows_source": validated.num_rows,
        "rows_target": count,
        "counts_match": count == validated.num_rows,
        "digest_source": digest_src,
        "digest_target": digest_tgt,
        "digest_match": digest_src == digest_tgt,
        "aggregates_match": not agg_bad,
        "aggregate_mismatches": agg_bad,
        "control_totals": control_totals(cols, agg_src, agg_tgt),
        "changed_keys": len(touched),
        "changed_mismatches": len(bad_keys),
        "mismatched_keys": sorted(bad_keys)[:MAX_LISTED],
        "mismatches": mismatches,
    }
