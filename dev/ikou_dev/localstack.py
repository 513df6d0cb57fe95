"""The embedded default stack of `make run` / `make ui` / `make down`: one machine, no Docker.

- a local S3 endpoint (moto server mode) on 127.0.0.1, its buckets saved to ``IKOU_HOME/s3`` on
  stop and restored on start (see :mod:`ikou_dev.localserver`);
- Airflow 3 (``airflow standalone``: scheduler, dag-processor, triggerer, api-server with the
  LocalExecutor) on SQLite under ``IKOU_HOME/airflow``;
- the target database: ``IKOU_TARGET_DB_URL`` when set (PostgreSQL), else SQLite under IKOU_HOME.

With ``IKOU_EXECUTOR=celery`` (``make run-celery``) the same job runs on the distributed shape of
docker-compose.yml: CeleryExecutor, a metadata database ``IKOU_CELERY_DB`` (default
``ikou_airflow_celery``) on the PostgreSQL of ``IKOU_PG_URL``, Redis at ``IKOU_REDIS_URL`` (default
redis://127.0.0.1:6379/0) as the broker, scheduler, dag-processor, triggerer and api-server as
separate processes and two ``airflow celery worker`` processes of one slot each, told apart by
their ``[core] hostname_callable`` (``ikou-worker-1`` / ``ikou-worker-2``). PostgreSQL or Redis
unreachable: exit 4 before anything starts.

``run`` synthesises a small city when its snapshot is not in the landing zone yet, triggers
``migration_master`` through Airflow's REST API (so the real scheduler runs it), waits, prints a
table per domain and exits non-zero if a run failed.

The stack's configuration (ports, users, executor, environment, the Celery services) is in
:mod:`ikou_dev.localstack_env`; what the run checks and prints (landing zone, timeout, the table)
in :mod:`ikou_dev.localstack_table`. The rest stays one module of about 570 lines: it is the
``python -m ikou_dev.localstack`` entry, and its run (``run_master``, ``IKOU_DELTA=1``'s base and
delta master runs) drives the processes it starts (``up`` / ``down``, the REST client); split,
the entry and the run would import each other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ikou.argparsing import Parser
from ikou.config import settings
from ikou.errors import IkouError
from ikou_dev.localstack_env import (
    API_PORT,
    CELERY_COMPONENTS,
    PROCESSES,
    REPO,
    S3_PORT,
    adopt,
    check_celery_services,
    executor,
    home,
    passwords,
    stack_env,
    worker_hostname,
)
from ikou_dev.localstack_table import (
    check_landing,
    next_month,
    print_table,
    run_timeout,
)

#: ``[core] hostname_callable`` of the Celery workers, as Airflow imports it: named from the
#: function itself, so that moving it cannot leave the workers a dotted path that no longer exists
WORKER_HOSTNAME_CALLABLE = f"{worker_hostname.__module__}.{worker_hostname.__qualname__}"


def _pidfile(name: str) -> Path:
    return home() / "run" / f"{name}.pid"


def _alive(name: str) -> int | None:
    p = _pidfile(name)
    if not p.exists():
        return None
    pid = int(p.read_text())
    if process_running(pid):
        return pid
    p.unlink()
    return None


def process_running(pid: int) -> bool:
    """The process exists and has not ended: a killed component whose parent has not reaped it
    yet (a zombie: ``ikou stack run`` started it and is still running) is not running."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc: as far as the signal tells
        return True
    return stat[stat.rindex(")") + 2] != "Z"


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        # as the servers do: a port in TIME_WAIT after a stop is free, a listening one is not
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _start(name: str, argv: list[str], env: dict, port: int | None = None) -> int:
    pid = _alive(name)
    if pid:
        return pid
    if port is not None and not _port_free(port):
        raise SystemExit(
            f"cannot start {name}: port {port} on 127.0.0.1 is taken by another program "
            f"(another Ikou stack? `make down` there, or choose another port with "
            f"IKOU_{'S3' if name == 's3' else 'AIRFLOW'}_PORT)"
        )
    log = home() / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    _pidfile(name).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(REPO),
        )
    _pidfile(name).write_text(str(proc.pid))
    return proc.pid


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a member we may not signal still exists
        return True


