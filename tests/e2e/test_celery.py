"""The distributed engine for real: the same DAGs on CeleryExecutor with two workers.

``ikou stack run`` with ``IKOU_EXECUTOR=celery`` (what ``make run-celery`` does) starts a metadata
database of its own on the machine's PostgreSQL, Redis as the broker, scheduler, dag-processor,
triggerer, api-server and two ``airflow celery worker`` processes of one slot each, told apart
by their ``hostname_callable``. It runs ``migration_master`` over two related domains (住民基本台帳
and 個人住民税, which refers to it) on the same synthetic city as the LocalExecutor e2e stack
(tests/conftest.py: same residents, seed, snapshot and HMAC key), and the results must be the
same: accounting, verdicts and the reconciliation's keyed hashes. During that same run a worker
is SIGKILLed while it runs a stage of 住民基本台帳: the task is retried on the other worker and the
run completes, published once, with its accounting closed (one master run serves both checks: a
second run only for the kill cost minutes of the suite).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from types import SimpleNamespace

import pytest
from tests_support import free_port

pytestmark = [pytest.mark.celery, pytest.mark.e2e, pytest.mark.slow]

DOMAINS = ("juki", "kojin_juminzei")
WORKERS = ("ikou-worker-1", "ikou-worker-2")


def _drop_database(pg_admin_url: str, name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_admin_url + "/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The broker: the machine's Redis (a database index of its own; never skipped when Redis
    is missing: the stack then stops with "cannot reach Redis" and the test fails)."""
    from prerequisites import require

    require("Redis")  # IKOU_STRICT=1 (CI): a missing Redis fails the test, never skips it
    return os.environ.get("IKOU_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture(scope="module")
def celery_stack(ikou_stack, tmp_path_factory, redis_url):
    """The Celery stack over DOMAINS, on the LocalExecutor stack's city (same HMAC key)."""
    home = tmp_path_factory.mktemp("celery")
    from prerequisites import pg_admin_url, require

    require("PostgreSQL")
    pg = pg_admin_url().rsplit("/", 1)[0]  # the server (IKOU_TEST_PG_URL), without its database
    db = f"ikou_airflow_celery_test_{os.getpid()}"
    api_port = free_port()
    env = dict(os.environ)
    for k in ("AWS_ENDPOINT_URL", "AIRFLOW_HOME", "IKOU_TARGET_DB_URL"):
        env.pop(k, None)
    env.update(
        {
            "IKOU_EXECUTOR": "celery",
            "IKOU_HOME": str(home),
            "IKOU_S3_PORT": str(free_port()),
            "IKOU_AIRFLOW_PORT": str(api_port),
            "IKOU_SCHEDULER_HEALTH_PORT": str(free_port()),
            "IKOU_PG_URL": pg,
            "IKOU_CELERY_DB": db,
            "IKOU_REDIS_URL": redis_url,
            "IKOU_HEARTBEAT_TIMEOUT": "30",  # a killed worker's task is failed (and retried) soon
            "IKOU_PARALLELISM": "4",
            # the LocalExecutor stack's key (the environment's, or the one it generated)
            "IKOU_HMAC_SECRET": ikou_stack.env.get("IKOU_HMAC_SECRET")
            or (ikou_stack.home / "hmac_secret").read_text().strip(),
        }
    )
    _drop_database(pg, db)
    cmd = [
        sys.executable, "-m", "ikou_dev.localstack", "run", "--keep-running",
        "--residents", "300", "--seed", "5", "--snapshot", ikou_stack.snapshot,
        "--timeout", "900", "--domains", *DOMAINS,
    ]  # fmt: skip
    stack = SimpleNamespace(home=home, env=env, base_url=f"http://127.0.0.1:{api_port}")
    out, err = home / "stack-run.out", home / "stack-run.err"
    try:
        with open(out, "w") as fo, open(err, "w") as fe:
            run = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe, text=True)
            try:
                stack.killed = _kill_a_worker_mid_stage(stack, run, time.monotonic() + 1200)
                run.wait(timeout=1500)
            finally:
                if run.poll() is None:
                    run.kill()
                    run.wait(timeout=60)
        stack.proc = subprocess.CompletedProcess(
            cmd, run.returncode, out.read_text(), err.read_text()
        )
        yield stack
    finally:
        subprocess.run(
            [sys.executable, "-m", "ikou_dev.localstack", "down"],
            env=env,
            capture_output=True,
            timeout=300,
        )
        _drop_database(pg, db)


