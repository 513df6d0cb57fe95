"""The target database: DDL from the standard layouts and an all-or-nothing load.

Schemas (docs/target-database.md):

``ikou``
    the live tables of the domains that cut over, and Ikou's control tables: the load log
    (``ikou_load_log``), the rehearsal log (``ikou_rehearsal_log``) and the cutover state
    (``ikou_cutover``, see :mod:`ikou.load.control_tables`).
``ikou_rehearsal_<12 hex>``
    one per rehearsal run (a keyed name of the run id): a rehearsal loads into its own schema,
    so runs never see each other's tables, and the rehearsal drops it afterwards (rollback).
``ikou_staging``
    transient: tables are COPYed here and moved out in the same transaction (empty between loads);
    a delta load's rows are COPYed here too and dropped in its transaction
    (:mod:`ikou.load.delta_apply`).

PostgreSQL: for every table of a domain, ``CREATE TABLE`` in ``ikou_staging`` (no key yet),
``COPY … FROM STDIN (FORMAT csv, FREEZE)``, then the primary key (one index build instead of a
per-row insert into the B-tree), then ``DROP`` the old table and ``ALTER TABLE … SET SCHEMA``
into the target — all in one transaction holding an advisory lock for the domain. The swap happens after every
table is staged, so readers of the target wait only for the brief swap. A
retried, repeated or killed load therefore leaves exactly one state: the old tables or the new
ones, never duplicates or a partial table.

SQLite (the embedded default): a schema is a database file beside the configured one
(``target.sqlite`` is ``ikou``; ``target.ikou_rehearsal_<hex>.sqlite`` a rehearsal); staging
tables (``staging__…``) are filled and renamed inside one ``BEGIN IMMEDIATE … COMMIT`` — the
same guarantee.

Table names: ``{domain}__{table}`` (e.g. ``juki__atena``), so one schema holds all domains.

A little over 500 lines in one file: the DDL helpers and :class:`Target` are one job, the same
all-or-nothing load said twice (PostgreSQL and SQLite) with the same naming and quoting; the
control tables, the delta apply and the hand-off are modules of their own.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from ikou.pipeline import LIVE_MODES

LIVE_SCHEMA = "ikou"
REHEARSAL_PREFIX = "ikou_rehearsal_"
REHEARSAL_SCHEMA = (
    "ikou_rehearsal"  # kept for compatibility: the shared name before per-run schemas
)
STAGING_SCHEMA = "ikou_staging"
CONTROL_SCHEMA = LIVE_SCHEMA
LOAD_LOG = "ikou_load_log"


class LoadRefused(RuntimeError):
    """The load must not happen (e.g. a cutover load of a domain that is already live)."""


def rehearsal_schema(run_id: str) -> str:
    """The rehearsal schema of one run: ``ikou_rehearsal_`` + 12 hex of the run id's sha256.

    A digest, not the run id itself: run ids hold characters identifiers cannot, and
    PostgreSQL identifiers end at 63 bytes."""
    return REHEARSAL_PREFIX + hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:12]


def schema_for(mode: str, run_id: str | None = None) -> str:
    if mode in LIVE_MODES:
        return LIVE_SCHEMA
    return rehearsal_schema(run_id) if run_id else REHEARSAL_SCHEMA


def table_name(domain: str, table: str) -> str:
    return f"{domain}__{table}"


def quote_ident(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or len(name) > 63:
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return f'"{name}"'


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def column_sql(col, dialect: str) -> str:
    if col.type in ("string", "code"):
        t = f"VARCHAR({col.length})" if dialect == "postgresql" and col.length else "TEXT"
    elif col.type == "integer":
        t = "BIGINT" if dialect == "postgresql" else "INTEGER"
    elif col.type == "decimal":
        t = f"NUMERIC({col.precision},{col.scale})" if dialect == "postgresql" else "TEXT"
    elif col.type == "date":
        t = "DATE" if dialect == "postgresql" else "TEXT"
    else:  # pragma: no cover - the registry validates types
        raise ValueError(col.type)
    return f"{quote_ident(col.name)} {t}{' NOT NULL' if col.required else ''}"


def create_table_sql(qualified: str, table, dialect: str, primary_key: bool = True) -> str:
    cols = [column_sql(c, dialect) for c in table.columns]
    if primary_key:
        cols.append(f"PRIMARY KEY ({', '.join(quote_ident(k) for k in table.business_keys)})")
    return f"CREATE TABLE {qualified} (\n  " + ",\n  ".join(cols) + "\n)"


def ddl(domain: str, layout, dialect: str = "postgresql", schema: str = LIVE_SCHEMA) -> str:
    """The DDL of a domain's standard tables as Ikou creates them (for DBAs and the docs)."""
    out = []
    for t in layout.tables:
        q = (
            f"{quote_ident(schema)}.{quote_ident(table_name(domain, t.name))}"
            if dialect == "postgresql"
            else quote_ident(table_name(domain, t.name))
        )
        out.append(create_table_sql(q, t, dialect) + ";")
        if dialect == "postgresql":
            out.extend(comment_sql(q, t))
    return "\n".join(out) + "\n"


