"""The difference (差分) between two validated snapshots of a domain, and its hand-off set.

:func:`diff_table` compares a base and a new table of one standard layout, per business key (the
table's ``business_keys``, the target's primary key): keys only in the new table are inserts,
keys only in the base deletes, and keys in both whose row differs updates (with the columns that
changed). The matched rows' values are compared column by column where they are, inside the
restricted zone: typed equality (Arrow ``equal``; a null equals only a null) when both snapshots
hold the column in the same type — exact, and the cutover window builds no text nor hash of a
million rows (it used to hash every row's canonical text on both sides: two thirds of the diff's
time) — and keyed 64-bit hashes of the canonical texts (:func:`ikou.hashing.keyed_hash_array`,
SipHash under a key derived from the HMAC secret) where the types differ. What a report may see
is :meth:`TableDiff.summary` — counts and column names.
The join is a hash join over the key texts (Arrow ``index_in``) and every step is
vectorised: linear in rows, no per-row Python loop.

The delta set (``handoff/{domain}/{run}/`` like the full one): per standard table
``TABLE.delta.csv`` in the full hand-off's CSV dialect with a first column ``_op`` — ``I``
(insert: the whole new row), ``U`` (update: the whole new row), ``D`` (delete: the key columns,
every other field empty) — rows in that order, then ``manifest.json`` (written last) with
``kind: delta``, ``base_sha256`` (the hand-off manifest sha256 the target must hold: what the load
log recorded for the base) and ``result_sha256`` (the manifest sha256 of the full hand-off of the
new snapshot: what a full load of it would log, and what the load log records after the delta).
Applying it: :mod:`ikou.load.delta_apply`.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ikou.domains import registry
from ikou.domains.mapping import arrow_type
from ikou.errors import ControlMismatch, Refused, Unreadable
from ikou.hashing import keyed_hash_array
from ikou.load import (
    CSV_DIALECT,
    HANDOFF_MANIFEST,
    LAYOUT,
    publish_full_handoff,
    publish_handoff,
    write_csv,
    write_manifest,
)
from ikou.load.target import table_name
from ikou.pipeline import StageResult
from ikou.storage import Store, code_version, join, publication, sha256_file, zone_uri

KIND = "delta"
OP_COLUMN = "_op"
OPS = {"I": "insert", "U": "update", "D": "delete"}
KEY_SEPARATOR = "\x1f"


class DeltaError(Refused):
    """Two snapshots that cannot be compared (a layout that differs, a business key held twice)."""


def delta_file(table: str) -> str:
    return f"{table}.delta.csv"


def canonical_text(arr) -> pa.Array:
    """Values as text that is the same for both snapshots and inside the target database:
    ``'v' + text`` (dates ``YYYY-MM-DD``, decimals with the column's scale, integers in digits),
    and ``''`` for null (so a null never equals a value)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    text = arr.cast(pa.string())
    return pc.fill_null(pc.binary_join_element_wise(pa.scalar("v"), text, ""), "")


def key_array(table: pa.Table, keys: list[str]) -> pa.Array:
    """The business key of every row as one text (key columns' canonical texts joined), in Arrow."""
    parts = [canonical_text(table.column(k)) for k in keys]
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, KEY_SEPARATOR)


def key_text(table: pa.Table, keys: list[str]) -> np.ndarray:
    """:func:`key_array` as a numpy array of Python strings."""
    return key_array(table, keys).to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class TableDiff:
    """The difference of one table: row positions (never values) and per-column change counts."""

    table: str
    inserts: np.ndarray  # positions in the new table
    updates: np.ndarray  # positions in the new table
    deletes: np.ndarray  # positions in the base table
    changed_columns: dict[str, int] = field(default_factory=dict)
    rows_base: int = 0
    rows_new: int = 0

    def summary(self) -> dict:
        """What a report may see: counts and column names only."""
        return {
            "table": self.table,
            "rows_base": self.rows_base,
            "rows_new": self.rows_new,
            "inserts": int(len(self.inserts)),
            "updates": int(len(self.updates)),
            "deletes": int(len(self.deletes)),
            "unchanged": self.rows_new - int(len(self.inserts)) - int(len(self.updates)),
            "changed_columns": {c: n for c, n in self.changed_columns.items() if n},
        }


