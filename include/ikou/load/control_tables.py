"""Ikou's control tables in the target database: their definitions, the cutover events read
from them, and the small rules the control (:mod:`ikou.load.control`) and the cutover guard
(:mod:`ikou.load.cutover`) share (a domain id is known, a live domain is not cut over again,
today in Japan).

Control tables (schema ``ikou`` on PostgreSQL, the main file ``target.sqlite`` on SQLite):

``ikou_cutover``
    one row per event of a domain's cutover: ``refused`` (the guard said no, and why),
    ``started`` (the guard let a cutover run start), ``loaded`` (the live tables were swapped in,
    in the same transaction as this row), ``loaded_ahead`` (a ``load_ahead`` run reconciled the
    full snapshot it loaded into the live schema ahead of a delta cutover: never live; its
    manifest_sha256 is what the load log recorded), ``live`` (reconciled: the domain is live), or
    ``rolled_back`` (reconciliation failed after the load: the live tables were dropped), or
    ``revoked`` (``ikou cutover revoke``: a person withdrew the domain's live record; the
    ``live`` row itself is kept and gets ``revoked_at``). Columns: domain, snapshot, run_id, who,
    at (UTC, ISO 8601), manifest_sha256 (of the hand-off set that went live), status, source
    (``cutover``, ``load_ahead``, ``record-live`` or ``revoke``), detail, revoked_at. A partial unique index
    allows one ``live`` row per domain that is not revoked: a second cutover of a live domain
    cannot be recorded even if two runs raced past the guard. Nothing is ever deleted.
``ikou_rehearsal_log``
    the verdict of every rehearsal (domain, run, snapshot, GO / NO-GO / READINESS, reasons,
    projected hours, the hand-off manifest sha256): where the guard finds the GO rehearsal.
``ikou_load_log``
    every load: domain, run, mode, the schema it went into, rows, manifest sha256, when, and
    when a rehearsal schema was dropped again. The row is written in the same transaction as
    the load it records (:meth:`ikou.load.control.Control.load_logged_in_transaction`): a load that did not commit
    is never logged, a committed one always is. On SQLite, where each rehearsal schema is a file
    of its own, that file keeps its own ``ikou_load_log`` (written in the load's transaction) and
    the row is copied into the control file's log afterwards; :meth:`ikou.load.control.Control.loads_of` also
    reads the rows a crash left only in a schema file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ikou.errors import BadArgument, Refused
from ikou.load.target import LOAD_LOG
from ikou.pipeline import DOMAIN_ID

CUTOVER = "ikou_cutover"
REHEARSAL_LOG = "ikou_rehearsal_log"
STATUSES = ("refused", "started", "loaded", "loaded_ahead", "live", "rolled_back", "revoked")
#: the partial unique index: one live row per domain that was not revoked
ONE_LIVE_INDEX = "ikou_cutover_one_live"
ONE_LIVE_WHERE = "status = 'live' AND revoked_at IS NULL"
#: Japan has no daylight saving time: today in Asia/Tokyo is UTC+9's date
JST = dt.timezone(dt.timedelta(hours=9), "Asia/Tokyo")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def iso_utc(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def control_metadata(schema: str | None):
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


#: the load log inside an SQLite schema file (the same columns as the control table)
SQLITE_LOAD_LOG_DDL = (
    f'CREATE TABLE IF NOT EXISTS "{LOAD_LOG}" (id INTEGER PRIMARY KEY AUTOINCREMENT, '
    "domain VARCHAR(40) NOT NULL, run_id TEXT NOT NULL, mode VARCHAR(16) NOT NULL DEFAULT "
    "'rehearsal', target_schema VARCHAR(63) NOT NULL DEFAULT '', snapshot VARCHAR(10) NOT NULL, "
    'manifest_sha256 VARCHAR(64) NOT NULL, "rows" BIGINT NOT NULL, loaded_at VARCHAR(32) NOT NULL, '
    "dropped_at VARCHAR(32))"
)


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