def _quote_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def comment_sql(qualified: str, table) -> list[str]:
    out = [f"COMMENT ON TABLE {qualified} IS {_quote_literal(table.label_ja)};"]
    for c in table.columns:
        out.append(
            f"COMMENT ON COLUMN {qualified}.{quote_ident(c.name)} IS {_quote_literal(c.label_ja)};"
        )
    return out


def copy_csv(cur, staged: str, table, path: Path, freeze: bool = False) -> int:
    """PostgreSQL: ``COPY`` a hand-off-dialect CSV file into ``staged``, read 1 MB at a time;
    the rows COPY reports."""
    cols = ", ".join(quote_ident(c.name) for c in table.columns)
    with open(path, "rb") as fh:
        cur.copy_expert(
            f"COPY {staged} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8'"
            f"{', FREEZE true' if freeze else ''})",
            fh,
            size=1 << 20,
        )
    return int(cur.rowcount)


def add_key_and_comments(cur, staged: str, name: str, table) -> None:
    """PostgreSQL: a staged table's primary key, built once its rows are in (one index build
    instead of a per-row insert into the B-tree), and its Japanese comments."""
    cur.execute(
        f"ALTER TABLE {staged} ADD CONSTRAINT {quote_ident(name + '_pkey')} PRIMARY KEY "
        f"({', '.join(quote_ident(k) for k in table.business_keys)})"
    )
    for stmt in comment_sql(staged, table):
        cur.execute(stmt)


def advisory_key(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256(":".join(parts).encode()).digest()[:8], "big", signed=True)


URL_FORMS = "postgresql+psycopg2://USER@HOST:PORT/DB or sqlite:////path/target.sqlite"


