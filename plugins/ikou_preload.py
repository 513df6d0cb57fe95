"""Preload what Ikou's tasks import in Airflow's long-lived task-launching processes.

Airflow forks every task from a long-lived process (the LocalExecutor's workers fork from the
scheduler; Celery's pool from its worker), and every task process parses its DAG file again
(Airflow 3's task runner). What the parent imported, the task has for free:

- the heavy libraries: importing Great Expectations takes about 5 s of CPU, and every gate task
  needs it; pandas, pyarrow and boto3 every stage;
- Ikou's own modules the DAG files and the tasks import (the DAG factory, the stages, the
  quality layer) and the operator of the master's ``run_<domain>`` tasks: about 1 s of CPU a
  task process otherwise (more where no bytecode is cached: ``PYTHONDONTWRITEBYTECODE``), in
  each of the ~300 task processes of a city-wide master run. Modules only: nothing is read or
  connected here (the registry, the settings and the clients are built in the task).

Only the scheduler and Celery workers preload (the api-server, dag-processor and triggerer never
run Ikou's tasks); ``IKOU_PRELOAD=0`` turns it off. Needs ``[core] lazy_load_plugins = False``
so the scheduler loads plugins when it starts.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

#: the libraries, in this order; then every module of the ``ikou`` package (its command line
#: aside: no task runs it)
LIBRARIES = (
    "boto3",
    "pandas",
    "pyarrow.parquet",
    "great_expectations",
    "airflow.providers.standard.operators.trigger_dagrun",
    "airflow.providers.amazon.aws.hooks.s3",
)


def launches_tasks(argv: list[str]) -> bool:
    words = set(argv[1:3])
    return "scheduler" in words or ("celery" in words and "worker" in argv[1:4])


def ikou_modules() -> list[str]:
    """Every module of the ``ikou`` package but its command line (``ikou.cli``)."""
    import pkgutil

    import ikou

    return [
        m.name
        for m in pkgutil.walk_packages(ikou.__path__, "ikou.")
        if not m.name.startswith("ikou.cli") and not m.name.endswith("__main__")
    ]


def preload() -> list[str]:
    """Import the libraries and Ikou's modules; the names that failed (left to the tasks)."""
    failed = []
    for name in (*LIBRARIES, *ikou_modules()):
        try:
            importlib.import_module(name)
        except Exception:  # pragma: no cover - preloading is an optimisation, never a failure
            log.exception("ikou: preloading %s failed; tasks will import it themselves", name)
            failed.append(name)
    return failed


if os.environ.get("IKOU_PRELOAD", "1") == "1" and launches_tasks(sys.argv):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    preload()


class IkouPreloadPlugin(AirflowPlugin):
    name = "ikou_preload"
