"""Benchmark: the master DAG of every domain on the embedded default, city by city (issue 13 §2).

    python -m ikou_dev.bench master            # 500k, 1M, 2M residents, all 20 domains
    python -m ikou_dev.bench --quick master    # 2,000 residents, juki and inkan (the test suite)
    IKOU_BENCH_MASTER_RESIDENTS=100000,500000,1000000 python -m ikou_dev.bench master
    IKOU_BENCH_MASTER_DOMAINS="juki inkan" python -m ikou_dev.bench master
    IKOU_BENCH_MASTER_ALONE=1 python -m ikou_dev.bench master   # each domain alone (below)

Each city runs ``ikou stack run --keep-running`` (what ``make run IKOU_RESIDENTS=N`` does: the
local S3 endpoint, ``airflow standalone`` with the LocalExecutor, synth of the city,
``migration_master`` through the real scheduler) with an IKOU_HOME and free ports of its own, so
nothing here is a second runner. While it runs, the resident memory of every process of the stack
(the ``ikou stack`` process and its descendants, and the process groups it started) is sampled
every second: the peak of their sum and of any single process, and each task process's peak by
its task instance (each domain's ``task_peak_rss_gb`` per task, the city's ``largest_tasks``).
Afterwards the Airflow REST API
gives the master's and every domain's wall time, and each domain's ``rehearsal.json`` its
per-stage wall and CPU seconds, verdict and accounting (in = out + quarantined + merged, checked
per domain). The stack is then stopped and its home deleted (a 1M city is ~1.2 GB of legacy files).

Between consecutive sizes the ratios of time and peak memory are given (issue 13: ≤ 2.1× per
doubling). The synth time is the one ``ikou stack run`` prints. A size that does not complete is
recorded with the reason, never estimated.

``IKOU_BENCH_MASTER_ALONE=1``: each domain runs alone, one master run per domain in the plan's
rehearsal order on the same stack and snapshot (the addressee master first: the others read its
validated 宛名番号, as in the full master). A domain's stage seconds are then what it costs
without the other domains' tasks on the same cores — the basis of the rehearsal's timing model,
which projects one domain's run (issue 13 §3); the full master's concurrency is the capacity
plan's (``ikou plan capacity``). ``master_seconds`` is then the sum of the per-domain master runs.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from ikou_dev.bench import host_probe

RESIDENTS = (500_000, 1_000_000, 2_000_000)
QUICK_RESIDENTS = (2_000,)
QUICK_DOMAINS = ("juki", "inkan")  # inkan reads juki's validated layout
SEED = 7
SNAPSHOT = "2026-11-01"
BOUND = 2.1  # time and peak memory per doubling of the city
SAMPLE_SECONDS = 1.0


def _sizes(quick: bool) -> tuple[list[int], list[str] | None]:
    if quick:
        return list(QUICK_RESIDENTS), list(QUICK_DOMAINS)
    env = os.environ.get("IKOU_BENCH_MASTER_RESIDENTS")
    sizes = [int(x) for x in env.split(",")] if env else list(RESIDENTS)
    doms = os.environ.get("IKOU_BENCH_MASTER_DOMAINS", "").split()
    return sizes, doms or None


def alone_from_env() -> bool:
    """``IKOU_BENCH_MASTER_ALONE``: 1 runs each domain alone; unset or 0 the full master."""
    v = os.environ.get("IKOU_BENCH_MASTER_ALONE", "0")
    if v not in ("0", "1"):
        raise SystemExit(f"IKOU_BENCH_MASTER_ALONE={v!r}: allowed are 0 (the full master) and 1")
    return v == "1"


class Sampler(threading.Thread):
    """Resident memory of a process tree and of the stack's process groups, every second."""

    def __init__(self, root_pid: int | None, run_dir: Path):
        """``root_pid``: the ``ikou stack run`` process (None: a stack already up, found by the
        pid files of its process groups in ``run_dir``)."""
        super().__init__(daemon=True)
        self.root_pid, self.run_dir = root_pid, run_dir
        self.stop = threading.Event()
        self.samples = 0
        self.peak_total = 0  # Σ RSS: counts the pages forked processes share once per process
        self.peak_total_pss = 0  # Σ PSS: each shared page split among its sharers
        self.peak_process = 0
        self.peak_process_name = ""
        self.peak_by_name: dict[str, int] = {}
        # a task process's peak by its task instance's id (its process title names it): which
        # task of which domain needed the memory (:func:`task_memory`)
        self.peak_by_task: dict[str, int] = {}
        self.load: list[float] = []  # the machine's 1-minute load average (it is shared)

    def _procs(self):
        import psutil

        seen = {}
        roots = [self.root_pid] if self.root_pid else []
        for f in self.run_dir.glob("*.pid"):
            try:
                roots.append(int(f.read_text()))
            except (OSError, ValueError):
                pass
        for pid in roots:
            try:
                p = psutil.Process(pid)
                for q in [p, *p.children(recursive=True)]:
                    seen[q.pid] = q
            except psutil.Error:
                continue
        return seen.values()

    def sample(self) -> None:
        import psutil

        total = total_pss = 0
        for p in self._procs():
            try:
                mem = p.memory_full_info()  # /proc/PID/smaps_rollup: RSS and PSS
                rss, pss = mem.rss, getattr(mem, "pss", mem.rss)
                name = _label(p.cmdline())
            except psutil.Error:
                continue
            total += rss
            total_pss += pss
            self.peak_by_name[name] = max(self.peak_by_name.get(name, 0), rss)
            ti = task_instance_id(name, p.cmdline()) if name == "task" else None
            if ti:
                self.peak_by_task[ti] = max(self.peak_by_task.get(ti, 0), rss)
            if rss > self.peak_process:
                self.peak_process, self.peak_process_name = rss, name
        self.samples += 1
        self.load.append(os.getloadavg()[0])
        self.peak_total = max(self.peak_total, total)
        self.peak_total_pss = max(self.peak_total_pss, total_pss)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(SAMPLE_SECONDS)


