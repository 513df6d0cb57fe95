"""Applying a delta set (:mod:`ikou.load.delta`) to the target: one transaction, idempotent.

In one transaction (PostgreSQL: holding the domain's load lock, like the full load; SQLite:
``BEGIN IMMEDIATE``):

1. the load log's latest entry for the domain in the target schema decides: its manifest sha256
   equal to the delta's ``result_sha256`` — the delta is already applied: nothing changes, the
   call returns ``already_applied`` (exit 0); equal to ``base_sha256`` — the delta is applied;
   anything else (another snapshot, no load at all) — :class:`DeltaRefused` (exit 1);
2. per table, the delta rows go into staging (``ikou_staging.<table>__delta`` by COPY on
   PostgreSQL, ``staging__<table>__delta`` on SQLite), then ``DELETE`` (``D``), ``UPDATE``
   (``U``: every non-key column from the new row) and ``INSERT`` (``I``) into the target table,
   each checked against the manifest's counts, and the table's row count against the new
   snapshot's: a target whose rows are not the base's refuses, whatever its log says;
3. the load-log row (``manifest_sha256`` = the delta's ``result_sha256``, rows = the tables' rows
   after it) is written in the same transaction, then it commits.

A process killed anywhere before the commit leaves the target at the base (and its log saying
so): a retry applies the delta again from the start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ikou.domains import registry
from ikou.errors import Refused
from ikou.load.control import Control
from ikou.load.delta import KIND, OP_COLUMN, DeltaError, fetch_delta_set
from ikou.load.target import (
    LIVE_SCHEMA,
    LOAD_LOG,
    STAGING_SCHEMA,
    LoadRefused,
    Target,
    column_sql,
    quote_ident,
    table_name,
)

log = logging.getLogger("ikou.load")

APPLIED = "applied"
ALREADY_APPLIED = "already_applied"


class DeltaRefused(Refused, LoadRefused):
    """The target is not at the delta's base (exit 1): nothing was changed."""


class _AlreadyApplied(Exception):
    """Raised inside the transaction to roll it back untouched."""


@dataclass(frozen=True)
class _OpColumn:
    name: str = OP_COLUMN
    type: str = "code"
    required: bool = True
    length: int | None = 1


class _Staged:
    """The staging table's shape for :meth:`Target.sqlite_insert`: ``_op`` and the layout's columns."""

    def __init__(self, table_layout):
        self.columns = [_OpColumn(), *table_layout.columns]


def staging_ddl(qualified: str, table_layout, dialect: str) -> str:
    """The staging table of a delta: ``_op`` and every column nullable (``D`` rows carry keys only)."""
    cols = [f"{quote_ident(OP_COLUMN)} CHAR(1) NOT NULL"] + [
        column_sql(c, dialect).removesuffix(" NOT NULL") for c in table_layout.columns
    ]
    return f"CREATE TABLE {qualified} (\n  " + ",\n  ".join(cols) + "\n)"


def latest_logged(cur, dialect: str, domain: str, schema: str) -> str | None:
    """The manifest sha256 of the latest load of ``domain`` into ``schema`` (in the transaction)."""
    if dialect == "postgresql":
        cur.execute(
            f'SELECT manifest_sha256 FROM "{LIVE_SCHEMA}"."{LOAD_LOG}" WHERE domain = %s '
            "AND target_schema = %s AND dropped_at IS NULL ORDER BY id DESC LIMIT 1",
            (domain, schema),
        )
    else:
        cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (LOAD_LOG,))
        if cur.fetchone() is None:
            return None
        cur.execute(
            f'SELECT manifest_sha256 FROM "{LOAD_LOG}" WHERE domain = ? AND target_schema = ? '
            "AND dropped_at IS NULL ORDER BY id DESC LIMIT 1",
            (domain, schema),
        )
    row = cur.fetchone()
    return row[0] if row else None


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "nothing"


def _check_manifest(domain_id: str, manifest: dict, csvs: dict[str, Path]) -> None:
    d = registry().get(domain_id)
    if manifest.get("kind") != KIND or manifest.get("domain") != domain_id:
        raise DeltaError(
            f"{domain_id}: the set is not a delta of this domain (kind {manifest.get('kind')!r}, "
            f"domain {manifest.get('domain')!r})"
        )
    if (manifest.get("spec_version"), manifest.get("layout_version")) != (
        d.spec.version,
        d.layout.layout_version,
    ):
        raise DeltaError(
            f"{domain_id}: the delta is of layout {manifest.get('spec_version')}/"
            f"{manifest.get('layout_version')}, the registry's is {d.spec.version}/"
            f"{d.layout.layout_version}"
        )
    missing = [t.name for t in d.layout.tables if t.name not in csvs]
    if missing:
        raise DeltaError(f"{domain_id}: the delta set has no file for {', '.join(missing)}")


