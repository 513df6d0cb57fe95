"""The short window's cutover states (issue 12 §3) on an SQLite target: ``load_ahead`` and the
delta cutover's guard rules, ``loaded_ahead`` in ``ikou cutover status``; the DAG-level run is
tests/integration/test_delta_dag.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from tests_support import publish_handoff_of

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


def test_status_and_check_show_loaded_ahead(control, ahead, capsys):
    # `ahead`: juki loaded ahead, the load log and the base's publications still showing it
    assert main(["cutover", "status", "--json"]) == 0
    rows = {r["domain"]: r for r in json.loads(capsys.readouterr().out)["domains"]}
    assert rows["juki"]["state"] == "loaded_ahead" and not rows["juki"]["live"]
    assert rows["juki"]["loaded_ahead_snapshot"] == REPUBLISHED_BASE
    assert rows["inkan"]["state"] == "not live"
    assert main(["cutover", "status", "--domain", "juki"]) == 0
    out = capsys.readouterr().out
    assert "loaded_ahead" in out.splitlines()[1] and REPUBLISHED_BASE in out.splitlines()[1]
    control.log_dropped(domain="juki", schema=LIVE_SCHEMA)
    assert main(["cutover", "status", "--json"]) == 0
    rows = {r["domain"]: r for r in json.loads(capsys.readouterr().out)["domains"]}
    assert rows["juki"]["state"] == "loaded_ahead (stale)"
    assert rows["juki"]["stale_reason"].startswith("the live schema's load log shows nothing")
    # check of a delta cutover: refused in one line per reason, exit 1
    args = ["cutover", "check", "--domain", "inkan", "--snapshot", SNAP, "--confirm"]
    assert main([*args, "--base-snapshot", BASE]) == 1
    out = capsys.readouterr().out
    assert out.startswith("a delta cutover of inkan (snapshot 2026-10-01) would be refused:")
    assert "inkan was not loaded ahead (no loaded_ahead)" in out
    assert main([*args, "--base-snapshot", BASE, "--load-ahead"]) == 2
    assert "--load-ahead loads in full" in capsys.readouterr().err


# -- the base snapshot published again after its load ahead ----------------------------------

#: a base snapshot no other test publishes (the session's S3 is shared: its latest pointer is ours)
REPUBLISHED_BASE = "2021-09-01"


def _handoff(store, run: str, sha: str, data: dict[str, bytes]) -> None:
    publish_handoff_of(store, "juki", run, sha, data)


def _validated_latest(store, run: str) -> None:
    from ikou.storage import zone_uri
    from ikou.storage.publication import point_latest_validated

    point_latest_validated(store, "juki", REPUBLISHED_BASE, zone_uri("validated", "juki", run), run)


@pytest.fixture
def ahead(control, s3_endpoint):
    """juki loaded ahead with REPUBLISHED_BASE (run ``ahead``, its hand-off published and the
    latest validated output of the base), a GO rehearsal of SNAP whose gate passed."""
    import uuid

    from ikou.storage import Store, join, zone_uri

    store, tag = Store(), uuid.uuid4().hex[:8]
    runs = {k: f"{k}-{tag}" for k in ("ahead", "timing", "rule", "failed", "go", "cut")}
    _go(control, "juki", SNAP, runs["go"])
    store.put_bytes(
        join(zone_uri("reports", "juki", runs["go"]), "gates/gate_reconciliation.json"),
        json.dumps({"passed": True, "verdict": "pass"}).encode(),
    )
    data = {"atena.csv": b"a,b\n1,2\n", "jumin.csv": b"c\n3\n"}
    _handoff(store, runs["ahead"], "1" * 64, data)
    _validated_latest(store, runs["ahead"])
    control.log_load(
        domain="juki", run_id=runs["ahead"], mode="load_ahead", schema=LIVE_SCHEMA,
        snapshot=REPUBLISHED_BASE, manifest_sha256="1" * 64, rows=2,
    )  # fmt: skip
    control.record(
        "loaded_ahead", domain="juki", snapshot=REPUBLISHED_BASE, run_id=runs["ahead"], who="x",
        manifest_sha256="1" * 64, source="load_ahead",
    )  # fmt: skip
    return {"store": store, "runs": runs, "data": data}


def _delta_check(control, store) -> list[str]:
    return check(
        "juki", SNAP, confirm=True, control=control, now=NOW, store=store,
        base_snapshot=REPUBLISHED_BASE,
    )  # fmt: skip


def test_a_base_published_again_with_other_data_is_refused_up_front(control, ahead, capsys):
    from ikou.load.cutover import CutoverRefused, guard
    from ikou.storage import zone_uri

    store, runs = ahead["store"], ahead["runs"]
    assert _delta_check(control, store) == []
    # a rehearsal of the base for timing: another manifest sha256, the same rows — still current
    _handoff(store, runs["timing"], "2" * 64, ahead["data"])
    _validated_latest(store, runs["timing"])
    assert _delta_check(control, store) == []
    # a cleansing rule changed and the base was rehearsed again: its rows differ from those loaded
    _handoff(store, runs["rule"], "3" * 64, {**ahead["data"], "jumin.csv": b"c\n4\n"})
    _validated_latest(store, runs["rule"])
    reasons = _delta_check(control, store)
    assert reasons == [
        f"juki: the base snapshot {REPUBLISHED_BASE} was published again after its load ahead: "
        f"its latest hand-off (run {runs['rule']}, sha256 333333333333) holds other data (jumin) "
        f"than the one loaded ahead (run {runs['ahead']}, sha256 111111111111); load it ahead "
        f"again (mode=load_ahead, snapshot={REPUBLISHED_BASE}, confirm_cutover=true), or "
        f"re-publish the loaded one (a run of {REPUBLISHED_BASE} whose output equals it)"
    ]
    # the run's guard: refused before extract, the refusal recorded, nothing else written
    ctx = RunContext.build(
        domain="juki", run_id=runs["cut"], mode="cutover", snapshot=SNAP, confirm=True,
        base_snapshot=REPUBLISHED_BASE, who="tester",
    )  # fmt: skip
    with pytest.raises(CutoverRefused) as exc:
        guard(ctx, store=store, control=control)
    assert exc.value.exit_code == 1 and reasons[0] in str(exc.value)
    assert [e.status for e in control.events("juki") if e.run_id == runs["cut"]] == ["refused"]
    assert not store.exists(zone_uri("handoff", "juki", runs["cut"]) + "/_manifest.json")
    # `ikou cutover check` says the same, exit 1; `status` shows the load ahead as stale
    args = ["cutover", "check", "--domain", "juki", "--snapshot", SNAP, "--confirm"]
    assert main([*args, "--base-snapshot", REPUBLISHED_BASE]) == 1
    out = capsys.readouterr().out
    assert out.startswith("a delta cutover of juki (snapshot 2026-10-01) would be refused:")
    assert "was published again after its load ahead" in out and "333333333333" in out
    assert main(["cutover", "status", "--json"]) == 0
    row = {r["domain"]: r for r in json.loads(capsys.readouterr().out)["domains"]}["juki"]
    assert row["state"] == "loaded_ahead (stale)" and row["stale_reason"] == reasons[0]
    # a later run of the base that validated but was never handed off: its rows are unknown
    _validated_latest(store, runs["failed"])
    reasons = _delta_check(control, store)
    assert len(reasons) == 1 and f"(run {runs['failed']}, never handed off) may hold" in reasons[0]
    # the loaded run published again as the base's latest: current again
    _validated_latest(store, runs["ahead"])
    assert _delta_check(control, store) == []
    assert main(["cutover", "status", "--json"]) == 0
    row = {r["domain"]: r for r in json.loads(capsys.readouterr().out)["domains"]}["juki"]
    assert row["state"] == "loaded_ahead" and row["stale_reason"] is None


def test_the_hand_off_loaded_ahead_must_still_be_published(control, ahead, monkeypatch):
    from ikou.load.cutover import BaseUnreadable, loaded_base
    from ikou.storage import zone_uri

    store, runs = ahead["store"], ahead["runs"]
    event = control.loaded_ahead("juki")
    base, reason = loaded_base("juki", REPUBLISHED_BASE, event, store)
    assert reason is None and base["run_id"] == runs["ahead"] and base["sha256"] == "1" * 64
    assert base["uri"] == zone_uri("validated", "juki", runs["ahead"])
    gone = event.__class__(**{**event.__dict__, "run_id": "never-published"})
    _, reason = loaded_base("juki", REPUBLISHED_BASE, gone, store)
    assert "the hand-off set loaded ahead" in reason and "is no longer published" in reason
    other = event.__class__(**{**event.__dict__, "manifest_sha256": "9" * 64})
    _, reason = loaded_base("juki", REPUBLISHED_BASE, other, store)
    assert "is not the one loaded ahead (sha256 111111111111, loaded_ahead 999999999999)" in reason

    # S3 that cannot be read: neither current nor stale — the guard refuses, status says so
    def unreachable(*a, **k):
        raise ConnectionError("S3 down")

    monkeypatch.setattr(store, "get_bytes", unreachable)
    with pytest.raises(BaseUnreadable, match="could not be read from S3"):
        loaded_base("juki", REPUBLISHED_BASE, event, store)
    reasons = _delta_check(control, store)
    assert any("whether it is still the load ahead is unknown" in r for r in reasons)
    from ikou.cli.cutover import status_rows

    row = {r["domain"]: r for r in status_rows(control, store)}["juki"]
    assert row["state"] == "loaded_ahead (unverified)"


def test_republished_reason_compares_the_data_not_the_manifest_sha256():
    from ikou.load.cutover import handoff_data, republished_reason

    def pub(sha: str, **files: str) -> dict:
        entries = [{"name": f"{n}.csv", "sha256": s} for n, s in files.items()]
        return {"handoff_manifest_sha256": sha, "files": [*entries, {"name": "manifest.json",
                "sha256": sha}, {"name": "atena.parquet", "sha256": sha}]}  # fmt: skip

    loaded = pub("a" * 64, atena="x", jumin="y")
    assert handoff_data(loaded) == {"atena.csv": "x", "jumin.csv": "y"}
    args = ("juki", REPUBLISHED_BASE, "r1", loaded)
    assert republished_reason(*args, "r1", None) is None  # the load ahead is the latest
    assert republished_reason(*args, "r2", pub("b" * 64, atena="x", jumin="y")) is None
    reason = republished_reason(*args, "r2", pub("b" * 64, atena="z", jumin="y"))
    assert "(run r2, sha256 bbbbbbbbbbbb) holds other data (atena) than" in reason
    assert "(run r1, sha256 aaaaaaaaaaaa)" in reason
    reason = republished_reason(*args, "r2", pub("b" * 64, atena="x"))
    assert "holds other data (jumin)" in reason  # a table missing is other data too
    assert "(run r2, never handed off) may hold other data" in republished_reason(*args, "r2", None)
