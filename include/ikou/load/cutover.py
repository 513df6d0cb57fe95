"""Cutover state, the rehearsal log and the cutover guard — kept durably in the target database.

Control tables (schema ``ikou`` on PostgreSQL, the main file ``target.sqlite`` on SQLite):

``ikou_cutover``
    one row per event of a domain's cutover: ``refused`` (the guard said no, and why),
    ``started`` (the guard let a cutover run start), ``loaded`` (the live tables were swapped in,
    in the same transaction as this row), ``live`` (reconciled: the domain is live), or
    ``rolled_back`` (reconciliation failed after the load: the live tables were dropped), or
    ``revoked`` (``ikou cutover revoke``: a person withdrew the domain's live record; the
    ``live`` row itself is kept and gets ``revoked_at``). Columns: domain, snapshot, run_id, who,
    at (UTC, ISO 8601), manifest_sha256 (of the hand-off set that went live), status, source
    (``cutover``, ``record-live`` or ``revoke``), detail, revoked_at. A partial unique index
    allows one ``live`` row per domain that is not revoked: a second cutover of a live domain
    cannot be recorded even if two runs raced past the guard. Nothing is ever deleted.
``ikou_rehearsal_log``
    the verdict of every rehearsal (domain, run, snapshot, GO / NO-GO / READINESS, reasons,
    projected hours, the hand-off manifest sha256): where the guard finds the GO rehearsal.
``ikou_load_log``
    every load: domain, run, mode, the schema it went into, rows, manifest sha256, when, and
    when a rehearsal schema was dropped again. The row is written in the same transaction as
    the load it records (:meth:`Control.load_logged_in_transaction`): a load that did not commit
    is never logged, a committed one always is. On SQLite, where each rehearsal schema is a file
    of its own, that file keeps its own ``ikou_load_log`` (written in the load's transaction) and
    the row is copied into the control file's log afterwards; :meth:`Control.loads_of` also
    reads the rows a crash left only in a schema file.

The guard (:func:`check`) lets a cutover run start only when a person confirmed it, the domain
is in the migration phase and not live yet, every domain in its ``cuts_over_after`` is live, and
the same snapshot had a GO rehearsal within ``plan.rehearsal.go_valid_days`` whose
``gate_reconciliation`` passed. Domains already live when Ikou was adopted are recorded with
``ikou cutover record-live``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from ikou.errors import BadArgument, Refused
from ikou.load.target import CONTROL_SCHEMA, LOAD_LOG, Target, advisory_key
from ikou.pipeline import (
    DOMAIN_ID,
    REASON_MAX,
    WHO_MAX,
    RunContext,
    check_sha256,
    check_text,
    optional_snapshot,
    parse_snapshot,
)

CUTOVER = "ikou_cutover"
REHEARSAL_LOG = "ikou_rehearsal_log"
STATUSES = ("refused", "started", "loaded", "live", "rolled_back", "revoked")
#: the partial unique index: one live row per domain that was not revoked
ONE_LIVE_INDEX = "ikou_cutover_one_live"
ONE_LIVE_WHERE = "status = 'live' AND revoked_at IS NULL"
#: Japan has no daylight saving time: today in Asia/Tokyo is UTC+9's date
JST = dt.timezone(dt.timedelta(hours=9), "Asia/Tokyo")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _metadata(schema: str | None):
    from sqlalchemy import (
        BigInteger,
        Column,
        Float,
        Index,
        Integer,
        MetaData,
        String,
        Table,
        Text,
        text,
    )

    md = MetaData(schema=schema)
    cut = Table(
        CUTOVER,
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("domain", String(40), nullable=False),
        Column("snapshot", String(10), nullable=False),
        Column("run_id", Text, nullable=False, server_default=""),
        Column("who", Text, nullable=False, server_default=""),
        Column("at", String(32), nullable=False),
        Column("manifest_sha256", String(64), nullable=False, server_default=""),
        Column("status", String(16), nullable=False),
        Column("source", String(16), nullable=False, server_default="cutover"),
        Column("detail", Text, nullable=False, server_default=""),
        Column("revoked_at", String(32)),
    )
    Index(
        ONE_LIVE_INDEX,
        cut.c.domain,
        unique=True,
        postgresql_where=text(ONE_LIVE_WHERE),
        sqlite_where=text(ONE_LIVE_WHERE),
    )
    Index("ikou_cutover_domain", cut.c.domain, cut.c.at)
    reh = Table(
        REHEARSAL_LOG,
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("domain", String(40), nullable=False),
        Column("run_id", Text, nullable=False),
        Column("snapshot", String(10), nullable=False),
        Column("mode", String(16), nullable=False),
        Column("verdict", String(16), nullable=False),
        Column("reasons", Text, nullable=False, server_default="[]"),
        Column("finished_at", String(32), nullable=False),
        Column("report", Text, nullable=False, server_default=""),
        Column("manifest_sha256", String(64), nullable=False, server_default=""),
        Column("projected_hours", Float),
        Column("window_hours", Float),
        Column("elapsed_seconds", Float),
    )
    Index("ikou_rehearsal_log_lookup", reh.c.domain, reh.c.snapshot, reh.c.finished_at)
    load = Table(
        LOAD_LOG,
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("domain", String(40), nullable=False),
        Column("run_id", Text, nullable=False),
        Column("mode", String(16), nullable=False, server_default="rehearsal"),
        Column("target_schema", String(63), nullable=False, server_default=""),
        Column("snapshot", String(10), nullable=False),
        Column("manifest_sha256", String(64), nullable=False),
        Column("rows", BigInteger, nullable=False),
        Column("loaded_at", String(32), nullable=False),
        Column("dropped_at", String(32)),
    )
    return md, cut, reh, load


@dataclass
class Event:
    domain: str
    snapshot: str
    run_id: str
    who: str
    at: str
    manifest_sha256: str
    status: str
    source: str
    detail: str
    revoked_at: str | None = None


class Control:
    """Ikou's control tables in the target database (schema ``ikou`` / the main SQLite file)."""

    def __init__(self, url: str | None = None):
        from ikou.config import settings

        self.target = Target(url or settings().target_db_url, CONTROL_SCHEMA)
        self.dialect = self.target.dialect
        schema = CONTROL_SCHEMA if self.dialect == "postgresql" else None
        self.md, self.cutover, self.rehearsals, self.loads = _metadata(schema)
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
                    loaded_at=_iso(_now()),
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
                .values(dropped_at=_iso(_now()))
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
            "loaded_at": _iso(_now()),
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
                    finished_at=_iso(_now()),
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
                        at=_iso(_now()),
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
        at = _iso(_now())
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
        self, domain: str, snapshot: str, run_id: str, who: str, manifest_sha256: str
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
                    _iso(_now()),
                    manifest_sha256,
                    "loaded",
                    "cutover",
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


