"""The Celery stack's run for tests/e2e/test_celery.py, as a process of its own:
``python tests/e2e/celery_run.py HOME -- ikou stack run …`` runs the command (output to
``HOME/stack-run.out`` / ``.err``) and, while the master runs, SIGKILLs the Celery worker running
a stage of 住民基本台帳 (:func:`kill_a_worker_mid_stage`); the task instance as it was killed goes
to ``HOME/killed.json`` (``null`` when no such moment came), and once the task's retry has started
on the other worker, the killed worker starts again (:func:`restart_when_retried_elsewhere`).
Its exit code is the run's.

tests/conftest.py starts it at the beginning of the session (``celery_stack_run``), so that the
stack runs on the second core while the in-process tests use the first; a process of its own, not
a thread of pytest's, so that the busy test process never makes it miss the moment of the kill.
The test module imports :class:`Api` and the helpers from here (pytest puts tests/e2e on the
path).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

WORKERS = ("ikou-worker-1", "ikou-worker-2")


class Api:
    def __init__(self, stack):
        self.base = stack.base_url
        passwords = json.loads((stack.home / "airflow" / "passwords.json").read_text())
        self.token = self._call(
            "POST", "/auth/token", {"username": "admin", "password": passwords["admin"]}
        )["access_token"]

    def _call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        req = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def get(self, path: str):
        return self._call("GET", path, token=self.token)

    def post(self, path: str, body: dict):
        return self._call("POST", path, body, token=self.token)


def task_instances(api: Api, dag_id: str, run_id: str) -> list[dict]:
    from urllib.parse import quote

    return api.get(
        f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=100"
    )["task_instances"]


def kill_a_worker_mid_stage(stack, run: subprocess.Popen, deadline: float) -> dict | None:
    """While the master runs: SIGKILL the worker running cleanse, validate or load of 住民基本台帳,
    once that worker has finished a task of the run (so both workers have taken tasks whatever
    happens next). The task instance as it was killed, or None when no such moment came."""
    from ikou.pipeline import domain_run_id

    api = None
    while time.monotonic() < deadline and run.poll() is None:
        time.sleep(1)
        if api is None:
            try:
                api = Api(stack)
            except (OSError, ValueError, KeyError):  # the api-server is not up yet
                continue
        try:
            runs = api.get("/api/v2/dags/migration_master/dagRuns?limit=10")["dag_runs"]
            manual = [r for r in runs if r.get("run_type") == "manual"]
            if not manual:
                continue
            tis = task_instances(
                api, "migrate_juki", domain_run_id(manual[0]["dag_run_id"], "juki")
            )
        except OSError:  # the domain run does not exist yet (404) or the server is busy
            continue
        done_on = {t["hostname"] for t in tis if t["state"] == "success"}
        for t in tis:
            if (
                t["state"] == "running"
                and t["task_id"] in ("cleanse", "validate", "load")
                and t["hostname"] in WORKERS
                and t["hostname"] in done_on
            ):
                name = t["hostname"].removeprefix("ikou-")
                pid = int((stack.home / "run" / f"{name}.pid").read_text())
                os.killpg(pid, signal.SIGKILL)  # the worker, its task supervisor and the task
                return t
    return None


def restart_when_retried_elsewhere(stack, run: subprocess.Popen, killed: dict, deadline: float):
    """Once the killed task's retry runs (or ran) on the other worker, start the killed worker
    again, as its supervisor would (docker-compose.yml: ``restart``): the rest of the run has two
    workers again instead of one, and the retry has gone where the test expects it."""
    from ikou_dev.localstack import start_celery_worker
    from ikou_dev.localstack_env import stack_env

    api = Api(stack)
    while time.monotonic() < deadline and run.poll() is None:
        time.sleep(2)
        try:
            tis = task_instances(api, killed["dag_id"], killed["dag_run_id"])
        except OSError:  # the server is busy
            continue
        again = [
            t
            for t in tis
            if t["task_id"] == killed["task_id"]
            and t["try_number"] > killed["try_number"]
            and t["state"] not in (None, "scheduled", "queued", "up_for_retry")
        ]
        if again:
            if again[0]["hostname"] != killed["hostname"]:
                airflow = str(Path(sys.executable).parent / "airflow")
                start_celery_worker(killed["hostname"].removeprefix("ikou-"), stack_env(), airflow)
            return


def main(argv: list[str]) -> int:
    home, base_url = Path(argv[0]), argv[1]
    cmd = argv[argv.index("--") + 1 :]
    stack = SimpleNamespace(home=home, base_url=base_url)
    with open(home / "stack-run.out", "w") as fo, open(home / "stack-run.err", "w") as fe:
        run = subprocess.Popen(cmd, stdout=fo, stderr=fe, text=True)
        try:
            killed = kill_a_worker_mid_stage(stack, run, time.monotonic() + 1200)
            (home / "killed.json").write_text(json.dumps(killed))
            if killed is not None:
                restart_when_retried_elsewhere(stack, run, killed, time.monotonic() + 1200)
            return run.wait(timeout=1500)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
