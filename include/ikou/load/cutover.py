"""The cutover guard: whether a cutover run may start, recorded in the control tables.

The guard (:func:`check`) lets a cutover run start only when a person confirmed it, the domain
is in the migration phase and not live yet, every domain in its ``cuts_over_after`` is live, and
the same snapshot had a GO rehearsal within ``plan.rehearsal.go_valid_days`` whose
``gate_reconciliation`` passed. Domains already live when Ikou was adopted are recorded with
``ikou cutover record-live``.

The short window (差分移行, issue 12) adds two runs:

* ``mode=load_ahead`` loads a snapshot in full into the live schema days ahead of the cutover and
  records ``loaded_ahead`` — never ``live``. Its rules: confirmed, migration phase, not live, and a
  GO rehearsal of that snapshot (the predecessors need not be live: nothing goes live).
* a delta cutover (``mode=cutover`` with ``base_snapshot``) applies the difference to it. On top
  of a cutover's rules it needs the domain ``loaded_ahead`` with that base snapshot, and the live
  schema's load log still showing the manifest sha256 the ``loaded_ahead`` event recorded (no
  load, drop or other delta since), and — read from S3 — the base snapshot's latest validated
  output still that load ahead's (or a run of it whose hand-off holds the same rows): a base run
  again after the load ahead with other rows (a cleansing rule changed) is refused up front, not
  by the delta apply after extract..diff. The diff reads its base from the load ahead
  (:func:`loaded_base`), never from a later run of the base snapshot.

Only ``live`` satisfies ``cuts_over_after``.
"""

from __future__ import annotations

import datetime as dt
import json

from ikou.errors import Refused, Unreachable
from ikou.load.control import Control
from ikou.load.control_tables import Event, already_live_message, known_domain, now_utc
from ikou.pipeline import RunContext, parse_snapshot


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
    now = now or now_utc()
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


def load_ahead_hint(base_snapshot: str) -> str:
    return (
        f"run the full load ahead first: mode=load_ahead, snapshot={base_snapshot}, "
        "confirm_cutover=true (after a GO rehearsal of it)"
    )


def handoff_data(published: dict) -> dict[str, str]:
    """What a full hand-off set puts into the target, from its publication manifest: sha256 by
    CSV file. Two sets with the same data differ in their manifest sha256 all the same (it holds
    the run id, the mode and the code version), so this, not the sha256, says whether a base
    published again holds other data than the one loaded ahead."""
    return {
        f["name"]: f["sha256"] for f in published.get("files", []) if f["name"].endswith(".csv")
    }


def republished_reason(
    domain: str,
    base_snapshot: str,
    ahead_run: str,
    ahead_published: dict,
    latest_run: str,
    latest_published: dict | None,
) -> str | None:
    """Why the base's latest validated output (run ``latest_run``, its hand-off's publication
    manifest ``latest_published``, None: never handed off) is not the load ahead (run
    ``ahead_run``): None when it is that run, or a hand-off with the same data. Pure."""
    if latest_run == ahead_run:
        return None
    loaded = handoff_data(ahead_published)
    if latest_published is not None and handoff_data(latest_published) == loaded:
        return None  # the same rows again (a rehearsal for timing): the load ahead is current
    if latest_published is None:
        latest = f"run {latest_run}, never handed off"
        what = "may hold other data than"
    else:
        latest = f"run {latest_run}, sha256 {latest_published['handoff_manifest_sha256'][:12]}"
        now = handoff_data(latest_published)
        changed = sorted(
            n.removesuffix(".csv") for n in set(loaded) | set(now) if loaded.get(n) != now.get(n)
        )
        what = f"holds other data ({', '.join(changed)}) than"
    return (
        f"{domain}: the base snapshot {base_snapshot} was published again after its load ahead: "
        f"its latest hand-off ({latest}) {what} the one loaded ahead (run {ahead_run}, sha256 "
        f"{ahead_published['handoff_manifest_sha256'][:12]}); load it ahead again "
        f"(mode=load_ahead, snapshot={base_snapshot}, confirm_cutover=true), or re-publish the "
        f"loaded one (a run of {base_snapshot} whose output equals it)"
    )


class BaseUnreadable(Unreachable):
    """The base's publications could not be read from S3 (neither fresh nor stale: unknown)."""


def loaded_base(domain: str, base_snapshot: str, ahead: Event, store) -> tuple[dict, str | None]:
    """The base a delta cutover applies its difference to — the load ahead's validated output,
    exactly (``{"run_id", "uri", "handoff", "sha256"}``: its hand-off is what the load log
    holds) — and why the cutover must not start from it (None: it may). The diff stage reads its
    base from here, so a later run of the base snapshot can never slip in.
    S3 that cannot be read: :class:`BaseUnreadable`."""
    from ikou.storage import NotPublished, publication, zone_uri

    prefix = zone_uri("handoff", domain, ahead.run_id)
    try:
        try:
            published = publication.read_manifest(store, prefix)
        except NotPublished:
            return {}, (
                f"{domain}: the hand-off set loaded ahead ({prefix}, sha256 "
                f"{ahead.manifest_sha256[:12]}) is no longer published: "
                + load_ahead_hint(base_snapshot)
            )
        if published.get("handoff_manifest_sha256") != ahead.manifest_sha256:
            return {}, (
                f"{domain}: the hand-off set at {prefix} is not the one loaded ahead (sha256 "
                f"{str(published.get('handoff_manifest_sha256'))[:12]}, loaded_ahead "
                f"{ahead.manifest_sha256[:12]}): " + load_ahead_hint(base_snapshot)
            )
        base = {
            "run_id": ahead.run_id,
            "uri": published.get("input") or zone_uri("validated", domain, ahead.run_id),
            "handoff": prefix,
            "sha256": ahead.manifest_sha256,
        }
        try:
            latest = publication.latest_validated(store, domain, base_snapshot)["run_id"]
        except NotPublished:
            return base, (
                f"{domain}: the base snapshot {base_snapshot} has no validated output any more "
                f"(the load ahead's was run {ahead.run_id}): " + load_ahead_hint(base_snapshot)
            )
        latest_published = None
        if latest != ahead.run_id:
            try:
                latest_published = publication.read_manifest(
                    store, zone_uri("handoff", domain, latest)
                )
            except NotPublished:
                latest_published = None
    except Exception as exc:  # noqa: BLE001 - S3 unreachable: unknown, never "fresh"
        raise BaseUnreadable(
            f"{domain}: the publications of the base snapshot {base_snapshot} could not be read "
            f"from S3 ({type(exc).__name__})"
        ) from None
    return base, republished_reason(
        domain, base_snapshot, ahead.run_id, published, latest, latest_published
    )


