"""`IKOU_DELTA=1 make run` (ikou_dev.localstack): the wiring of the delta path — the change
snapshot a month after the landing snapshot, the full master run of the base (or a reused one),
then the master with base_snapshot, and the table's delta figures. The stack itself is not
started here (make run, tests/e2e)."""

from __future__ import annotations

import pytest

from ikou_dev import localstack, localstack_table


def test_the_change_snapshot_is_a_month_after_the_base():
    assert localstack_table.next_month("2026-11-01") == "2026-12-01"
    assert localstack_table.next_month("2026-12-15") == "2027-01-15"
    assert localstack_table.next_month("2027-01-31") == "2027-02-28"


class FakeApi:
    def __init__(self, runs):
        self.runs = runs
        self.patched = []

    def get(self, path):
        assert path.startswith("/api/v2/dags/migration_master/dagRuns?")
        return {"dag_runs": self.runs}

    def patch(self, path, body):
        self.patched.append((path, body))


@pytest.fixture
def stack(monkeypatch):
    calls = []
    monkeypatch.setattr(localstack, "up", lambda quiet=False: {})
    monkeypatch.setattr(localstack, "ensure_landing", lambda *a: calls.append(("landing", a[3])))
    monkeypatch.setattr(
        localstack, "ensure_changes", lambda env, base, new: calls.append(("changes", base, new))
    )

    def master_once(api, conf, timeout, delta=False):
        calls.append(("master", conf, delta))
        return 0

    monkeypatch.setattr(localstack, "master_once", master_once)
    return calls


def test_delta_runs_the_base_in_full_then_the_changes_with_base_snapshot(stack, monkeypatch):
    monkeypatch.setattr(localstack, "Api", lambda: FakeApi([]))
    assert localstack.run_master(100, 7, "2026-11-01", None, 60, delta=True) == 0
    assert stack == [
        ("landing", "2026-11-01"),
        ("changes", "2026-11-01", "2026-12-01"),
        ("master", {"snapshot": "2026-11-01", "domains": []}, False),
        ("master", {"snapshot": "2026-12-01", "base_snapshot": "2026-11-01", "domains": []}, True),
    ]


def test_delta_reuses_a_successful_full_run_of_the_base(stack, monkeypatch):
    runs = [
        {"dag_run_id": "delta", "state": "success",
         "conf": {"snapshot": "2026-11-01", "base_snapshot": "2026-10-01"}},
        {"dag_run_id": "failed", "state": "failed", "conf": {"snapshot": "2026-11-01"}},
        {"dag_run_id": "full", "state": "success", "conf": {"snapshot": "2026-11-01", "domains": []}},
    ]  # fmt: skip
    monkeypatch.setattr(localstack, "Api", lambda: FakeApi(runs))
    assert localstack.run_master(100, 7, "2026-11-01", None, 60, delta=True) == 0
    assert [c[1] for c in stack if c[0] == "master"] == [
        {"snapshot": "2026-12-01", "base_snapshot": "2026-11-01", "domains": []}
    ]


def test_the_default_run_is_unchanged(stack, monkeypatch):
    monkeypatch.setattr(localstack, "Api", lambda: FakeApi([]))
    assert localstack.run_master(100, 7, "2026-11-01", ["juki"], 60) == 0
    assert stack == [
        ("landing", "2026-11-01"),
        ("master", {"snapshot": "2026-11-01", "domains": ["juki"]}, False),
    ]


def test_ikou_delta_sets_the_flag(monkeypatch):
    seen = {}
    monkeypatch.setattr(localstack, "command", lambda args: seen.setdefault("delta", args.delta))
    monkeypatch.setenv("IKOU_DELTA", "1")
    localstack.main(["run"])
    assert seen["delta"] is True
    seen.clear()
    monkeypatch.delenv("IKOU_DELTA")
    localstack.main(["run"])
    assert seen["delta"] is False


def test_the_delta_table_shows_both_paths_and_not_measured():
    reports = {
        "juki": {
            "phase": "migration",
            "reconciliation_method": {"method": "delta"},
            "timing": {
                "window_hours": 24,
                "paths": {
                    "change": {"changes": 1234, "share": 0.0152},
                    "full": {"hours": 30.5},
                    "delta": {"hours": 4.25},
                },
            },
        },
        "inkan": {
            "phase": "migration",
            "reconciliation_method": {"method": "full"},
            "timing": {
                "window_hours": 24,
                "paths": {"change": {}, "full": {"hours": 1.0}, "delta": {"hours": None}},
            },
        },  # fmt: skip
        "kojin_juminzei": {"phase": "preparation", "timing": {}},
    }
    lines = localstack_table.delta_lines(reports)
    juki = next(x for x in lines if x.startswith("juki"))
    assert "1,234" in juki and "1.52%" in juki and "delta" in juki
    assert "30.50" in juki and "4.25" in juki and juki.endswith("yes")
    inkan = next(x for x in lines if x.startswith("inkan"))
    assert "not measured" in inkan and not inkan.endswith("yes")
    assert not any(x.startswith("kojin_juminzei") for x in lines)
