"""The users' multi-machine shape: docker-compose.yml, the Dockerfile and their helper scripts.

There is no Docker daemon where the suite runs, so this checks the structure instead of starting
it: the services and their wiring, the shared environment against what the code reads, the
buckets, the health checks and start order, the mounts, and that the image is built from the lock.
PyYAML only; no Docker, no network.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"

AIRFLOW_SERVICES = {
    "airflow-init": ["airflow", "db", "migrate"],
    "airflow-apiserver": ["airflow", "api-server"],
    "airflow-scheduler": ["airflow", "scheduler"],
    "airflow-dag-processor": ["airflow", "dag-processor"],
    "airflow-triggerer": ["airflow", "triggerer"],
    "airflow-worker-1": ["airflow", "celery", "worker"],
    "airflow-worker-2": ["airflow", "celery", "worker"],
}
LONG_RUNNING = sorted(set(AIRFLOW_SERVICES) - {"airflow-init"})
WORKERS = ["airflow-worker-1", "airflow-worker-2"]
OTHER_SERVICES = {"postgres", "redis", "minio", "minio-init"}
INIT_JOBS = {"airflow-init", "minio-init"}
MOUNTED = ["dags", "plugins", "include", "great_expectations"]


# -- helpers ---------------------------------------------------------------------------------

_VAR = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's variable substitution (the subset the file uses), with ``env`` as the shell."""
    env = env or {}

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3)
        val = env.get(name)
        if op in (":-", "-"):
            return val if (val if op == ":-" else val is not None) else arg
        if op in (":?", "?"):
            if not val:
                raise KeyError(f"{name}: {arg}")
            return val
        return val or ""

    return _VAR.sub(sub, value)


def as_list(command) -> list[str]:
    return command.split() if isinstance(command, str) else list(command or [])


def mounts(service: dict) -> dict[str, str]:
    """container path -> source, for short-syntax volume entries."""
    out = {}
    for v in service.get("volumes", []):
        parts = v.split(":")
        out[parts[1]] = parts[0]
    return out


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def env(compose) -> dict:
    """The shared environment of the x-airflow-common anchor."""
    return compose["x-airflow-common"]["environment"]


@pytest.fixture(scope="module")
def dockerfile() -> str:
    # Join continuation lines so that one instruction is one line.
    return re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))


# -- services --------------------------------------------------------------------------------


def test_compose_spec_without_version_key(compose):
    assert "version" not in compose, "the Compose spec has no `version:` key"


def test_all_services_exist(services):
    missing = (set(AIRFLOW_SERVICES) | OTHER_SERVICES) - set(services)
    assert not missing, f"missing services: {sorted(missing)}"


def test_airflow_services_run_the_expected_commands(services):
    for name, command in AIRFLOW_SERVICES.items():
        assert as_list(services[name].get("command")) == command, name


def test_exactly_two_celery_workers(services):
    workers = sorted(
        n
        for n, s in services.items()
        if " ".join(as_list(s.get("command"))).endswith("celery worker")
    )
    assert workers == WORKERS


