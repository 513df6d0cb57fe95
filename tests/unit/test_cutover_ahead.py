"""The short window's cutover states (issue 12 §3) on an SQLite target: ``load_ahead`` and the
delta cutover's guard rules, ``loaded_ahead`` in ``ikou cutover status``; the DAG-level run is
tests/integration/test_delta_dag.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ikou.cli import main
from ikou.errors import BadArgument
from ikou.load.control import Control
from ikou.load.cutover import check
from ikou.load.target import LIVE_SCHEMA, schema_for
from ikou.pipeline import RunContext

BASE = "2026-09-01"
SNAP = "2026-10-01"
NOW = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.timezone.utc)
SHA = "a" * 64


@pytest.fixture
def control(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    return Control(url).ensure()


def _go(control: Control, domain: str, snapshot: str, run: str) -> None:
    control.record_rehearsal(
        {
            "domain": domain,
            "run_id": run,
            "snapshot": snapshot,
            "mode": "rehearsal",
            "verdict": "GO",
            "reasons": ["x"],
            "timing": {"projected_hours": 1.0, "window_hours": 48},
        },
        report_uri="s3://r/x.html",
    )
    with control.target.engine().begin() as conn:
        conn.execute(
            control.rehearsals.update()
            .where(control.rehearsals.c.run_id == run)
            .values(finished_at=(NOW - dt.timedelta(days=1)).isoformat(timespec="seconds"))
        )


def _loaded_ahead(control: Control, domain: str, snapshot: str = BASE, sha: str = SHA) -> None:
    """What a GO load_ahead run leaves: its load-log row in the live schema and the event."""
    control.log_load(
        domain=domain, run_id="ahead-1", mode="load_ahead", schema=LIVE_SCHEMA,
        snapshot=snapshot, manifest_sha256=sha, rows=10,
    )  # fmt: skip
    control.record(
        "loaded_ahead", domain=domain, snapshot=snapshot, run_id="ahead-1", who="x",
        manifest_sha256=sha, source="load_ahead",
    )  # fmt: skip


def test_load_ahead_needs_confirmation_and_a_go_of_its_snapshot_not_live_predecessors(control):
    reasons = check("inkan", BASE, confirm=False, control=control, now=NOW, mode="load_ahead")
    assert reasons[0] == (
        "a person must confirm the load ahead: set confirm_cutover=true (本番移行の確認)"
    )
    assert reasons[1].startswith(f"no GO rehearsal of snapshot {BASE}") and len(reasons) == 2
    _go(control, "inkan", BASE, "r-inkan")
    # juki (cuts_over_after of inkan) is not live: a load ahead puts nothing live, so it may start
    assert check("inkan", BASE, confirm=True, control=control, now=NOW, mode="load_ahead") == []
    # a live domain is not loaded ahead again
    control.record_live("inkan", "2025-01-04", "x")
    assert any(
        "already live" in r
        for r in check("inkan", BASE, confirm=True, control=control, now=NOW, mode="load_ahead")
    )


def test_a_delta_cutover_needs_loaded_ahead_of_its_base(control):
    _go(control, "juki", SNAP, "r-juki")
    assert check("juki", SNAP, confirm=True, control=control, now=NOW) == []  # a full cutover
    reasons = check("juki", SNAP, confirm=True, control=control, now=NOW, base_snapshot=BASE)
    assert len(reasons) == 1 and reasons[0].startswith(
        "juki was not loaded ahead (no loaded_ahead)"
    )
    assert f"mode=load_ahead, snapshot={BASE}" in reasons[0]
    _loaded_ahead(control, "juki", snapshot="2026-08-01")
    reasons = check("juki", SNAP, confirm=True, control=control, now=NOW, base_snapshot=BASE)
    assert len(reasons) == 1 and "loaded ahead with snapshot 2026-08-01, not the base" in reasons[0]
    _loaded_ahead(control, "juki")
    assert check("juki", SNAP, confirm=True, control=control, now=NOW, base_snapshot=BASE) == []


def test_the_live_schema_must_still_hold_the_load_ahead(control):
    _go(control, "juki", SNAP, "r-juki")
    _loaded_ahead(control, "juki")
    # another load into the live schema since (its manifest differs from loaded_ahead's)
    control.log_load(
        domain="juki", run_id="other", mode="load_ahead", schema=LIVE_SCHEMA, snapshot=BASE,
        manifest_sha256="b" * 64, rows=10,
    )  # fmt: skip
    reasons = check("juki", SNAP, confirm=True, control=control, now=NOW, base_snapshot=BASE)
    assert len(reasons) == 1 and "no longer holds the load ahead" in reasons[0]
    assert "load log bbbbbbbbbbbb" in reasons[0]
    # the tables were dropped (a NO-GO run marks the load log): nothing is held
    control.log_dropped(domain="juki", schema=LIVE_SCHEMA)
    reasons = check("juki", SNAP, confirm=True, control=control, now=NOW, base_snapshot=BASE)
    assert "load log nothing" in reasons[0]


def test_only_live_satisfies_cuts_over_after(control):
    _go(control, "inkan", SNAP, "r-inkan")
    _loaded_ahead(control, "juki")
    reasons = check("inkan", SNAP, confirm=True, control=control, now=NOW)
    assert len(reasons) == 1 and reasons[0].startswith("juki (住民基本台帳) must be live")
    control.record("live", domain="juki", snapshot=SNAP, run_id="cut", who="x")
    assert check("inkan", SNAP, confirm=True, control=control, now=NOW) == []


def test_load_ahead_runs_into_the_live_schema_and_loads_in_full():
    assert schema_for("load_ahead", "run-1") == LIVE_SCHEMA == schema_for("cutover", "run-1")
    ctx = RunContext.build(domain="juki", run_id="r", mode="load_ahead", snapshot=BASE)
    assert ctx.live_target and not ctx.cutover and not ctx.delta_cutover
    with pytest.raises(BadArgument, match="load_ahead loads a snapshot in full"):
        RunContext.build(
            domain="juki", run_id="r", mode="load_ahead", snapshot=SNAP, base_snapshot=BASE
        )
    delta = RunContext.build(
        domain="juki", run_id="r", mode="cutover", snapshot=SNAP, base_snapshot=BASE
    )
    assert delta.delta_cutover and delta.live_target


def test_status_and_check_show_loaded_ahead(control, capsys):
    _loaded_ahead(control, "juki")
    assert main(["cutover", "status", "--json"]) == 0
    rows = {r["domain"]: r for r in json.loads(capsys.readouterr().out)["domains"]}
    assert rows["juki"]["state"] == "loaded_ahead" and not rows["juki"]["live"]
    assert rows["juki"]["loaded_ahead_snapshot"] == BASE and rows["inkan"]["state"] == "not live"
    assert main(["cutover", "status", "--domain", "juki"]) == 0
    out = capsys.readouterr().out
    assert "loaded_ahead" in out.splitlines()[1] and BASE in out.splitlines()[1]
    control.log_dropped(domain="juki", schema=LIVE_SCHEMA)
    assert main(["cutover", "status", "--json"]) == 0
    rows = {r["domain"]: r for r in json.loads(capsys.readouterr().out)["domains"]}
    assert rows["juki"]["state"] == "loaded_ahead (stale)"
    # check of a delta cutover: refused in one line per reason, exit 1
    args = ["cutover", "check", "--domain", "inkan", "--snapshot", SNAP, "--confirm"]
    assert main([*args, "--base-snapshot", BASE]) == 1
    out = capsys.readouterr().out
    assert out.startswith("a delta cutover of inkan (snapshot 2026-10-01) would be refused:")
    assert "inkan was not loaded ahead (no loaded_ahead)" in out
    assert main([*args, "--base-snapshot", BASE, "--load-ahead"]) == 2
    assert "--load-ahead loads in full" in capsys.readouterr().err
