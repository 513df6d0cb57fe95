"""The control (:class:`Control`): cutover events, the rehearsal log and the load log, written
and read in the target database; the tables themselves are in :mod:`ikou.load.control_tables`.

A little over 500 lines, one class: its methods share the tables, the dialect handling and the
transactions they take part in (a load row is written in the load's transaction, a live row
under the domain's advisory lock); splitting the class would spread one transaction's rules.
"""

from __future__ import annotations

import datetime as dt
import json

from ikou.errors import Refused
from ikou.load.control_tables import (
    CUTOVER,
    ONE_LIVE_INDEX,
    ONE_LIVE_WHERE,
    SQLITE_LOAD_LOG_DDL,
    STATUSES,
    AlreadyLive,
    Event,
    already_live_message,
    control_metadata,
    iso_utc,
    known_domain,
    now_utc,
    today_in_japan,
)
from ikou.load.target import CONTROL_SCHEMA, LIVE_SCHEMA, LOAD_LOG, Target, advisory_key
from ikou.pipeline import REASON_MAX, WHO_MAX, check_sha256, check_text, parse_snapshot


class Control:
    """Ikou's control tables in the target database (schema ``ikou`` / the main SQLite file)."""

    def __init__(self, url: str | None = None):
        from ikou.config import settings

        self.target = Target(url or settings().target_db_url, CONTROL_SCHEMA)
        self.dialect = self.target.dialect
        schema = CONTROL_SCHEMA if self.dialect == "postgresql" else None
        self.md, self.cutover, self.rehearsals, self.loads = control_metadata(schema)
        self._ready = False

    # -- setup ---------------------------------------------------------------------------------
    def ensure(self) -> Control:
        if self._ready:
            return self
        from sqlalchemy.exc import InterfaceError, OperationalError

        try:
            self._ensure()
        except (OperationalError, InterfaceError) as exc:
            raise self.target.unreachable(exc) from exc
        self._ready = True
        return self

    def _ensure(self) -> None:
        from sqlalchemy import inspect

        eng = self.target.engine()
        with eng.begin() as conn:
            schema = None
            if self.dialect == "postgresql":
                schema = CONTROL_SCHEMA
                conn.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(%s)" % advisory_key("ikou-schema", CONTROL_SCHEMA)
                )
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{CONTROL_SCHEMA}"')
            else:
                self.target.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            insp = inspect(conn)
            if insp.has_table(LOAD_LOG, schema=schema) and "id" not in {
                c["name"] for c in insp.get_columns(LOAD_LOG, schema=schema)
            }:
                # the load log of an Ikou before the control tables: kept aside, not lost
                conn.exec_driver_sql(
                    f"ALTER TABLE {self._t(self.dialect, LOAD_LOG)} RENAME TO {LOAD_LOG}_v0"
                )
            self.md.create_all(conn, checkfirst=True)
            self._migrate_one_live(conn, inspect(conn), schema)

    def _migrate_one_live(self, conn, insp, schema: str | None) -> None:
        """A control database of an Ikou before ``revoke``: add ``revoked_at`` and rebuild the
        one-live index so that it skips revoked rows (the rows themselves are kept as they are)."""
        from sqlalchemy.exc import OperationalError, ProgrammingError

        cols = {c["name"] for c in insp.get_columns(CUTOVER, schema=schema)}
        table = self._t(self.dialect, CUTOVER)
        if "revoked_at" not in cols:
            try:
                conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN revoked_at VARCHAR(32)")
            except (OperationalError, ProgrammingError):  # another process migrated it first
                if "revoked_at" not in {
                    c["name"] for c in inspect_again(conn).get_columns(CUTOVER, schema=schema)
                }:
                    raise
        index = next(
            (i for i in insp.get_indexes(CUTOVER, schema=schema) if i["name"] == ONE_LIVE_INDEX),
            None,
        )
        where = ""
        if index is not None:
            opts = index.get("dialect_options", {}) or {}
            for key in ("postgresql_where", "sqlite_where"):
                if opts.get(key) is not None:
                    where = str(opts[key])
        if index is not None and "revoked_at" in where:
            return
        if index is None and self.dialect == "sqlite":
            # SQLAlchemy's SQLite inspector lists no partial indexes in older versions: ask the file
            row = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                (ONE_LIVE_INDEX,),
            ).first()
            if row and row[0] and "revoked_at" in row[0]:
                return
        qualified_index = (
            f'"{CONTROL_SCHEMA}"."{ONE_LIVE_INDEX}"'
            if self.dialect == "postgresql"
            else f'"{ONE_LIVE_INDEX}"'
        )
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {qualified_index}")
        conn.exec_driver_sql(
            f'CREATE UNIQUE INDEX "{ONE_LIVE_INDEX}" ON {table} (domain) WHERE {ONE_LIVE_WHERE}'
        )

    # -- load log ------------------------------------------------------------------------------
    def log_load(
        self,
        *,
        domain: str,
        run_id: str,
        mode: str,
        schema: str,
        snapshot: str,
        manifest_sha256: str,
        rows: int,
    ) -> None:
        self.ensure()
        with self.target.engine().begin() as conn:
            conn.execute(
                self.loads.insert().values(
                    domain=domain,
                    run_id=run_id,
                    mode=mode,
                    target_schema=schema,
                    snapshot=snapshot,
                    manifest_sha256=manifest_sha256,
                    rows=int(rows),
                    loaded_at=iso_utc(now_utc()),
                )
            )

    def log_dropped(self, *, domain: str, schema: str) -> None:
        self.ensure()
        with self.target.engine().begin() as conn:
            conn.execute(
                self.loads.update()
                .where(
                    self.loads.c.domain == domain,
                    self.loads.c.target_schema == schema,
                    self.loads.c.dropped_at.is_(None),
                )
                .values(dropped_at=iso_utc(now_utc()))
            )

    def loads_of(self, domain: str) -> list[dict]:
        """The domain's loads, oldest first (SQLite: with those only a schema file recorded)."""
        self.ensure()
        with self.target.engine().connect() as conn:
            rows = (
                conn.execute(
                    self.loads.select()
                    .where(self.loads.c.domain == domain)
                    .order_by(self.loads.c.id)
                )
                .mappings()
                .all()
            )
        out = [dict(r) for r in rows]
        if self.dialect == "sqlite":
            seen = {_load_key(r) for r in out}
            extra = [r for r in self._schema_file_loads(domain) if _load_key(r) not in seen]
            out += sorted(extra, key=lambda r: r["loaded_at"])
        return out

    def _schema_file_loads(self, domain: str) -> list[dict]:
        """Load-log rows kept in the rehearsal schema files beside the control file."""
        import sqlite3

        from ikou.load.target import REHEARSAL_PREFIX

        base = self.target.sqlite_path
        suffix = base.suffix or ".sqlite"
        out = []
        for path in sorted(base.parent.glob(f"{base.stem}.{REHEARSAL_PREFIX}*{suffix}")):
            try:
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
                try:
                    conn.row_factory = sqlite3.Row
                    rows = conn.execute(
                        f'SELECT * FROM "{LOAD_LOG}" WHERE domain = ? ORDER BY id', (domain,)
                    ).fetchall()
                finally:
                    conn.close()
            except sqlite3.Error:  # no load log in it (yet), or the file went away
                continue
            out += [{**dict(r), "id": None} for r in rows]
        return out

    def load_logged_in_transaction(
        self,
        *,
        domain: str,
        run_id: str,
        mode: str,
        schema: str,
        snapshot: str,
        manifest_sha256: str,
    ):
        """For :meth:`Target.load`: the load-log row, written inside the load's transaction
        (PostgreSQL: the control schema; SQLite: the loaded file's own log). Returns the hook and
        the row it writes (to copy into the control file on SQLite)."""
        row = {
            "domain": domain,
            "run_id": run_id,
            "mode": mode,
            "target_schema": schema,
            "snapshot": parse_snapshot(snapshot),
            "manifest_sha256": manifest_sha256,
            "rows": 0,
            "loaded_at": iso_utc(now_utc()),
        }

        def after(cur, dialect: str, rows: dict) -> None:
            row["rows"] = int(sum(rows.values()))
            if dialect == "sqlite":
                cur.execute(SQLITE_LOAD_LOG_DDL)
            q = self._q(dialect)
            cols = list(row)
            names = ", ".join(f'"{c}"' for c in cols)
            cur.execute(
                f"INSERT INTO {self._t(dialect, LOAD_LOG)} ({names}) "
                f"VALUES ({', '.join([q] * len(cols))})",
                tuple(row[c] for c in cols),
            )

        return after, row

    def copy_load_row(self, row: dict) -> None:
        """A load-log row written in a rehearsal schema file, copied into the control file."""
        self.ensure()
        with self.target.engine().begin() as conn:
            conn.execute(self.loads.insert().values(**row))

    # -- rehearsal log -------------------------------------------------------------------------
    def record_rehearsal(self, report: dict, *, report_uri: str, manifest_sha256: str = "") -> None:
        """One row per rehearsal run (a retried rehearsal task replaces its own row)."""
        self.ensure()
        t = report.get("timing", {})
        with self.target.engine().begin() as conn:
            conn.execute(
                self.rehearsals.delete().where(
                    self.rehearsals.c.domain == report["domain"],
                    self.rehearsals.c.run_id == report["run_id"],
                )
            )
            conn.execute(
                self.rehearsals.insert().values(
                    domain=report["domain"],
                    run_id=report["run_id"],
                    snapshot=report["snapshot"],
                    mode=report["mode"],
                    verdict=report["verdict"],
                    reasons=json.dumps(report.get("reasons", []), ensure_ascii=False),
                    finished_at=iso_utc(now_utc()),
                    report=report_uri,
                    manifest_sha256=manifest_sha256,
                    projected_hours=t.get("projected_hours"),
                    window_hours=t.get("window_hours"),
                    elapsed_seconds=t.get("elapsed_seconds"),
                )
            )

    def rehearsals_of(self, domain: str, snapshot: str | None = None) -> list[dict]:
        self.ensure()
        q = self.rehearsals.select().where(self.rehearsals.c.domain == domain)
        if snapshot:
            q = q.where(self.rehearsals.c.snapshot == snapshot)
        with self.target.engine().connect() as conn:
            rows = (
                conn.execute(
                    q.order_by(self.rehearsals.c.finished_at.desc(), self.rehearsals.c.id.desc())
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    # -- cutover state -------------------------------------------------------------------------
    def events(self, domain: str | None = None) -> list[Event]:
        self.ensure()
        q = self.cutover.select()
        if domain:
            q = q.where(self.cutover.c.domain == domain)
        with self.target.engine().connect() as conn:
            rows = conn.execute(q.order_by(self.cutover.c.id)).mappings().all()
        return [Event(**{k: r[k] for k in Event.__dataclass_fields__}) for r in rows]

    def live(self) -> dict[str, Event]:
        """The live domains, each with the event that made it live (revoked records skipped)."""
        self.ensure()
        with self.target.engine().connect() as conn:
            rows = (
                conn.execute(
                    self.cutover.select().where(
                        self.cutover.c.status == "live", self.cutover.c.revoked_at.is_(None)
                    )
                )
                .mappings()
                .all()
            )
        return {r["domain"]: Event(**{k: r[k] for k in Event.__dataclass_fields__}) for r in rows}

    def loaded_ahead(self, domain: str) -> Event | None:
        """The domain's latest ``loaded_ahead`` event (None: never loaded ahead). Whether the live
        schema still holds it is :meth:`live_load`'s manifest sha256 compared with its own."""
        evs = [e for e in self.events(domain) if e.status == "loaded_ahead"]
        return evs[-1] if evs else None

    def live_load(self, domain: str) -> dict | None:
        """The latest load-log row of ``domain`` into the live schema that was not dropped: what
        the live tables hold (the full load ahead, a delta applied to it, a cutover's load)."""
        rows = [
            r
            for r in self.loads_of(domain)
            if r["target_schema"] == LIVE_SCHEMA and r.get("dropped_at") is None
        ]
        return rows[-1] if rows else None

    def record(
        self,
        status: str,
        *,
        domain: str,
        snapshot: str,
        run_id: str = "",
        who: str = "",
        manifest_sha256: str = "",
        source: str = "cutover",
        detail: str = "",
    ) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown cutover status {status!r}")
        snapshot = parse_snapshot(snapshot)
        self.ensure()
        from sqlalchemy.exc import IntegrityError

        try:
            with self.target.engine().begin() as conn:
                conn.execute(
                    self.cutover.insert().values(
                        domain=domain,
                        snapshot=snapshot,
                        run_id=run_id,
                        who=who,
                        at=iso_utc(now_utc()),
                        manifest_sha256=manifest_sha256,
                        status=status,
                        source=source,
                        detail=detail,
                    )
                )
        except IntegrityError:
            if status == "live":
                raise AlreadyLive(already_live_message(domain, self.live().get(domain))) from None
            raise

    def record_live(
        self, domain: str, snapshot: object, who: str, *, manifest_sha256: str = "", note: str = ""
    ) -> Event:
        """A domain that is already live (e.g. cut over before Ikou was adopted).

        Bad input is :class:`BadArgument` (exit 2): an unknown domain, a snapshot that is not a
        real date (YYYY-MM-DD or YYYYMMDD; stored as YYYY-MM-DD), a malformed sha256, ``who``
        not 1–128 characters or with control characters. Refused (exit 1): a snapshot after
        today in Asia/Tokyo, a preparation-phase domain, a domain that is live already."""
        reg = known_domain(domain, "--domain")
        snap = parse_snapshot(snapshot, "--snapshot")
        who = check_text(who or "", "--who", max_len=WHO_MAX, required=True)
        sha = check_sha256(manifest_sha256, "--manifest-sha256")
        note = check_text(note or "", "--note", max_len=REASON_MAX)
        today = today_in_japan()
        if dt.date.fromisoformat(snap) > today:
            raise Refused(
                f"--snapshot {snap} is after today ({today.isoformat()} in Asia/Tokyo): "
                "a domain cannot have gone live with an extract that does not exist yet"
            )
        phase = reg.plan[domain].phase
        if phase != "migration":
            raise Refused(
                f"{domain} ({reg.get(domain).name_ja}) is in the {phase} phase: only "
                "migration-phase domains go live"
            )
        existing = self.live().get(domain)
        if existing:
            raise AlreadyLive(already_live_message(domain, existing))
        self.record(
            "live",
            domain=domain,
            snapshot=snap,
            who=who,
            manifest_sha256=sha,
            source="record-live",
            detail=note or "recorded as live (cut over outside Ikou)",
        )
        return self.live()[domain]

    def revoke(self, domain: str, who: str, reason: str) -> Event:
        """Withdraw a domain's live record: its ``live`` row is marked revoked (never deleted)
        and a ``revoked`` event records who and why, in one transaction. Afterwards the domain
        is not live (status, the guard, the in-load guard) and can be recorded live again.

        Refused (exit 1) when the domain has no live record, or a live domain has it in its
        ``cuts_over_after`` (revoke that one first)."""
        reg = known_domain(domain, "--domain")
        who = check_text(who or "", "--who", max_len=WHO_MAX, required=True)
        reason = check_text(reason or "", "--reason", max_len=REASON_MAX, required=True)
        live = self.live()
        current = live.get(domain)
        if current is None:
            raise Refused(f"{domain} has no live record to revoke (see `ikou cutover status`)")
        after = [
            d
            for d in reg.plan.cutover_order()
            if d in live and domain in reg.plan[d].cuts_over_after
        ]
        if after:
            raise Refused(
                f"{domain} cannot be revoked: {', '.join(after)} "
                f"{'is' if len(after) == 1 else 'are'} live and cut{'s' if len(after) == 1 else ''} "
                f"over after it (cuts_over_after); revoke {'it' if len(after) == 1 else 'them'} first"
            )
        at = iso_utc(now_utc())
        with self.target.engine().begin() as conn:
            done = conn.execute(
                self.cutover.update()
                .where(
                    self.cutover.c.domain == domain,
                    self.cutover.c.status == "live",
                    self.cutover.c.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            ).rowcount
            if not done:  # revoked by someone else meanwhile
                raise Refused(f"{domain} has no live record to revoke (see `ikou cutover status`)")
            conn.execute(
                self.cutover.insert().values(
                    domain=domain,
                    snapshot=current.snapshot,
                    run_id=current.run_id,
                    who=who,
                    at=at,
                    manifest_sha256=current.manifest_sha256,
                    status="revoked",
                    source="revoke",
                    detail=reason,
                )
            )
        return Event(
            domain,
            current.snapshot,
            current.run_id,
            who,
            at,
            current.manifest_sha256,
            "revoked",
            "revoke",
            reason,
        )

    # -- in the load transaction -----------------------------------------------------------------
    def guard_in_transaction(self, domain: str):
        """For :meth:`Target.load` of a cutover: refuse inside the load's transaction if the
        domain is live (the guard at the start of the run checked it too; this closes the gap)."""

        def guard(cur, dialect: str) -> None:
            q = self._q(dialect)
            cur.execute(
                f"SELECT snapshot, who, at, run_id FROM {self._t(dialect, CUTOVER)} "
                f"WHERE domain = {q} AND {ONE_LIVE_WHERE}",
                (domain,),
            )
            row = cur.fetchone()
            if row:
                raise AlreadyLive(
                    already_live_message(
                        domain, Event(domain, row[0], row[3], row[1], row[2], "", "live", "", "")
                    )
                )

        return guard

    def loaded_in_transaction(
        self,
        domain: str,
        snapshot: str,
        run_id: str,
        who: str,
        manifest_sha256: str,
        source: str = "cutover",
    ):
        def after(cur, dialect: str, rows: dict) -> None:
            q = self._q(dialect)
            cur.execute(
                f"INSERT INTO {self._t(dialect, CUTOVER)} (domain, snapshot, run_id, who, at, manifest_sha256, "
                f"status, source, detail) VALUES ({', '.join([q] * 9)})",
                (
                    domain,
                    snapshot,
                    run_id,
                    who,
                    iso_utc(now_utc()),
                    manifest_sha256,
                    "loaded",
                    source,
                    json.dumps({"rows": rows}),
                ),
            )

        return after

    @staticmethod
    def _q(dialect: str) -> str:
        return "%s" if dialect == "postgresql" else "?"

    @staticmethod
    def _t(dialect: str, name: str) -> str:
        return f'"{CONTROL_SCHEMA}"."{name}"' if dialect == "postgresql" else f'"{name}"'


def _load_key(r: dict) -> tuple:
    return (r["run_id"], r["target_schema"], r["loaded_at"], r["manifest_sha256"])


def inspect_again(conn):
    from sqlalchemy import inspect

    return inspect(conn)