def _check_columns(domain: str, table_layout, side: str, table: pa.Table) -> None:
    names = [c.name for c in table_layout.columns]
    if table.column_names != names:
        raise DeltaError(
            f"{domain}.{table_layout.name}: the {side} snapshot's columns differ from the layout "
            f"(layout {len(names)} columns; a delta needs both snapshots in the same layout version)"
        )


def diff_table(
    domain: str, table_layout, base: pa.Table, new: pa.Table, secret: bytes | None = None
) -> TableDiff:
    """Inserts, updates (which columns) and deletes between two validated tables, per business key."""
    _check_columns(domain, table_layout, "base", base)
    _check_columns(domain, table_layout, "new", new)
    keys = list(table_layout.business_keys)
    # the join in Arrow's hash tables over the key texts' bytes: no Python string per row (a
    # pandas index of a million object keys was two thirds of the diff's own time)
    base_keys, new_keys = key_array(base, keys), key_array(new, keys)
    for side, arr in (("base", base_keys), ("new", new_keys)):
        if pc.count_distinct(arr, mode="all").as_py() != len(arr):
            raise DeltaError(
                f"{domain}.{table_layout.name}: the {side} snapshot holds a business key "
                f"({', '.join(keys)}) more than once; the validated layout has one row a key"
            )
    pos = pc.fill_null(pc.index_in(new_keys, value_set=base_keys), -1).to_numpy()
    matched = pos >= 0
    inserts = np.flatnonzero(~matched)
    new_m = np.flatnonzero(matched)
    base_m = pos[matched]
    gone = np.ones(base.num_rows, dtype=bool)
    gone[base_m] = False
    deletes = np.flatnonzero(gone)
    # per column, the matched rows' values compared where they are (restricted zone, never
    # copied out): typed equality where both snapshots hold the layout's type (exact, and no
    # text or hash of a million rows to build in the cutover window), keyed hashes of the
    # canonical texts where the types differ (e.g. a decimal's scale); a null equals only a null
    take_b, take_n = pa.array(base_m, pa.int64()), pa.array(new_m, pa.int64())
    changed = np.zeros(len(new_m), dtype=bool)
    per_column_rows: dict[str, np.ndarray] = {}
    for c in table_layout.columns:
        if c.name in keys:
            continue
        differs = _column_differs(
            base.column(c.name), new.column(c.name), take_b, take_n,
            f"delta:{domain}:{table_layout.name}:{c.name}", secret,
        )  # fmt: skip
        per_column_rows[c.name] = differs
        changed |= differs
    new_c = new_m[changed]
    per_column = {name: int(d.sum()) for name, d in per_column_rows.items()}
    return TableDiff(
        table=table_layout.name,
        inserts=inserts,
        updates=new_c,
        deletes=deletes,
        changed_columns=per_column,
        rows_base=base.num_rows,
        rows_new=new.num_rows,
    )


def _column_differs(base_col, new_col, take_b, take_n, purpose: str, secret: bytes | None):
    """Whether each matched row's value differs (bool array in the order of ``take_n``)."""
    if base_col.type == new_col.type:
        b, n = base_col.take(take_b), new_col.take(take_n)
        same = pc.or_(pc.fill_null(pc.equal(b, n), False), pc.and_(pc.is_null(b), pc.is_null(n)))
        return ~np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
    hb = keyed_hash_array(
        canonical_text(base_col.take(take_b)).to_numpy(zero_copy_only=False), purpose, secret
    )
    hn = keyed_hash_array(
        canonical_text(new_col.take(take_n)).to_numpy(zero_copy_only=False), purpose, secret
    )
    return hb != hn


def delta_rows(table_layout, base: pa.Table, new: pa.Table, diff: TableDiff) -> pa.Table:
    """The rows of ``TABLE.delta.csv``: ``_op`` first, then the layout's columns; I and U rows
    whole, D rows with the key columns only."""
    schema = pa.schema([pa.field(c.name, arrow_type(c)) for c in table_layout.columns])
    keys = set(table_layout.business_keys)
    ins = new.take(pa.array(diff.inserts, pa.int64())).cast(schema)
    upd = new.take(pa.array(diff.updates, pa.int64())).cast(schema)
    gone = base.take(pa.array(diff.deletes, pa.int64())).cast(schema)
    gone = pa.table(
        [
            gone.column(f.name) if f.name in keys else pa.nulls(gone.num_rows, f.type)
            for f in schema
        ],
        schema=schema,
    )
    body = pa.concat_tables([ins, upd, gone])
    ops = np.repeat(np.array(["I", "U", "D"], dtype=object), [len(ins), len(upd), len(gone)])
    return body.add_column(0, OP_COLUMN, pa.array(ops, pa.string()))