def apply_delta(
    target: Target,
    domain_id: str,
    manifest: dict,
    csvs: dict[str, Path],
    *,
    run_id: str,
    mode: str,
    guard=None,
    after=None,
) -> dict:
    """Apply a delta set to the domain's tables in ``target``'s schema (see the module docstring).

    Returns ``{"status": "applied" | "already_applied", "rows": {table: rows after},
    "ops": {table: {"I": n, "U": n, "D": n}}, "base_sha256", "result_sha256"}``.
    ``guard(cursor, dialect)`` runs in the transaction after the log check (a cutover's guard);
    ``after(cursor, dialect, rows)`` before the load-log row (a cutover's ``loaded`` event)."""
    _check_manifest(domain_id, manifest, csvs)
    if mode == "cutover" and guard is None:
        raise DeltaRefused(
            f"{domain_id}: a delta cutover applies the delta under the cutover guard "
            "(ikou.load.delta_run.load_delta_run); nothing was changed"
        )
    d = registry().get(domain_id)
    base, result = manifest["base_sha256"], manifest["result_sha256"]
    entries = {e["table"]: e for e in manifest["tables"]}
    control = Control(target.base_url).ensure()
    log_after, log_row = control.load_logged_in_transaction(
        domain=domain_id,
        run_id=run_id,
        mode=mode,
        schema=target.schema,
        snapshot=manifest["snapshot"],
        manifest_sha256=result,
    )

    def check(cur, dialect: str) -> None:
        latest = latest_logged(cur, dialect, domain_id, target.schema)
        if latest == result:
            raise _AlreadyApplied
        if latest != base:
            raise DeltaRefused(
                f"{domain_id}: delta refused — schema {target.schema} holds {_short(latest)} "
                f"(load log), the delta applies to {_short(base)} and gives {_short(result)}; "
                "load the base in full first, or apply the delta made for what the target holds"
            )
        if guard is not None:
            guard(cur, dialect)

    out = {
        "base_sha256": base,
        "result_sha256": result,
        "ops": {t: dict(e["ops"]) for t, e in entries.items()},
    }

    def logged(cur, dialect: str, rows: dict) -> None:
        if after is not None:
            after(cur, dialect, rows)
        log_after(cur, dialect, rows)

    try:
        rows = _apply(target, d, entries, csvs, check, logged)
    except _AlreadyApplied:
        log.info(
            "%s: delta %s → %s already applied in %s: nothing to do (%s)",
            domain_id,
            _short(base),
            _short(result),
            target.schema,
            ALREADY_APPLIED,
        )
        return {**out, "status": ALREADY_APPLIED, "rows": {}}
    if target.dialect == "sqlite" and target.schema != LIVE_SCHEMA:
        control.copy_load_row(log_row)  # as the full load does: the control file keeps the history
    log.info(
        "%s: delta %s → %s applied in %s", domain_id, _short(base), _short(result), target.schema
    )
    return {**out, "status": APPLIED, "rows": rows}


def _statements(qualified: str, staged: str, table_layout) -> tuple[str, str | None, str]:
    keys = list(table_layout.business_keys)
    cols = [c.name for c in table_layout.columns]
    rest = [c for c in cols if c not in keys]
    k = ", ".join(quote_ident(c) for c in keys)
    delete = (
        f"DELETE FROM {qualified} WHERE ({k}) IN "
        f"(SELECT {k} FROM {staged} WHERE {quote_ident(OP_COLUMN)} = 'D')"
    )
    update = None
    if rest:
        on = " AND ".join(f"t.{quote_ident(c)} = s.{quote_ident(c)}" for c in keys)
        sets = ", ".join(f"{quote_ident(c)} = s.{quote_ident(c)}" for c in rest)
        update = (
            f"UPDATE {qualified} AS t SET {sets} FROM {staged} AS s "
            f"WHERE s.{quote_ident(OP_COLUMN)} = 'U' AND {on}"
        )
    names = ", ".join(quote_ident(c) for c in cols)
    insert = (
        f"INSERT INTO {qualified} ({names}) SELECT {names} FROM {staged} "
        f"WHERE {quote_ident(OP_COLUMN)} = 'I'"
    )
    return delete, update, insert


