"""What ``ikou stack run`` checks before it starts and prints when the master has run: the run's
timeout, the landing zone's city (another city is refused), the next month's snapshot of
``IKOU_DELTA=1``, and the table per domain (with the delta path's lines and whether the night's
outcome is mailed). No process is started here: :mod:`ikou_dev.localstack` drives the stack and
passes its REST client (``api``) in.
"""

from __future__ import annotations

import json
import os
import urllib.error

from ikou.errors import BadArgument
from ikou_dev.localstack_env import adopt, stack_env

SYMBOL = {
    "success": "✓",
    "failed": "✗",
    "upstream_failed": "↑",
    "skipped": "-",
    "running": "…",
    "queued": "…",
    "scheduled": "…",
    "deferred": "…",
    None: "·",
    "up_for_retry": "r",
    "removed": "·",
}


#: The run's timeout when ``IKOU_RUN_TIMEOUT`` is not set: 30 minutes plus 1.5 s per 1,000
#: residents (20,000 → 30.5 min; 1,000,000 → 55 min; 3,800,000 → 125 min) for the master run.
RUN_TIMEOUT_BASE = 1800.0
RUN_TIMEOUT_PER_1000 = 1.5


def run_timeout(residents: int, env: dict | None = None) -> float:
    """Seconds ``ikou stack run`` waits for the master: ``IKOU_RUN_TIMEOUT`` or the city's default."""

    value = (os.environ if env is None else env).get("IKOU_RUN_TIMEOUT", "").strip()
    if value:
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if seconds <= 0:
            raise BadArgument(f"IKOU_RUN_TIMEOUT {value!r}: expected seconds > 0")
        return seconds
    return RUN_TIMEOUT_BASE + RUN_TIMEOUT_PER_1000 * max(residents, 0) / 1000


def check_landing(store, residents: int, seed: int, snapshot: str) -> list[str]:
    """The domains whose snapshot is missing from the landing zone; refuses another city.

    A snapshot the landing zone already holds is rehearsed as it is, so it must be the city this
    run asked for: a manifest recording other residents or another seed (or none, written before
    synth recorded its city) is a :class:`~ikou.errors.BadArgument` (exit 2), one line.
    """
    import json as _json

    from ikou.domains import registry
    from ikou.storage import MANIFEST, join, landing_uri

    missing = []
    for d in registry():
        uri = join(landing_uri(d.id, snapshot), MANIFEST)
        if not store.exists(uri):
            missing.append(d.id)
            continue
        try:
            doc = _json.loads(store.get_bytes(uri))
        except ValueError:
            doc = {}
        held, held_seed = doc.get("residents"), doc.get("seed")
        fix = "set IKOU_SNAPSHOT or make clean-data"
        if not isinstance(held, int):
            raise BadArgument(
                f"snapshot {snapshot} holds a city of unknown size (written before synth recorded "
                f"its city); {fix}"
            )
        if held != residents:
            raise BadArgument(f"snapshot {snapshot} holds {held:,} residents; {fix}")
        if held_seed != seed:
            raise BadArgument(
                f"snapshot {snapshot} holds the city of seed {held_seed} (this run: seed {seed}); "
                f"{fix}"
            )
    return missing


def next_month(snapshot: str) -> str:
    """The snapshot a month of changes after ``snapshot`` (the day kept, or the month's last)."""
    import calendar
    import datetime as dt

    d = dt.date.fromisoformat(snapshot)
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1])).isoformat()