def _kill_a_worker_mid_stage(stack, run: subprocess.Popen, deadline: float) -> dict | None:
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
            tis = _task_instances(
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


def _task_instances(api: Api, dag_id: str, run_id: str) -> list[dict]:
    from urllib.parse import quote

    return api.get(
        f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=100"
    )["task_instances"]


def _master_run(api: Api) -> dict:
    runs = api.get("/api/v2/dags/migration_master/dagRuns?limit=10")["dag_runs"]
    runs = [r for r in runs if r.get("run_type") == "manual"]  # the one the stack triggered
    assert len(runs) == 1, runs
    return runs[0]


def _rehearsal(home, domain: str) -> dict:
    (path,) = list((home / "s3" / "ikou-reports" / "reports" / domain).rglob("rehearsal.json"))
    return json.loads(path.read_text())


def _comparable(report: dict) -> dict:
    """What must not depend on the executor: verdict, accounting, reconciliation (keyed hashes)."""
    keep = ("rows_source", "rows_target", "missing", "extra", "changed", "duplicate_keys",
            "mismatches", "aggregates", "control_totals", "mismatched_keys")  # fmt: skip
    return {
        "verdict": report["verdict"],
        "accounting": [
            {
                k: a.get(k)
                for k in ("unit", "legacy_records", "output_records", "quarantined", "merged")
            }
            for a in report["accounting"]
        ],
        "reconciliation": [
            {"unit": t["unit"], **{k: t.get(k) for k in keep}} for t in report["reconciliation"]
        ],
    }


def test_the_master_runs_on_celery_and_both_workers_take_tasks(celery_stack):
    from ikou.pipeline import domain_run_id

    proc = celery_stack.proc
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    api = Api(celery_stack)
    master = _master_run(api)
    assert master["state"] == "success"
    hosts = set()
    for d in DOMAINS:
        run_id = domain_run_id(master["dag_run_id"], d)
        tis = _task_instances(api, f"migrate_{d}", run_id)
        assert {t["state"] for t in tis} <= {"success", "skipped"}, tis
        hosts |= {t["hostname"] for t in tis if t["state"] == "success"}
    assert set(WORKERS) <= hosts, hosts


def test_results_equal_the_local_executor_run(celery_stack, ikou_stack):
    """Run ids, timings and hosts aside, the same city gives the same figures on both executors."""
    # both stacks save their buckets to disk after the run (make run does the same)
    for d in DOMAINS:
        celery = _comparable(_rehearsal(celery_stack.home, d))
        local = _comparable(_rehearsal(ikou_stack.home, d))
        assert celery == local, d
    assert _comparable(_rehearsal(celery_stack.home, "juki"))["verdict"] == "GO"


def test_a_killed_worker_loses_no_task(celery_stack):
    """A worker SIGKILLed while it ran a stage of the master's juki run: after the heartbeat
    timeout the task was retried on the other worker, the run completed, and the stage's output
    was published once."""
    from ikou.pipeline import domain_run_id

    killed = celery_stack.killed
    assert killed is not None, "no stage of juki ran on a worker that had finished a task"
    api = Api(celery_stack)
    run_id = domain_run_id(_master_run(api)["dag_run_id"], "juki")
    tis = {t["task_id"]: t for t in _task_instances(api, "migrate_juki", run_id)}
    assert {t["state"] for t in tis.values()} <= {"success", "skipped"}, tis
    again = tis[killed["task_id"]]
    assert again["try_number"] >= 2  # retried …
    assert again["hostname"] in WORKERS and again["hostname"] != killed["hostname"]  # … elsewhere
    # published once: one manifest under the run's prefix of the stage (the stack saved its
    # buckets to disk after the run); the rehearsal's accounting of this run closes
    from ikou.storage import run_key

    zone = {"cleanse": "cleansed", "validate": "validated", "load": "handoff"}[killed["task_id"]]
    saved = celery_stack.home / "s3"
    stage = saved / "ikou-restricted" / zone / "juki" / run_key(run_id)
    assert sum(1 for _ in stage.rglob("_manifest.json")) == 1, sorted(stage.rglob("*"))
    report = _rehearsal(celery_stack.home, "juki")
    assert report["run_id"] == run_id and report["verdict"] == "GO"
    assert all(a["balanced"] for a in report["accounting"]), report["accounting"]
