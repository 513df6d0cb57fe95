"""The embedded stack's configuration: ports, users and roles, the executor, the environment of
Airflow, the local S3 endpoint and the target database (:func:`stack_env`), and the services
the Celery shape needs (PostgreSQL metadata database, Redis). :mod:`ikou_dev.localstack` starts
and stops the processes with it and runs the master.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from pathlib import Path

from ikou.errors import BadArgument, Unreachable

REPO = Path(__file__).resolve().parents[2]
S3_PORT = int(os.environ.get("IKOU_S3_PORT", "9000"))
API_PORT = int(os.environ.get("IKOU_AIRFLOW_PORT", "8080"))
#: who is who in the stack (Airflow's simple auth manager, user → role): engineers operate (op),
#: auditors only read (viewer). docker-compose.yml says the same; the UI and plugin tests read it.
USER_ROLES = {"admin": "admin", "engineer": "op", "auditor": "viewer"}
USERS = tuple(USER_ROLES)


def simple_auth_users(roles: dict[str, str] | None = None) -> str:
    """The ``[core] simple_auth_manager_users`` setting of the stack (``user:role,…``)."""
    return ",".join(f"{user}:{role}" for user, role in (roles or USER_ROLES).items())


def parse_simple_auth_users(value: str) -> dict[str, str]:
    """``user:role,…`` (as Airflow's simple auth manager reads it) as user → role."""
    out = {}
    for item in value.split(","):
        user, sep, role = item.strip().partition(":")
        if not item.strip():
            continue
        if not sep or not user or not role:
            raise ValueError(f"simple_auth_manager_users: {item!r} is not user:role")
        out[user] = role
    return out


#: the embedded default (LocalExecutor, SQLite metadata, `airflow standalone`) or the distributed
#: shape of docker-compose.yml on this machine (CeleryExecutor, PostgreSQL metadata database,
#: Redis broker, the components one by one and two Celery workers): `make run-celery`
EXECUTORS = ("local", "celery")
#: the components of the Celery stack, started in this order (each its own process group)
CELERY_COMPONENTS = (
    "scheduler",
    "dag-processor",
    "triggerer",
    "api-server",
    "worker-1",
    "worker-2",
)
PROCESSES = ("airflow", *CELERY_COMPONENTS, "s3")


def home() -> Path:
    return Path(os.environ.get("IKOU_HOME", REPO / ".ikou")).resolve()


def _secret(path: Path, n: int = 24) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(n)
    path.write_text(value)
    path.chmod(0o600)
    return value


def passwords() -> dict[str, str]:
    p = home() / "airflow" / "passwords.json"
    if p.exists():
        return json.loads(p.read_text())
    p.parent.mkdir(parents=True, exist_ok=True)
    pw = {u: secrets.token_urlsafe(12) for u in USERS}
    p.write_text(json.dumps(pw, indent=2))
    p.chmod(0o600)
    return pw


def stack_env() -> dict[str, str]:
    h = home()
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    endpoint = f"http://127.0.0.1:{S3_PORT}"
    env.update(
        {
            "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
            "IKOU_HOME": str(h),
            "AIRFLOW_HOME": str(h / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # StageResult, RunContext … cross XCom through serde (ikou.airflow also allow_class()es
            # them; the setting makes every component agree without importing the DAG files)
            "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES": "airflow.* ikou.pipeline.*",
            "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",  # plugins/ikou_preload.py preloads GX in the scheduler
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # runs are triggered by hand here (make run / ui): the nightly cron of the master
            # (01:00 JST) belongs to a deployment and would start a second, city-wide run
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": os.environ.get("IKOU_PARALLELISM", "6"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": simple_auth_users(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                h / "airflow" / "passwords.json"
            ),
            "AIRFLOW__API__PORT": str(API_PORT),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{API_PORT}",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            # as docker-compose.yml: an edited DAG file is parsed at once (modification time),
            # an unchanged one every 5 min, not every 30 s (20 generated DAGs: CPU the tasks need)
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            # the scheduler's /health (as in docker-compose.yml), on a port of its own per stack
            # (a benchmark's stack beside the test suite's)
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": os.environ.get(
                "IKOU_SCHEDULER_HEALTH_PORT", "8974"
            ),
            # the log servers of the task runner and the triggerer (Airflow's 8793 / 8794): a
            # port of their own per stack, as the health check's (two stacks side by side)
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": os.environ.get(
                "IKOU_LOG_SERVER_PORT", "8793"
            ),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": os.environ.get(
                "IKOU_TRIGGER_LOG_SERVER_PORT", "8794"
            ),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            # Japan's time (as docker-compose.yml); the UI shows the browser's zone (README)
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Tokyo",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY", "testing"),
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "ap-northeast-1"),
            "IKOU_AWS_CONN_ID": "ikou_s3",
            "AIRFLOW_CONN_IKOU_S3": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": endpoint, "region_name": "ap-northeast-1"},
                }
            ),
            "IKOU_HMAC_SECRET": env.get("IKOU_HMAC_SECRET") or _secret(h / "hmac_secret"),
            "GX_ANALYTICS_ENABLED": "false",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    if executor() == "celery":
        env.update(celery_env(h))
    return env


