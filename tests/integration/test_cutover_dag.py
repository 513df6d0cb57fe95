"""Cutover mode end to end with dag.test(): the guard refuses a cutover without a GO rehearsal of
the snapshot, without confirm_cutover, with a predecessor (cuts_over_after) not live, and a
second cutover of a live domain; with all three it runs, loads the live schema and records the
domain live — in the target database, with who, when and the hand-off manifest's sha256.

The GO rehearsal is recorded the way a rehearsal records it (the rehearsal log row and its
passed gate_reconciliation report): the rehearsal producing it is covered by test_domain_dag.
The target is a PostgreSQL database of this module's own, so the live state does not leak."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SNAPSHOT = "2026-09-05"
RESIDENTS = 60
SEED = 23
WHO = "dag_test"  # dag.test()'s triggering user: a real run records the person who triggered it


@pytest.fixture(scope="module")
def target_db(pg_url):
    from tests_support import own_database

    previous = os.environ.get("IKOU_TARGET_DB_URL")
    with own_database("ikou_cutover") as url:
        os.environ["IKOU_TARGET_DB_URL"] = url
        yield url
        if previous is None:
            os.environ.pop("IKOU_TARGET_DB_URL", None)
        else:
            os.environ["IKOU_TARGET_DB_URL"] = previous


@pytest.fixture(scope="module")
def city(s3_endpoint, airflow_db):
    from ikou_dev.synth import synthesize

    return synthesize(
        RESIDENTS, SEED, SNAPSHOT, "s3://ikou-restricted/landing", domains=["juki", "inkan"]
    )


def _cutover(dagbag, domain: str, confirm: bool = True):
    return dagbag.dags[f"migrate_{domain}"].test(
        run_conf={"mode": "cutover", "snapshot": SNAPSHOT, "confirm_cutover": confirm}
    )


def _state(x) -> str:
    return str(getattr(x, "value", x))


def _states(run) -> dict[str, str]:
    return {ti.task_id: _state(ti.state) for ti in run.get_task_instances()}


def _last_event(domain: str):
    from ikou.load.control import Control

    return Control().events(domain)[-1]


def _refused(run, domain: str) -> str:
    """The run stopped at its first task, nothing loaded; the refusal's reasons."""
    assert _state(run.state) == "failed"
    states = _states(run)
    first = "extract_plan" if "extract_plan" in states else "extract"
    assert states[first] == "failed", states
    assert (
        states["load"] in ("upstream_failed", "None", "none") and states["rehearsal"] != "success"
    ), states
    ev = _last_event(domain)
    assert (
        ev.status == "refused"
        and ev.run_id == run.run_id
        and ev.who == WHO
        and ev.snapshot == SNAPSHOT
    )
    return ev.detail


def _record_go(domain: str, run_id: str) -> None:
    """What a GO rehearsal of the snapshot leaves: its log row and its passed gate report."""
    from ikou.load.control import Control
    from ikou.storage import Store, join, zone_uri

    Control().record_rehearsal(
        {
            "domain": domain,
            "run_id": run_id,
            "snapshot": SNAPSHOT,
            "mode": "rehearsal",
            "verdict": "GO",
            "reasons": ["all gates passed"],
            "timing": {"projected_hours": 1.0, "window_hours": 48},
        },
        report_uri=join(zone_uri("reports", domain, run_id), "rehearsal.html"),
    )
    Store().put_bytes(
        join(zone_uri("reports", domain, run_id), "gates/gate_reconciliation.json"),
        json.dumps({"passed": True, "verdict": "pass"}).encode(),
    )


def _live_tables(url: str) -> list[str]:
    from sqlalchemy import create_engine

    eng = create_engine(url)
    with eng.connect() as conn:
        names = [
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'ikou' ORDER BY 1"
            )
            if not r[0].startswith("ikou_")
        ]  # the control tables live there too
    eng.dispose()
    return names