def delta_base(domain: str, base_snapshot: str, control: Control, store) -> dict:
    """The base a delta cutover's diff reads (:func:`loaded_base`: the load ahead's validated
    output, never a later run of the base snapshot), after the guard's rules for it once more
    (a run of the base between the guard and the diff): :class:`CutoverRefused` when they say no."""
    reasons = ahead_reasons(domain, base_snapshot, control, store)
    if reasons:
        raise CutoverRefused(
            f"delta cutover of {domain} from base_snapshot {base_snapshot} refused: "
            + "; ".join(reasons)
        )
    ahead = control.loaded_ahead(domain)
    assert ahead is not None  # ahead_reasons said so
    return loaded_base(domain, base_snapshot, ahead, store)[0]


def ahead_reasons(domain: str, base_snapshot: str, control: Control, store=None) -> list[str]:
    """Why a delta cutover from ``base_snapshot`` must not start (empty: the full load ahead of
    that snapshot is what the live schema holds and, given ``store``, still what the base
    snapshot's published output holds — see :func:`loaded_base`)."""
    ahead = control.loaded_ahead(domain)
    hint = load_ahead_hint(base_snapshot)
    if ahead is None:
        return [f"{domain} was not loaded ahead (no loaded_ahead): {hint}"]
    if ahead.snapshot != base_snapshot:
        return [
            f"{domain} was loaded ahead with snapshot {ahead.snapshot}, not the base_snapshot "
            f"{base_snapshot}: use base_snapshot={ahead.snapshot}, or {hint}"
        ]
    held = control.live_load(domain)
    if held is None or held["manifest_sha256"] != ahead.manifest_sha256:
        now_held = held["manifest_sha256"][:12] if held else "nothing"
        return [
            f"the live schema no longer holds the load ahead of {base_snapshot} (loaded_ahead "
            f"{ahead.manifest_sha256[:12]}, load log {now_held}): {hint}"
        ]
    if store is not None:
        try:
            _, reason = loaded_base(domain, base_snapshot, ahead, store)
        except BaseUnreadable as exc:
            reason = f"{exc.message}: whether it is still the load ahead is unknown"
        if reason:
            return [reason]
    return []


def check(
    domain: str,
    snapshot: str,
    *,
    confirm: bool,
    control: Control | None = None,
    now: dt.datetime | None = None,
    store=None,
    mode: str = "cutover",
    base_snapshot: str | None = None,
) -> list[str]:
    """Every reason a cutover (``mode=load_ahead``: a full load ahead) of ``domain`` /
    ``snapshot`` must not start (empty: it may); ``base_snapshot``: a delta cutover's base.

    An unknown domain or a snapshot that is not a real date is :class:`BadArgument`."""
    reg = known_domain(domain, "domain")
    snapshot = parse_snapshot(snapshot)
    d = reg.get(domain)
    p = reg.plan[domain]
    control = control or Control()
    reasons: list[str] = []
    what = "load ahead" if mode == "load_ahead" else "cutover"
    if not confirm:
        reasons.append(
            f"a person must confirm the {what}: set confirm_cutover=true (本番移行の確認)"
        )
    if p.phase != "migration":
        reasons.append(
            f"{domain} ({d.name_ja}) is in the {p.phase} phase: only migration-phase domains cut over"
        )
    live = control.live()
    if domain in live:
        reasons.append(already_live_message(domain, live[domain]))
    if mode == "cutover" and base_snapshot:
        reasons += ahead_reasons(
            domain, parse_snapshot(base_snapshot, "base_snapshot"), control, store
        )
    for pred in p.cuts_over_after if mode == "cutover" else ():
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
    an accepted start is recorded once per run. A ``load_ahead`` run and a delta cutover are
    guarded the same way, with their rules (see the module docstring)."""
    if not ctx.live_target:
        return
    from ikou.storage import Store
    from ikou.storage.publication import latest_snapshot

    store = store or Store()
    snap = ctx.snapshot or latest_snapshot(store, ctx.domain)
    control = control or Control()
    reasons = check(
        ctx.domain,
        snap,
        confirm=ctx.confirm,
        control=control,
        store=store,
        mode=ctx.mode,
        base_snapshot=ctx.base_snapshot,
    )
    what = (
        "load ahead"
        if ctx.mode == "load_ahead"
        else "delta cutover"
        if ctx.base_snapshot
        else "cutover"
    )
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
            f"{what} of {ctx.domain} (snapshot {snap}) refused:\n"
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
            source="load_ahead" if ctx.mode == "load_ahead" else "cutover",
            detail=f"guard passed ({what}): confirmed, GO rehearsal found"
            + ("" if ctx.mode == "load_ahead" else ", predecessors live")
            + (f", loaded ahead with {ctx.base_snapshot}" if ctx.base_snapshot else ""),
        )