#: the load log inside an SQLite schema file (the same columns as the control table)
SQLITE_LOAD_LOG_DDL = (
    f'CREATE TABLE IF NOT EXISTS "{LOAD_LOG}" (id INTEGER PRIMARY KEY AUTOINCREMENT, '
    "domain VARCHAR(40) NOT NULL, run_id TEXT NOT NULL, mode VARCHAR(16) NOT NULL DEFAULT "
    "'rehearsal', target_schema VARCHAR(63) NOT NULL DEFAULT '', snapshot VARCHAR(10) NOT NULL, "
    'manifest_sha256 VARCHAR(64) NOT NULL, "rows" BIGINT NOT NULL, loaded_at VARCHAR(32) NOT NULL, '
    "dropped_at VARCHAR(32))"
)


def _load_key(r: dict) -> tuple:
    return (r["run_id"], r["target_schema"], r["loaded_at"], r["manifest_sha256"])


def inspect_again(conn):
    from sqlalchemy import inspect

    return inspect(conn)


class AlreadyLive(Refused, RuntimeError):
    """The domain is live already: a second cutover (or record-live) is refused (exit 1)."""


def already_live_message(domain: str, ev: Event | None) -> str:
    if ev is None:
        return f"{domain} is already live: a second cutover is refused"
    how = "recorded as live" if ev.source == "record-live" else "cut over"
    return (
        f"{domain} is already live ({how} {ev.at} by {ev.who or 'unknown'}, snapshot {ev.snapshot}"
        f"{', run ' + ev.run_id if ev.run_id else ''}): a second cutover of a live domain is refused. "
        "The live tables stay as they are; a correction is a change in the standard system, not a new cutover."
    )


