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
second run only for the kill cost minutes of the suite). Once the retry runs elsewhere, the killed
worker starts again, as its supervisor would restart it (celery_run.py, which runs the stack).
"""

from __future__ import annotations

import json

import pytest
from celery_run import WORKERS, Api, task_instances

pytestmark = [pytest.mark.celery, pytest.mark.e2e, pytest.mark.slow]

DOMAINS = ("juki", "kojin_juminzei")


@pytest.fixture(scope="module")
def celery_stack(ikou_stack, celery_stack_run):
    """The Celery stack over DOMAINS after its run, on the LocalExecutor stack's city (same HMAC
    key): tests/conftest.py starts it with the session (``celery_stack_run``, through
    celery_run.py, which kills the worker), it is stopped after this module."""
    assert celery_stack_run.env["IKOU_HMAC_SECRET"] == ikou_stack.env["IKOU_HMAC_SECRET"]
    assert tuple(celery_stack_run.domains) == DOMAINS
    yield celery_stack_run
    celery_stack_run.stop()


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
        tis = task_instances(api, f"migrate_{d}", run_id)
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
    tis = {t["task_id"]: t for t in task_instances(api, "migrate_juki", run_id)}
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