def print_table(api, master_run_id: str, delta: bool = False) -> None:
    from ikou.domains import registry

    adopt(stack_env())
    from ikou.pipeline import STAGES, TASK_IDS, domain_run_id
    from ikou.storage import Store, join, zone_uri

    store = Store()
    reg = registry()
    stages = TASK_IDS
    letters = " ".join(x for s in STAGES for x in (s.abbrev, s.gate_abbrev))
    head = (
        f"{'domain':<17} {'phase':<11} {'stages (' + letters + ')':<22} {'verdict':<9} {'in':>8} {'out':>8} "
        f"{'quar':>5} {'merged':>6} {'secs':>6}  report"
    )
    print("\n" + head + "\n" + "-" * len(head))
    reports: dict[str, dict] = {}
    for d in reg.plan.rehearsal_order():
        dag_id, run_id = f"migrate_{d}", domain_run_id(master_run_id, d)
        try:
            tis = {
                t["task_id"]: t
                for t in api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")[
                    "task_instances"
                ]
            }
        except urllib.error.HTTPError:
            tis = {}
        marks = " ".join(SYMBOL.get((tis.get(s) or {}).get("state"), "?") for s in stages)
        secs = sum(float(t.get("duration") or 0) for t in tis.values())
        rep = {}
        try:
            rep = json.loads(
                store.get_bytes(join(zone_uri("reports", d, run_id), "rehearsal.json"))
            )
        except Exception:  # noqa: BLE001 - a failed run has no report
            pass
        reports[d] = rep
        acc = rep.get("accounting", [])
        n_in = sum(a["legacy_records"] for a in acc)
        n_out = sum(a["output_records"] for a in acc)
        n_q = sum(a["quarantined"] for a in acc)
        n_m = sum(a.get("merged", 0) for a in acc)
        verdict = rep.get("verdict", "FAILED" if tis else "NOT RUN")
        where = zone_uri("reports", d, run_id) + "rehearsal.html" if rep else "-"
        print(
            f"{d:<17} {reg.plan[d].phase:<11} {marks:<22} {verdict:<9} {n_in:>8,} {n_out:>8,} {n_q:>5,} "
            f"{n_m:>6,} {secs:>6.0f}  {where}"
        )
    if delta:
        print("\n" + "\n".join(delta_lines(reports)))
    print(f"\ncity-wide report: {zone_uri('reports', '_city', master_run_id)}city.html")
    print(
        "Data Docs:        s3://ikou-reports/docs/index.html (in the Airflow UI: Browse → Data Docs（品質検証）)"
    )
    print(
        "legend: ✓ success ✗ failed ↑ upstream failed - skipped · not run; "
        "in = out + quar (quarantined) + merged (名寄せ)"
    )
    print(notifications_line(api))


def delta_lines(reports: dict[str, dict]) -> list[str]:
    """The delta path's figures per domain of a delta master run: the changes the diff found,
    the reconciliation used, full-load vs delta hours at the city's volume against the window
    (``not measured`` where a path was not)."""

    def hours(v) -> str:
        return "not measured" if v is None else f"{v:,.2f}"

    head = (
        f"{'domain (delta path)':<20} {'changes':>8} {'share':>7} {'recon':<6} {'full h':>12} "
        f"{'delta h':>12} {'window h':>8}  fits only with the delta"
    )
    out = [head, "-" * len(head)]
    for d, rep in reports.items():
        t = rep.get("timing") or {}
        paths = t.get("paths") or {}
        if rep.get("phase") != "migration" or "full" not in paths:
            continue
        change = paths.get("change") or {}
        full, delta = paths["full"].get("hours"), (paths.get("delta") or {}).get("hours")
        window = t.get("window_hours") or 0
        only = full is not None and delta is not None and full > window >= delta
        share = change.get("share")
        out.append(
            f"{d:<20} {change.get('changes', 0):>8,} "
            f"{'' if share is None else format(share, '.2%'):>7} "
            f"{(rep.get('reconciliation_method') or {}).get('method', '?'):<6} {hours(full):>12} "
            f"{hours(delta):>12} {window:>8g}  {'yes' if only else ''}"
        )
    return out


def notifications_line(api) -> str:
    """Whether the night's outcome is mailed (ikou.airflow.notify): the recipients Variable and
    the SMTP connection, defined in Airflow (REST API) or in the stack's environment."""
    from ikou.airflow.notify import RECIPIENTS_VARIABLE, SMTP_CONN_ID

    env = stack_env()

    def defined(kind: str, name: str, env_name: str) -> bool:
        if env.get(env_name):
            return True
        try:
            api.get(f"/api/v2/{kind}/{name}")
            return True
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return False
            raise

    to = defined("variables", RECIPIENTS_VARIABLE, f"AIRFLOW_VAR_{RECIPIENTS_VARIABLE.upper()}")
    smtp = defined("connections", SMTP_CONN_ID, f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}")
    if to and smtp:
        return f"notifications:    on (Variable {RECIPIENTS_VARIABLE}, connection {SMTP_CONN_ID})"
    missing = [
        x
        for x, ok in ((f"Variable {RECIPIENTS_VARIABLE}", to), (f"connection {SMTP_CONN_ID}", smtp))
        if not ok
    ]
    return f"notifications:    off — nothing is mailed; set {' and '.join(missing)} (README, Notifications)"