def build_delta_handoff(
    domain_id: str,
    base_tables: dict[str, pa.Table],
    new_tables: dict[str, pa.Table],
    work: Path,
    *,
    run_id: str,
    snapshot: str,
    base_snapshot: str,
    mode: str,
    base_sha256: str,
    result_sha256: str,
    bom: bool = False,
    secret: bytes | None = None,
) -> tuple[dict[str, Path], dict]:
    """Write ``TABLE.delta.csv`` of every standard table into ``work``; return (files by name, the
    manifest). Publish with :func:`ikou.load.publish_handoff` (S3) or :func:`write_manifest`."""
    d = registry().get(domain_id)
    files: dict[str, Path] = {}
    entries = []
    for t in d.layout.tables:
        diff = diff_table(domain_id, t, base_tables[t.name], new_tables[t.name], secret)
        rows = delta_rows(t, base_tables[t.name], new_tables[t.name], diff)
        path = work / delta_file(t.name)
        write_csv(rows, path, bom)
        files[path.name] = path
        s = diff.summary()
        entries.append(
            {
                "table": t.name,
                "label_ja": t.label_ja,
                "target_table": table_name(domain_id, t.name),
                "file": path.name,
                "rows": rows.num_rows,
                "bytes": path.stat().st_size,
                "sha256": sha256_file(path),
                "business_keys": list(t.business_keys),
                "op_column": OP_COLUMN,
                "ops": {"I": s["inserts"], "U": s["updates"], "D": s["deletes"]},
                "rows_base": s["rows_base"],
                "rows_result": s["rows_new"],
                "changed_columns": s["changed_columns"],
                "columns": [c.name for c in t.columns],
            }
        )
    manifest = {
        "format": LAYOUT,
        "kind": KIND,
        "domain": domain_id,
        "name_ja": d.name_ja,
        "run_id": run_id,
        "snapshot": snapshot,
        "base_snapshot": base_snapshot,
        "mode": mode,
        "spec_version": d.spec.version,
        "layout_version": d.layout.layout_version,
        "base_sha256": base_sha256,
        "result_sha256": result_sha256,
        "tables": entries,
        "csv_dialect": {**CSV_DIALECT, "bom": bom},
        "op_codes": OPS,
        "code_version": code_version(),
    }
    return files, manifest


def summary(manifest: dict) -> dict:
    """A delta manifest as a report may show it: per table the counts and changed column names."""
    return {
        "domain": manifest["domain"],
        "snapshot": manifest["snapshot"],
        "base_snapshot": manifest["base_snapshot"],
        "tables": [
            {
                k: e[k]
                for k in ("table", "rows_base", "rows_result", "ops", "changed_columns", "rows")
            }
            for e in manifest["tables"]
        ],
    }


