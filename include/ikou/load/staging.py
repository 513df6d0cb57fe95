"""Run-scoped staging of a partitioned load, and the one-transaction swap that publishes it.

A partitioned load (issue 13 §2, :mod:`ikou.load.partitions`) has two phases: the partitions
stage their rows side by side (mapped ``load_parts`` tasks, possibly on several workers), then one
task swaps the staged tables into the target and writes the load log in one transaction.

**PostgreSQL.** One ``UNLOGGED`` table per standard table in ``ikou_staging``, named from the run
(``{domain}__{table}__r{10 hex of the run id's sha256}``), and an ``UNLOGGED`` ledger
(``{domain}__parts__r…``: table, partition, rows, the partition file's sha256). A partition COPYs
its rows into the run's tables and writes its ledger rows in ONE transaction: several sessions
COPY into one table at once without waiting for each other; a killed partition leaves nothing
(the server rolls its transaction back); a partition retried after it committed finds its ledger
rows and stages nothing twice. Unlogged: staging writes no WAL; a server crash empties the tables
and the ledger together, and the swap refuses when a table's count differs from its ledger.

The swap (:meth:`Staging.swap`), one transaction under the domain's load lock
(:meth:`Target.load_transaction`): the guard (a cutover refuses a live domain), the accounting
(:func:`check_staged`: every planned partition staged with the rows the plan split into it, from
the same file, and the totals the hand-off's), then per table ``SET LOGGED`` (the rewrite that
makes it crash-safe), the primary key, the comments, the old table dropped and the staged one
renamed into the target schema; the ledger dropped; the ``after`` hook (the load-log row, a
cutover's ``loaded`` event). A kill anywhere in it leaves the target as it was and the staging
as the partitions left it, so the retried swap does it all again.

**SQLite.** Each partition stages into a file of its own beside the target file
(``{stem}.staging-{domain}-r{10 hex}-p{NNNNN}.sqlite``: not a rehearsal schema's name, so no sweep takes it
for one), written under a temporary name and renamed when complete — a killed partition leaves no
file the swap would take, and its retry writes the file again. The swap merges the files one
after another into ``staging__…`` tables inside one ``BEGIN IMMEDIATE`` of the schema's file,
renames them and logs; the files are deleted after the commit.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ikou.load.target import (
    LIVE_SCHEMA,
    STAGING_SCHEMA,
    Target,
    add_key_and_comments,
    advisory_key,
    copy_csv,
    create_table_sql,
    quote_ident,
    table_name,
)

#: a plan: partition index -> standard table -> (rows, sha256 of the partition's file)
Planned = dict[int, dict[str, tuple[int, str]]]


class StagingError(RuntimeError):
    """The staged partitions do not add up to the plan (counts and partition numbers only)."""


def run_key(run_id: str) -> str:
    return hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:10]


def check_staged(domain: str, planned: Planned, staged: Planned) -> dict[str, int]:
    """Per-partition and total accounting of a partitioned load: every planned partition is staged
    with the rows the plan split into it, from the same file (sha256), and nothing else is
    staged. Returns the rows per table (the totals of the plan)."""
    parts = len(planned)
    missing = sorted(set(planned) - set(staged))
    if missing:
        shown = ", ".join(f"{i + 1}/{parts}" for i in missing[:10])
        raise StagingError(
            f"{domain}: partition(s) {shown} not staged; clear the failed load_parts task(s)"
        )
    extra = sorted(set(staged) - set(planned))
    if extra:
        raise StagingError(
            f"{domain}: {len(extra)} staged partition(s) are not in the plan of {parts}; "
            "clear load_plan to stage the run again"
        )
    totals: dict[str, int] = {}
    for i, tables in sorted(planned.items()):
        got = staged[i]
        if set(got) != set(tables):
            raise StagingError(
                f"{domain}: partition {i + 1}/{parts} staged tables {sorted(got)}, planned {sorted(tables)}"
            )
        for t, (rows, sha) in tables.items():
            got_rows, got_sha = got[t]
            if got_sha != sha:
                raise StagingError(
                    f"{domain}.{t}: partition {i + 1}/{parts} was staged from another plan's file; "
                    "clear load_plan to stage the run again"
                )
            if got_rows != rows:
                raise StagingError(
                    f"{domain}.{t}: partition {i + 1}/{parts} staged {got_rows} rows, planned {rows}"
                )
            totals[t] = totals.get(t, 0) + rows
    return totals


class Staging:
    """The run-scoped staging of one domain's partitioned load into one target schema."""

    def __init__(self, target: Target, domain: str, layout, run_id: str):
        self.target = target
        self.domain = domain
        self.layout = layout
        self.key = run_key(run_id)

    # -- names -------------------------------------------------------------------------------
    def table(self, name: str) -> str:
        return f"{table_name(self.domain, name)}__r{self.key}"

    @property
    def ledger(self) -> str:
        return f"{self.domain}__parts__r{self.key}"

    def part_file(self, index: int) -> Path:
        base = self.target.sibling(LIVE_SCHEMA).sqlite_path
        return base.with_name(
            f"{base.stem}.staging-{self.domain}-r{self.key}-p{index:05d}{base.suffix or '.sqlite'}"
        )

    def part_files(self, run: str | None = None) -> list[Path]:
        """This run's partition files (``run="*"``: every run's of this domain)."""
        base = self.target.sibling(LIVE_SCHEMA).sqlite_path
        pattern = (
            f"{base.stem}.staging-{self.domain}-r{run or self.key}-p*{base.suffix or '.sqlite'}"
        )
        return sorted(base.parent.glob(pattern))

    # -- the partition phase -----------------------------------------------------------------
    def stage(self, index: int, csvs: dict[str, Path], sha256: dict[str, str]) -> dict[str, int]:
        """Stage partition ``index`` (its CSV file per standard table), idempotently: rows per
        table (a partition already staged from the same files: its recorded rows)."""
        if self.target.dialect == "postgresql":
            return self._stage_postgresql(index, csvs, sha256)
        return self._stage_sqlite(index, csvs, sha256)

    @contextmanager
    def _pg(self) -> Iterator:
        raw = self.target.engine().raw_connection()
        try:
            cur = raw.cursor()
            yield cur
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()

    def _staged_qualified(self, name: str) -> str:
        return self.target.qualified(self.table(name), STAGING_SCHEMA)

    def _ensure_postgresql(self) -> None:
        with self._pg() as cur:
            # CREATE … IF NOT EXISTS races with another session's: serialise it
            cur.execute(
                "SELECT pg_advisory_xact_lock(%s)", (advisory_key("ikou-schema", STAGING_SCHEMA),)
            )
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(STAGING_SCHEMA)}")
            cur.execute(
                "SELECT pg_advisory_xact_lock(%s)",
                (advisory_key("ikou-staging", self.domain, self.key),),
            )
            for t in self.layout.tables:
                sql = create_table_sql(self._staged_qualified(t.name), t, "postgresql", False)
                cur.execute("CREATE UNLOGGED TABLE IF NOT EXISTS" + sql[len("CREATE TABLE") :])
            cur.execute(
                f"CREATE UNLOGGED TABLE IF NOT EXISTS {self.target.qualified(self.ledger, STAGING_SCHEMA)} "
                "(tbl TEXT NOT NULL, part INTEGER NOT NULL, rows BIGINT NOT NULL, "
                "sha256 TEXT NOT NULL, PRIMARY KEY (tbl, part))"
            )

    def _ledger_pg(self, cur, index: int | None = None) -> Planned:
        sql = f"SELECT tbl, part, rows, sha256 FROM {self.target.qualified(self.ledger, STAGING_SCHEMA)}"
        if index is not None:
            sql += f" WHERE part = {int(index)}"
        cur.execute(sql)
        out: Planned = {}
        for tbl, part, rows, sha in cur.fetchall():
            out.setdefault(int(part), {})[tbl] = (int(rows), sha)
        return out

    def _stage_postgresql(self, index, csvs, sha256) -> dict[str, int]:
        self._ensure_postgresql()
        with self._pg() as cur:
            # two tries of one partition (a task and its zombie) never stage at the same time
            cur.execute(
                "SELECT pg_advisory_xact_lock(%s)",
                (advisory_key("ikou-stage", self.domain, self.key, str(index)),),
            )
            done = self._ledger_pg(cur, index).get(index)
            if done:
                return _already(self.domain, index, done, sha256)
            rows: dict[str, int] = {}
            ledger = self.target.qualified(self.ledger, STAGING_SCHEMA)
            for t in self.layout.tables:
                rows[t.name] = copy_csv(cur, self._staged_qualified(t.name), t, csvs[t.name])
                cur.execute(
                    f"INSERT INTO {ledger} (tbl, part, rows, sha256) VALUES (%s, %s, %s, %s)",
                    (t.name, index, rows[t.name], sha256[t.name]),
                )
        return rows

    def _stage_sqlite(self, index, csvs, sha256) -> dict[str, int]:
        final = self.part_file(index)
        if final.exists():
            done = _ledger_sqlite(final).get(index)
            if done and all(done.get(t, (0, ""))[1] == s for t, s in sha256.items()):
                return {t: n for t, (n, _) in done.items()}
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(final.name + ".part")
        for p in (tmp, Path(str(tmp) + "-journal")):
            p.unlink(missing_ok=True)
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        rows: dict[str, int] = {}
        try:
            cur = conn.cursor()
            cur.execute("BEGIN")
            cur.execute(
                "CREATE TABLE ikou_parts (tbl TEXT NOT NULL, part INTEGER NOT NULL, "
                "rows INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (tbl, part))"
            )
            for t in self.layout.tables:
                q = quote_ident(table_name(self.domain, t.name))
                cur.execute(create_table_sql(q, t, "sqlite", primary_key=False))
                rows[t.name] = int(Target.sqlite_insert(cur, q, t, csvs[t.name]))
                cur.execute(
                    "INSERT INTO ikou_parts VALUES (?, ?, ?, ?)",
                    (t.name, index, rows[t.name], sha256[t.name]),
                )
            cur.execute("COMMIT")
        finally:
            conn.close()
        os.replace(tmp, final)  # complete, or not there at all
        return rows

    # -- the swap ----------------------------------------------------------------------------
    def exists(self) -> bool:
        """Anything staged for this run (PostgreSQL: its ledger; SQLite: a partition file)."""
        if self.target.dialect == "sqlite":
            return bool(self.part_files())
        with self.target.engine().connect() as conn:
            return (
                conn.exec_driver_sql(
                    "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                    "AND table_name = %s",
                    (STAGING_SCHEMA, self.ledger),
                ).first()
                is not None
            )

    def swap(self, planned: Planned, guard=None, after=None) -> dict[str, int]:
        """Check the accounting, move the staged tables into the target and run ``after`` (the
        load log) — one transaction (see the module docstring). Rows per table."""
        if self.target.dialect == "postgresql":
            return self._swap_postgresql(planned, guard, after)
        rows = self._swap_sqlite(planned, guard, after)
        self.discard()
        return rows

    def _swap_postgresql(self, planned, guard, after) -> dict[str, int]:
        target = self.target
        with target.load_transaction(self.domain) as cur:
            if guard is not None:
                guard(cur, target.dialect)
            rows = check_staged(self.domain, planned, self._ledger_pg(cur))
            moves = []
            for t in self.layout.tables:
                name = table_name(self.domain, t.name)
                staged = self._staged_qualified(t.name)
                cur.execute(f"SELECT count(*) FROM {staged}")
                n = int(cur.fetchone()[0])
                if n != rows[t.name]:  # an unlogged table emptied by a server restart
                    raise StagingError(
                        f"{self.domain}.{t.name}: staging holds {n} rows, its partitions staged "
                        f"{rows[t.name]}; clear load_plan to stage the run again"
                    )
                cur.execute(f"ALTER TABLE {staged} SET LOGGED")
                add_key_and_comments(cur, staged, name, t)
                moves.append((name, staged))
            for name, staged in moves:  # the swap: brief exclusive locks, at the very end
                cur.execute(f"DROP TABLE IF EXISTS {target.qualified(name)}")
                cur.execute(f"DROP TABLE IF EXISTS {target.qualified(name, STAGING_SCHEMA)}")
                cur.execute(f"ALTER TABLE {staged} RENAME TO {quote_ident(name)}")
                cur.execute(
                    f"ALTER TABLE {target.qualified(name, STAGING_SCHEMA)} "
                    f"SET SCHEMA {quote_ident(target.schema)}"
                )
            cur.execute(f"DROP TABLE {target.qualified(self.ledger, STAGING_SCHEMA)}")
            if after is not None:
                after(cur, target.dialect, rows)
        return rows

    def _swap_sqlite(self, planned, guard, after) -> dict[str, int]:
        staged: Planned = {}
        for i in planned:
            f = self.part_file(i)
            if f.exists():
                staged.update(_ledger_sqlite(f))
        with self.target.load_transaction(self.domain) as cur:
            if guard is not None:
                guard(cur, self.target.dialect)
            rows = check_staged(self.domain, planned, staged)
            names = []
            for t in self.layout.tables:
                name = table_name(self.domain, t.name)
                q = quote_ident(f"staging__{name}")
                cur.execute(f"DROP TABLE IF EXISTS {q}")
                cur.execute(create_table_sql(q, t, "sqlite"))
                names.append((t, name, q))
            merged = dict.fromkeys(rows, 0)
            for i in sorted(planned):  # the partition files, merged one after another
                src = sqlite3.connect(f"file:{self.part_file(i)}?mode=ro", uri=True)
                try:
                    for t, name, q in names:
                        cols = ", ".join(quote_ident(c.name) for c in t.columns)
                        marks = ", ".join("?" for _ in t.columns)
                        cur.executemany(
                            f"INSERT INTO {q} ({cols}) VALUES ({marks})",
                            src.execute(f"SELECT {cols} FROM {quote_ident(name)}"),
                        )
                        merged[t.name] += int(cur.rowcount)
                finally:
                    src.close()
            if merged != rows:
                raise StagingError(
                    f"{self.domain}: merged {merged} rows from the partition files, staged {rows}"
                )
            for _t, name, q in names:
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
                cur.execute(f"ALTER TABLE {q} RENAME TO {quote_ident(name)}")
            if after is not None:
                after(cur, self.target.dialect, rows)
        return rows

    def discard(self, every_run: bool = False) -> None:
        """Drop what is staged for this run (the swap's leftovers); ``every_run``: also what
        earlier runs of the domain left (a run that died between its partitions and its swap) —
        for a new plan, which starts afresh (a domain DAG runs one run at a time)."""
        if self.target.dialect == "sqlite":
            for f in self.part_files("*" if every_run else None):
                f.unlink(missing_ok=True)
            return
        names = [self.table(t.name) for t in self.layout.tables] + [self.ledger]
        if every_run:
            names += self._staged_names()
        with self._pg() as cur:
            for name in dict.fromkeys(names):
                cur.execute(f"DROP TABLE IF EXISTS {self.target.qualified(name, STAGING_SCHEMA)}")

    def _staged_names(self) -> list[str]:
        """Staging tables of any run of this domain (``{domain}__{table}__r{10 hex}``)."""
        own = re.compile(rf"{re.escape(self.domain)}__[a-z0-9_]+__r[0-9a-f]{{10}}")
        with self.target.engine().connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (STAGING_SCHEMA,),
            ).fetchall()
        return [r[0] for r in rows if own.fullmatch(r[0])]


def _already(domain: str, index: int, done: dict, sha256: dict[str, str]) -> dict[str, int]:
    if any(done.get(t, (0, ""))[1] != s for t, s in sha256.items()):
        raise StagingError(
            f"{domain}: partition {index + 1} was staged from another plan's file; "
            "clear load_plan to stage the run again"
        )
    return {t: n for t, (n, _) in done.items()}


def _ledger_sqlite(path: Path) -> Planned:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out: Planned = {}
        for tbl, part, rows, sha in conn.execute("SELECT tbl, part, rows, sha256 FROM ikou_parts"):
            out.setdefault(int(part), {})[tbl] = (int(rows), sha)
        return out
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
