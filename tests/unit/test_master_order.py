"""The master's order checked by the clock (tests_support.order_violations / domain_run_spans):
a domain run starts only after the runs of the domains it must follow have ended — the start
order alone would accept two runs that overlap."""

from __future__ import annotations

import datetime as dt

from tests_support import domain_run_spans, latest_master_run_id, order_violations

T0 = dt.datetime(2026, 9, 1, 16, 0, tzinfo=dt.UTC)


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


FOLLOW = {"jido_teate": ["juki", "kojin_juminzei"], "kojin_juminzei": ["juki"]}


def test_runs_one_after_another_follow_the_plan():
    spans = {
        "juki": (_at(0), _at(10)),
        "kojin_juminzei": (_at(11), _at(20)),
        "jido_teate": (_at(21), _at(30)),
    }
    assert order_violations(spans, FOLLOW) == []


def test_a_run_that_starts_before_the_one_it_follows_ended_is_caught():
    # the start order is right (juki, kojin_juminzei, jido_teate), the clock is not: jido_teate
    # started while kojin_juminzei was still running
    spans = {
        "juki": (_at(0), _at(10)),
        "kojin_juminzei": (_at(11), _at(25)),
        "jido_teate": (_at(21), _at(30)),
    }
    assert sorted(spans, key=lambda d: spans[d][0]) == ["juki", "kojin_juminzei", "jido_teate"]
    (problem,) = order_violations(spans, FOLLOW)
    assert problem.startswith("jido_teate started") and "kojin_juminzei ended" in problem


def test_independent_domains_may_overlap_and_missing_times_are_problems():
    spans = {"juki": (_at(0), _at(10)), "inkan": (_at(5), _at(8)), "senkyo": (_at(1), None)}
    problems = order_violations(spans, {"inkan": [], "senkyo": []})
    assert problems == [f"senkyo: started {_at(1)}, ended None"]


def test_domains_not_run_impose_nothing():
    assert order_violations({"jido_teate": (_at(0), _at(1))}, FOLLOW) == []


def test_spans_are_read_from_the_metadata_db(tmp_path):
    """The dag_run table as Airflow keeps it (SQLite: naive UTC text, or with an offset)."""
    import sqlite3

    db = tmp_path / "airflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE dag_run (id INTEGER PRIMARY KEY, dag_id TEXT, run_id TEXT, "
            "run_after TIMESTAMP, start_date TIMESTAMP, end_date TIMESTAMP)"
        )
        master = "manual__2026-09-01T16:00:00+00:00"
        conn.executemany(
            "INSERT INTO dag_run (dag_id, run_id, start_date, end_date) VALUES (?, ?, ?, ?)",
            [
                ("migration_master", master, "2026-09-01 16:00:00", "2026-09-01 17:00:00"),
                ("migrate_juki", f"{master}__juki", "2026-09-01 16:00:05.5", "2026-09-01 16:10:00"),
                (
                    "migrate_jido_teate",
                    f"{master}__jido_teate",
                    "2026-09-01 16:05:00+00:00",
                    "2026-09-01 16:20:00+00:00",
                ),
                ("migrate_juki", "manual__other__juki", "2026-09-01 15:00:00", None),
            ],
        )
        conn.execute(
            "INSERT INTO dag_run (dag_id, run_id, run_after) VALUES ('migration_master', "
            "'manual__2026-08-01', '2026-08-01 00:00:00')"
        )
        conn.execute(
            f"UPDATE dag_run SET run_after = '2026-09-01 16:00:00' WHERE run_id = '{master}'"
        )
    assert latest_master_run_id(db) == master
    spans = domain_run_spans(db, master, ["juki", "jido_teate", "kojin_juminzei"])
    assert spans["juki"] == (
        dt.datetime(2026, 9, 1, 16, 0, 5, 500000, tzinfo=dt.UTC),
        dt.datetime(2026, 9, 1, 16, 10, tzinfo=dt.UTC),
    )
    assert set(spans) == {"juki", "jido_teate"}
    (problem,) = order_violations(spans, FOLLOW)
    assert problem.startswith("jido_teate started 2026-09-01 16:05:00+00:00 before juki ended")