def _label(cmdline: list[str]) -> str:
    """A process's kind from its command line (never its arguments' values beyond the command)."""
    words = [Path(w).name for w in cmdline[:4]]
    text = " ".join(words)
    for key in (
        "localserver",
        "ikou_dev.localstack",
        "standalone",
        "scheduler",
        "dag-processor",
        "triggerer",
        "api-server",
        "api_server",
    ):
        if key in text:
            return key
    if "supervisor" in text or "task" in text or "LocalExecutor" in text or "worker" in text:
        return "task"
    return words[0] if words else "?"


_TI_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def task_instance_id(kind: str, cmdline: list[str]) -> str | None:
    """The task instance a task process runs (Airflow titles it ``airflow worker -- <id>``)."""
    if kind != "task":
        return None
    m = _TI_ID.search(" ".join(cmdline[:4]))
    return m.group(0) if m else None


def task_memory(task_instances: list[dict], peak_by_task: dict[str, int]) -> dict[str, float]:
    """Peak resident memory (GB) of each task of a DAG run that the sampler saw, by task id (a
    mapped task's instances as ``task_id[i]``)."""
    out = {}
    for t in task_instances:
        rss = peak_by_task.get(str(t.get("id")))
        if rss is None:
            continue
        i = t.get("map_index", -1)
        out[t["task_id"] if i is None or i < 0 else f"{t['task_id']}[{i}]"] = _gb(rss)
    return dict(sorted(out.items()))


def largest_tasks(domains: dict, n: int = 5) -> list[dict]:
    """The ``n`` tasks of a city's domain runs with the highest peak memory."""
    rows = [
        {"domain": d, "task": t, "peak_rss_gb": gb}
        for d, row in domains.items()
        for t, gb in (row.get("task_peak_rss_gb") or {}).items()
    ]
    return sorted(rows, key=lambda r: -r["peak_rss_gb"])[:n]


def _gb(n: int) -> float:
    return round(n / 1e9, 3)


def run(workdir: Path, quick: bool) -> dict:
    from ikou_dev.bench.master_model import domain_ratios, model_check

    sizes, domains = _sizes(quick)
    alone = alone_from_env()
    cities = []
    for n in sizes:
        try:
            cities.append(_city(workdir / f"r{n}", n, domains, quick, alone))
        except Exception as exc:  # noqa: BLE001 - a size that fails is recorded, not invented
            cities.append({"residents": n, "completed": False, "reason": str(exc)[-500:]})
    return {
        "domains": domains or "all",
        "alone": alone,
        "seed": SEED,
        "snapshot": SNAPSHOT,
        "cities": cities,
        "ratios": ratios(cities),
        "bound_per_doubling": BOUND,
        "domain_ratios": domain_ratios(cities),
        "timing_model": model_check(cities),
    }


