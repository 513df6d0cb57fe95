"""A running task's RunContext, and how a stage's outcome becomes the task's state.

:func:`run_context` builds the :class:`~ikou.pipeline.RunContext` once per task from the DAG
run: its conf (what a trigger passed, e.g. the master) over its Params (the form's defaults),
the run id and the triggering user. :func:`stage_call` runs a stage with the resources of
:mod:`ikou.airflow.connections` handed down, and maps Ikou's outcomes to Airflow's:

| outcome | task state |
|---|---|
| a result | success (the StageResult goes to XCom) |
| :class:`~ikou.stages.common.StageNotApplicable` | skipped |
| a refusal (cutover guard), a failed gate, a bad Param or setting | failed at once, no retry: retrying cannot change the answer |
| anything else (S3 down, the database busy …) | failed, retried by the task's retries |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ikou.config import settings, using
from ikou.errors import EXIT_USAGE, IkouError, Refused
from ikou.pipeline import RunContext

T = TypeVar("T")


def run_context(domain: str) -> RunContext:
    """The RunContext of the running task of a ``migrate_<domain>`` DAG run."""
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    dag_run = ctx["dag_run"]
    conf = getattr(dag_run, "conf", None) or {}
    who = str(getattr(dag_run, "triggering_user_name", "") or "")
    return RunContext.from_params(domain, ctx["run_id"], ctx["params"], conf, who=who)


def stage_call(domain: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(ctx, *args, **kwargs)`` with the task's RunContext and the resources handed down;
    its outcome mapped to the task's state (see the module docstring)."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from ikou.airflow.connections import resolve
    from ikou.stages.common import StageNotApplicable

    try:
        ctx = run_context(domain)
        settings().check()  # a malformed setting fails the task at its start, not deep in a stage
        with using(resolve()):
            return fn(ctx, *args, **kwargs)
    except StageNotApplicable as exc:
        raise AirflowSkipException(exc.message) from None
    except Refused as exc:
        raise AirflowFailException(str(exc)) from None
    except IkouError as exc:
        if exc.exit_code == EXIT_USAGE:  # a bad Param: the same input fails the same way
            raise AirflowFailException(exc.message) from None
        raise
