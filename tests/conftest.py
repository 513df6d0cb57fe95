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
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from prerequisites import (  # noqa: F401 - hooks: strict mode, the list of skips at the end
    need,
    pg_admin_url,
    postgresql_problem,
    pytest_runtest_makereport,
    pytest_unconfigure,
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


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server on 127.0.0.1 with Ikou's two buckets; AWS_ENDPOINT_URL points at it."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    os.environ["AWS_ENDPOINT_URL"] = url
    client = boto3.client("s3", endpoint_url=url)
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


# -- the embedded stack, shared by the end-to-end and the browser tests -------------------------

STACK_DOMAINS = ("juki", "kojin_juminzei", "jido_teate")
STACK_SNAPSHOT = "2026-09-01"


@pytest.fixture(scope="session")
def ikou_stack(tmp_path_factory):
    """``ikou stack run --keep-running`` (what `make run` does) on free ports with its own IKOU_HOME:
    local S3, ``airflow standalone``, a city of 300 residents, ``migration_master`` over three
    related domains through the real scheduler (and its Data Docs build). The stack stays up for
    the tests that use it (the e2e and browser tests, which run last: see below) and is stopped
    with ``ikou stack down`` at the end."""
    from types import SimpleNamespace

    home = tmp_path_factory.mktemp("stack")
    api_port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "IKOU_HOME": str(home),
            "IKOU_S3_PORT": str(free_port()),
            "IKOU_AIRFLOW_PORT": str(api_port),
            "IKOU_PARALLELISM": "4",
        }
    )
    for k in ("AWS_ENDPOINT_URL", "AIRFLOW_HOME", "IKOU_TARGET_DB_URL"):
        env.pop(k, None)
    cmd = [
        sys.executable,
        "-m",
        "ikou_dev.localstack",
        "run",
        "--keep-running",
        "--residents",
        "300",
        "--seed",
        "5",
        "--snapshot",
        STACK_SNAPSHOT,
        "--timeout",
        "900",
        "--domains",
        *STACK_DOMAINS,
    ]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
        yield SimpleNamespace(
            proc=proc,
            home=home,
            env=env,
            base_url=f"http://127.0.0.1:{api_port}",
            passwords_file=home / "airflow" / "passwords.json",
            snapshot=STACK_SNAPSHOT,
            domains=STACK_DOMAINS,
        )
    finally:
        subprocess.run(
            [sys.executable, "-m", "ikou_dev.localstack", "down"],
            env=env,
            capture_output=True,
            timeout=300,
        )


def pytest_collection_modifyitems(session, config, items):
    """Tests on the embedded stack run last: its scheduler never competes with the other tests for
    the CPU, and the stack is stopped right after them (at the end of the session)."""
    uses = [i for i in items if "ikou_stack" in getattr(i, "fixturenames", ())]
    if uses:
        others = [i for i in items if "ikou_stack" not in getattr(i, "fixturenames", ())]
        items[:] = others + uses
