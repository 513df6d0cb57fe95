"""Cutover state, the rehearsal log and the cutover guard — kept durably in the target database.

Control tables (schema ``ikou`` on PostgreSQL, the main file ``target.sqlite`` on SQLite):

``ikou_cutover``
    one row per event of a domain's cutover: ``refused`` (the guard said no, and why),
    ``started`` (the guard let a cutover run start), ``loaded`` (the live tables were swapped in,
    in the same transaction as this row), ``live`` (reconciled: the domain is live), or
    ``rolled_back`` (reconciliation failed after the load: the live tables were dropped). Columns:
    domain, snapshot, run_id, who, at (UTC, ISO 8601), manifest_sha256 (of the hand-off set that
    went live), status, source (``cutover`` or ``record-live``), detail. A partial unique index
    allows one ``live`` row per domain: a second cutover of a live domain cannot be recorded even
    if two runs raced past the guard.
``ikou_rehearsal_log``
    the verdict of every rehearsal (domain, run, snapshot, GO / NO-GO / READINESS, reasons,
    projected hours, the hand-off manifest sha256): where the guard finds the GO rehearsal.
``ikou_load_log``
    every load: domain, run, mode, the schema it went into, rows, manifest sha256, when, and
    when a rehearsal schema was dropped again.

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

from ikou.errors import Refused
from ikou.load.target import CONTROL_SCHEMA, LOAD_LOG, Target, advisory_key
from ikou.pipeline import RunContext

CUTOVER = "ikou_cutover"
REHEARSAL_LOG = "ikou_rehearsal_log"
STATUSES = ("refused", "started", "loaded", "live", "rolled_back")


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
    )
    Index(
        "ikou_cutover_one_live",
        cut.c.domain,
        unique=True,
        postgresql_where=text("status = 'live'"),
        sqlite_where=text("status = 'live'"),
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
        from sqlalchemy import inspect

        eng = self.target.engine()
        with eng.begin() as conn:
            schema = None
            if self.dialect == "postgresql":
                schema = CONTROL_SCHEMA
                conn.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(%s)"
                    % advisory_key("ikou-schema", CONTROL_SCHEMA)
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
        self._ready = True
        return self

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
        return [dict(r) for r in rows]

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
        """The live domains, each with the event that made it live."""
        self.ensure()
        with self.target.engine().connect() as conn:
            rows = (
                conn.execute(self.cutover.select().where(self.cutover.c.status == "live"))
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
        self, domain: str, snapshot: str, who: str, *, manifest_sha256: str = "", note: str = ""
    ) -> Event:
        """A domain that is already live (e.g. cut over before Ikou was adopted)."""
        from ikou.domains import registry

        registry().get(domain)  # unknown domains fail here
        if not who.strip():
            raise ValueError("record-live needs --who (the person recording it)")
        _check_snapshot(snapshot)
        existing = self.live().get(domain)
        if existing:
            raise AlreadyLive(already_live_message(domain, existing))
        self.record(
            "live",
            domain=domain,
            snapshot=snapshot,
            who=who.strip(),
            manifest_sha256=manifest_sha256,
            source="record-live",
            detail=note or "recorded as live (cut over outside Ikou)",
        )
        return self.live()[domain]

    # -- in the load transaction -----------------------------------------------------------------
    def guard_in_transaction(self, domain: str):
        """For :meth:`Target.load` of a cutover: refuse inside the load's transaction if the
        domain is live (the guard at the start of the run checked it too; this closes the gap)."""

        def guard(cur, dialect: str) -> None:
            q = self._q(dialect)
            cur.execute(
                f"SELECT snapshot, who, at, run_id FROM {self._t(dialect, CUTOVER)} "
                f"WHERE domain = {q} AND status = 'live'",
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


class AlreadyLive(RuntimeError):
    pass


def already_live_message(domain: str, ev: Event | None) -> str:
    if ev is None:
        return f"{domain} is already live: a second cutover is refused"
    how = "recorded as live" if ev.source == "record-live" else "cut over"
    return (
        f"{domain} is already live ({how} {ev.at} by {ev.who or 'unknown'}, snapshot {ev.snapshot}"
        f"{', run ' + ev.run_id if ev.run_id else ''}): a second cutover of a live domain is refused. "
        "The live tables stay as they are; a correction is a change in the standard system, not a new cutover."
    )


def _check_snapshot(snapshot: str) -> None:
    try:
        dt.date.fromisoformat(snapshot)
    except ValueError:
        raise ValueError(f"snapshot must be YYYY-MM-DD, not {snapshot!r}") from None


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
    """Every reason a cutover of ``domain`` / ``snapshot`` must not start (empty: it may)."""
    from ikou.domains import registry

    reg = registry()
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


def cli(args) -> int:
    """``ikou cutover status|check|record-live`` (see ikou.cli)."""
    control = Control()
    if args.action == "record-live":
        if not args.domain or not args.snapshot:
            print("record-live needs --domain, --snapshot and --who")
            return 2
        try:
            ev = control.record_live(
                args.domain,
                args.snapshot,
                args.who,
                manifest_sha256=args.manifest_sha256,
                note=args.note,
            )
        except (AlreadyLive, ValueError, KeyError) as exc:
            print(f"refused: {exc}")
            return 1
        print(f"{ev.domain} recorded as live: snapshot {ev.snapshot}, by {ev.who}, at {ev.at}")
        return 0
    if args.action == "check":
        if not args.domain:
            print("check needs --domain")
            return 2
        from ikou.storage import Store
        from ikou.storage.publication import latest_snapshot

        store = Store()
        snap = args.snapshot or latest_snapshot(store, args.domain)
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
