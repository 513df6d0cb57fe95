"""``ikou cutover record-live`` snapshots and ``ikou cutover revoke`` (SQLite target; the
migration of the one-live index on SQLite and PostgreSQL).

Regression: ``record-live --snapshot 20250101`` was stored as ``20250101``, which ``check``
rejected, and the domain stayed live for ever (nothing could withdraw a live record)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from ikou.cli import main
from ikou.errors import BadArgument, Refused
from ikou.load.control import Control
from ikou.load.control_tables import ONE_LIVE_INDEX, AlreadyLive, today_in_japan
from ikou.load.cutover import check

SNAP = "2026-10-01"
NOW = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def control(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    return Control(url).ensure()


def _cli(capsys, *argv):
    code = main(["cutover", *argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_record_live_normalises_yyyymmdd_and_check_accepts_it(control, capsys):
    code, out, err = _cli(
        capsys, "record-live", "--domain", "juki", "--snapshot", "20250101", "--who", "山田"
    )
    assert code == 0, err
    assert control.live()["juki"].snapshot == "2025-01-01"
    # inkan cuts over after juki: juki counts as live for the guard
    reasons = check("inkan", "20261001", confirm=True, control=control, now=NOW)
    assert not any("juki" in r and "must be live" in r for r in reasons), reasons
    assert any("no GO rehearsal of snapshot 2026-10-01" in r for r in reasons)


@pytest.mark.parametrize(
    "argv,code,fragment",
    [
        (["--snapshot", "2025-02-30"], 2, "--snapshot"),
        (["--snapshot", "2025/01/01"], 2, "YYYY-MM-DD or YYYYMMDD"),
        (["--snapshot", "20250101", "--manifest-sha256", "abc"], 2, "--manifest-sha256"),
        (["--snapshot", "20250101", "--manifest-sha256", "g" * 64], 2, "--manifest-sha256"),
        (["--snapshot", "20250101", "--who", "a\x07b"], 2, "--who: control characters"),
        (["--snapshot", "20250101", "--who", "x" * 129], 2, "--who: 129 characters"),
        (["--snapshot", "20250101", "--who", "   "], 2, "--who: required"),
        (["--snapshot", "2999-01-01"], 1, "after today"),
    ],
)
def test_record_live_bad_input(control, capsys, argv, code, fragment):
    argv = ["record-live", "--domain", "juki", *argv]
    if "--who" not in argv:
        argv += ["--who", "山田"]
    got, _, err = _cli(capsys, *argv)
    assert got == code and fragment in err and len(err.strip().splitlines()) == 1, err
    assert control.live() == {}  # nothing written


def test_record_live_tomorrow_in_tokyo_is_refused(control):
    tomorrow = today_in_japan() + dt.timedelta(days=1)
    with pytest.raises(Refused, match="after today"):
        control.record_live("juki", tomorrow.isoformat(), "山田")
    control.record_live("juki", today_in_japan().isoformat(), "山田")  # today is fine


def test_record_live_of_a_preparation_phase_domain_is_refused(control, capsys):
    code, _, err = _cli(
        capsys, "record-live", "--domain", "kaigo", "--snapshot", "2025-01-01", "--who", "x"
    )
    assert code == 1 and "preparation phase" in err
    code, _, err = _cli(
        capsys, "record-live", "--domain", "nosuch", "--snapshot", "2025-01-01", "--who", "x"
    )
    assert code == 2 and "unknown domain 'nosuch'" in err


def test_revoke_then_not_live_then_recorded_again(control, capsys):
    control.record_live("juki", "2025-01-04", "山田", manifest_sha256="A" * 64)
    assert control.live()["juki"].manifest_sha256 == "a" * 64
    code, out, err = _cli(
        capsys, "revoke", "--domain", "juki", "--who", "佐藤", "--reason", "recorded by mistake"
    )
    assert code == 0 and "revoked" in out, err
    assert "juki" not in control.live()
    code, out, _ = _cli(capsys, "status", "--json")
    import json

    rows = {r["domain"]: r for r in json.loads(out)["domains"]}
    assert rows["juki"]["live"] is False and rows["juki"]["last_event"].startswith("revoked")
    # the guard treats it as not live: inkan needs it again
    reasons = check("inkan", SNAP, confirm=True, control=control, now=NOW)
    assert any(r.startswith("juki (住民基本台帳) must be live before inkan") for r in reasons)
    # nothing was deleted: the live row is kept (marked), the revocation is an event
    evs = control.events("juki")
    assert [e.status for e in evs] == ["live", "revoked"]
    assert evs[0].revoked_at and evs[1].who == "佐藤" and evs[1].detail == "recorded by mistake"
    # and it can be recorded live again (the one-live index skips the revoked row)
    control.record_live("juki", "2025-02-01", "山田")
    assert control.live()["juki"].snapshot == "2025-02-01"
    with pytest.raises(AlreadyLive):
        control.record("live", domain="juki", snapshot=SNAP, run_id="r9", who="x")


def test_revoke_refusals(control, capsys):
    code, _, err = _cli(capsys, "revoke", "--domain", "juki", "--who", "x", "--reason", "r")
    assert code == 1 and "no live record" in err
    control.record_live("juki", "2025-01-04", "x")
    control.record_live("inkan", "2025-01-04", "x")  # inkan cuts over after juki
    code, _, err = _cli(capsys, "revoke", "--domain", "juki", "--who", "x", "--reason", "r")
    assert code == 1 and "inkan is live" in err and "revoke it first" in err
    assert "juki" in control.live()
    for argv, fragment in (
        (["--who", "x"], "--reason: required"),
        (["--who", "x", "--reason", "r" * 501], "--reason: 501 characters"),
        (["--reason", "r"], "--who: required"),
        (["--who", "x", "--reason", "r", "--snapshot", "2025-01-01"], "--snapshot does not apply"),
    ):
        code, _, err = _cli(capsys, "revoke", "--domain", "inkan", *argv)
        assert code == 2 and fragment in err, err
    assert _cli(capsys, "revoke", "--domain", "inkan", "--who", "x", "--reason", "r")[0] == 0
    assert _cli(capsys, "revoke", "--domain", "juki", "--who", "x", "--reason", "r")[0] == 0
    assert control.live() == {}


def test_in_load_guard_skips_revoked_rows(control):
    control.record_live("juki", "2025-01-04", "x")
    path = control.target.sqlite_path
    guard = control.guard_in_transaction("juki")
    with sqlite3.connect(path) as conn:
        with pytest.raises(AlreadyLive):
            guard(conn.cursor(), "sqlite")
    control.revoke("juki", "x", "wrong record")
    with sqlite3.connect(path) as conn:
        guard(conn.cursor(), "sqlite")  # not live any more: the load may go ahead


def test_control_database_of_an_earlier_ikou_is_migrated(tmp_path):
    """A control file made before revoke: no revoked_at, the index on status = 'live' only."""
    path = tmp_path / "target.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE ikou_cutover (
              id INTEGER PRIMARY KEY AUTOINCREMENT, domain VARCHAR(40) NOT NULL,
              snapshot VARCHAR(10) NOT NULL, run_id TEXT DEFAULT '' NOT NULL,
              who TEXT DEFAULT '' NOT NULL, at VARCHAR(32) NOT NULL,
              manifest_sha256 VARCHAR(64) DEFAULT '' NOT NULL, status VARCHAR(16) NOT NULL,
              source VARCHAR(16) DEFAULT 'cutover' NOT NULL, detail TEXT DEFAULT '' NOT NULL);
            CREATE UNIQUE INDEX ikou_cutover_one_live ON ikou_cutover (domain)
              WHERE status = 'live';
            INSERT INTO ikou_cutover (domain, snapshot, who, at, status, source)
              VALUES ('juki', '2025-01-04', 'x', '2025-01-04T00:00:00+00:00', 'live', 'record-live');
            """
        )
    control = Control(f"sqlite:///{path}").ensure()
    assert control.live()["juki"].snapshot == "2025-01-04"  # the existing record is kept
    control.revoke("juki", "x", "migrated and revoked")
    control.record_live("juki", "2025-01-05", "x")
    assert control.live()["juki"].snapshot == "2025-01-05"
    with sqlite3.connect(path) as conn:
        sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = ?", (ONE_LIVE_INDEX,)
        ).fetchone()[0]
    assert "revoked_at IS NULL" in sql
    Control(f"sqlite:///{path}").ensure()  # a second start migrates nothing


