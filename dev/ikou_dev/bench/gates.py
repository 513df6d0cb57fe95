"""Benchmark: the cost of the five quality gates of a domain run (issue 5: at most 25 % of the run).

    python -m ikou_dev.bench gates            # 住民基本台帳 of the 1,000,000-resident city
    python -m ikou_dev.bench --quick gates    # 2,000 residents (what the test suite runs)

The city is the cleanse benchmark's (``ikou_dev.bench.cleanse.build_city``: 住民基本台帳 — the 宛名
master ATENA of 1.13M addressees and JUKI of 1.0M residents — cached under ``$IKOU_HOME/bench``).
Its landing files are put on a local S3 endpoint (``ikou_dev.localserver`` in a process of its
own) and the domain DAG's ten tasks run in order as plain functions — the same
``ikou.stages`` calls the tasks make — against PostgreSQL (``IKOU_BENCH_PG_URL``, default the
machine's server; SQLite when none answers). Each timing is what the task's function takes:

- a gate = fetch the stage output from S3, load it as dataframes (or nothing: gate_target runs in
  the database), run the checkpoints, publish results and report. The GX data context is
  created anew for every gate (each gate is its own task process); importing GX is not counted
  (the scheduler preloads it, plugins/ikou_preload.py).
- the share = the five gates' seconds / the ten tasks' seconds.

gate_target is also watched: every statement sent to the target database is recorded (SQLAlchemy
event), and the figures give the most rows any of them returned — the suite runs inside the
database, so that stays a handful while the tables hold a million rows.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from ikou.pipeline import STAGES as PIPELINE_STAGES

FULL_RESIDENTS = 1_000_000
QUICK_RESIDENTS = 2_000
DOMAIN = "juki"
RUN_ID = "bench_gates"
STAGES = tuple((s.name, s.gate) for s in PIPELINE_STAGES)


def target_db(workdir: Path) -> tuple[str, callable]:
    """A fresh PostgreSQL database (dropped afterwards), else an SQLite file."""
    admin_url = os.environ.get("IKOU_BENCH_PG_URL") or os.environ.get(
        "IKOU_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )
    try:
        from sqlalchemy import create_engine

        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        name = f"ikou_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

        def drop():
            with admin.connect() as conn:
                conn.exec_driver_sql(
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                )
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            admin.dispose()

        return admin_url.rsplit("/", 1)[0] + f"/{name}", drop
    except Exception:  # noqa: BLE001 - no PostgreSQL here: the embedded default
        return f"sqlite:///{workdir / 'target.sqlite'}", lambda: None


def run(workdir: Path, quick: bool) -> dict:
    residents = (
        QUICK_RESIDENTS
        if quick
        else int(os.environ.get("IKOU_BENCH_GATES_RESIDENTS", FULL_RESIDENTS))
    )
    from ikou_dev.bench.cleanse import SNAPSHOT, build_city

    t0 = time.monotonic()
    city = build_city(residents)  # cached (shared with the cleanse and dedupe benchmarks)
    city_seconds = round(time.monotonic() - t0, 1)
    with stack(workdir) as target_url:
        return _run(city, residents, SNAPSHOT, city_seconds, target_url)


@contextlib.contextmanager
def stack(workdir: Path) -> Iterator[str]:
    """A local S3 endpoint and a fresh target database for the run's stages (the environment
    pointed at them, restored afterwards); yields the target URL."""
    env_before = {
        k: os.environ.get(k)
        for k in (
            "AWS_ENDPOINT_URL",
            "IKOU_TARGET_DB_URL",
            "IKOU_HMAC_SECRET",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "IKOU_AWS_CONN_ID",
            "GX_ANALYTICS_ENABLED",
        )
    }
    from ikou_dev.localserver import start_process

    s3, endpoint = start_process(workdir / "s3")
    target_url, drop_target = target_db(workdir)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "IKOU_TARGET_DB_URL": target_url,
            "GX_ANALYTICS_ENABLED": "false",
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "ap-northeast-1"),
        }
    )
    os.environ.setdefault("IKOU_HMAC_SECRET", "bench-secret-not-for-production")
    os.environ.pop("IKOU_AWS_CONN_ID", None)
    try:
        yield target_url
    finally:
        s3.terminate()
        try:
            s3.wait(timeout=60)
        except subprocess.TimeoutExpired:
            s3.kill()
        drop_target()
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def upload_landing(city: dict, domain: str, snapshot: str) -> float:
    """Put the city's landing files of ``domain`` (and the reference data) on the local S3."""
    from ikou.storage import Store, join

    store = Store()
    landing = Path(city["folder"]) / "landing"
    t = time.monotonic()
    for sub in (f"{domain}/{snapshot}", f"_reference/{snapshot}"):
        for p in sorted((landing / sub).iterdir()):
            if p.is_file():
                store.put_file(join(f"s3://ikou-restricted/landing/{sub}", p.name), p)
    return round(time.monotonic() - t, 1)