def executor() -> str:
    value = os.environ.get("IKOU_EXECUTOR", "local")
    if value not in EXECUTORS:
        raise BadArgument(f"IKOU_EXECUTOR {value!r}: expected one of {', '.join(EXECUTORS)}")
    return value


def postgres_url() -> str:
    """The PostgreSQL server of the Celery stack's metadata database (no database name)."""
    return os.environ.get("IKOU_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432").rstrip(
        "/"
    )


def celery_db() -> str:
    name = os.environ.get("IKOU_CELERY_DB", "ikou_airflow_celery")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise BadArgument(f"IKOU_CELERY_DB {name!r}: expected a lower-case SQL identifier")
    return name


def redis_url() -> str:
    return os.environ.get("IKOU_REDIS_URL", "redis://127.0.0.1:6379/0")


def celery_env(h: Path) -> dict[str, str]:
    """The settings that make the distributed shape (the same `AIRFLOW__*` names as
    docker-compose.yml; host names and ports aside)."""
    db = f"{postgres_url()}/{celery_db()}"
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
        "AIRFLOW__CELERY__BROKER_URL": redis_url(),
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db.replace("+psycopg2", "", 1),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        # a queue of its own (its metadata database's name): two stacks on one Redis — a test
        # session's beside `make run-celery`, or two test sessions — never take each other's
        # tasks (seen: a worker of one stack ran the other's, which then waited 12 min)
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": celery_db(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{API_PORT}/execution/",
        # every component signs and checks the same tokens (standalone makes its own)
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(h / "airflow" / "jwt_secret", 32),
        "AIRFLOW__API__SECRET_KEY": _secret(h / "airflow" / "api_secret_key", 32),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": os.environ.get(
            "IKOU_HEARTBEAT_TIMEOUT", "300"
        ),
    }


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the Celery workers: each worker's own name, so that task
    instances tell the two local workers apart (both run on this host)."""
    import socket

    return os.environ.get("IKOU_WORKER_HOSTNAME") or socket.getfqdn()


def check_celery_services() -> None:
    """PostgreSQL and Redis must answer before anything starts (exit 4, one line)."""
    import socket
    from urllib.parse import urlsplit

    import sqlalchemy as sa

    pg = postgres_url()
    try:
        engine = sa.create_engine(pg + "/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (celery_db(),)
            ).scalar()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{celery_db()}"')
        engine.dispose()
    except sa.exc.OperationalError:
        where = urlsplit(pg.replace("+psycopg2", "", 1))
        raise Unreachable(
            f"cannot reach PostgreSQL at {where.hostname}:{where.port or 5432} "
            "(IKOU_PG_URL; the Celery stack's metadata database)"
        ) from None
    r = urlsplit(redis_url())
    try:
        with socket.create_connection((r.hostname or "127.0.0.1", r.port or 6379), timeout=5) as c:
            c.sendall(b"PING\r\n")
            if not c.recv(64).startswith(b"+PONG"):
                raise OSError("no PONG")
    except OSError:
        raise Unreachable(
            f"cannot reach Redis at {r.hostname}:{r.port or 6379} (IKOU_REDIS_URL; the Celery broker)"
        ) from None


# -- processes ------------------------------------------------------------------------------


def adopt(env: dict) -> None:
    """This process talks to the stack too (synth, the table): use the same S3 and secrets."""
    os.environ.update(
        {
            k: v
            for k, v in env.items()
            if k.startswith(("AWS_", "IKOU_", "GX_")) and k != "IKOU_AWS_CONN_ID"
        }
    )