def _stop(names: tuple[str, ...], timeout: float = 45) -> list[str]:
    """Stop process groups: SIGTERM (each Airflow component shuts down on it), SIGINT, then SIGKILL.
    All of ``names`` at once (one waits as long as the slowest, not as long as all of them
    together); the names that were running.

    The whole group is waited for, not only its leader: Airflow's scheduler and its LocalExecutor
    workers outlive `airflow standalone` when it exits first, and must not be left running.
    """
    running = {n: pid for n in names if (pid := _alive(n))}
    left = set(running.values())
    for sig, wait in (
        (signal.SIGTERM, timeout * 2 / 3),
        (signal.SIGINT, timeout / 3),
        (signal.SIGKILL, 10),
    ):
        for pid in left:
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(_group_alive(p) for p in left):
            time.sleep(0.3)
        left = {p for p in left if _group_alive(p)}
        if not left:
            break
    for n in running:
        _pidfile(n).unlink(missing_ok=True)
    return list(running)


def http_json(
    method: str, url: str, body: dict | None = None, token: str | None = None, timeout: float = 30
):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def _wait(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last = exc
        time.sleep(2)
    raise SystemExit(
        f"{what} did not come up within {timeout:.0f}s (last error: {last}); logs: {home() / 'logs'}"
    )


class Api:
    def __init__(self, user: str = "admin"):
        self.base = f"http://127.0.0.1:{API_PORT}"
        self.user = user
        self._token = None

    @property
    def token(self) -> str:
        if self._token is None:
            pw = passwords()[self.user]
            self._token = http_json(
                "POST", f"{self.base}/auth/token", {"username": self.user, "password": pw}
            )["access_token"]
        return self._token

    def get(self, path: str):
        return http_json("GET", self.base + path, token=self.token)

    def post(self, path: str, body: dict):
        return http_json("POST", self.base + path, body, token=self.token)

    def patch(self, path: str, body: dict):
        return http_json("PATCH", self.base + path, body, token=self.token)


def up(quiet: bool = False) -> dict:
    env = stack_env()
    adopt(env)
    h = home()
    passwords()
    _start(
        "s3",
        [
            sys.executable,
            "-m",
            "ikou_dev.localserver",
            "serve",
            "--port",
            str(S3_PORT),
            "--data",
            str(h / "s3"),
        ],
        env,
        port=S3_PORT,
    )
    _wait(
        "the local S3 endpoint",
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{S3_PORT}/moto-api/", timeout=2),
        60,
    )
    # buckets are created by the server on start; wait until it restored them
    _wait("the S3 buckets", lambda: _buckets_ready(env), 120)
    airflow = str(Path(sys.executable).parent / "airflow")
    if executor() == "celery":
        start_celery_components(env, airflow)
    else:
        if not (h / "airflow" / "airflow.db").exists():
            subprocess.run(
                [airflow, "db", "migrate"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                cwd=str(REPO),
            )
        _start("airflow", [airflow, "standalone"], env, port=API_PORT)
    _wait(
        "Airflow's api-server",
        lambda: http_json("GET", f"http://127.0.0.1:{API_PORT}/api/v2/monitor/health"),
        240,
    )
    api = Api()
    _wait("the 21 DAGs", lambda: _dags_ready(api), 300)
    if not quiet:
        print(
            f"Airflow UI  http://127.0.0.1:{API_PORT}  (users: admin / engineer / auditor; passwords in "
            f"{h / 'airflow' / 'passwords.json'})"
        )
        print(
            f"S3 endpoint http://127.0.0.1:{S3_PORT}  (buckets ikou-restricted, ikou-reports; saved to {h / 's3'})"
        )
    return env


def start_celery_components(env: dict, airflow: str) -> None:
    """The distributed shape: metadata on PostgreSQL, Redis as the broker, each Airflow
    component in its own process and two Celery workers of one slot each."""
    check_celery_services()
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, cwd=str(REPO)
    )
    for name in CELERY_COMPONENTS:
        if name.startswith("worker-"):
            start_celery_worker(name, env, airflow)
            continue
        argv = [airflow, *name.split("-", 1)] if name != "api-server" else [airflow, "api-server"]
        if name == "api-server":
            argv = [airflow, "api-server", "--port", str(API_PORT)]
        elif name == "dag-processor":
            argv = [airflow, "dag-processor"]
        _start(name, argv, env, port=API_PORT if name == "api-server" else None)


def start_celery_worker(name: str, env: dict, airflow: str) -> int:
    """One ``airflow celery worker`` of one slot (``worker-1`` / ``worker-2``), its task
    instances' hostname ``ikou-<name>``; its pid (the one running when it is alive already)."""
    argv = [
        airflow,
        "celery",
        "worker",
        "--concurrency",
        "1",
        "--celery-hostname",
        # unique among the stacks on one broker (their control messages are broadcast)
        f"ikou-{name}.{env['AIRFLOW__OPERATORS__DEFAULT_QUEUE']}@%h",
        "--skip-serve-logs",  # logs are files under AIRFLOW_HOME, read by the api-server
    ]
    own = dict(
        env,
        IKOU_WORKER_HOSTNAME=f"ikou-{name}",
        AIRFLOW__CORE__HOSTNAME_CALLABLE=WORKER_HOSTNAME_CALLABLE,
    )
    return _start(name, argv, own)


def _buckets_ready(env) -> bool:
    import boto3

    c = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    names = {b["Name"] for b in c.list_buckets()["Buckets"]}
    return {"ikou-restricted", "ikou-reports"} <= names


def _dags_ready(api: Api) -> bool:
    errors = api.get("/api/v2/importErrors")
    if errors.get("total_entries"):
        msgs = "; ".join(
            e.get("filename", "?") + ": " + e.get("stack_trace", "")[-300:]
            for e in errors["import_errors"]
        )
        raise SystemExit(f"DAG import errors: {msgs}")
    dags = api.get("/api/v2/dags?limit=100")
    return dags["total_entries"] >= 21


def down() -> None:
    # the Airflow components together, then the S3 endpoint (it saves the buckets when it stops:
    # after the last task that could write to them)
    stopped = _stop(tuple(n for n in PROCESSES if n != "s3")) + _stop(("s3",))
    print("stopped: " + (", ".join(stopped) or "nothing was running") + f"; data kept in {home()}")


def save_s3() -> None:
    from ikou_dev.localserver import save

    n = save(f"http://127.0.0.1:{S3_PORT}", home() / "s3")
    print(f"saved {n} changed objects of the local S3 endpoint to {home() / 's3'}")


# -- the main job ---------------------------------------------------------------------------


def ensure_landing(env: dict, residents: int, seed: int, snapshot: str) -> None:
    adopt(env)
    from ikou.storage import Store

    store = Store()
    missing = check_landing(store, residents, seed, snapshot)
    if not missing:
        print(
            f"landing zone already holds snapshot {snapshot} of all 20 domains ({residents:,} residents)"
        )
        return
    from ikou_dev.synth import synthesize

    t = time.monotonic()
    s = synthesize(residents, seed, snapshot, "s3://ikou-restricted/landing", store=store)
    print(
        f"synthesised a city of {s['residents']:,} residents ({s['addressees']:,} addressees), snapshot {snapshot}: "
        f"{s['files']} files, {s['bytes'] / 1e6:.1f} MB in {time.monotonic() - t:.0f}s; seeded defects {s['seeded']}"
    )


def ensure_changes(env: dict, base: str, new: str) -> None:
    """The change snapshot NEW of the landing snapshot BASE (``ikou synth --changes-from``)."""
    adopt(env)
    from ikou.domains import registry
    from ikou.storage import MANIFEST, Store, join, landing_uri

    store = Store()
    if all(store.exists(join(landing_uri(d, new), MANIFEST)) for d in registry().ids):
        print(f"landing zone already holds the change snapshot {new} (changes from {base})")
        return
    from ikou_dev.synth.delta import synthesize_changes

    t = time.monotonic()
    synthesize_changes(base, new, "s3://ikou-restricted/landing", store=store)
    print(
        f"synthesised a month of changes: snapshot {new} from {base} in {time.monotonic() - t:.0f}s"
    )


def base_run(api: Api, base: str) -> str | None:
    """A successful full master run of ``base`` to reuse (its hand-off sets are the base's)."""
    runs = api.get("/api/v2/dags/migration_master/dagRuns?limit=100&order_by=-start_date")
    for r in runs.get("dag_runs", []):
        conf = r.get("conf") or {}
        if (
            r.get("state") == "success"
            and conf.get("snapshot") == base
            and not conf.get("base_snapshot")
            and not conf.get("domains")
        ):
            return r["dag_run_id"]
    return None


def run_master(
    residents: int,
    seed: int,
    snapshot: str,
    domains: list[str] | None,
    timeout: float,
    delta: bool = False,
) -> int:
    """The master on ``snapshot`` (the default ``make run``). ``delta`` (``IKOU_DELTA=1``): the
    snapshot is the base — a month of changes is synthesised from it, the master runs (or has
    run) in full on it, then on the change snapshot with ``base_snapshot``: every migration-phase
    domain runs ``diff`` and loads the delta; the table shows both paths."""
    env = up(quiet=True)
    ensure_landing(env, residents, seed, snapshot)
    api = Api()
    api.patch("/api/v2/dags/migration_master", {"is_paused": False})
    if not delta:
        return master_once(api, {"snapshot": snapshot, "domains": domains or []}, timeout)
    new = next_month(snapshot)
    ensure_changes(env, snapshot, new)
    reused = None if domains else base_run(api, snapshot)
    if reused:
        print(f"the full load of the base {snapshot}: master run {reused} (reused)")
    elif master_once(api, {"snapshot": snapshot, "domains": domains or []}, timeout):
        print(f"the full master run of the base {snapshot} failed: no delta run")
        return 1
    conf = {"snapshot": new, "base_snapshot": snapshot, "domains": domains or []}
    return master_once(api, conf, timeout, delta=True)


def master_once(api: Api, conf: dict, timeout: float, delta: bool = False) -> int:
    """Trigger migration_master with ``conf``, wait, print the table; 0 when it succeeded."""
    conf = {"mode": "rehearsal", **conf}
    run = api.post("/api/v2/dags/migration_master/dagRuns", {"logical_date": None, "conf": conf})
    run_id = run["dag_run_id"]
    print(
        f"triggered migration_master run {run_id} (watch it: http://127.0.0.1:{API_PORT}/dags/migration_master)"
    )
    started = time.monotonic()
    state = run["state"]
    last_line = ""
    while time.monotonic() - started < timeout:
        state = api.get(f"/api/v2/dags/migration_master/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            break
        tis = api.get(f"/api/v2/dags/migration_master/dagRuns/{run_id}/taskInstances?limit=100")[
            "task_instances"
        ]
        done = sum(
            1
            for t in tis
            if t["task_id"].startswith("run_")
            and t["state"] in ("success", "failed", "upstream_failed", "skipped")
        )
        line = f"  … {time.monotonic() - started:5.0f}s  domains finished {done}/20"
        if line != last_line:
            print(line, flush=True)
            last_line = line
        time.sleep(10)
    else:
        print(f"migration_master did not finish within {timeout:.0f}s")
    print_table(api, run_id, delta=delta)
    save_s3()
    print(f"master run {run_id}: {state}")
    return 0 if state == "success" else 1


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="ikou stack", description="the embedded default stack (make run / ui / down)")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser(
        "run",
        help="start the stack, synthesise a city if needed, run migration_master, print the table",
    )
    r.add_argument("--residents", type=int, default=int(os.environ.get("IKOU_RESIDENTS", "20000")))
    r.add_argument("--seed", type=int, default=int(os.environ.get("IKOU_SEED", "7")))
    r.add_argument("--snapshot", default=os.environ.get("IKOU_SNAPSHOT", "2026-11-01"))
    r.add_argument("--domains", nargs="*", default=None)
    r.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds to wait for the master (default: IKOU_RUN_TIMEOUT, else 30 min + 1.5 s "
        "per 1,000 residents)",
    )
    r.add_argument("--keep-running", action="store_true", help="leave the stack up afterwards")
    r.add_argument(
        "--delta",
        action="store_true",
        default=os.environ.get("IKOU_DELTA", "") == "1",
        help="the delta path (IKOU_DELTA=1): the snapshot is the base; a month of changes after "
        "it is synthesised, the master runs in full on the base (or reuses its run), then on "
        "the changes with base_snapshot; the table shows both paths",
    )
    sub.add_parser("up", help="start the stack and leave it running")
    sub.add_parser("ui", help="start the stack and keep it up until Ctrl-C")
    sub.add_parser("down", help="stop the stack (the S3 buckets are saved)")
    sub.add_parser("env", help="print the stack's environment as shell exports")
    try:
        return command(p.parse_args(argv))
    except IkouError as exc:  # one line and the table's code (ikou.errors)
        print(f"ikou stack: {exc.message}", file=sys.stderr)
        return exc.exit_code


def command(args) -> int:
    if args.cmd == "run":
        settings().check()  # a malformed setting: exit 2 before the stack starts
        timeout = args.timeout if args.timeout is not None else run_timeout(args.residents)
        try:
            return run_master(
                args.residents, args.seed, args.snapshot, args.domains, timeout, args.delta
            )
        finally:
            if not args.keep_running:
                down()
    if args.cmd == "up":
        up()
        return 0
    if args.cmd == "ui":
        up()
        print("Ctrl-C stops the stack (its data stays).")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            down()
        return 0
    if args.cmd == "down":
        down()
        return 0
    if args.cmd == "env":
        for k, v in stack_env().items():
            if k.startswith(("AIRFLOW", "IKOU", "AWS_", "GX_")):
                print(f"export {k}={json.dumps(v)}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