@pytest.fixture
def own_pg_url(pg_url):
    """A database of this test's own (the session's is shared with other tests)."""
    import uuid

    from sqlalchemy import create_engine

    name = f"ikou_test_migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield pg_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


def test_migration_on_postgresql(own_pg_url):
    from sqlalchemy import create_engine

    eng = create_engine(own_pg_url)
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA ikou")
        conn.exec_driver_sql(
            "CREATE TABLE ikou.ikou_cutover (id SERIAL PRIMARY KEY, domain VARCHAR(40) NOT NULL, "
            "snapshot VARCHAR(10) NOT NULL, run_id TEXT DEFAULT '' NOT NULL, who TEXT DEFAULT '' "
            "NOT NULL, at VARCHAR(32) NOT NULL, manifest_sha256 VARCHAR(64) DEFAULT '' NOT NULL, "
            "status VARCHAR(16) NOT NULL, source VARCHAR(16) DEFAULT 'cutover' NOT NULL, "
            "detail TEXT DEFAULT '' NOT NULL)"
        )
        conn.exec_driver_sql(
            "CREATE UNIQUE INDEX ikou_cutover_one_live ON ikou.ikou_cutover (domain) "
            "WHERE status = 'live'"
        )
        conn.exec_driver_sql(
            "INSERT INTO ikou.ikou_cutover (domain, snapshot, who, at, status, source) VALUES "
            "('juki', '2025-01-04', 'x', '2025-01-04T00:00:00+00:00', 'live', 'record-live')"
        )
    eng.dispose()
    control = Control(own_pg_url).ensure()
    assert control.live()["juki"].snapshot == "2025-01-04"
    control.revoke("juki", "x", "migrated and revoked")
    control.record_live("juki", "2025-01-05", "x")
    assert control.live()["juki"].snapshot == "2025-01-05"
    with pytest.raises(AlreadyLive):
        control.record("live", domain="juki", snapshot=SNAP, who="y")
    Control(own_pg_url).ensure()  # a second start migrates nothing
    control.target.dispose()


def test_check_with_unknown_domain_or_snapshot_is_exit_2(control, capsys):
    for argv, fragment in (
        (["--domain", "nosuch", "--snapshot", SNAP], "unknown domain"),
        (["--domain", "juki", "--snapshot", "2026-13-01"], "--snapshot"),
        (["--domain", "juki", "--snapshot", "tomorrow"], "--snapshot"),
        (["--snapshot", SNAP], "needs --domain"),
    ):
        code, _, err = _cli(capsys, "check", *argv)
        assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(BadArgument):
        check("juki", "20261301", confirm=True, control=control)
