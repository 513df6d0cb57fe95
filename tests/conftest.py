"""Shared fixtures: the local S3 endpoint (moto server mode), a PostgreSQL database of its own,
an Airflow home on SQLite, and the environment Ikou reads.

What the suite needs from the machine and strict mode (``IKOU_STRICT=1``: a missing service or
tool, or any skip, fails the run) are in ``tests/prerequisites.py``; without strict mode the last
line of the run lists what was skipped.

The environment is set when this module is imported, before anything imports Airflow (which
reads its configuration at import time).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from prerequisites import (  # noqa: F401 - hooks: strict mode, the list of skips at the end
    PREREQUISITES,
    need,
    pg_admin_url,
    postgresql_problem,
    pytest_runtest_makereport,
    pytest_unconfigure,
    require,
)
from tests_support import free_port

REPO = Path(__file__).resolve().parents[1]
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="ikou-tests-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(_SESSION_DIR / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "IKOU_HOME": str(_SESSION_DIR / "ikou"),
        "IKOU_HMAC_SECRET": "test-secret-not-for-production",
        "GX_ANALYTICS_ENABLED": "false",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "IKOU_PRELOAD": "0",
    }
)
os.environ.pop("IKOU_AWS_CONN_ID", None)
os.environ.pop("IKOU_TARGET_DB_URL", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

PG_ADMIN_URL = pg_admin_url()


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


def _is_moto(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=10) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on 127.0.0.1 with Ikou's two buckets; AWS_ENDPOINT_URL points at it."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for _ in range(5):
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        url = f"http://127.0.0.1:{port}"
        client = boto3.client("s3", endpoint_url=url)
        # ours and fresh: another process's S3 that bound the port first would answer too (its
        # buckets and objects then mixed with the tests'); moto's own API tells them apart
        if _is_moto(url) and not client.list_buckets().get("Buckets"):
            break
        server.stop()
    else:
        pytest.fail(
            "the tests' S3 endpoint is not fresh after 5 tries: another server holds its port, or "
            "a moto server in this process left buckets in moto's in-process state"
        )
    os.environ["AWS_ENDPOINT_URL"] = url
    for bucket in ("ikou-restricted", "ikou-reports"):
        client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
        )
    yield url
    server.stop()
    os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database on the machine's server (dropped afterwards)."""
    from sqlalchemy import create_engine

    name = f"ikou_test_{uuid.uuid4().hex[:10]}"
    problem = postgresql_problem(PG_ADMIN_URL)
    if problem:
        need("PostgreSQL", problem)  # IKOU_STRICT=1: fails instead of skipping
    admin = create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 10}
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite) for dag.test()."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
        timeout=600,
    )
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture(scope="session")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


# -- the embedded stacks, shared by the end-to-end and the browser tests -------------------------

STACK_DOMAINS = ("juki", "kojin_juminzei", "jido_teate")
STACK_SNAPSHOT = "2026-09-01"
#: the Celery stack's run (tests/e2e/test_celery.py): two related domains of the same city
CELERY_DOMAINS = ("juki", "kojin_juminzei")


def _stack_run_argv(domains) -> list[str]:
    """``ikou stack run --keep-running`` (what `make run` does) on the tests' city: 300 residents,
    seed 5, one snapshot (both stacks the same city, with the session's HMAC key)."""
    return [
        sys.executable, "-m", "ikou_dev.localstack", "run", "--keep-running",
        "--residents", "300", "--seed", "5", "--snapshot", STACK_SNAPSHOT,
        "--timeout", "900", "--domains", *domains,
    ]  # fmt: skip


