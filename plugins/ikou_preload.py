"""Preload the heavy libraries of Ikou's tasks in Airflow's long-lived task-launching processes.

Airflow forks every task from a long-lived process (the LocalExecutor's workers fork from the
scheduler; Celery's pool from its worker). Importing Great Expectations takes about 5 s of CPU,
and every gate task needs it: importing it once in the parent saves that in each of the 100 gate
tasks of a city-wide rehearsal. Only the scheduler and Celery workers preload (the api-server,
dag-processor and triggerer never run Ikou's tasks); ``IKOU_PRELOAD=0`` turns it off. Needs
``[core] lazy_load_plugins = False`` so the scheduler loads plugins when it starts.
"""

from __future__ import annotations

import logging
import os
import sys

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


def _launches_tasks(argv: list[str]) -> bool:
    words = set(argv[1:3])
    return "scheduler" in words or ("celery" in words and "worker" in argv[1:4])


if os.environ.get("IKOU_PRELOAD", "1") == "1" and _launches_tasks(sys.argv):
    try:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import boto3  # noqa: F401
        import pandas  # noqa: F401
        import pyarrow.parquet  # noqa: F401

        import great_expectations  # noqa: F401
    except Exception:  # pragma: no cover - preloading is an optimisation, never a failure
        log.exception("ikou: preloading task libraries failed; tasks will import them themselves")


class IkouPreloadPlugin(AirflowPlugin):
    name = "ikou_preload"