def run_stage(stage: str, ctx, results: dict):
    """One stage of a domain run as its task calls it (``results``: the earlier stages')."""
    from ikou.stages import cleanse, extract, load, rehearse, validate

    if stage == "extract":
        return extract.run(ctx)
    if stage == "cleanse":
        return cleanse.run(ctx, results["extract"])
    if stage == "validate":
        return validate.run(ctx, results["cleanse"])
    if stage == "load":
        return load.run(ctx, results["validate"])
    return rehearse.run(
        ctx, results["extract"], results["cleanse"], results["validate"], results["load"]
    )


def _run(city: dict, residents: int, snapshot: str, city_seconds: float, target_url: str) -> dict:
    import sqlalchemy as sa

    import great_expectations  # noqa: F401 - preloaded in the scheduler, as plugins/ikou_preload.py does
    from ikou.pipeline import RunContext
    from ikou.quality.gate import forget_context
    from ikou.stages import gate
    from ikou.storage import Store, forget_clients

    forget_clients()
    store = Store()
    upload = upload_landing(city, DOMAIN, snapshot)

    statements: list[tuple[str, int]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if f"{DOMAIN}__" in statement:
            statements.append((statement, cursor.rowcount))

    seconds: dict[str, float] = {}
    results: dict = {}
    verdicts: dict[str, str] = {}
    ctx = RunContext.build(domain=DOMAIN, run_id=RUN_ID, snapshot=snapshot)
    for stage, gate_name in STAGES:
        t = time.monotonic()
        results[stage] = run_stage(stage, ctx, results)
        seconds[stage] = time.monotonic() - t
        forget_context()  # a gate task builds its own GX context
        if gate_name == "gate_target":
            sa.event.listen(sa.engine.Engine, "after_cursor_execute", record)
        t = time.monotonic()
        try:
            out = gate.run(ctx, gate_name, results[stage])
        finally:
            if gate_name == "gate_target":
                sa.event.remove(sa.engine.Engine, "after_cursor_execute", record)
        seconds[gate_name] = time.monotonic() - t
        verdicts[gate_name] = out.gates[gate_name].verdict
    gates = sum(v for k, v in seconds.items() if k.startswith("gate_"))
    total = sum(seconds.values())
    rows = dict(results["validate"].units)
    reports = {}
    for _, gate_name in STAGES:
        rep = json.loads(
            store.get_bytes(f"s3://ikou-reports/reports/{DOMAIN}/{RUN_ID}/gates/{gate_name}.json")
        )
        reports[gate_name] = {
            "expectations": sum(len(u["expectations"]) for u in rep["units"]),
            "warnings": len(rep["warnings"]),
            "verdict": rep["verdict"],
            "gx_seconds": rep.get("seconds"),
        }
    return {
        "domain": DOMAIN,
        "residents": residents,
        "records": city["synth"]["records"][DOMAIN],
        "output_rows": rows,
        "target": sa.engine.make_url(target_url).get_backend_name(),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "gates_seconds": round(gates, 2),
        "run_seconds": round(total, 2),
        "gate_share": round(gates / total, 4) if total else None,
        "limit": 0.25,
        "within_limit": bool(total and gates / total <= 0.25),
        "gates": reports,
        "verdicts": verdicts,
        "gate_target_statements": len(statements),
        "gate_target_max_rows_returned": max((n for _, n in statements), default=0),
        "setup_seconds": {"city": city_seconds, "upload": upload},
    }