def ratios(cities: list[dict]) -> list[dict]:
    """Time and peak memory of each completed city over the previous completed one."""
    done = [c for c in cities if c.get("completed")]
    out = []
    for a, b in zip(done, done[1:]):
        size = b["residents"] / a["residents"]

        def r(key: str, a=a, b=b) -> float | None:
            return round(b[key] / a[key], 2) if a.get(key) and b.get(key) else None

        row = {
            "from": a["residents"],
            "to": b["residents"],
            "size": round(size, 2),
            "master_seconds": r("master_seconds"),
            "synth_seconds": r("synth_seconds"),
            "peak_pss_total_gb": r("peak_pss_total_gb"),
            "peak_rss_total_gb": r("peak_rss_total_gb"),
            "peak_rss_process_gb": r("peak_rss_process_gb"),
        }
        # the bound is per doubling: for a step of s× the city, 2.1 ** log2(s) (2× → 2.1×)
        allowed = BOUND ** math.log2(size) if size > 1 else BOUND
        row["allowed"] = round(allowed, 2)
        row["within_bound"] = all(
            v is None or v <= allowed
            for k, v in row.items()
            if k in ("master_seconds", "peak_pss_total_gb", "peak_rss_process_gb")
        )
        out.append(row)
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _city(
    home: Path, residents: int, domains: list[str] | None, quick: bool, alone: bool = False
) -> dict:
    from ikou.domains import registry
    from ikou_dev.localstack import run_timeout

    home.mkdir(parents=True, exist_ok=True)
    api_port, s3_port, health_port = _free_port(), _free_port(), _free_port()
    log_port, trigger_log_port = _free_port(), _free_port()
    env = dict(os.environ)
    for k in ("AWS_ENDPOINT_URL", "AIRFLOW_HOME", "IKOU_TARGET_DB_URL"):
        env.pop(k, None)
    env.update(
        {
            "IKOU_HOME": str(home),
            "IKOU_S3_PORT": str(s3_port),
            "IKOU_AIRFLOW_PORT": str(api_port),
            "IKOU_SCHEDULER_HEALTH_PORT": str(health_port),
            "IKOU_LOG_SERVER_PORT": str(log_port),
            "IKOU_TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
        }
    )
    cmd = [
        sys.executable,
        "-m",
        "ikou_dev.localstack",
        "run",
        "--keep-running",
        "--residents",
        str(residents),
        "--seed",
        str(SEED),
        "--snapshot",
        SNAPSHOT,
    ]
    # alone: the stack's run (synth included) rehearses the first domain of the plan's order, the
    # others follow one master run each (:func:`run_alone`)
    order = registry().plan.rehearsal_order(domains) if alone else []
    if alone:
        cmd += ["--domains", order[0]]
    elif domains:
        cmd += ["--domains", *domains]
    timeout = run_timeout(residents)
    log = home / "stack-run.log"
    probe_before = host_probe()
    t0 = time.monotonic()
    try:
        with open(log, "w") as fh:
            proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
            sampler = Sampler(proc.pid, home / "run")
            sampler.start()
            try:
                rc = proc.wait(timeout=timeout + 900)
                if alone and rc == 0:
                    rc = run_alone(home, api_port, order[1:], timeout)
            finally:
                sampler.stop.set()
                sampler.join(10)
        out = log.read_text()
        elapsed = round(time.monotonic() - t0, 1)
        city = {
            "residents": residents,
            # the host's speed around this city's run (ikou_dev.bench.host_probe): cities measured
            # hours apart compare only when these agree
            "host_probe": {"before": probe_before, "after": host_probe()},
            "stack_run_exit": rc,
            "stack_run_seconds": elapsed,
            "synth_seconds": synth_seconds(out),
            "memory_samples": sampler.samples,
            "load_average": {
                "mean": round(sum(sampler.load) / len(sampler.load), 1) if sampler.load else None,
                "max": round(max(sampler.load), 1) if sampler.load else None,
            },
            "peak_pss_total_gb": _gb(sampler.peak_total_pss),
            "peak_rss_total_gb": _gb(sampler.peak_total),
            "peak_rss_process_gb": _gb(sampler.peak_process),
            "peak_rss_process_kind": sampler.peak_process_name,
            "peak_rss_by_kind_gb": {k: _gb(v) for k, v in sorted(sampler.peak_by_name.items())},
            "alone": alone,
        }
        city.update(
            collect(env, home, api_port, s3_port, sampler.peak_by_task, len(order) if alone else 1)
        )
        city["largest_tasks"] = largest_tasks(city.get("domains") or {})
        return city
    finally:
        subprocess.run(
            [sys.executable, "-m", "ikou_dev.localstack", "down"],
            env=env,
            capture_output=True,
            timeout=300,
        )
        shutil.rmtree(home, ignore_errors=True)


def synth_seconds(out: str) -> float | None:
    """The synth time ``ikou stack run`` printed (None when the landing zone already held it)."""
    m = re.search(r"synthesised a city of [\d,]+ residents .* in (\d+)s", out)
    return float(m.group(1)) if m else None


