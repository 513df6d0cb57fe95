"""``ikou cutover status|check|record-live|revoke``: the cutover state in the target database
(the control tables, :mod:`ikou.load.control`) and the guard's answer (:mod:`ikou.load.cutover`)."""

from __future__ import annotations

import json

from ikou.errors import BadArgument, Refused
from ikou.load.control import Control
from ikou.load.control_tables import known_domain
from ikou.load.cutover import BaseUnreadable, check, loaded_base
from ikou.pipeline import (
    REASON_MAX,
    WHO_MAX,
    check_sha256,
    check_text,
    optional_snapshot,
    parse_snapshot,
)


def ahead_check(domain: str, ahead, held: dict | None, store) -> tuple[str, str | None]:
    """A load ahead's state and why it is not current: stale when the live schema's load log no
    longer shows it, or when its base snapshot was published again with other data since
    (:func:`ikou.load.cutover.loaded_base`, read from S3 when ``store`` is given); unverified
    when S3 cannot be read."""
    state = state_of(False, ahead, held)
    if state != "loaded_ahead":
        now = held["manifest_sha256"][:12] if held else "nothing"
        return state, f"the live schema's load log shows {now}, not {ahead.manifest_sha256[:12]}"
    if store is None:
        return state, None
    try:
        _, reason = loaded_base(domain, ahead.snapshot, ahead, store)
    except BaseUnreadable as exc:
        return "loaded_ahead (unverified)", exc.message
    return ("loaded_ahead (stale)", reason) if reason else (state, None)


def status_rows(control: Control | None = None, store=None) -> list[dict]:
    """One row per domain of the plan: live or not, the latest event and the latest rehearsal;
    a domain loaded ahead is checked against the base's publications too when ``store`` is given."""
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
        ahead = next((e for e in reversed(evs) if e.status == "loaded_ahead"), None)
        state, why = ("live" if d in live else "not live"), None
        if ahead is not None and d not in live:
            state, why = ahead_check(d, ahead, control.live_load(d), store)
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
                "state": state,
                "stale_reason": why,
                "loaded_ahead_snapshot": ahead.snapshot if ahead else None,
                "loaded_ahead_at": ahead.at if ahead else None,
                "loaded_ahead_sha256": ahead.manifest_sha256 if ahead else None,
            }
        )
    return out


def state_of(live: bool, ahead, held: dict | None) -> str:
    """A domain's cutover state: ``live``; ``loaded_ahead`` (the live schema holds the full load
    ahead its event recorded: a delta cutover may start from it); ``loaded_ahead (stale)`` (the
    live schema no longer holds it; :func:`ahead_check` also when its base was published again);
    or ``not live``."""
    if live:
        return "live"
    if ahead is None:
        return "not live"
    if held is not None and held["manifest_sha256"] == ahead.manifest_sha256:
        return "loaded_ahead"
    return "loaded_ahead (stale)"


_APPLIES = {
    # option -> the actions it applies to (anything else is a bad combination, exit 2)
    "snapshot": ("check", "record-live"),
    "who": ("record-live", "revoke"),
    "reason": ("revoke",),
    "manifest_sha256": ("record-live",),
    "note": ("record-live",),
    "confirm": ("check",),
    "base_snapshot": ("check",),
    "load_ahead": ("check",),
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
        base = optional_snapshot(getattr(args, "base_snapshot", ""), "--base-snapshot")
        mode = "load_ahead" if getattr(args, "load_ahead", False) else "cutover"
        if base and mode == "load_ahead":
            raise BadArgument("--base-snapshot is a delta cutover's; --load-ahead loads in full")
        if base and base >= snap:
            raise BadArgument(f"--base-snapshot {base} must be earlier than the snapshot {snap}")
        reasons = check(
            args.domain,
            snap,
            confirm=args.confirm,
            control=control,
            store=store,
            mode=mode,
            base_snapshot=base,
        )
        what = (
            "a load ahead" if mode == "load_ahead" else "a delta cutover" if base else "a cutover"
        )
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
            print(f"{what} of {args.domain} (snapshot {snap}) would be refused:")
            for r in reasons:
                print(f"  ✗ {r}")
        else:
            print(f"{what} of {args.domain} (snapshot {snap}) may start")
        return 1 if reasons else 0
    control = Control()
    from ikou.storage import Store

    rows = status_rows(control, Store())
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
        f"{'domain':<16} {'wave':>4} {'phase':<11} {'state':<25} {'since':<25} {'snapshot':<10} {'by':<16} last rehearsal"
    )
    for r in rows:
        if args.domain and r["domain"] != args.domain:
            continue
        ahead = r["state"].startswith("loaded_ahead")
        print(
            f"{r['domain']:<16} {r['wave']:>4} {r['phase']:<11} {r['state']:<25} "
            f"{(r['loaded_ahead_at'] if ahead else r['live_since']) or '':<25} "
            f"{(r['loaded_ahead_snapshot'] if ahead else r['live_snapshot']) or '':<10} "
            f"{(r['live_by'] or '')[:16]:<16} {r['last_rehearsal'] or ''}"
        )
        if r["stale_reason"]:
            print(f"  ↳ {r['stale_reason']}")
    for e in events:
        print(
            f"  {e.at} {e.status:<11} snapshot {e.snapshot} run {e.run_id or '-'} by {e.who or '-'} "
            f"{('sha256 ' + e.manifest_sha256[:12]) if e.manifest_sha256 else ''} {e.detail[:160]}"
        )
    return 0
