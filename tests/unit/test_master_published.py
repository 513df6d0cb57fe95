"""The master's wait for a referred domain's validated data (ikou.airflow.published): it passes
once the referred run's gate_standard passed, fails at once when that gate or the run ended
without it (a failed domain stops the domains that refer to its data), and waits otherwise."""

from __future__ import annotations

import asyncio

import pytest

from ikou.airflow.published import PublishedSensor, PublishedTrigger, wait_outcome
from ikou.pipeline import PUBLISHING_GATE, PUBLISHING_TASKS


def test_the_publishing_gate_is_the_validated_data_gate():
    assert PUBLISHING_GATE == "gate_standard"
    assert PUBLISHING_TASKS == (
        "extract", "gate_raw", "cleanse", "gate_cleansed", "validate", "gate_standard"
    )  # fmt: skip


@pytest.mark.parametrize(
    "gate, runner, outcome",
    [
        (None, None, None),  # the run is not triggered yet
        (None, "deferred", None),
        ("scheduled", "deferred", None),
        ("running", "deferred", None),
        ("success", "deferred", "success"),  # load, rehearsal still running: go
        ("success", "success", "success"),
        ("success", "failed", "success"),  # the load failed after: run_<d> fails the night
        ("failed", "deferred", "failed"),
        ("upstream_failed", "deferred", "failed"),  # extract/cleanse/validate failed
        ("skipped", "deferred", "failed"),
        (None, "failed", "failed"),  # the run failed (or never started: paused) before the gate
        ("running", "failed", "failed"),
        (None, "upstream_failed", "failed"),
    ],
)
def test_outcome(gate, runner, outcome):
    assert wait_outcome(gate, runner) == outcome


def _juki_trigger(master_run_id: str, **kwargs) -> PublishedTrigger:
    """The trigger of standard_juki in the master run ``master_run_id``."""
    return PublishedTrigger(
        dag_id="migrate_juki",
        run_id=f"{master_run_id}__juki",
        master_dag_id="migration_master",
        master_run_id=master_run_id,
        runner="run_juki",
        **kwargs,
    )


def _events(states: list[tuple[str | None, str | None]], monkeypatch) -> list:
    """The trigger's events over a sequence of (gate, runner) polls."""
    trigger = _juki_trigger("manual__m", poke_interval=0)
    polls = iter(states)
    asked = []
    current: dict = {}

    def state(dag_id, run_id, task_id):
        asked.append((dag_id, run_id, task_id))
        if task_id == "run_juki":
            current["gate"], current["runner"] = next(polls)
            return current["runner"]
        return current["gate"]

    monkeypatch.setattr(trigger, "_state", state)

    async def collect():
        return [e async for e in trigger.run()]

    events = asyncio.run(collect())
    assert ("migrate_juki", "manual__m__juki", "gate_standard") in asked
    assert ("migration_master", "manual__m", "run_juki") in asked
    return events


def test_the_trigger_waits_then_fires_once_the_gate_passed(monkeypatch):
    from airflow.triggers.base import TaskSuccessEvent

    events = _events([(None, None), ("running", "deferred"), ("success", "deferred")], monkeypatch)
    # the task ends in the triggerer, not resumed on a worker
    assert [type(e) for e in events] == [TaskSuccessEvent]


def test_the_trigger_fails_promptly_when_the_referred_run_fails(monkeypatch):
    from airflow.triggers.base import TaskFailedEvent

    events = _events([("scheduled", "deferred"), ("upstream_failed", "failed")], monkeypatch)
    assert [type(e) for e in events] == [TaskFailedEvent]


def test_the_trigger_round_trips_through_its_serialisation():
    trigger = _juki_trigger("r")
    path, kwargs = trigger.serialize()
    assert path == "ikou.airflow.published.PublishedTrigger"
    assert PublishedTrigger(**kwargs).serialize() == (path, kwargs)


def test_the_sensor_fails_the_task_without_the_validated_data():
    from airflow.sdk.exceptions import AirflowFailException

    sensor = PublishedSensor(domain="juki")
    assert sensor.task_id == "standard_juki" and sensor.retries == 0
    sensor.execute_complete({}, {"status": "success", "gate": "success"})
    with pytest.raises(AirflowFailException, match="juki: validated data not published"):
        sensor.execute_complete({}, {"status": "failed", "gate": "upstream_failed"})


def test_the_sensor_defers_on_the_run_the_master_triggered():
    from airflow.sdk.exceptions import TaskDeferred

    from ikou.pipeline import domain_run_id

    sensor = PublishedSensor(domain="kojin_juminzei")
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"run_id": "scheduled__2026-12-05T01:00:00+09:00"})
    trigger = deferred.value.trigger
    assert isinstance(trigger, PublishedTrigger)
    # the run id run_kojin_juminzei gives the run it triggers
    assert trigger.run_id == domain_run_id("scheduled__2026-12-05T01:00:00+09:00", "kojin_juminzei")
    assert (trigger.dag_id, trigger.runner) == ("migrate_kojin_juminzei", "run_kojin_juminzei")
