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

The values' canonical text, the aggregates and the key hashes are in
:mod:`ikou.rehearsal.reconcile_values`; the reconciliation after a delta (an in-database digest
instead of streaming the table) in :mod:`ikou.rehearsal.reconcile_delta`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math

from ikou.load.target import Target, table_name
from ikou.rehearsal.reconcile_values import (
    MAX_LISTED,
    NULL,
    Agg,
    aggregates_postgresql,
    aggregates_source,
    canonical_converter,
    canonical_texts,
    control_totals,
    key_purpose,
    public_aggregates,
)

__all__ = ["reconcile_table", "table_digest"]


def _hmac_states(secret: bytes, prefix: bytes):
    """HMAC-SHA256 (RFC 2104) of ``secret`` split into its inner hash after the key block and
    ``prefix`` and its outer hash after the key block: ``outer.update(inner + message)`` is
    ``hmac.new(secret, prefix + message, sha256)`` without the hmac module's objects per row."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(prefix)
    return inner, hashlib.sha256(bytes(b ^ 0x5C for b in key))


class _Digester:
    """Keyed digests of rows: business key -> row, as 16-byte digests (memory: ~100 B a row).

    Rows arrive a batch at a time as Arrow arrays (:meth:`add_arrays`; the target's rows as
    tuples, :meth:`add_rows`): Arrow makes each row's canonical key and row text (string, code and
    date columns converted in Arrow, others by :func:`canonical_converter`), so Python's work per
    row is its two keyed hashes and one dict entry (issue 13 §2: per-value Python work made the
    reconciliation the city's slowest step)."""

    def __init__(self, domain: str, table_layout, secret: bytes):
        self.cols = list(table_layout.columns)
        names = [c.name for c in self.cols]
        self.key_idx = [names.index(k) for k in table_layout.business_keys]
        self.conv = [canonical_converter(c) for c in self.cols]
        self.key_inner, self.key_outer = _hmac_states(
            secret, f"{key_purpose(domain, table_layout.name)}\x1f".encode()
        )
        # the row digests' key: one per secret and table
        self.row_key = hmac.digest(
            secret, f"reconcile-row:{domain}:{table_layout.name}\x1f".encode(), "sha256"
        )
        self.digests: dict[bytes, bytes] = {}
        self.rows = 0
        self.duplicates = 0
        self.aggs = [Agg(c) for c in self.cols]
        self.collect_aggs = False

    def texts(self, i: int, arr):
        """Column ``i``'s canonical texts as an Arrow string array (nulls stay null)."""
        return canonical_texts(self.cols[i], arr, self.conv[i])

    def add_arrays(self, arrays: list) -> None:
        """One batch of rows: an Arrow array per layout column."""
        import pyarrow as pa
        import pyarrow.compute as pc

        texts = [self.texts(i, a) for i, a in enumerate(arrays)]
        if self.collect_aggs:
            for agg, t in zip(self.aggs, texts):
                for v in t.to_pylist():
                    agg.add(v)
        keys = pc.binary_join_element_wise(
            *[texts[i] for i in self.key_idx], "\x1e", null_handling="replace"
        )
        rows = pc.binary_join_element_wise(
            *texts, "\x1e", null_handling="replace", null_replacement=NULL
        )
        # the key's hash is the one reports name a record by (HMAC-SHA256, its two passes
        # started from their states after the key and the prefix); the row's is only compared,
        # never reported: keyed BLAKE2b, one pass
        inner, outer = self.key_inner.copy, self.key_outer.copy
        blake, row_key = hashlib.blake2b, self.row_key
        digests = self.digests
        before = len(digests)
        n = 0
        for kb, rb in zip(keys.cast(pa.binary()).to_pylist(), rows.cast(pa.binary()).to_pylist()):
            i, o = inner(), outer()
            i.update(kb)
            o.update(i.digest())
            digests[o.digest()[:16]] = blake(rb, key=row_key, digest_size=16).digest()
            n += 1
        # a key seen before (in this batch or an earlier one) overwrote its entry
        self.duplicates += n - (len(digests) - before)
        self.rows += n

    def add_rows(self, rows: list[tuple]) -> None:
        """One batch of rows as tuples in layout column order (a target's streamed rows)."""
        import pyarrow as pa

        if not rows:
            return
        arrays = []
        for i, values in enumerate(zip(*rows)):
            try:
                arrays.append(pa.array(values))
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: the converter decides
                arrays.append(pa.array([self.conv[i](v) for v in values], pa.string()))
        self.add_arrays(arrays)

    def add_table(self, table, names: list[str], batch: int = 65536) -> None:
        for b in table.select(names).to_batches(max_chunksize=batch):
            self.add_arrays(list(b.columns))

    def add_stream(self, stream, batch: int = 20000) -> None:
        it = iter(stream)
        while chunk := list(itertools.islice(it, batch)):
            self.add_rows(chunk)


def reconcile_table(
    domain: str, table_layout, validated, target: Target, secret: bytes, tolerance: float = 0.0
) -> dict:
    """Compare one standard table; returns counts, keyed hashes and aggregates fit for a report."""
    name = table_name(domain, table_layout.name)
    cols = list(table_layout.columns)
    col_names = [c.name for c in cols]
    purpose = f"reconcile-agg:{domain}:{table_layout.name}"
    src = _Digester(domain, table_layout, secret)
    src.add_table(validated, col_names)
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
    tgt.add_stream(target.stream(name, col_names))
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
    pub_src = public_aggregates(agg_src, cols, secret, purpose)
    pub_tgt = public_aggregates(agg_tgt, cols, secret, purpose)
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
    d.add_stream(
        target.stream(table_name(domain, table_layout.name), [c.name for c in table_layout.columns])
    )
    h = hashlib.sha256(f"{d.rows}:{d.duplicates}".encode())
    for k in sorted(d.digests):
        h.update(k)
        h.update(d.digests[k])
    return h.hexdigest()