def _seconds(run: dict) -> float | None:
    import datetime as dt

    s, e = run.get("start_date"), run.get("end_date")
    if not s or not e:
        return None
    return round((dt.datetime.fromisoformat(e) - dt.datetime.fromisoformat(s)).total_seconds(), 1)


def timeline(task_instances: list[dict], start: str | None, end: str | None) -> dict:
    """Where a DAG run's wall time went, from its task instances (REST API rows): the seconds
    tasks ran (``task_seconds``, summed), the wall seconds at least one ran (``busy_seconds``)
    and none did (``idle_seconds``: scheduling, the executor, waiting for a slot), the tasks'
    waits from scheduled to queued and from queued to running. A deferred task that resumed
    counts from its first start to its end; its wait for the resumption is not a queue wait."""
    import datetime as dt

    def at(v: str | None):
        return dt.datetime.fromisoformat(v) if v else None

    spans, queued, scheduling = [], 0.0, 0.0
    for t in task_instances:
        s, e = at(t.get("start_date")), at(t.get("end_date"))
        if not s or not e or e <= s:
            continue  # skipped before it ran (start = end), or not run
        spans.append((s, e))
        q, sc = at(t.get("queued_when")), at(t.get("scheduled_when"))
        if q and q <= s:
            queued += (s - q).total_seconds()
        if q and sc and sc <= q:
            scheduling += (q - sc).total_seconds()
    busy, last = 0.0, None
    for s, e in sorted(spans):
        if last is not None and s < last:
            s = last
        if e > s:
            busy += (e - s).total_seconds()
        last = max(last, e) if last else e
    wall = (at(end) - at(start)).total_seconds() if start and end else None
    return {
        "tasks_run": len(spans),
        "task_seconds": round(sum((e - s).total_seconds() for s, e in spans), 1),
        "busy_seconds": round(busy, 1),
        "idle_seconds": round(wall - busy, 1) if wall is not None else None,
        "scheduled_to_queued_seconds": round(scheduling, 1),
        "queued_to_running_seconds": round(queued, 1),
    }


def _api(home: Path, api_port: int):
    """(get, post) on the stack's REST API as its admin."""
    from ikou_dev import localstack

    pw = json.loads((home / "airflow" / "passwords.json").read_text())
    base = f"http://127.0.0.1:{api_port}"
    token = localstack.http_json(
        "POST", f"{base}/auth/token", {"username": "admin", "password": pw["admin"]}
    )["access_token"]

    def get(path: str):
        return localstack.http_json("GET", base + path, token=token)

    def post(path: str, body: dict):
        return localstack.http_json("POST", base + path, body, token=token)

    return get, post


def run_alone(home: Path, api_port: int, domains: list[str], timeout: float) -> int:
    """One master run per domain, one after another, on the snapshot of the stack's first run
    (``IKOU_BENCH_MASTER_ALONE``); 0 when every run succeeded. A failed run ends the series: the
    domains after it may read its data."""
    get, post = _api(home, api_port)
    (first,) = get("/api/v2/dags/migration_master/dagRuns?order_by=-start_date&limit=1")["dag_runs"]
    snapshot = first["conf"]["snapshot"]
    for d in domains:
        conf = {"mode": "rehearsal", "snapshot": snapshot, "domains": [d]}
        run = post("/api/v2/dags/migration_master/dagRuns", {"logical_date": None, "conf": conf})
        started, state = time.monotonic(), run["state"]
        while state not in ("success", "failed"):
            if time.monotonic() - started > timeout:
                print(f"{d} alone: the master did not finish within {timeout:.0f}s", flush=True)
                return 1
            time.sleep(5)
            state = get(f"/api/v2/dags/migration_master/dagRuns/{run['dag_run_id']}")["state"]
        print(f"{d} alone: {state} in {time.monotonic() - started:.0f}s", flush=True)
        if state != "success":
            return 1
    return 0