def test_refused_without_a_go_rehearsal_and_without_confirmation(city, target_db, dagbag):
    """Both missing: the refusal lists both reasons (each alone: tests/unit/test_rehearsal_guard.py)."""
    detail = json.loads(_refused(_cutover(dagbag, "juki", confirm=False), "juki"))
    assert (
        detail[0] == "a person must confirm the cutover: set confirm_cutover=true (本番移行の確認)"
    )
    assert detail[1].startswith("no GO rehearsal of snapshot 2026-09-05 within the last 7 days")
    assert len(detail) == 2 and _live_tables(target_db) == []


def test_refused_while_a_predecessor_is_not_live(city, target_db, dagbag):
    _record_go("juki", "rehearsal_juki_go")
    _record_go("inkan", "rehearsal_inkan_go")
    detail = json.loads(_refused(_cutover(dagbag, "inkan"), "inkan"))
    assert len(detail) == 1 and detail[0].startswith(
        "juki (住民基本台帳) must be live before inkan"
    )


def test_the_guard_refuses_the_same_from_plain_python_as_from_a_task(city, target_db, dagbag):
    """The guard takes a RunContext and applies every rule wherever it is called: plain Python
    (a notebook, the command line) is refused for the same reasons as the DAG's first task."""
    from ikou.load.cutover import CutoverRefused, guard
    from ikou.pipeline import RunContext

    from_task = json.loads(_refused(_cutover(dagbag, "inkan"), "inkan"))
    ctx = RunContext.build(
        domain="inkan",
        run_id="plain_python_cutover",
        mode="cutover",
        snapshot=SNAPSHOT,
        confirm=True,
        who=WHO,
    )
    with pytest.raises(CutoverRefused) as exc:
        guard(ctx)
    from_python = json.loads(_last_event("inkan").detail)
    assert from_python == from_task and from_python  # the same reasons, recorded the same way
    assert all(reason in str(exc.value) for reason in from_task)
    assert _last_event("inkan").run_id == "plain_python_cutover"


def test_accepted_cutover_goes_live(city, target_db, dagbag):
    from ikou.load.control import Control
    from ikou.storage import Store, zone_uri

    run = _cutover(dagbag, "juki")
    states = _states(run)
    assert _state(run.state) == "success", states
    events = [e for e in Control().events("juki") if e.run_id == run.run_id]
    assert [e.status for e in events] == ["started", "loaded", "live"]
    live = Control().live()["juki"]
    handoff = Store().get_bytes(zone_uri("handoff", "juki", run.run_id) + "manifest.json")
    import hashlib

    assert live.manifest_sha256 == hashlib.sha256(handoff).hexdigest()
    assert (live.who, live.snapshot, live.source) == (WHO, SNAPSHOT, "cutover")
    assert _live_tables(target_db) == ["juki__atena", "juki__jumin"]
    from sqlalchemy import create_engine

    eng = create_engine(target_db)
    with eng.connect() as conn:
        atena = conn.exec_driver_sql('SELECT count(*) FROM ikou."juki__atena"').scalar()
    eng.dispose()
    assert atena == city["records"]["juki"]["ATENA"]


def test_second_cutover_of_a_live_domain_is_refused(city, target_db, dagbag):
    from ikou.load.control import Control

    before = _live_tables(target_db)
    detail = json.loads(_refused(_cutover(dagbag, "juki"), "juki"))
    assert any(
        "juki is already live (cut over" in r
        and "a second cutover of a live domain is refused" in r
        for r in detail
    )
    assert (
        _live_tables(target_db) == before
        and len([e for e in Control().events("juki") if e.status == "live"]) == 1
    )


def test_the_successor_may_follow_once_juki_is_live(city, target_db):
    """inkan's guard now only lacks nothing: juki is live and its GO is recorded (no second run)."""
    from ikou.load import cutover

    assert cutover.check("inkan", SNAPSHOT, confirm=True) == []
