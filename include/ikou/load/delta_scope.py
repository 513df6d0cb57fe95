"""The delta-scoped batch of ``gate_target`` after a delta load (差分): the rows the delta could
have changed, not the whole table again.

Why this is sound for an auditor — what the scoped gate checks, and what proves the rest:

* the rows of the keys the delta inserted or updated (``I``/``U``): every row-level expectation of
  the table's ``gate_target`` suite (types, lengths, required items, code lists, dates, check
  digits, references) runs on them inside the database, as on a full load;
* the rows that *refer* to an addressee the delta deleted from the 宛名 master (same domain): an
  unchanged row can only break referential integrity that way, so they are in the batch too —
  an orphan fails the reference expectation and the row count;
* table-level: the batch's row count must equal the delta's ``I`` + ``U`` count (a missing or
  extra row of a touched key fails it); the table's own row count after the delta is checked
  against the new snapshot's inside the delta's transaction (:mod:`ikou.load.delta_apply`) and
  again by the reconciliation; key uniqueness over the whole table is the primary key's;
* ``mostly`` thresholds apply to the batch: exceptions among the touched rows are weighed
  against the touched rows, a stricter share than against the whole table (the untouched rows'
  exceptions were weighed when the base passed);
* every other row is the base's, unchanged: the base's hand-off set passed ``gate_target`` when
  it was loaded (the load ahead, or the base run's load: same manifest sha256, checked), and the
  delta reconciliation's in-database digest of the whole table proves the untouched rows still
  equal the validated output's.

How: a scope schema ``ikou_scope_<hex>`` per gate holds the delta rows (staged as the delta load
stages them) and, while one table's unit is validated, a materialized view named like the target table
holding the scoped rows of the target schema's table (selected there when the unit starts). The GX connection's search path is the scope
schema, then the target schema: the committed checkpoints, suites and table assets are used as
they are (one gate, one mechanism), and another table a suite refers to (the 宛名 master of a
reference expectation) is the whole table of the target schema, since only the validated unit's
view exists at a time. The schema is dropped when the gate ends. PostgreSQL only: an SQLite
target (local development) is gated whole.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from ikou.domains import registry
from ikou.domains.mapping import addressee_references
from ikou.load.delta import OP_COLUMN
from ikou.load.delta_apply import stage_rows, staging_ddl
from ikou.load.target import Target, quote_ident, table_name

SCOPE_PREFIX = "ikou_scope_"


def scope_schema(schema: str, run_id: str) -> str:
    """The scope schema of one gate of ``run_id`` on ``schema`` (within PostgreSQL's 63 bytes)."""
    return SCOPE_PREFIX + hashlib.sha256(f"{schema}\x1f{run_id}".encode()).hexdigest()[:16]


class DeltaScope:
    """The delta rows of a domain staged in a scope schema; :meth:`unit` puts one table's scoped
    view in place while its expectations run. Use as a context manager (drops the schema)."""

    def __init__(self, target: Target, domain_id: str, manifest: dict, csvs: dict[str, Path]):
        if target.dialect != "postgresql":
            raise ValueError(
                "a delta-scoped gate needs PostgreSQL (SQLite targets are gated whole)"
            )
        self.target = target
        self.domain = registry().get(domain_id)
        self.entries = {e["table"]: e for e in manifest["tables"]}
        self.csvs = csvs
        self.schema = scope_schema(target.schema, manifest["run_id"])
        self._raw = None

    @property
    def gx_url(self) -> str:
        """The target's URL with the scope schema first on the search path."""
        url = self.target.base_url
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}options=-csearch_path%3D{self.schema}%2C{self.target.schema}"

    def rows(self, table: str) -> int:
        """The rows the scoped batch of ``table`` must hold: its delta's inserts and updates."""
        ops = self.entries[table]["ops"]
        return int(ops["I"]) + int(ops["U"])

    def _staged(self, table: str) -> str:
        return self.target.qualified(f"{table_name(self.domain.id, table)}__delta", self.schema)

    def _execute(self, *statements: str) -> None:
        assert self._raw is not None
        cur = self._raw.cursor()
        for sql in statements:
            cur.execute(sql)
        self._raw.commit()

    def __enter__(self) -> DeltaScope:
        self._raw = self.target.engine().raw_connection()
        try:
            s = quote_ident(self.schema)
            self._execute(f"DROP SCHEMA IF EXISTS {s} CASCADE", f"CREATE SCHEMA {s}")
            cur = self._raw.cursor()
            for t in self.domain.layout.tables:
                staged = self._staged(t.name)
                cur.execute(staging_ddl(staged, t, "postgresql"))
                stage_rows(cur, "postgresql", staged, t, self.csvs[t.name])
            self._raw.commit()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._raw is None:
            return
        try:
            self._raw.rollback()
            self._execute(f"DROP SCHEMA IF EXISTS {quote_ident(self.schema)} CASCADE")
        finally:
            self._raw.close()
            self._raw = None

    def view_sql(self, table: str) -> str:
        """``CREATE MATERIALIZED VIEW``: the target table's rows of the delta's I/U keys, plus the
        rows that refer to an addressee the delta deleted from the domain's 宛名 master.

        Materialized once (a join on the key, answered by the primary key's index) rather than a
        plain view: GX runs one query per expectation, and a view would select the scoped rows
        out of the whole table again for each of them (measured at 1M rows: as slow as gating the
        whole table)."""
        t = self.domain.layout.table(table)
        name = table_name(self.domain.id, table)
        op = quote_ident(OP_COLUMN)
        keys = ", ".join(quote_ident(k) for k in t.business_keys)
        live = self.target.qualified(name)
        parts = [
            f"SELECT * FROM {live} WHERE ({keys}) IN "
            f"(SELECT {keys} FROM {self._staged(table)} WHERE {op} IN ('I', 'U'))"
        ]
        master_domain, master_table = registry().addressee_master()
        if self.domain.id == master_domain and master_table != table:
            gone = self._staged(master_table)
            for col in addressee_references(self.domain, t):
                parts.append(
                    f"SELECT * FROM {live} WHERE {quote_ident(col)} IN "
                    f"(SELECT atena_no FROM {gone} WHERE {op} = 'D')"
                )
        # UNION: a row in both parts once (the key is unique, so no two distinct rows are equal)
        return (
            f"CREATE MATERIALIZED VIEW {self.target.qualified(name, self.schema)} AS "
            + " UNION ".join(parts)
        )

    @contextlib.contextmanager
    def unit(self, table: str) -> Iterator[None]:
        """The scoped rows of ``table`` in place while the block runs (one table at a time: the
        tables a suite refers to resolve to the target schema's whole tables)."""
        view = self.target.qualified(table_name(self.domain.id, table), self.schema)
        self._execute(self.view_sql(table), f"ANALYZE {view}")
        try:
            yield
        finally:
            self._execute(f"DROP MATERIALIZED VIEW IF EXISTS {view}")


__all__ = ["SCOPE_PREFIX", "DeltaScope", "scope_schema"]