def collect(
    env: dict,
    home: Path,
    api_port: int,
    s3_port: int,
    peak_by_task: dict[str, int] | None = None,
    master_runs: int = 1,
) -> dict:
    """The master's run from the REST API and every domain's rehearsal report from S3;
    ``peak_by_task``: the sampler's peak memory per task instance (each domain's
    ``task_peak_rss_gb``). ``master_runs``: the latest so many master runs, one per domain
    (``IKOU_BENCH_MASTER_ALONE``): their domains together, their seconds summed."""
    from ikou.storage import Store, forget_clients, join, zone_uri

    get, _ = _api(home, api_port)
    runs = get(f"/api/v2/dags/migration_master/dagRuns?order_by=-start_date&limit={master_runs}")[
        "dag_runs"
    ]
    if not runs:
        return {"completed": False, "reason": "no master run (see stack-run.log)"}
    masters = [
        (
            r,
            get(f"/api/v2/dags/migration_master/dagRuns/{r['dag_run_id']}/taskInstances?limit=100")[
                "task_instances"
            ],
        )
        for r in reversed(runs)
    ]
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
        )
    }
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY", "testing"),
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "ap-northeast-1"),
        }
    )
    forget_clients()
    domains: dict = {}
    try:
        for master, master_tis in masters:
            domains |= _domains(
                get, Store(), master["dag_run_id"], master_tis, join, zone_uri, peak_by_task or {}
            )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        forget_clients()
    return master_figures(masters, domains)


def master_figures(masters: list[tuple[dict, list[dict]]], domains: dict) -> dict:
    """A city's figures from its master runs (REST API rows with their task instances, oldest
    first) and the domains they ran (:func:`_domains`). Several runs (each domain alone): complete
    only when every run succeeded, their seconds summed, each run id listed."""
    closes = all(d["accounting_closes"] for d in domains.values() if d.get("report"))
    seconds = [_seconds(m) for m, _ in masters]
    total = None if None in seconds else round(sum(x or 0.0 for x in seconds), 1)
    states = sorted({m["state"] for m, _ in masters})
    master, master_tis = masters[-1]
    one = len(masters) == 1
    return {
        "completed": states == ["success"],
        "master_state": states[0] if len(states) == 1 else states,
        "master_run_id": master["dag_run_id"] if one else [m["dag_run_id"] for m, _ in masters],
        "master_seconds": total,
        # one master run's timeline; alone, each domain's run has its own (``timeline``)
        "master_timeline": timeline(master_tis, master.get("start_date"), master.get("end_date"))
        if one
        else None,
        "legacy_records": sum(d.get("legacy_records") or 0 for d in domains.values()),
        "verdicts": _count(d.get("verdict") for d in domains.values()),
        "accounting_closes": closes,
        "domains": domains,
    }


def _count(items) -> dict:
    out: dict = {}
    for x in items:
        out[str(x)] = out.get(str(x), 0) + 1
    return out


def _domains(
    get, store, master_run_id: str, master_tis: list[dict], join, zone_uri, peak_by_task: dict
) -> dict:
    from ikou.pipeline import domain_run_id

    out = {}
    # a domain the master was not asked to run is skipped, not failed
    ran = sorted(
        t["task_id"][4:]
        for t in master_tis
        if t["task_id"].startswith("run_") and t["state"] != "skipped"
    )
    for d in ran:
        run_id = domain_run_id(master_run_id, d)
        row: dict = {"run_id": run_id}
        try:
            dr = get(f"/api/v2/dags/migrate_{d}/dagRuns/{run_id}")
            row["state"], row["wall_seconds"] = dr["state"], _seconds(dr)
            tis = get(f"/api/v2/dags/migrate_{d}/dagRuns/{run_id}/taskInstances?limit=100")
            row["timeline"] = timeline(
                tis["task_instances"], dr.get("start_date"), dr.get("end_date")
            )
            row["task_peak_rss_gb"] = task_memory(tis["task_instances"], peak_by_task)
        except Exception:  # noqa: BLE001 - a domain the master never started
            row["state"] = "not started"
        try:
            rep = json.loads(
                store.get_bytes(join(zone_uri("reports", d, run_id), "rehearsal.json"))
            )
        except Exception:  # noqa: BLE001 - a failed run has no report
            out[d] = row | {"report": False}
            continue
        t = rep.get("timing", {})
        acc = rep.get("accounting", [])
        row.update(
            {
                "report": True,
                "verdict": rep.get("verdict"),
                "legacy_records": t.get("legacy_records"),
                "stage_seconds": t.get("stage_seconds", {}),
                "stage_cpu_seconds": t.get("stage_cpu_seconds", {}),
                "stage_slot_wait_seconds": t.get("stage_slot_wait_seconds", {}),
                "wall_over_cpu": t.get("wall_over_cpu"),
                "accounting": [
                    {
                        k: a.get(k)
                        for k in ("legacy_records", "output_records", "quarantined", "merged")
                    }
                    for a in acc
                ],
                "accounting_closes": bool(acc)
                and all(
                    a["legacy_records"]
                    == a["output_records"] + a["quarantined"] + a.get("merged", 0)
                    for a in acc
                ),
            }
        )
        out[d] = row
    return out
