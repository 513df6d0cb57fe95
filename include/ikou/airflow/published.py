"""The master's wait for a domain's validated data: ``standard_<domain>``.

A domain referring to another reads only the other's validated standard layout, which the other's
run publishes at :data:`~ikou.pipeline.PUBLISHING_GATE` (``gate_standard``, the outlet of the
validated asset); its load, gate_target, rehearsal and reconciliation come after and are no
input of anyone. So the master starts a referring domain once the referred domain's run has
passed that gate, not once the whole run ended, and the two overlap.

The wait is deferred: the triggerer asks the Task SDK (no worker slot, no metadata DB access from
the task) for two states every few seconds, and ends the task itself (no worker start-up between
the gate and the referring domains) — the gate's in the referred domain's triggered run
(its run id is the master's, :func:`ikou.pipeline.domain_run_id`) and the master's own
``run_<domain>`` (the TriggerDagRunOperator that waits for that run). The stock
ExternalTaskSensor cannot be used: in Airflow 3 it matches the other DAG's runs by logical date
only, and a triggered run's logical date is not known ahead. Failing promptly matters as much as
succeeding: a failed domain stops the domains that refer to its data — the gate failing (or
upstream_failed after a failed extract/cleanse/validate) or ``run_<domain>`` ending without the
gate passed (the run failed or was never triggered, e.g. its DAG is paused) fails the wait at once,
and the referring domains' ``select_`` are upstream_failed as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TaskFailedEvent, TaskSuccessEvent, TriggerEvent

from ikou.pipeline import PUBLISHING_GATE

#: states of a task that will not change any more without a person clearing it
ENDED = ("success", "failed", "upstream_failed", "skipped", "removed")


def wait_outcome(gate: str | None, runner: str | None) -> str | None:
    """``success`` once the gate passed, ``failed`` once it cannot pass any more, else None
    (wait): ``gate``: the gate's state in the referred domain's run (None before the run exists
    or the gate is scheduled); ``runner``: the master's ``run_<domain>`` state."""
    if gate == "success":
        return "success"
    if gate in ENDED or runner in ENDED:
        # the gate ended without passing, or the run ended (or was never started) before it
        return "failed"
    return None


class PublishedTrigger(BaseTrigger):
    """Fires when ``gate`` of ``dag_id``'s run ``run_id`` passed or can no longer pass (see
    :func:`wait_outcome`); ``runner``: the master's task that triggers and waits for that run."""

    def __init__(
        self,
        *,
        dag_id: str,
        run_id: str,
        master_dag_id: str,
        master_run_id: str,
        runner: str,
        gate: str = PUBLISHING_GATE,
        poke_interval: float = 3.0,
    ):
        super().__init__()
        self.dag_id = dag_id
        self.run_id = run_id
        self.master_dag_id = master_dag_id
        self.master_run_id = master_run_id
        self.runner = runner
        self.gate = gate
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "dag_id": self.dag_id,
                "run_id": self.run_id,
                "master_dag_id": self.master_dag_id,
                "master_run_id": self.master_run_id,
                "runner": self.runner,
                "gate": self.gate,
                "poke_interval": self.poke_interval,
            },
        )

    def _state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        states = RuntimeTaskInstance.get_task_states(
            dag_id=dag_id, task_ids=[task_id], run_ids=[run_id]
        )
        state = (states.get(run_id) or {}).get(task_id)
        return str(getattr(state, "value", state)) if state is not None else None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        state = sync_to_async(self._state)
        while True:
            # the runner first: a gate read after it cannot miss a gate that passed before
            # the run ended
            runner = await state(self.master_dag_id, self.master_run_id, self.runner)
            gate = await state(self.dag_id, self.run_id, self.gate)
            outcome = wait_outcome(gate, runner)
            if outcome is not None:
                # the task ends here, in the triggerer: resuming it on a worker would put one more
                # task start-up (seconds) between the gate and the referring domains' start
                if outcome == "success":
                    yield TaskSuccessEvent()
                else:
                    self.log.error(
                        "%s: validated data not published (%s %s in %s, %s %s)",
                        self.dag_id,
                        self.gate,
                        gate or "not run",
                        self.run_id,
                        self.runner,
                        runner,
                    )
                    yield TaskFailedEvent()
                return
            await asyncio.sleep(self.poke_interval)


class PublishedSensor(BaseOperator):
    """``standard_<domain>`` in the master: succeeds when ``domain``'s run of this master run
    has published its validated data (its gate_standard passed), fails when it cannot."""

    ui_color = "#e8eef8"

    def __init__(self, *, domain: str, poke_interval: float = 3.0, **kwargs: Any):
        kwargs.setdefault("task_id", f"standard_{domain}")
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.domain = domain
        self.poke_interval = poke_interval

    def execute(self, context: Any) -> None:
        from ikou.domains import registry
        from ikou.pipeline import domain_run_id

        run_id = context["run_id"]
        self.defer(
            trigger=PublishedTrigger(
                dag_id=registry().get(self.domain).dag_id,
                run_id=domain_run_id(run_id, self.domain),
                master_dag_id=self.dag_id,
                master_run_id=run_id,
                runner=f"run_{self.domain}",
                poke_interval=self.poke_interval,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict | None = None) -> None:
        """Not reached while the trigger ends the task itself; a plain event (``status``) would
        resume the task here."""
        from airflow.sdk.exceptions import AirflowFailException

        event = event or {}
        if event.get("status") != "success":
            # no retry: the referred run's states do not change by asking again
            raise AirflowFailException(
                f"{self.domain}: validated data not published ({PUBLISHING_GATE} "
                f"{event.get('gate') or 'not run'}, run_{self.domain} {event.get('runner')})"
            )
