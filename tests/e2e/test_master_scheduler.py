"""End to end through Airflow's real scheduler: ``migration_master`` over three related domains.

The embedded stack (``ikou stack run``, what `make run` uses) starts on free ports with its own
IKOU_HOME: local S3 endpoint, ``airflow standalone`` (scheduler, dag-processor, triggerer,
api-server), a synthetic city; the master is triggered through the REST API with
``domains = [juki, kojin_juminzei, jido_teate]`` — jido_teate refers to both others — and must
run them in order, skip the other 17, and leave its reports in the bucket, which survives the
stack's stop (saved to disk) and a restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests_support import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DOMAINS = ["juki", "kojin_juminzei", "jido_teate"]


@pytest.fixture(scope="module")
def stack_run(ikou_stack):
    """The session's embedded stack (tests/conftest.py: ``ikou stack run --keep-running`` over the
    same three domains, stopped at the end), shared with the browser tests."""
    assert tuple(ikou_stack.domains) == tuple(DOMAINS)
    return ikou_stack.proc, ikou_stack.home, ikou_stack.env


def test_master_run_succeeds(stack_run):
    proc, _, _ = stack_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    final = [line for line in proc.stdout.splitlines() if line.startswith("master run ")]
    assert final and final[-1].endswith(": success"), proc.stdout[-2000:]


def test_table_shows_the_three_domains_and_skips_the_rest(stack_run):
    proc, _, _ = stack_run
    rows = {
        line.split()[0]: line
        for line in proc.stdout.splitlines()
        if line.split()
        and line.split()[0] in {"juki", "kojin_juminzei", "jido_teate", "inkan", "kaigo"}
    }
    assert " GO " in rows["juki"] and "✓ ✓ ✓ ✓ ✓ ✓ ✓ ✓ ✓ ✓" in rows["juki"]
    assert (
        "READINESS" in rows["kojin_juminzei"]
    )  # preparation phase: load skipped, readiness report
    assert " GO " in rows["jido_teate"]
    assert "NOT RUN" in rows["inkan"] and "NOT RUN" in rows["kaigo"]


def test_reports_survive_the_stop_of_the_stack(stack_run):
    """moto keeps objects in memory: the stack saves the buckets to IKOU_HOME/s3 on stop."""
    _, home, _ = stack_run
    saved = home / "s3" / "ikou-reports" / "reports"
    city = list((saved / "_city").rglob("city.json"))
    assert len(city) == 1
    report = json.loads(city[0].read_text())
    assert report["failed_domains"] == []
    assert set(report["domains"]) == set(DOMAINS)
    assert report["domains"]["juki"]["verdict"] == "GO"


def test_jido_teate_ran_after_the_domains_it_refers_to(stack_run):
    _, home, _ = stack_run
    saved = home / "s3" / "ikou-reports" / "reports"
    started = {}
    for d in DOMAINS:
        (rep,) = list((saved / d).rglob("rehearsal.json"))
        started[d] = json.loads(rep.read_text())["generated_at"]
    assert (
        started["juki"] < started["jido_teate"]
        and started["kojin_juminzei"] < started["jido_teate"]
    )


def test_restart_restores_the_buckets(stack_run):
    """A restart of the S3 endpoint alone brings the saved objects back."""
    _, home, env = stack_run
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ikou_dev.localserver",
            "serve",
            "--port",
            str(port),
            "--data",
            str(home / "s3"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = server.stdout.readline()
        while "up; restored" not in line:
            line = server.stdout.readline()
            assert line, "the server stopped"
        import boto3

        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}")
        keys = [
            o["Key"]
            for o in client.list_objects_v2(Bucket="ikou-reports", Prefix="reports/_city/")[
                "Contents"
            ]
        ]
        assert any(k.endswith("city.html") for k in keys)
    finally:
        server.terminate()
        server.wait(timeout=60)