def _apply_ops(cur, domain: str, table_layout, qualified: str, staged: str, entry: dict) -> int:
    """Delete, update, insert from staging; every count checked. Returns the rows after."""
    delete, update, insert = _statements(qualified, staged, table_layout)
    ops = entry["ops"]
    done = {}
    cur.execute(delete)
    done["D"] = cur.rowcount
    if update is not None:
        cur.execute(update)
        done["U"] = cur.rowcount
    else:
        done["U"] = 0
    try:
        cur.execute(insert)
    except Exception as exc:  # a key the base should not hold: the target is not at the base
        if "unique" in str(exc).lower() or "IntegrityError" in type(exc).__name__:
            raise DeltaRefused(
                f"{domain}.{table_layout.name}: an inserted key is already in the target: the "
                "target does not hold the delta's base; nothing was changed"
            ) from None
        raise
    done["I"] = cur.rowcount
    cur.execute(f"SELECT count(*) FROM {qualified}")
    after = int(cur.fetchone()[0])
    expected = {op: int(ops[op]) for op in ("I", "U", "D")}
    if done != expected or after != int(entry["rows_result"]):
        raise DeltaRefused(
            f"{domain}.{table_layout.name}: the target does not hold the delta's base "
            f"(applied I/U/D {done['I']}/{done['U']}/{done['D']} of {expected['I']}/"
            f"{expected['U']}/{expected['D']}, {after} rows, not {entry['rows_result']}); "
            "nothing was changed"
        )
    return after


def _apply(target: Target, d, entries, csvs, check, after) -> dict[str, int]:
    rows: dict[str, int] = {}
    dialect = target.dialect
    with target.load_transaction(d.id) as cur:
        check(cur, dialect)
        for t in d.layout.tables:
            name = table_name(d.id, t.name)
            if dialect == "postgresql":
                cur.execute("SELECT to_regclass(%s)", (f'"{target.schema}"."{name}"',))
                exists = cur.fetchone()[0] is not None
                staged = target.qualified(f"{name}__delta", STAGING_SCHEMA)
            else:
                cur.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
                )
                exists = cur.fetchone() is not None
                staged = quote_ident(f"staging__{name}__delta")
            if not exists:
                raise DeltaRefused(
                    f"{d.id}: delta refused — schema {target.schema} has no table {name}; load "
                    "the base in full first"
                )
            cur.execute(f"DROP TABLE IF EXISTS {staged}")
            cur.execute(staging_ddl(staged, t, dialect))
            n = stage_rows(cur, dialect, staged, t, csvs[t.name])
            if n != int(entries[t.name]["rows"]):
                raise DeltaError(
                    f"{d.id}.{t.name}: {n} delta rows read, the manifest says "
                    f"{entries[t.name]['rows']}"
                )
            rows[t.name] = _apply_ops(cur, d.id, t, target.qualified(name), staged, entries[t.name])
            cur.execute(f"DROP TABLE {staged}")
        after(cur, dialect, rows)
    return rows


def stage_rows(cur, dialect: str, staged: str, table_layout, path: Path) -> int:
    """The delta rows into the staging table (COPY on PostgreSQL); an index on the key."""
    if dialect == "postgresql":
        cols = ", ".join(quote_ident(c.name) for c in _Staged(table_layout).columns)
        with open(path, "rb") as fh:
            cur.copy_expert(
                f"COPY {staged} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')",
                fh,
                size=1 << 20,
            )
        n = int(cur.rowcount)
        cur.execute(f"ANALYZE {staged}")
        return n
    n = Target.sqlite_insert(cur, staged, _Staged(table_layout), path)
    keys = ", ".join(quote_ident(k) for k in table_layout.business_keys)
    index = quote_ident(staged.strip('"') + "_key")
    cur.execute(f"CREATE INDEX {index} ON {staged} ({keys})")
    return int(n)


def load_delta(
    target: Target,
    domain_id: str,
    store,
    delta_prefix: str,
    *,
    run_id: str,
    mode: str,
    guard=None,
    after=None,
) -> dict:
    """:func:`apply_delta` of a published delta set (:func:`ikou.load.delta.publish_delta`),
    fetched and sha256-checked first."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ikou-delta-load-") as tmp:
        manifest, csvs = fetch_delta_set(store, delta_prefix, Path(tmp))
        return apply_delta(
            target, domain_id, manifest, csvs, run_id=run_id, mode=mode, guard=guard, after=after
        )


__all__ = [
    "ALREADY_APPLIED",
    "APPLIED",
    "DeltaRefused",
    "apply_delta",
    "latest_logged",
    "load_delta",
    "stage_rows",
    "staging_ddl",
]
