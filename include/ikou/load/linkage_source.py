"""Where the changes of a linkage period come from (データ連携, ``ikou link``): per standard table,
rows in the delta layout of :mod:`ikou.load.delta` (``_op`` I / U / D, then the layout's columns;
D rows carry the key only).

* :func:`changes_from_delta_set` -- a delta set the standard system's vendor handed over
  (``TABLE.delta.csv`` + ``manifest.json`` with ``kind: delta``, each file sha256-checked).
* :func:`changes_from_live` -- the target's live tables between two load-log entries: the base is
  the live state before the period's first load (its hand-off set, sha256-checked against the
  load log), the result the state after the period's last load (the live tables themselves when
  that load is the latest, else its hand-off set); the difference is
  :func:`ikou.load.delta.diff_table` (keyed hashes), never a second diff. The domain's first live
  load is the mainframe's own data: it is the base, not a change to send back.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from ikou.domains import registry
from ikou.domains.mapping import arrow_type
from ikou.errors import BadArgument, ControlMismatch, Refused
from ikou.load.control import Control
from ikou.load.delta import OP_COLUMN, delta_rows, diff_table, read_delta_set
from ikou.load.target import LIVE_SCHEMA, Target, table_name
from ikou.storage import Store, publication, zone_uri

JST = dt.timezone(dt.timedelta(hours=9))


def read_csv_table(path: Path, table_layout, op: bool = False) -> pa.Table:
    """A hand-off CSV (or a delta CSV with ``op``) as a table typed by the layout (the hand-off
    dialect: an empty unquoted field is null)."""
    import pyarrow.csv as pacsv

    types = {c.name: arrow_type(c) for c in table_layout.columns}
    if op:
        types = {OP_COLUMN: pa.string(), **types}
    t = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    return t.select(list(types))


def changes_from_delta_set(domain_id: str, folder: Path) -> tuple[dict[str, pa.Table], dict]:
    """The changes a vendor's delta set holds: (rows by table, where they came from)."""
    manifest, csvs = read_delta_set(Path(folder))
    if manifest.get("domain") != domain_id:
        raise BadArgument(
            f"--from-delta {folder}: the delta set is of domain {manifest.get('domain')!r}, "
            f"not {domain_id!r}"
        )
    d = registry().get(domain_id)
    tables = {t.name: read_csv_table(csvs[t.name], t, op=True) for t in d.layout.tables}
    source = {
        "kind": "delta_set",
        "snapshot": manifest.get("snapshot"),
        "base_sha256": manifest.get("base_sha256"),
        "result_sha256": manifest.get("result_sha256"),
    }
    return tables, source


def _jst_date(iso_utc: str) -> dt.date:
    t = dt.datetime.fromisoformat(iso_utc.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(JST).date()


def live_loads(control: Control, domain_id: str) -> list[dict]:
    """The domain's loads into the live schema that are still there, oldest first."""
    return [
        r
        for r in control.loads_of(domain_id)
        if r["target_schema"] == LIVE_SCHEMA and not r.get("dropped_at")
    ]


def period_loads(
    loads: list[dict], date_from: dt.date, date_to: dt.date
) -> tuple[dict | None, dict | None]:
    """(base, result) load-log entries of a period (dates in Asia/Tokyo): the base is the last load
    before the period (or, when there is none, the domain's first load), the result the last load
    up to the period's end. (None, None) when nothing was loaded up to the end."""
    upto = [r for r in loads if _jst_date(r["loaded_at"]) <= date_to]
    if not upto:
        return None, None
    before = [r for r in upto if _jst_date(r["loaded_at"]) < date_from]
    return (before[-1] if before else upto[0]), upto[-1]


def _handoff_tables(store: Store, domain_id: str, load: dict, work: Path) -> dict[str, pa.Table]:
    """The tables of the hand-off set a load-log entry loaded (its sha256 checked against the
    load log, each file against the set's marker)."""
    d = registry().get(domain_id)
    prefix = zone_uri("handoff", domain_id, load["run_id"])
    published = publication.read_manifest(store, prefix)
    if published.get("handoff_manifest_sha256") != load["manifest_sha256"]:
        raise ControlMismatch(
            f"{prefix}: the hand-off set is not the one the load log recorded for run "
            f"{load['run_id']} (manifest sha256 differs)"
        )
    work.mkdir(parents=True, exist_ok=True)
    out = {}
    for t in d.layout.tables:
        path = publication.fetch(store, prefix, f"{t.name}.csv", work, published)
        out[t.name] = read_csv_table(Path(path), t)
    return out


def _python(value, col):
    if value is None:
        return None
    if col.type == "date":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    if col.type == "decimal":
        return Decimal(str(value))
    if col.type == "integer":
        return int(value)
    return str(value)


def live_tables(target: Target, domain_id: str) -> dict[str, pa.Table]:
    """The domain's live tables as the layout types them (streamed, key order)."""
    d = registry().get(domain_id)
    out = {}
    for t in d.layout.tables:
        names = [c.name for c in t.columns]
        cols: list[list] = [[] for _ in names]
        for row in target.stream(table_name(domain_id, t.name), names, t.business_keys):
            for i, (v, c) in enumerate(zip(row, t.columns)):
                cols[i].append(_python(v, c))
        out[t.name] = pa.table(
            [pa.array(v, arrow_type(c)) for v, c in zip(cols, t.columns)], names=names
        )
    return out


def changes_from_live(
    domain_id: str,
    date_from: dt.date,
    date_to: dt.date,
    *,
    control: Control,
    store: Store,
    secret: bytes | None = None,
) -> tuple[dict[str, pa.Table], dict]:
    """The changes of the live tables in the period: (rows by table, where they came from)."""
    d = registry().get(domain_id)
    loads = live_loads(control, domain_id)
    base, result = period_loads(loads, date_from, date_to)
    if result is None:
        raise Refused(
            f"{domain_id}: no load into the live schema up to {date_to.isoformat()} in the load "
            "log; nothing to link from (give the vendor's delta set with --from-delta)"
        )
    source = {
        "kind": "live_tables",
        "base_run_id": base["run_id"],
        "base_sha256": base["manifest_sha256"],
        "result_run_id": result["run_id"],
        "result_sha256": result["manifest_sha256"],
    }
    empty = {
        t.name: pa.table(
            {OP_COLUMN: pa.array([], pa.string()), **{c.name: pa.array([], arrow_type(c))
             for c in t.columns}}
        )
        for t in d.layout.tables
    }  # fmt: skip
    if base is result:
        return empty, source
    with tempfile.TemporaryDirectory(prefix="ikou-link-") as tmp:
        old = _handoff_tables(store, domain_id, base, Path(tmp) / "base")
        if result is loads[-1]:
            new = live_tables(Target(control.target.base_url, LIVE_SCHEMA), domain_id)
        else:
            new = _handoff_tables(store, domain_id, result, Path(tmp) / "result")
    out = {}
    for t in d.layout.tables:
        diff = diff_table(domain_id, t, old[t.name], new[t.name], secret)
        out[t.name] = delta_rows(t, old[t.name], new[t.name], diff)
    return out, source


__all__ = [
    "changes_from_delta_set",
    "changes_from_live",
    "live_loads",
    "live_tables",
    "period_loads",
    "read_csv_table",
]