def today_in_japan() -> dt.date:
    return dt.datetime.now(JST).date()


class UnknownDomain(BadArgument, KeyError):
    """A domain id that is not in the registry (exit 2)."""

    def __str__(self) -> str:
        return self.message


def known_domain(domain: object, option: str = "--domain"):
    """The registry, after checking that ``domain`` is one of its domains (BadArgument if not)."""
    from ikou.domains import registry

    reg = registry()
    text = str(domain or "").strip()
    if not text:
        raise BadArgument(f"{option}: required (one of {', '.join(reg.ids)})")
    if not DOMAIN_ID.fullmatch(text) or text not in reg:
        raise UnknownDomain(f"{option}: unknown domain {text[:40]!r}; known: {', '.join(reg.ids)}")
    return reg


# ----------------------------------------------------------------------------- the guard


def _gate_passed(domain: str, run_id: str, store) -> bool | None:
    """Whether the run's gate_reconciliation passed (None: its report cannot be read)."""
    from ikou.storage import join, zone_uri

    try:
        rep = json.loads(
            store.get_bytes(
                join(zone_uri("reports", domain, run_id), "gates/gate_reconciliation.json")
            )
        )
    except FileNotFoundError:
        return False
    except Exception:  # noqa: BLE001 - the reports zone is unreachable: say so instead of guessing
        return None
    return bool(rep.get("passed")) and rep.get("verdict") == "pass"


def find_go(
    domain: str,
    snapshot: str,
    *,
    control: Control,
    valid_days: int,
    now: dt.datetime | None = None,
    store=None,
) -> tuple[dict | None, list[str]]:
    """The GO rehearsal a cutover of this snapshot may rely on, and why not when there is none.

    It is the newest rehearsal of the snapshot (a newer NO-GO withdraws an older GO), GO,
    finished within ``valid_days``, and its ``gate_reconciliation`` passed (read from the reports
    zone when ``store`` is given)."""
    now = now or _now()
    since = now - dt.timedelta(days=valid_days)
    runs = [r for r in control.rehearsals_of(domain, snapshot) if r["mode"] == "rehearsal"]
    if not runs:
        return None, []
    r = runs[0]
    finished = dt.datetime.fromisoformat(r["finished_at"])
    if r["verdict"] != "GO":
        return None, [
            f"the latest rehearsal of this snapshot (run {r['run_id']}, {r['finished_at']}) was "
            f"{r['verdict']}: {'; '.join(json.loads(r['reasons'] or '[]'))[:300]}"
        ]
    if finished < since:
        return None, [
            f"its latest GO (run {r['run_id']}, {r['finished_at']}) is older than {valid_days} days"
        ]
    if store is not None:
        passed = _gate_passed(domain, r["run_id"], store)
        if passed is None:
            return None, [
                f"gate_reconciliation of run {r['run_id']} could not be read from the reports zone"
            ]
        if not passed:
            return None, [f"run {r['run_id']} was GO but its gate_reconciliation did not pass"]
    return r, []


def check(
    domain: str,
    snapshot: str,
    *,
    confirm: bool,
    control: Control | None = None,
    now: dt.datetime | None = None,
    store=None,
) -> list[str]:
    """Every reason a cutover of ``domain`` / ``snapshot`` must not start (empty: it may).

    An unknown domain or a snapshot that is not a real date is :class:`BadArgument`."""
    reg = known_domain(domain, "domain")
    snapshot = parse_snapshot(snapshot)
    d = reg.get(domain)
    p = reg.plan[domain]
    control = control or Control()
    reasons: list[str] = []
    if not confirm:
        reasons.append(
            "a person must confirm the cutover: set confirm_cutover=true (本番移行の確認)"
        )
    if p.phase != "migration":
        reasons.append(
            f"{domain} ({d.name_ja}) is in the {p.phase} phase: only migration-phase domains cut over"
        )
    live = control.live()
    if domain in live:
        reasons.append(already_live_message(domain, live[domain]))
    for pred in p.cuts_over_after:
        if pred not in live:
            reasons.append(
                f"{pred} ({reg.get(pred).name_ja}) must be live before {domain} cuts over "
                f"(cuts_over_after): cut it over first, or record it with "
                f"`ikou cutover record-live --domain {pred} --snapshot … --who …` if it already is"
            )
    days = reg.plan.source.rehearsal.go_valid_days
    go, notes = find_go(domain, snapshot, control=control, valid_days=days, now=now, store=store)
    if go is None:
        msg = f"no GO rehearsal of snapshot {snapshot} within the last {days} days (plan.rehearsal.go_valid_days)"
        if notes:
            msg += ": " + "; ".join(notes[:3])
        else:
            others = [
                r
                for r in control.rehearsals_of(domain)
                if r["verdict"] == "GO" and r["mode"] == "rehearsal"
            ]
            if others:
                msg += f"; the latest GO was of snapshot {others[0]['snapshot']} ({others[0]['finished_at']})"
        reasons.append(msg + " — run a rehearsal of this snapshot first")
    return reasons


