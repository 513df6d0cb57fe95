"""The cutover guard and the durable cutover state (ikou.load.cutover) on an SQLite target; the
DAG-level tests are in tests/integration/test_cutover_dag.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ikou.load.control import Control
from ikou.load.control_tables import AlreadyLive
from ikou.load.cutover import check

SNAP = "2026-10-01"
NOW = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def control(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    return Control(url).ensure()


def _rehearsal(
    control: Control,
    domain: str,
    verdict: str,
    *,
    snapshot: str = SNAP,
    run: str = "r1",
    at: dt.datetime = NOW - dt.timedelta(days=1),
    mode: str = "rehearsal",
) -> None:
    control.record_rehearsal(
        {
            "domain": domain,
            "run_id": run,
            "snapshot": snapshot,
            "mode": mode,
            "verdict": verdict,
            "reasons": ["x"],
            "timing": {"projected_hours": 1.0, "window_hours": 48},
        },
        report_uri="s3://r/x.html",
    )
    with control.target.engine().begin() as conn:  # pin the time the verdict was recorded
        conn.execute(
            control.rehearsals.update()
            .where(control.rehearsals.c.run_id == run)
            .values(finished_at=at.isoformat(timespec="seconds"))
        )


def test_go_confirmed_no_predecessors_passes(control):
    _rehearsal(control, "juki", "GO")
    assert check("juki", SNAP, confirm=True, control=control, now=NOW) == []


def test_no_go_rehearsal_refuses(control):
    reasons = check("juki", SNAP, confirm=True, control=control, now=NOW)
    assert (
        len(reasons) == 1
        and "no GO rehearsal of snapshot 2026-10-01 within the last 7 days" in reasons[0]
    )


def test_stale_go_refuses(control):
    _rehearsal(control, "juki", "GO", at=NOW - dt.timedelta(days=8))
    reasons = check("juki", SNAP, confirm=True, control=control, now=NOW)
    assert any("older than 7 days" in r for r in reasons)


def test_go_of_another_snapshot_refuses(control):
    _rehearsal(control, "juki", "GO", snapshot="2026-09-01")
    reasons = check("juki", SNAP, confirm=True, control=control, now=NOW)
    assert any("latest GO was of snapshot 2026-09-01" in r for r in reasons)


def test_a_newer_no_go_withdraws_the_go(control):
    _rehearsal(control, "juki", "GO", run="r1", at=NOW - dt.timedelta(days=2))
    _rehearsal(control, "juki", "NO-GO", run="r2", at=NOW - dt.timedelta(days=1))
    reasons = check("juki", SNAP, confirm=True, control=control, now=NOW)
    assert any("latest rehearsal of this snapshot (run r2" in r and "NO-GO" in r for r in reasons)


def test_cutover_runs_do_not_count_as_rehearsals(control):
    _rehearsal(control, "juki", "GO", mode="cutover")
    assert check("juki", SNAP, confirm=True, control=control, now=NOW)


def test_confirmation_required(control):
    _rehearsal(control, "juki", "GO")
    reasons = check("juki", SNAP, confirm=False, control=control, now=NOW)
    assert reasons == [
        "a person must confirm the cutover: set confirm_cutover=true (本番移行の確認)"
    ]


def test_predecessor_must_be_live_and_record_live_satisfies_it(control):
    _rehearsal(control, "inkan", "GO")
    reasons = check("inkan", SNAP, confirm=True, control=control, now=NOW)
    assert len(reasons) == 1 and reasons[0].startswith(
        "juki (住民基本台帳) must be live before inkan"
    )
    ev = control.record_live(
        "juki", "2025-01-04", "山田 (移行担当)", note="live since 2025-01 (before Ikou)"
    )
    assert ev.source == "record-live" and ev.who == "山田 (移行担当)"
    assert check("inkan", SNAP, confirm=True, control=control, now=NOW) == []


def test_second_cutover_of_a_live_domain_refuses(control):
    control.record_live("juki", "2025-01-04", "someone")
    _rehearsal(control, "juki", "GO")
    reasons = check("juki", SNAP, confirm=True, control=control, now=NOW)
    assert len(reasons) == 1 and "juki is already live (recorded as live" in reasons[0]
    assert "a second cutover of a live domain is refused" in reasons[0]
    with pytest.raises(AlreadyLive):
        control.record_live("juki", "2026-10-01", "someone else")
    # the database itself refuses a second live row (two runs racing past the guard)
    with pytest.raises(AlreadyLive, match="already live"):
        control.record("live", domain="juki", snapshot=SNAP, run_id="r9", who="x")
    assert len([e for e in control.events("juki") if e.status == "live"]) == 1


def test_preparation_phase_domains_do_not_cut_over(control):
    control.record_live("juki", "2025-01-04", "x")
    _rehearsal(control, "kojin_juminzei", "READINESS")
    reasons = check("kojin_juminzei", SNAP, confirm=True, control=control, now=NOW)
    assert any("preparation phase" in r for r in reasons)


def test_record_live_checks_its_input(control):
    with pytest.raises(KeyError):
        control.record_live("nosuchdomain", SNAP, "x")
    with pytest.raises(ValueError, match="--who"):
        control.record_live("juki", SNAP, " ")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        control.record_live("juki", "2026/10/01", "x")


def test_gate_reconciliation_must_have_passed(control, s3_endpoint):
    from ikou.storage import Store, join, zone_uri

    store = Store()
    _rehearsal(control, "juki", "GO", run="gate-run")
    reasons = check("juki", SNAP, confirm=True, control=control, now=NOW, store=store)
    assert any("did not pass" in r for r in reasons)  # no gate report at all
    uri = join(zone_uri("reports", "juki", "gate-run"), "gates/gate_reconciliation.json")
    store.put_bytes(uri, json.dumps({"passed": True, "verdict": "pass"}).encode())
    assert check("juki", SNAP, confirm=True, control=control, now=NOW, store=store) == []
    store.put_bytes(uri, json.dumps({"passed": True, "verdict": "overridden"}).encode())
    assert check("juki", SNAP, confirm=True, control=control, now=NOW, store=store)


def test_stage_guard_records_refusals_and_starts(control, s3_endpoint):
    from ikou.errors import BadArgument
    from ikou.load.cutover import CutoverRefused, guard
    from ikou.pipeline import RunContext

    ctx = RunContext.build(domain="juki", run_id="c1", mode="cutover", snapshot=SNAP, who="tester")
    with pytest.raises(CutoverRefused) as exc:
        guard(ctx)
    msg = str(exc.value)
    assert (
        msg.startswith("cutover of juki (snapshot 2026-10-01) refused:")
        and "confirm_cutover=true" in msg
    )
    assert "no GO rehearsal" in msg
    ev = control.events("juki")[-1]
    assert (ev.status, ev.who, ev.run_id) == ("refused", "tester", "c1") and "confirm" in ev.detail
    # rehearsals are not guarded
    guard(RunContext.build(domain="juki", run_id="r1", mode="rehearsal", snapshot=SNAP))
    with pytest.raises(BadArgument, match="mode"):
        RunContext.build(domain="juki", run_id="c1", mode="live", confirm=True)


def test_cli_record_live_status_and_check(control, s3_endpoint, capsys):
    from ikou.cli import main

    assert (
        main(
            [
                "cutover",
                "record-live",
                "--domain",
                "juki",
                "--snapshot",
                "2025-01-04",
                "--who",
                "移行担当",
                "--note",
                "live since January 2025",
            ]
        )
        == 0
    )
    assert "juki recorded as live: snapshot 2025-01-04, by 移行担当" in capsys.readouterr().out
    assert (
        main(
            ["cutover", "record-live", "--domain", "juki", "--snapshot", "2025-01-04", "--who", "x"]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "already live" in err and len(err.strip().splitlines()) == 1
    assert main(["cutover", "status", "--json"]) == 0
    rows = {r["domain"]: r for r in json.loads(capsys.readouterr().out)["domains"]}
    assert (
        rows["juki"]["live"] and rows["juki"]["live_by"] == "移行担当" and not rows["inkan"]["live"]
    )
    assert (
        main(["cutover", "check", "--domain", "inkan", "--snapshot", SNAP, "--confirm", "--json"])
        == 1
    )
    out = json.loads(capsys.readouterr().out)
    assert not out["may_start"] and any("no GO rehearsal" in r for r in out["reasons"])
