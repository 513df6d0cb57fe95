"""The target database: DDL from the standard layouts and an all-or-nothing load.

PostgreSQL: every table of a domain is COPYed into the staging schema (``ikou_staging``) and then
moved into the target schema, all in one transaction holding an advisory lock for the domain: a
retried or repeated load leaves exactly the same state, never duplicates or a partial table.
Schemas: ``ikou`` (live, cutover runs), ``ikou_rehearsal`` (rehearsal runs), ``ikou_staging``
(transient, empty between loads).

SQLite (the embedded default): a schema is a database file beside the configured one
(``target.sqlite`` → ``target.ikou_rehearsal.sqlite``); staging tables (``staging__…``) are
filled and renamed in one transaction — the same guarantee.

Table names: ``{domain}__{table}`` (e.g. ``juki__atena``), so one schema holds all domains.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

LIVE_SCHEMA = "ikou"
REHEARSAL_SCHEMA = "ikou_rehearsal"
STAGING_SCHEMA = "ikou_staging"
LOAD_LOG = "ikou_load_log"


def schema_for(mode: str) -> str:
    return LIVE_SCHEMA if mode == "cutover" else REHEARSAL_SCHEMA


def _ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return f'"{name}"'


def column_sql(col, dialect: str) -> str:
    if col.type in ("string", "code"):
        t = f"VARCHAR({col.length})" if dialect == "postgresql" else "TEXT"
    elif col.type == "integer":
        t = "BIGINT" if dialect == "postgresql" else "INTEGER"
    elif col.type == "decimal":
        t = f"NUMERIC({col.precision},{col.scale})" if dialect == "postgresql" else "TEXT"
    elif col.type == "date":
        t = "DATE" if dialect == "postgresql" else "TEXT"
    else:  # pragma: no cover - the registry validates types
        raise ValueError(col.type)
    return f"{_ident(col.name)} {t}{' NOT NULL' if col.required else ''}"


def create_table_sql(qualified: str, table, dialect: str) -> str:
    cols = [column_sql(c, dialect) for c in table.columns]
    cols.append(f"PRIMARY KEY ({', '.join(_ident(k) for k in table.business_keys)})")
    return f"CREATE TABLE {qualified} (\n  " + ",\n  ".join(cols) + "\n)"


class Target:
    """One target database and schema."""

    def __init__(self, url: str, schema: str):
        from sqlalchemy.engine import make_url

        self.base_url = url
        self.schema = schema
        self._url = make_url(url)
        self.dialect = self._url.get_backend_name()
        if self.dialect not in ("postgresql", "sqlite"):
            raise ValueError(f"target database {self.dialect} is not supported (PostgreSQL or SQLite)")
        self._engine = None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of this schema (SQLite: the schema's own file)."""
        if self.dialect == "sqlite":
            db = self._url.database or ""
            if not db or db == ":memory:":
                raise ValueError("an SQLite target needs a file")
            p = Path(db)
            if self.schema != LIVE_SCHEMA:
                p = p.with_name(f"{p.stem}.{self.schema}{p.suffix or '.sqlite'}")
            return f"sqlite:///{p}"
        return self.base_url

    @property
    def gx_url(self) -> str:
        from ikou.quality.gate import gx_target_url

        return gx_target_url(self.url, self.schema if self.dialect == "postgresql" else None)

    def engine(self):
        if self._engine is None:
            from sqlalchemy import create_engine

            self._engine = create_engine(self.url, future=True, pool_pre_ping=True)
        return self._engine

    def qualified(self, name: str, schema: str | None = None) -> str:
        if self.dialect == "sqlite":
            return _ident(name)
        return f"{_ident(schema or self.schema)}.{_ident(name)}"

    # -- load ----------------------------------------------------------------------------
    def load(self, domain: str, layout, csv_files: dict[str, Path], *, run_id: str, snapshot: str,
             manifest_sha256: str) -> dict[str, int]:
        """Replace the domain's tables with the CSV files' contents, atomically."""
        from sqlalchemy import text

        rows: dict[str, int] = {}
        with self.engine().begin() as conn:
            raw = conn.connection.dbapi_connection
            cur = raw.cursor()
            if self.dialect == "postgresql":
                key = int.from_bytes(hashlib.sha256(f"ikou-load:{self.schema}:{domain}".encode()).digest()[:8], "big",
                                     signed=True)
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                for s in (self.schema, STAGING_SCHEMA):
                    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(s)}")
            else:
                conn.execute(text("SELECT 1"))  # BEGIN already issued by SQLAlchemy
            self._ensure_log(cur)
            for t in layout.tables:
                name = f"{domain}__{t.name}"
                staged = self.qualified(name, STAGING_SCHEMA) if self.dialect == "postgresql" else _ident(f"staging__{name}")
                cur.execute(f"DROP TABLE IF EXISTS {staged}")
                cur.execute(create_table_sql(staged, t, self.dialect))
                path = csv_files[t.name]
                if self.dialect == "postgresql":
                    cols = ", ".join(_ident(c.name) for c in t.columns)
                    with open(path, "rb") as fh:
                        cur.copy_expert(f"COPY {staged} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')", fh)
                    cur.execute(f"SELECT count(*) FROM {staged}")
                    n = cur.fetchone()[0]
                    final = self.qualified(name)
                    cur.execute(f"DROP TABLE IF EXISTS {final}")
                    cur.execute(f"ALTER TABLE {staged} SET SCHEMA {_ident(self.schema)}")
                else:
                    n = self._sqlite_insert(cur, staged, t, path)
                    cur.execute(f"DROP TABLE IF EXISTS {_ident(name)}")
                    cur.execute(f"ALTER TABLE {staged} RENAME TO {_ident(name)}")
                rows[t.name] = int(n)
            cur.execute(
                f"INSERT INTO {self.qualified(LOAD_LOG)} (domain, run_id, snapshot, manifest_sha256, rows, loaded_at) "
                + ("VALUES (%s, %s, %s, %s, %s, %s)" if self.dialect == "postgresql" else "VALUES (?, ?, ?, ?, ?, ?)"),
                (domain, run_id, snapshot, manifest_sha256, sum(rows.values()),
                 dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")),
            )
        return rows

    def _ensure_log(self, cur) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.qualified(LOAD_LOG)} (domain TEXT NOT NULL, run_id TEXT NOT NULL, "
                    "snapshot TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, rows BIGINT NOT NULL, loaded_at TEXT NOT NULL)")

    @staticmethod
    def _sqlite_insert(cur, staged: str, table, path: Path, batch: int = 5000) -> int:
        names = [c.name for c in table.columns]
        sql = f"INSERT INTO {staged} ({', '.join(_ident(c) for c in names)}) VALUES ({', '.join('?' for _ in names)})"
        ints = {i for i, c in enumerate(table.columns) if c.type == "integer"}
        n = 0
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            if header != names:
                raise ValueError(f"{path.name}: header does not match the layout")
            buf = []
            for row in _csv_nulls(reader):
                buf.append([int(v) if (i in ints and v is not None) else v for i, v in enumerate(row)])
                if len(buf) >= batch:
                    cur.executemany(sql, buf)
                    n += len(buf)
                    buf = []
            if buf:
                cur.executemany(sql, buf)
                n += len(buf)
        return n

    # -- read back -------------------------------------------------------------------------
    def exists(self, name: str) -> bool:
        from sqlalchemy import inspect

        insp = inspect(self.engine())
        if self.dialect == "sqlite":
            return insp.has_table(name)
        return insp.has_table(name, schema=self.schema)

    def stream(self, name: str, columns: list[str], order_by: list[str], batch: int = 10000) -> Iterator[tuple]:
        """Rows of a table, streamed (server-side cursor on PostgreSQL): never the whole table."""
        sql = (f"SELECT {', '.join(_ident(c) for c in columns)} FROM {self.qualified(name)} "
               f"ORDER BY {', '.join(_ident(c) for c in order_by)}")
        with self.engine().connect() as conn:
            result = conn.execution_options(stream_results=True).exec_driver_sql(sql)
            while True:
                chunk = result.fetchmany(batch)
                if not chunk:
                    break
                yield from chunk

    def scalar(self, sql: str):
        with self.engine().connect() as conn:
            return conn.exec_driver_sql(sql).scalar()

    def drop_domain(self, domain: str, layout) -> None:
        with self.engine().begin() as conn:
            for t in layout.tables:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.qualified(f'{domain}__{t.name}')}")


def _csv_nulls(reader) -> Iterator[list]:
    """CSV rows with empty fields as None. Validated data holds no empty strings (the mapping
    turns them into nulls), so an empty field is always a null, as the hand-off dialect says."""
    for row in reader:
        yield [v if v != "" else None for v in row]


def canonical(value, col) -> str:
    """A value as text that is the same whether it came from Parquet, PostgreSQL or SQLite."""
    if value is None:
        return "\x00"
    if col.type == "decimal":
        return f"{Decimal(str(value)):.{col.scale}f}"
    if col.type == "date":
        return str(value)[:10]
    if col.type == "integer":
        return str(int(value))
    return str(value)