def _stack_env(home: Path, api_port: int) -> dict:
    env = dict(os.environ)
    for k in ("AWS_ENDPOINT_URL", "AIRFLOW_HOME", "IKOU_TARGET_DB_URL"):
        env.pop(k, None)
    env.update(
        {
            "IKOU_HOME": str(home),
            "IKOU_S3_PORT": str(free_port()),
            "IKOU_AIRFLOW_PORT": str(api_port),
            "IKOU_PARALLELISM": "4",
            # 住民基本台帳's files (≈300 records each) cleansed in two record ranges: the mapped
            # cleanse_parts run under the real scheduler (and on both Celery workers)
            "IKOU_CLEANSE_PART_ROWS": "200",
            # the log servers on ports of their own (a benchmark's or a session's stack beside)
            "IKOU_LOG_SERVER_PORT": str(free_port()),
            "IKOU_TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # as `make run`: the scheduler and the Celery workers import GX and pandas once
            # (plugins/ikou_preload.py), not every task (the in-process tests need no preload)
            "IKOU_PRELOAD": "1",
        }
    )
    return env


class StackRun:
    """A stack's run in the background (its own process group, output to ``HOME/stack-run.*``):
    :meth:`result` waits for it; :meth:`stop` starts ``ikou stack down`` (in the background too:
    the next tests need not wait for it), :meth:`wait_stopped` waits for it and then runs
    ``after_stop`` (the Celery stack drops its metadata database)."""

    def __init__(self, home: Path, env: dict, cmd: list[str], api_port: int, after_stop=None):
        self.home, self.env, self.cmd, self.after_stop = home, env, cmd, after_stop
        self.base_url = f"http://127.0.0.1:{api_port}"
        self.out, self.err = home / "stack-run.out", home / "stack-run.err"
        with open(self.out, "w") as fo, open(self.err, "w") as fe:
            self.popen = subprocess.Popen(
                cmd, env=env, stdout=fo, stderr=fe, text=True, start_new_session=True
            )
        self.down: subprocess.Popen | None = None

    def result(self) -> subprocess.CompletedProcess:
        try:
            self.popen.wait(timeout=1500)
        finally:
            self._end()
        return subprocess.CompletedProcess(
            self.cmd, self.popen.returncode, self.out.read_text(), self.err.read_text()
        )

    def _end(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=60)

    def stop(self) -> None:
        if self.down is None:
            self._end()
            self.down = subprocess.Popen(
                [sys.executable, "-m", "ikou_dev.localstack", "down"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def wait_stopped(self) -> None:
        self.stop()
        try:
            self.down.wait(timeout=300)
        finally:
            if self.after_stop is not None:
                self.after_stop()
                self.after_stop = None


def _start_local_stack(tmp_path_factory) -> StackRun:
    home = tmp_path_factory.mktemp("stack")
    api_port = free_port()
    env = _stack_env(home, api_port)
    return StackRun(home, env, _stack_run_argv(STACK_DOMAINS), api_port)


def _drop_database(server_url: str, name: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(server_url + "/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def _start_celery_stack(tmp_path_factory) -> StackRun:
    """``IKOU_EXECUTOR=celery`` (`make run-celery`): its own metadata database on the machine's
    PostgreSQL, the machine's Redis (a database index of its own) as the broker, through
    tests/e2e/celery_run.py, which kills a worker mid-stage during the run."""
    home = tmp_path_factory.mktemp("celery")
    pg = pg_admin_url().rsplit("/", 1)[0]  # the server (IKOU_TEST_PG_URL), without its database
    db = f"ikou_airflow_celery_test_{os.getpid()}"
    api_port = free_port()
    env = _stack_env(home, api_port)
    env.update(
        {
            "IKOU_EXECUTOR": "celery",
            "IKOU_SCHEDULER_HEALTH_PORT": str(free_port()),
            "IKOU_PG_URL": pg,
            "IKOU_CELERY_DB": db,
            "IKOU_REDIS_URL": os.environ.get("IKOU_TEST_REDIS_URL", "redis://127.0.0.1:6379/9"),
            "IKOU_HEARTBEAT_TIMEOUT": "30",  # a killed worker's task is failed (and retried) soon
        }
    )
    _drop_database(pg, db)
    driver = [sys.executable, str(REPO / "tests" / "e2e" / "celery_run.py"), str(home)]
    return StackRun(
        home,
        env,
        [*driver, f"http://127.0.0.1:{api_port}", "--", *_stack_run_argv(CELERY_DOMAINS)],
        api_port,
        after_stop=lambda: _drop_database(pg, db),
    )


@pytest.fixture(scope="session", autouse=True)
def _stack_runs(request, tmp_path_factory):
    """The stacks the session's tests use start with the session, in the background: their runs
    (minutes of Airflow scheduling, mostly one task at a time) take the second core while the
    in-process tests take the first; the tests on them run last (see below) and wait for them.
    A stack whose prerequisites are missing is not started here: its fixture then fails or skips
    as tests/prerequisites.py says."""
    used = set()
    for item in request.session.items:
        used.update(getattr(item, "fixturenames", ()))
    runs: dict[str, StackRun] = {}
    if "ikou_stack" in used:
        runs["local"] = _start_local_stack(tmp_path_factory)
    if "celery_stack_run" in used and not any(PREREQUISITES[w]() for w in ("PostgreSQL", "Redis")):
        runs["celery"] = _start_celery_stack(tmp_path_factory)
    yield runs
    for run in runs.values():
        run.stop()
    for run in runs.values():
        run.wait_stopped()


@pytest.fixture(scope="session")
def ikou_stack(_stack_runs, tmp_path_factory):
    """``ikou stack run --keep-running`` (what `make run` does) on free ports with its own IKOU_HOME:
    local S3, ``airflow standalone``, a city of 300 residents, ``migration_master`` over three
    related domains through the real scheduler (and its Data Docs build). Started with the
    session (``_stack_runs``); the stack stays up for the tests that use it (the e2e and browser
    tests, which run last: see below) and is stopped with ``ikou stack down`` at the end."""
    from types import SimpleNamespace

    run = _stack_runs.get("local") or _stack_runs.setdefault(
        "local", _start_local_stack(tmp_path_factory)
    )
    return SimpleNamespace(
        proc=run.result(),
        home=run.home,
        env=run.env,
        base_url=run.base_url,
        passwords_file=run.home / "airflow" / "passwords.json",
        snapshot=STACK_SNAPSHOT,
        domains=STACK_DOMAINS,
    )


@pytest.fixture(scope="session")
def celery_stack_run(_stack_runs, tmp_path_factory):
    """The Celery stack over CELERY_DOMAINS after its run (tests/e2e/test_celery.py), the worker
    it killed mid-stage in ``killed`` (None when no moment for it came). Needs PostgreSQL and
    Redis: fails under IKOU_STRICT=1, else skips, when one is missing."""
    import json
    from types import SimpleNamespace

    require("Redis")  # IKOU_STRICT=1 (CI): a missing Redis fails the test, never skips it
    require("PostgreSQL")
    run = _stack_runs.get("celery") or _stack_runs.setdefault(
        "celery", _start_celery_stack(tmp_path_factory)
    )
    proc = run.result()
    killed = run.home / "killed.json"
    return SimpleNamespace(
        proc=proc,
        home=run.home,
        env=run.env,
        base_url=run.base_url,
        killed=json.loads(killed.read_text()) if killed.exists() else None,
        domains=CELERY_DOMAINS,
        stop=run.stop,
    )


def pytest_collection_modifyitems(session, config, items):
    """Tests on the embedded stacks run last: the stacks started with the session (``_stack_runs``)
    have had the in-process tests' time to run their masters, and are stopped right after them
    (at the end of the session)."""
    uses = [i for i in items if "ikou_stack" in getattr(i, "fixturenames", ())]
    if uses:
        others = [i for i in items if "ikou_stack" not in getattr(i, "fixturenames", ())]
        items[:] = others + uses