def publish_delta(
    store: Store,
    domain_id: str,
    base: StageResult,
    validated: StageResult,
    *,
    run_id: str,
    mode: str,
    atena_map: dict[str, str] | None = None,
    bom: bool = False,
    secret: bytes | None = None,
) -> dict:
    """The hand-off of a delta run, from two published validated outputs (``base``: the base
    snapshot's, whose full hand-off set was published by its load; ``validated``: this run's):

    1. the full hand-off set of this run at ``handoff/{domain}/{run}/`` (what a full load of the
       new snapshot would publish): its manifest sha256 is the delta's ``result_sha256``;
    2. the delta set at ``handoff/{domain}/{run}/delta/`` (data files, ``manifest.json``, then
       ``_manifest.json``), ``base_sha256`` being the base run's hand-off manifest sha256.

    Idempotent, like the full hand-off: a published set is returned as it is. Returns the
    prefixes (this run's hand-off, its delta set, the base run's hand-off), both sha256, the
    delta manifest's sha256 and its :func:`summary`."""
    import pyarrow.parquet as pq

    d = registry().get(domain_id)
    base_prefix = zone_uri("handoff", domain_id, base.run_id)
    if not publication.is_published(store, base_prefix):
        raise DeltaError(
            f"{domain_id}: the base snapshot {base.snapshot} (run {base.run_id}) has no published "
            "hand-off set; a delta needs the full load of its base first"
        )
    base_sha = publication.read_manifest(store, base_prefix)["handoff_manifest_sha256"]
    prefix = zone_uri("handoff", domain_id, run_id)
    delta_prefix = join(prefix, "delta")
    with tempfile.TemporaryDirectory(prefix="ikou-delta-") as tmp, ThreadPoolExecutor(1) as pool:
        work = Path(tmp)
        # The full hand-off set (CSV written, hashed, uploaded: Arrow, hashlib and the S3 client
        # work without the GIL) is published beside the diff, which needs only its sha256, for
        # the manifest: the window pays the longer of the two, not their sum. A failure of either
        # is raised; the full set is idempotent and its manifest written last.
        full = pool.submit(
            publish_full_handoff, d, validated, prefix, store, work / "full", run_id=run_id,
            mode=mode, atena_map=atena_map, bom=bom,
        )  # fmt: skip
        if publication.is_published(store, delta_prefix):
            published = publication.read_manifest(store, delta_prefix)
            manifest = json.loads(store.get_bytes(join(delta_prefix, HANDOFF_MANIFEST)))
            sha = published["handoff_manifest_sha256"]
            result_sha, _ = full.result()
        else:
            sides = {}
            for side, res in (("base", base), ("new", validated)):
                _, paths = publication.fetch_tables(store, res.uri, work / side)
                sides[side] = {t.name: pq.read_table(paths[t.name]) for t in d.layout.tables}
            (work / "delta").mkdir()
            files, manifest = build_delta_handoff(
                domain_id, sides["base"], sides["new"], work / "delta", run_id=run_id,
                snapshot=validated.snapshot, base_snapshot=base.snapshot, mode=mode,
                base_sha256=base_sha, result_sha256="", bom=bom, secret=secret,
            )  # fmt: skip
            del sides
            result_sha, _ = full.result()
            manifest["result_sha256"] = result_sha
            marker = {
                "zone": "handoff",
                "stage": "diff",
                "kind": KIND,
                "domain": domain_id,
                "run_id": run_id,
                "snapshot": validated.snapshot,
                "base_snapshot": base.snapshot,
                "input": validated.uri,
                "base_input": base.uri,
            }
            sha = publish_handoff(store, delta_prefix, files, manifest, marker)
    return {
        "handoff": prefix,
        "delta": delta_prefix,
        "base_handoff": base_prefix,
        "base_sha256": base_sha,
        "result_sha256": result_sha,
        "manifest_sha256": sha,
        "summary": summary(manifest),
    }


def fetch_delta_set(store: Store, delta_prefix: str, work: Path) -> tuple[dict, dict[str, Path]]:
    """A published delta set fetched into ``work`` (each file sha256-checked): (manifest, CSVs)."""
    published = publication.read_manifest(store, delta_prefix)
    for f in published["files"]:
        if not f["name"].startswith("_"):
            publication.fetch(store, delta_prefix, f["name"], work, published)
    return read_delta_set(work)


def read_delta_set(folder: Path) -> tuple[dict, dict[str, Path]]:
    """A published delta set in a folder: (manifest, CSV by table), each file's sha256 checked."""
    mpath = Path(folder) / HANDOFF_MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Unreadable(f"{mpath}: no readable delta manifest ({type(exc).__name__})") from exc
    if manifest.get("kind") != KIND:
        raise DeltaError(f"{mpath}: kind {manifest.get('kind')!r} is not a delta set (kind: delta)")
    csvs = {}
    for e in manifest["tables"]:
        p = Path(folder) / e["file"]
        if not p.exists() or sha256_file(p) != e["sha256"]:
            raise ControlMismatch(
                f"{p}: missing or its sha256 differs from the delta manifest; the set is not "
                "the one published"
            )
        csvs[e["table"]] = p
    return manifest, csvs


__all__ = [
    "KIND",
    "OP_COLUMN",
    "DeltaError",
    "TableDiff",
    "build_delta_handoff",
    "canonical_text",
    "delta_file",
    "delta_rows",
    "diff_table",
    "fetch_delta_set",
    "publish_delta",
    "key_text",
    "read_delta_set",
    "summary",
    "write_manifest",
]
