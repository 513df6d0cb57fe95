"""plugins/ikou_preload.py: what the scheduler (and a Celery worker) imports before it forks the
task processes: the task libraries and every module of Ikou but its command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_preload_imports_every_ikou_module():
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(REPO / 'plugins')!r})\n"
        "import ikou_preload\n"
        "failed = ikou_preload.preload()\n"
        "print(json.dumps({'failed': failed, 'modules': ikou_preload.ikou_modules(),\n"
        "  'loaded': sorted(m for m in sys.modules if m.startswith('ikou'))}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["failed"] == []
    assert {"ikou.airflow.dags", "ikou.airflow.master", "ikou.stages.gate"} <= set(got["modules"])
    assert set(got["modules"]) <= set(got["loaded"])
    assert not any(m.startswith("ikou.cli") for m in got["modules"])  # no task runs it


def test_only_the_processes_that_fork_tasks_preload():
    sys.path.insert(0, str(REPO / "plugins"))
    try:
        from ikou_preload import launches_tasks
    finally:
        sys.path.remove(str(REPO / "plugins"))
    assert launches_tasks(["airflow", "scheduler"])
    assert launches_tasks(["airflow", "celery", "worker", "--concurrency", "1"])
    for other in (
        ["airflow", "dag-processor"],
        ["airflow", "api-server"],
        ["airflow", "triggerer"],
    ):
        assert not launches_tasks(other)