class CutoverRefused(Refused):
    """The cutover guard said no; the message lists every reason."""


def guard(ctx: RunContext, *, store=None, control: Control | None = None) -> None:
    """The cutover guard, first thing of a run — the same rules wherever it is called.

    A rehearsal passes. A cutover starts only when a person confirmed it, the domain is in the
    migration phase and not live yet, every domain in its ``cuts_over_after`` is live, and the
    same snapshot had a GO rehearsal within ``plan.rehearsal.go_valid_days`` (see :func:`check`).
    A refusal is recorded (who, why) in ``ikou_cutover`` and raised as :class:`CutoverRefused`;
    an accepted start is recorded once per run."""
    if not ctx.cutover:
        return
    from ikou.storage import Store
    from ikou.storage.publication import latest_snapshot

    store = store or Store()
    snap = ctx.snapshot or latest_snapshot(store, ctx.domain)
    control = control or Control()
    reasons = check(ctx.domain, snap, confirm=ctx.confirm, control=control, store=store)
    if reasons:
        control.record(
            "refused",
            domain=ctx.domain,
            snapshot=snap,
            run_id=ctx.run_id,
            who=ctx.who,
            detail=json.dumps(reasons, ensure_ascii=False),
        )
        raise CutoverRefused(
            f"cutover of {ctx.domain} (snapshot {snap}) refused:\n"
            + "\n".join(f"  ✗ {r}" for r in reasons)
        )
    if not any(
        e.status == "started" and e.run_id == ctx.run_id for e in control.events(ctx.domain)
    ):
        control.record(
            "started",
            domain=ctx.domain,
            snapshot=snap,
            run_id=ctx.run_id,
            who=ctx.who,
            detail="guard passed: confirmed, GO rehearsal found, predecessors live",
        )


def status_rows(control: Control | None = None) -> list[dict]:
    """One row per domain of the plan: live or not, the latest event and the latest rehearsal."""
    from ikou.domains import registry

    reg = registry()
    control = control or Control()
    live = control.live()
    out = []
    events = control.events()
    for d in reg.plan.cutover_order():
        evs = [e for e in events if e.domain == d]
        reh = control.rehearsals_of(d)
        last_go = next((r for r in reh if r["verdict"] == "GO" and r["mode"] == "rehearsal"), None)
        out.append(
            {
                "domain": d,
                "name_ja": reg.get(d).name_ja,
                "wave": reg.plan[d].wave,
                "phase": reg.plan[d].phase,
                "target_date": str(reg.plan[d].target_date),
                "live": d in live,
                "live_since": live[d].at if d in live else None,
                "live_snapshot": live[d].snapshot if d in live else None,
                "live_by": live[d].who if d in live else None,
                "live_source": live[d].source if d in live else None,
                "manifest_sha256": live[d].manifest_sha256 if d in live else None,
                "last_event": (evs[-1].status + " " + evs[-1].at) if evs else None,
                "last_rehearsal": (
                    f"{reh[0]['verdict']} {reh[0]['snapshot']} {reh[0]['finished_at']}"
                    if reh
                    else None
                ),
                "last_go": (f"{last_go['snapshot']} {last_go['finished_at']}" if last_go else None),
            }
        )
    return out


# ----------------------------------------------------------------------------- command line