def test_every_airflow_service_uses_the_common_image_and_the_celery_executor(
    compose, services, env
):
    common = compose["x-airflow-common"]
    assert common["build"]["context"] == "."
    assert (REPO / common["build"].get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    for name in AIRFLOW_SERVICES:
        s = services[name]
        assert s["build"] == common["build"], name
        assert s["image"] == common["image"], name
        assert s["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        for key, value in env.items():
            assert s["environment"].get(key) == value, f"{name}: {key} differs from the shared env"


def test_no_other_service_builds_ikou(services):
    for name in OTHER_SERVICES:
        assert "build" not in services[name], name


# -- shared environment ----------------------------------------------------------------------


def test_airflow_settings(env):
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"
    # the same users and roles as the embedded stack (the UI and plugin tests read those)
    from ikou_dev.localstack_env import USER_ROLES, parse_simple_auth_users

    assert parse_simple_auth_users(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]) == USER_ROLES
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert re.fullmatch(r"\$\{[A-Z_]+:-.+\}", env[key]), (
            f"{key}: from the environment with a default"
        )


def test_metadata_db_broker_and_result_backend_point_at_the_services(env, services):
    db = urlsplit(interpolate(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
    assert db.scheme == "postgresql+psycopg2" and db.hostname == "postgres"
    pg_env = services["postgres"]["environment"]
    assert db.path == "/" + pg_env["POSTGRES_DB"] and db.username == pg_env["POSTGRES_USER"]
    assert db.password == interpolate(pg_env["POSTGRES_PASSWORD"])
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port, broker.path) == (
        "redis",
        "redis",
        6379,
        "/0",
    )
    backend = urlsplit(interpolate(env["AIRFLOW__CELERY__RESULT_BACKEND"]))
    assert backend.scheme == "db+postgresql" and backend.hostname == "postgres"


def test_execution_api_url_points_at_the_api_server(env, services):
    url = env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    assert url == "http://airflow-apiserver:8080/execution/"
    assert urlsplit(url).hostname in services


def test_s3_endpoint_points_at_minio(env, services):
    url = urlsplit(env["AWS_ENDPOINT_URL"])
    assert url.scheme == "http" and url.hostname == "minio"
    command = as_list(services["minio"]["command"])
    assert command[command.index("--address") + 1] == f":{url.port}"
    assert env["AWS_DEFAULT_REGION"] == "ap-northeast-1"


def test_bucket_names(env):
    assert env["IKOU_RESTRICTED_BUCKET"] == "ikou-restricted"
    assert env["IKOU_REPORTS_BUCKET"] == "ikou-reports"


def test_s3_credentials_and_airflow_connection_agree_with_minio(env, services):
    minio = services["minio"]["environment"]
    for shell in ({}, {"MINIO_ROOT_USER": "u", "MINIO_ROOT_PASSWORD": "p4ssw0rd"}):
        user, password = (
            interpolate(minio["MINIO_ROOT_USER"], shell),
            interpolate(minio["MINIO_ROOT_PASSWORD"], shell),
        )
        assert interpolate(env["AWS_ACCESS_KEY_ID"], shell) == user
        assert interpolate(env["AWS_SECRET_ACCESS_KEY"], shell) == password
        assert env["IKOU_AWS_CONN_ID"] == "ikou_s3"
        conn = json.loads(
            interpolate(env["AIRFLOW_CONN_" + env["IKOU_AWS_CONN_ID"].upper()], shell)
        )
        assert conn["conn_type"] == "aws"
        assert (conn["login"], conn["password"]) == (user, password)
        assert conn["extra"]["endpoint_url"] == env["AWS_ENDPOINT_URL"]
        assert conn["extra"]["region_name"] == env["AWS_DEFAULT_REGION"]


def test_target_db_url_points_at_the_target_database(env, services):
    url = urlsplit(interpolate(env["IKOU_TARGET_DB_URL"]))
    assert url.scheme == "postgresql+psycopg2" and url.hostname == "postgres"
    assert url.path == "/ikou_target"
    pg_env = services["postgres"]["environment"]
    # ... which the postgres service's init script creates, for that role and password.
    assert pg_env["IKOU_TARGET_DB_NAME"] == "ikou_target"
    assert pg_env["IKOU_TARGET_DB_USER"] == url.username
    assert interpolate(pg_env["IKOU_TARGET_DB_PASSWORD"]) == url.password


def test_hmac_secret_is_required(env):
    value = env["IKOU_HMAC_SECRET"]
    assert re.fullmatch(r"\$\{IKOU_HMAC_SECRET:\?[^}]+\}", value), "required, with no default"
    with pytest.raises(KeyError):
        interpolate(value)
    assert interpolate(value, {"IKOU_HMAC_SECRET": "k"}) == "k"


def test_default_timezone_is_tokyo_as_in_the_embedded_stack(env):
    from ikou_dev.localstack_env import stack_env

    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Tokyo"
    assert stack_env()["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Tokyo"


def test_ikou_home_and_gx_settings(env):
    assert env["IKOU_HOME"] == "/opt/airflow/ikou"
    assert env["IKOU_GX_ROOT"] == "/opt/airflow/great_expectations"
    assert env["GX_ANALYTICS_ENABLED"] == "false"


def test_ikou_variables_are_names_the_code_reads(env):
    """A rename in the code must show here, not as a silently ignored variable in production."""
    source = "\n".join(
        p.read_text(encoding="utf-8") for p in (REPO / "include" / "ikou").rglob("*.py")
    )
    names = [k for k in env if k.startswith(("IKOU_", "AWS_", "GX_"))]
    assert names
    for name in names:
        if name.startswith("AWS_"):
            continue  # read by boto3 itself (AWS_DEFAULT_REGION included: the runtime never sets one)
        assert f'"{name}"' in source, f"{name} is set in docker-compose.yml but no code reads it"


# -- MinIO buckets ---------------------------------------------------------------------------


def test_minio_init_creates_the_buckets_the_airflow_services_use(services, env):
    init = services["minio-init"]
    assert init["image"].startswith("minio/mc:")
    for key in ("IKOU_RESTRICTED_BUCKET", "IKOU_REPORTS_BUCKET", "AWS_ENDPOINT_URL"):
        assert init["environment"][key] == env[key], key
    minio = services["minio"]["environment"]
    for key in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"):
        assert init["environment"][key] == minio[key], key
    script_in_container = as_list(init["entrypoint"])[-1]
    script = REPO / mounts(init)[script_in_container]
    assert script.is_file(), script
    text = script.read_text(encoding="utf-8")
    assert 'mc alias set ikou "$AWS_ENDPOINT_URL"' in text
    loop = re.search(
        r'for bucket in ((?:"\$\w+"\s*)+); do\s+mc mb --ignore-existing "ikou/\$bucket"', text
    )
    assert loop, "the script creates each bucket with `mc mb --ignore-existing`"
    created = re.findall(r'"\$(\w+)"', loop.group(1))
    assert sorted(created) == ["IKOU_REPORTS_BUCKET", "IKOU_RESTRICTED_BUCKET"]
    assert sorted(init["environment"][v] for v in created) == sorted(
        [env["IKOU_RESTRICTED_BUCKET"], env["IKOU_REPORTS_BUCKET"]]
    )


def test_postgres_init_script_creates_the_target_database(services):
    pg = services["postgres"]
    assert pg["image"].split(":")[1].startswith("16")
    source = mounts(pg)["/docker-entrypoint-initdb.d"]
    scripts = sorted((REPO / source).glob("*.sh"))
    assert scripts, "an init script under docker/postgres/initdb"
    text = "\n".join(s.read_text(encoding="utf-8") for s in scripts)
    assert 'CREATE DATABASE :"db" OWNER :"owner"' in text
    assert '-v db="$IKOU_TARGET_DB_NAME"' in text and '-v owner="$IKOU_TARGET_DB_USER"' in text
    assert any(v.startswith("postgres-data:") for v in pg["volumes"])


# -- health checks and start order -----------------------------------------------------------


def _healthcheck(service: dict) -> str:
    hc = service.get("healthcheck") or {}
    return " ".join(as_list(hc.get("test")))


def test_health_checks(services):
    assert "pg_isready" in _healthcheck(services["postgres"])
    assert "redis-cli ping" in _healthcheck(services["redis"])
    assert "mc ready local" in _healthcheck(services["minio"])
    assert "http://localhost:8080/api/v2/monitor/health" in _healthcheck(
        services["airflow-apiserver"]
    )
    assert "8974/health" in _healthcheck(services["airflow-scheduler"])
    assert "DagProcessorJob" in _healthcheck(services["airflow-dag-processor"])
    assert "TriggererJob" in _healthcheck(services["airflow-triggerer"])
    for w in WORKERS:
        assert "inspect ping" in _healthcheck(services[w]), w


def test_api_server_publishes_port_8080(services):
    ports = [interpolate(p) for p in services["airflow-apiserver"]["ports"]]
    assert any(p.endswith(":8080") for p in ports), ports


def test_depends_on_uses_conditions(services):
    for name, s in services.items():
        deps = s.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on with conditions, not a list"
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            expected = "service_completed_successfully" if dep in INIT_JOBS else "service_healthy"
            assert spec["condition"] == expected, f"{name} -> {dep}"
            if expected == "service_healthy":
                assert services[dep].get("healthcheck"), f"{dep} has no health check to wait for"


def test_start_order(services):
    def deps(name):
        return set(services[name].get("depends_on", {}))

    assert deps("airflow-init") >= {"postgres"}
    assert deps("minio-init") == {"minio"}
    for name in LONG_RUNNING:
        assert deps(name) >= {"postgres", "redis", "airflow-init", "minio-init"}, name
    for w in WORKERS:
        assert "airflow-apiserver" in deps(w), w
    for name in INIT_JOBS:
        assert services[name].get("restart", "no") == "no", name


# -- mounts ----------------------------------------------------------------------------------


def test_working_tree_mounts(services, compose):
    for name in AIRFLOW_SERVICES:
        m = mounts(services[name])
        for folder in MOUNTED:
            assert m.get(f"/opt/airflow/{folder}") == f"./{folder}", f"{name}: ./{folder}"
            assert (REPO / folder).is_dir(), folder
        assert m.get("/opt/airflow/logs") in compose["volumes"], f"{name}: logs volume"
        assert m.get("/opt/airflow/ikou") in compose["volumes"], f"{name}: IKOU_HOME volume"


# -- image -----------------------------------------------------------------------------------


def _lock_pin(name: str) -> str:
    text = (REPO / "requirements.txt").read_text(encoding="utf-8")
    m = re.search(rf"^{re.escape(name)}==(\S+)$", text, re.M)
    assert m, f"{name} is not pinned in requirements.txt"
    return m.group(1)


def test_dockerfile_base_matches_the_lock(dockerfile):
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    # build stages before it (the Data Docs assets' npm install) are named and leave no image
    assert all(
        re.search(rf"^FROM\s+{re.escape(f)}\s+AS\s+\w+", dockerfile, re.M) for f in froms[:-1]
    )
    m = re.fullmatch(r"apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", froms[-1])
    assert m, f"FROM {froms[-1]}: the official image with an explicit Airflow and Python version"
    assert m.group(1) == _lock_pin("apache-airflow"), "image tag and the lock's Airflow differ"
    assert m.group(2) == "3.11"
    assert '">=3.11' in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_dockerfile_installs_the_lock_and_the_package(dockerfile):
    runs = re.findall(r"^RUN\s+(.*)$", dockerfile, re.M)
    commands = [c.strip() for r in runs for c in r.split("&&")]
    lock = [c for c in commands if re.search(r"\bpip install\b", c) and "-r " in c]
    assert lock and all(
        "--no-deps" in c and re.search(r"-r \S*requirements\.txt\b", c) for c in lock
    )
    package = [c for c in commands if re.search(r"\bpip install\b", c) and "-r " not in c]
    assert any("--no-deps" in c and re.search(r"(-e )?(\.|/opt/airflow)$", c) for c in package), (
        package
    )
    assert not re.search(r"(--constraint|\s-c\s)", dockerfile), "the lock is the constraint"
    assert any("lock.py check" in c for c in commands), (
        "the build proves the environment is the lock"
    )


def test_dockerfile_copies_the_project(dockerfile):
    copies = [line.split()[1:] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    sources = {s.rstrip("/") for args in copies for s in args[:-1] if not s.startswith("--")}
    for folder in MOUNTED + ["requirements.txt", "pyproject.toml"]:
        assert folder in sources, f"the Dockerfile copies {folder}"
    for s in sources:
        assert (REPO / s).exists(), f"COPY {s}: not in the repository (the build would fail)"


def test_dockerignore_lets_the_copied_files_in(dockerfile):
    lines = [
        ln.strip()
        for ln in (REPO / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "*", "an allowlist"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    copies = [line.split()[1:] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    for args in copies:
        for s in args[:-1]:
            if not s.startswith("--"):
                s = s.rstrip("/")
                assert s.split("/")[0] in allowed or s in allowed, (
                    f"{s} is excluded by .dockerignore"
                )
    assert ".env" not in allowed and ".venv" not in allowed


def test_dockerfile_collects_the_data_docs_assets_at_build_time(dockerfile):
    """npm ci from the lock in a build stage, the collection in the image, its folder named by
    IKOU_DATADOCS_ASSETS (./include is mounted over the image's copy by the compose file)."""
    assert re.search(r"^RUN npm ci --ignore-scripts\b", dockerfile, re.M)
    assert "ENV IKOU_DATADOCS_ASSETS=/opt/airflow/datadocs-vendor" in dockerfile
    assert re.search(
        r"python -m ikou\.quality\.offline collect .*\n?.*--out /opt/airflow/datadocs-vendor",
        dockerfile,
    )
    assert not re.search(r"^COPY .*node_modules", dockerfile, re.M)  # only the collected files


def test_lock_helper_agrees_with_this_environment():
    """docker/lock.py (which the build runs) reads the lock the way the venv was synced from it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ikou_docker_lock", REPO / "docker" / "lock.py")
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    pins = lock.read_lock(str(REPO / "requirements.txt"))
    assert pins["apache-airflow"] == _lock_pin("apache-airflow")
    assert len(pins) == len(
        re.findall(r"^[A-Za-z0-9]", (REPO / "requirements.txt").read_text(), re.M)
    )
    assert lock.canonical("Apache_Airflow.Providers") == "apache-airflow-providers"


def _lock_names(path: Path) -> set[str]:
    return {
        re.split(r"[=\[ ]", ln, maxsplit=1)[0].lower()
        for ln in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"^[A-Za-z0-9]", ln)
    }


def test_the_image_installs_the_runtime_lock_only(dockerfile):
    """Development tools (tests, browser driver, S3 test server, synth, linters) stay out of the
    worker image: it installs requirements.txt and never requirements-dev.txt or dev/."""
    assert "requirements-dev" not in dockerfile
    copies = [line.split()[1:] for line in dockerfile.splitlines() if line.startswith("COPY ")]
    sources = {s.rstrip("/") for args in copies for s in args[:-1] if not s.startswith("--")}
    assert "dev" not in sources and "ikou_dev" not in dockerfile


def test_the_runtime_lock_has_no_development_tool():
    runtime = _lock_names(REPO / "requirements.txt")
    for tool in ("pytest", "playwright", "moto", "faker", "hypothesis", "ruff", "mypy"):
        assert tool not in runtime, f"{tool} is in the runtime lock"
    assert {"apache-airflow", "great-expectations", "pydantic", "boto3"} <= runtime


def test_the_development_lock_is_constrained_by_the_runtime_lock():
    dev = (REPO / "requirements-dev.txt").read_text(encoding="utf-8")
    runtime_pins = dict(
        ln.split("==", 1)
        for ln in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in ln and not ln.startswith("#")
    )
    for ln in dev.splitlines():
        if "==" in ln and not ln.startswith("#"):
            name, version = ln.split("==", 1)
            if name in runtime_pins:
                assert runtime_pins[name] == version, f"{name}: the dev lock moved a runtime pin"
    assert {
        "pytest",
        "playwright",
        "moto",
        "faker",
        "ruff",
        "mypy",
        "import-linter",
    } <= _lock_names(REPO / "requirements-dev.txt")
    assert "-c requirements.txt" in (REPO / "requirements-dev.in").read_text(encoding="utf-8")


# -- the Celery stack of `make run-celery` and this file: one shape -------------------------

#: settings only the local Celery stack sets: ports, URLs of this machine, log level, limits of a
#: small machine (docker-compose.yml leaves them at Airflow's defaults)
LOCAL_ONLY = {
    "AIRFLOW__API__PORT",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL",
    "AIRFLOW__LOGGING__LOGGING_LEVEL",
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT",
    "AIRFLOW__CORE__PARALLELISM",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
    "AIRFLOW__CORE__DEFAULT_TIMEZONE",
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE",  # the embedded stack runs by hand, never on cron
    "AIRFLOW__OPERATORS__DEFAULT_QUEUE",  # a queue per local stack: several share one Redis
}
#: values that name hosts, ports, paths, secrets or the machine's size
HOST_OR_PORT = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY",
}


@pytest.fixture
def celery_stack_env(tmp_path, monkeypatch) -> dict:
    from ikou_dev import localstack_env

    for k in [k for k in os.environ if k.startswith("AIRFLOW__")]:
        monkeypatch.delenv(k)  # what the stack sets itself, not what this test process has
    monkeypatch.setenv("IKOU_EXECUTOR", "celery")
    monkeypatch.setenv("IKOU_HOME", str(tmp_path))
    return {k: v for k, v in localstack_env.stack_env().items() if k.startswith("AIRFLOW__")}


def _normal(v) -> str:
    return str(v).strip().lower()


def test_the_celery_stack_has_the_settings_of_the_compose_file(celery_stack_env, env):
    compose = {k: v for k, v in env.items() if k.startswith("AIRFLOW__")}
    stack = dict(celery_stack_env)
    stack.setdefault("AIRFLOW__CORE__FERNET_KEY", "")  # Airflow's default, as in the compose file
    assert set(compose) - set(stack) == set(), "set in docker-compose.yml only"
    assert set(stack) - set(compose) - LOCAL_ONLY == set(), "set by the local Celery stack only"
    for k in set(compose) - HOST_OR_PORT:
        assert _normal(stack[k]) == _normal(compose[k]), k


def test_the_celery_stack_runs_the_compose_commands(services):
    from ikou_dev import localstack_env

    compose = {
        tuple(s["command"][1:]) if isinstance(s.get("command"), list) else None
        for s in services.values()
        if isinstance(s.get("command"), list) and s["command"][0] == "airflow"
    }
    compose.discard(("db", "migrate"))  # the init job; the stack migrates before it starts
    stack = {
        ("celery", "worker") if n.startswith("worker-") else (n,)
        for n in localstack_env.CELERY_COMPONENTS
    }
    assert stack == compose
    assert sum(n.startswith("worker-") for n in localstack_env.CELERY_COMPONENTS) == 2


def test_each_celery_stack_has_a_queue_of_its_own(celery_stack_env, monkeypatch):
    """Two Celery stacks on one Redis (the suite's beside `make run-celery`) send their tasks to
    queues of their own, named by their metadata databases, and their workers serve only those."""
    from ikou_dev import localstack_env

    monkeypatch.delenv("IKOU_CELERY_DB", raising=False)
    assert localstack_env.stack_env()["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "ikou_airflow_celery"
    monkeypatch.setenv("IKOU_CELERY_DB", "ikou_airflow_celery_test_1")
    other = localstack_env.stack_env()
    assert other["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "ikou_airflow_celery_test_1"


def test_each_stack_can_serve_its_logs_on_ports_of_its_own(tmp_path, monkeypatch):
    """Two stacks side by side (a benchmark's beside the test suite's) each take their own log
    server ports; unset, Airflow's (8793 task runner, 8794 triggerer)."""
    from ikou_dev import localstack_env

    monkeypatch.setenv("IKOU_HOME", str(tmp_path))
    for k in ("IKOU_LOG_SERVER_PORT", "IKOU_TRIGGER_LOG_SERVER_PORT"):
        monkeypatch.delenv(k, raising=False)
    env = localstack_env.stack_env()
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "8793"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "8794"
    monkeypatch.setenv("IKOU_LOG_SERVER_PORT", "18793")
    monkeypatch.setenv("IKOU_TRIGGER_LOG_SERVER_PORT", "18794")
    env = localstack_env.stack_env()
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "18793"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "18794"