def parse_target_url(url: object, option: str = "IKOU_TARGET_DB_URL"):
    """The target database URL as a SQLAlchemy URL: PostgreSQL (psycopg2) or an SQLite file.

    Anything else is one :class:`~ikou.errors.BadArgument` line naming ``option`` (never the
    URL itself: it may hold a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from ikou.errors import BadArgument

    text = str(url or "").strip()
    if not text or any(ord(ch) < 32 for ch in text):
        raise BadArgument(f"{option}: not a database URL (expected {URL_FORMS})")
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError, TypeError):
        raise BadArgument(f"{option}: not a database URL (expected {URL_FORMS})") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "postgresql":
        if driver not in ("psycopg2", "postgresql"):
            raise BadArgument(
                f"{option}: PostgreSQL driver {driver!r} is not installed; use postgresql+psycopg2://"
            )
        if not parsed.database:
            raise BadArgument(f"{option}: the URL names no database (expected {URL_FORMS})")
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise BadArgument(f"{option}: port out of range (expected {URL_FORMS})")
    elif backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise BadArgument(f"{option}: an SQLite target needs a file (expected {URL_FORMS})")
    else:
        raise BadArgument(
            f"{option}: {backend or 'this'} databases are not supported (expected {URL_FORMS})"
        )
    return parsed


def display_url(url: object) -> str:
    """A target URL fit for a message: no password, no query (it may hold credentials)."""
    try:
        u = parse_target_url(url)
    except Exception:  # noqa: BLE001 - only for a message
        return "(IKOU_TARGET_DB_URL)"
    if u.get_backend_name() == "sqlite":
        return f"sqlite file {u.database}"
    host = u.host or "localhost"
    return f"postgresql://{host}:{u.port or 5432}/{u.database}"


class Target:
    """One target database and schema."""

    def __init__(self, url: str, schema: str):
        self._url = parse_target_url(url)
        self.base_url = url
        self.schema = schema
        quote_ident(schema)
        self.dialect = self._url.get_backend_name()
        self._engine = None

    @property
    def display(self) -> str:
        """Where this target is, for messages (no credentials)."""
        return display_url(self.base_url)

    def unreachable(self, exc: BaseException):
        """The one-line error of a database that does not answer (exit 4)."""
        from ikou.errors import Unreachable

        return Unreachable(
            f"cannot reach the target database {self.display} ({type(exc).__name__})"
        )

    # -- where -----------------------------------------------------------------------------
    @property
    def sqlite_path(self) -> Path:
        db = self._url.database or ""
        if not db or db == ":memory:":
            raise ValueError("an SQLite target needs a file")
        p = Path(db)
        if self.schema != LIVE_SCHEMA:
            p = p.with_name(f"{p.stem}.{self.schema}{p.suffix or '.sqlite'}")
        return p

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of this schema (SQLite: the schema's own file)."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        return self.base_url

    @property
    def gx_url(self) -> str:
        """The URL for GX's SQL datasource, with the schema on PostgreSQL's search path."""
        url = self.url
        if self.dialect == "postgresql":
            sep = "&" if "?" in url else "?"
            return f"{url}{sep}options=-csearch_path%3D{self.schema}"
        return url

    def sibling(self, schema: str) -> Target:
        return Target(self.base_url, schema)

    def engine(self):
        if self._engine is None:
            from sqlalchemy import create_engine

            kw = {"connect_args": {"connect_timeout": 10}} if self.dialect == "postgresql" else {}
            self._engine = create_engine(self.url, future=True, pool_pre_ping=True, **kw)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def qualified(self, name: str, schema: str | None = None) -> str:
        if self.dialect == "sqlite":
            return quote_ident(name)
        return f"{quote_ident(schema or self.schema)}.{quote_ident(name)}"

    def sqlite_connect(self):
        import sqlite3

        path = self.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=60)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    # -- load ------------------------------------------------------------------------------
    def load(
        self,
        domain: str,
        layout,
        csv_files: dict[str, Path],
        *,
        run_id: str,
        snapshot: str,
        manifest_sha256: str,
        mode: str = "rehearsal",
        guard=None,
        after=None,
    ) -> dict[str, int]:
        """Replace the domain's tables with the CSV files' contents, atomically.

        ``guard(cursor, dialect)`` runs inside the transaction before anything changes (a cutover
        load checks there that the domain is not live); ``after(cursor, dialect, rows)`` runs
        inside it after the swap (the cutover records its state in the same transaction)."""
        if self.dialect == "postgresql":
            return self._load_postgresql(domain, layout, csv_files, guard, after)
        return self._load_sqlite(domain, layout, csv_files, guard, after)

    @contextmanager
    def load_transaction(self, domain: str) -> Iterator:
        """The transaction of one load of ``domain`` into this schema, yielding its DB-API
        cursor: committed when the block ends, rolled back on any exception (a kill: by the
        server / SQLite's journal). PostgreSQL: holding the domain's load lock, the schema and
        the staging schema created; SQLite: ``BEGIN IMMEDIATE`` on the schema's file."""
        if self.dialect == "postgresql":
            raw = self.engine().raw_connection()
            try:
                cur = raw.cursor()
                # one load of a domain at a time, whatever its schema: they share the staging names
                cur.execute(
                    "SELECT pg_advisory_xact_lock(%s)", (advisory_key("ikou-load", domain),)
                )
                for s in (self.schema, STAGING_SCHEMA):
                    # CREATE SCHEMA IF NOT EXISTS can race with another session's: serialise it.
                    cur.execute(
                        "SELECT pg_advisory_xact_lock(%s)", (advisory_key("ikou-schema", s),)
                    )
                    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(s)}")
                yield cur
                raw.commit()
            except BaseException:
                try:
                    raw.rollback()
                finally:
                    raw.close()
                raise
            raw.close()
            return
        conn = self.sqlite_connect()
        try:
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            yield cur
            cur.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - no transaction open
                pass
            conn.close()
            raise
        conn.close()

    def _load_postgresql(self, domain, layout, csv_files, guard, after) -> dict[str, int]:
        rows: dict[str, int] = {}
        with self.load_transaction(domain) as cur:
            if guard is not None:
                guard(cur, self.dialect)
            staged_tables = []
            for t in (
                layout.tables
            ):  # 1. every table into staging (readers of the target wait for nothing)
                name = table_name(domain, t.name)
                staged = self.qualified(name, STAGING_SCHEMA)
                cur.execute(f"DROP TABLE IF EXISTS {staged}")
                cur.execute(create_table_sql(staged, t, self.dialect, primary_key=False))
                # FREEZE: the table was created in this transaction, so rows are written frozen
                # (no later hint-bit rewrite or anti-wraparound vacuum of a freshly loaded table).
                rows[t.name] = copy_csv(cur, staged, t, csv_files[t.name], freeze=True)
                add_key_and_comments(cur, staged, name, t)
                staged_tables.append((name, staged))
            for (
                name,
                staged,
            ) in staged_tables:  # 2. the swap: brief exclusive locks, at the very end
                cur.execute(f"DROP TABLE IF EXISTS {self.qualified(name)}")
                cur.execute(f"ALTER TABLE {staged} SET SCHEMA {quote_ident(self.schema)}")
            if after is not None:
                after(cur, self.dialect, rows)
        return rows

    def _load_sqlite(self, domain, layout, csv_files, guard, after) -> dict[str, int]:
        rows: dict[str, int] = {}
        with self.load_transaction(domain) as cur:
            if guard is not None:
                guard(cur, self.dialect)
            staged_tables = []
            for t in layout.tables:
                name = table_name(domain, t.name)
                staged = quote_ident(f"staging__{name}")
                cur.execute(f"DROP TABLE IF EXISTS {staged}")
                cur.execute(create_table_sql(staged, t, self.dialect))
                rows[t.name] = int(self.sqlite_insert(cur, staged, t, csv_files[t.name]))
                staged_tables.append((name, staged))
            for name, staged in staged_tables:
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
                cur.execute(f"ALTER TABLE {staged} RENAME TO {quote_ident(name)}")
            if after is not None:
                after(cur, self.dialect, rows)
        return rows

    @staticmethod
    def sqlite_insert(cur, staged: str, table, path: Path, batch: int = 5000) -> int:
        names = [c.name for c in table.columns]
        sql = f"INSERT INTO {staged} ({', '.join(quote_ident(c) for c in names)}) VALUES ({', '.join('?' for _ in names)})"
        ints = {i for i, c in enumerate(table.columns) if c.type == "integer"}
        n = 0
        with open(
            path, newline="", encoding="utf-8-sig"
        ) as fh:  # -sig: a BOM, if configured, is not data
            reader = csv.reader(fh)
            header = next(reader)
            if header != names:
                raise ValueError(f"{path.name}: header does not match the layout")
            buf = []
            for row in _csv_nulls(reader):
                if len(row) != len(names):
                    raise ValueError(
                        f"{path.name}: row {n + len(buf) + 1} has {len(row)} fields, not {len(names)}"
                    )
                buf.append(
                    [int(v) if (i in ints and v is not None) else v for i, v in enumerate(row)]
                )
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
        if self.dialect == "sqlite":
            if not self.sqlite_path.exists():
                return False
            sql = f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{name}'"
        else:
            sql = (
                f"SELECT 1 FROM information_schema.tables WHERE table_schema = '{self.schema}' "
                f"AND table_name = '{name}'"
            )
        quote_ident(name)
        with self.engine().connect() as conn:
            return conn.exec_driver_sql(sql).first() is not None

    def tables(self) -> list[str]:
        """Tables of this schema (SQLite: of its file)."""
        if self.dialect == "sqlite":
            if not self.sqlite_path.exists():
                return []
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        else:
            sql = (
                f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{self.schema}' "
                "ORDER BY table_name"
            )
        with self.engine().connect() as conn:
            names = [r[0] for r in conn.exec_driver_sql(sql)]
        if self.dialect == "sqlite":
            # SQLite's own bookkeeping, and a rehearsal file's load log, are not schema tables
            hidden = {"sqlite_sequence"} | ({LOAD_LOG} if self.schema != LIVE_SCHEMA else set())
            names = [n for n in names if n not in hidden]
        return names

    def schema_exists(self) -> bool:
        if self.dialect == "sqlite":
            return self.sqlite_path.exists()
        with self.engine().connect() as conn:
            return (
                conn.exec_driver_sql(
                    f"SELECT 1 FROM information_schema.schemata WHERE schema_name = '{self.schema}'"
                ).first()
                is not None
            )

    def stream(
        self, name: str, columns: list[str], order_by: list[str] | None = None, batch: int = 20000
    ) -> Iterator[tuple]:
        """Rows of a table, streamed (server-side cursor on PostgreSQL): never the whole table."""
        sql = f"SELECT {', '.join(quote_ident(c) for c in columns)} FROM {self.qualified(name)}"
        if order_by:
            sql += f" ORDER BY {', '.join(quote_ident(c) for c in order_by)}"
        with self.engine().connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).exec_driver_sql(
                sql
            )
            while True:
                chunk = result.fetchmany(batch)
                if not chunk:
                    break
                yield from chunk

    def scalar(self, sql: str):
        with self.engine().connect() as conn:
            return conn.exec_driver_sql(sql).scalar()

    # -- rollback ----------------------------------------------------------------------------
    def drop_domain(self, domain: str, layout) -> None:
        """Drop a domain's tables from this schema, in one transaction."""
        with self.engine().begin() as conn:
            for t in layout.tables:
                conn.exec_driver_sql(
                    f"DROP TABLE IF EXISTS {self.qualified(table_name(domain, t.name))}"
                )

    def drop_schema(self) -> bool:
        """Drop this (rehearsal) schema with everything in it; never the live or staging one."""
        if self.schema in (LIVE_SCHEMA, STAGING_SCHEMA) or not self.schema.startswith(
            REHEARSAL_SCHEMA
        ):
            raise ValueError(
                f"refusing to drop schema {self.schema!r}: only rehearsal schemas are dropped"
            )
        existed = self.schema_exists()
        if self.dialect == "sqlite":
            self.dispose()
            for suffix in ("", "-wal", "-shm", "-journal"):
                p = Path(str(self.sqlite_path) + suffix)
                if p.exists():
                    p.unlink()
        else:
            with self.engine().begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_ident(self.schema)} CASCADE")
        return existed


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