_APPLIES = {
    # option -> the actions it applies to (anything else is a bad combination, exit 2)
    "snapshot": ("check", "record-live"),
    "who": ("record-live", "revoke"),
    "reason": ("revoke",),
    "manifest_sha256": ("record-live",),
    "note": ("record-live",),
    "confirm": ("check",),
}


def _check_combination(args) -> None:
    for name, actions in _APPLIES.items():
        value = getattr(args, name, None)
        if value and args.action not in actions:
            option = "--" + name.replace("_", "-")
            raise BadArgument(
                f"{option} does not apply to `cutover {args.action}` (only to "
                f"{' / '.join(actions)})"
            )


def cli(args) -> int:
    """``ikou cutover status|check|record-live|revoke`` (see ikou.cli). Bad arguments raise
    :class:`BadArgument` (exit 2), refusals :class:`Refused` (exit 1); ``check`` exits 1 when a
    cutover would be refused."""
    _check_combination(args)
    if args.action in ("check", "record-live", "revoke") and not (args.domain or "").strip():
        raise BadArgument(f"cutover {args.action} needs --domain")
    if args.domain:
        known_domain(args.domain, "--domain")
    if args.action == "record-live":
        if not str(args.snapshot or "").strip():
            raise BadArgument("cutover record-live needs --snapshot (YYYY-MM-DD or YYYYMMDD)")
        parse_snapshot(args.snapshot, "--snapshot")
        check_text(args.who or "", "--who", max_len=WHO_MAX, required=True)
        check_sha256(args.manifest_sha256)
        ev = Control().record_live(
            args.domain,
            args.snapshot,
            args.who,
            manifest_sha256=args.manifest_sha256,
            note=args.note,
        )
        print(f"{ev.domain} recorded as live: snapshot {ev.snapshot}, by {ev.who}, at {ev.at}")
        return 0
    if args.action == "revoke":
        check_text(args.who or "", "--who", max_len=WHO_MAX, required=True)
        check_text(args.reason or "", "--reason", max_len=REASON_MAX, required=True)
        ev = Control().revoke(args.domain, args.who, args.reason)
        print(
            f"{ev.domain}: live record (snapshot {ev.snapshot}) revoked by {ev.who} at {ev.at}; "
            "it is no longer live and can be recorded live again"
        )
        return 0
    if args.action == "check":
        snap = optional_snapshot(args.snapshot, "--snapshot")
        control = Control().ensure()
        from ikou.storage import NotPublished, Store
        from ikou.storage.publication import latest_snapshot

        store = Store()
        if snap is None:
            try:
                snap = latest_snapshot(store, args.domain)
            except NotPublished as exc:
                raise Refused(f"{exc.message}; or name one with --snapshot") from None
        reasons = check(args.domain, snap, confirm=args.confirm, control=control, store=store)
        if args.json:
            print(
                json.dumps(
                    {
                        "domain": args.domain,
                        "snapshot": snap,
                        "may_start": not reasons,
                        "reasons": reasons,
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
        elif reasons:
            print(f"a cutover of {args.domain} (snapshot {snap}) would be refused:")
            for r in reasons:
                print(f"  ✗ {r}")
        else:
            print(f"a cutover of {args.domain} (snapshot {snap}) may start")
        return 1 if reasons else 0
    control = Control()
    rows = status_rows(control)
    events = control.events(args.domain) if args.domain else []
    if args.json:
        print(
            json.dumps(
                {"domains": rows, "events": [e.__dict__ for e in events]},
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    print(
        f"{'domain':<16} {'wave':>4} {'phase':<11} {'live':<5} {'since':<25} {'snapshot':<10} {'by':<16} last rehearsal"
    )
    for r in rows:
        if args.domain and r["domain"] != args.domain:
            continue
        print(
            f"{r['domain']:<16} {r['wave']:>4} {r['phase']:<11} {'yes' if r['live'] else 'no':<5} "
            f"{r['live_since'] or '':<25} {r['live_snapshot'] or '':<10} {(r['live_by'] or '')[:16]:<16} "
            f"{r['last_rehearsal'] or ''}"
        )
    for e in events:
        print(
            f"  {e.at} {e.status:<11} snapshot {e.snapshot} run {e.run_id or '-'} by {e.who or '-'} "
            f"{('sha256 ' + e.manifest_sha256[:12]) if e.manifest_sha256 else ''} {e.detail[:160]}"
        )
    return 0
