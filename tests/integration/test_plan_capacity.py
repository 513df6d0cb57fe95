"""`ikou plan capacity` as a user runs it: a real process reading the latest rehearsal report of
every planned domain from the reports zone (a bucket of its own: the session's S3 holds other
tests' rehearsals)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest


def _plan(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ikou.cli", "plan", "capacity", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plan_capacity_from_the_rehearsal_reports(s3_endpoint):
    import boto3

    from ikou.domains import registry
    from ikou.storage import run_key

    bucket = f"ikou-reports-plan-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
    )
    env = os.environ | {"IKOU_REPORTS_BUCKET": bucket, "AWS_ENDPOINT_URL": s3_endpoint}
    reg = registry()
    domains = reg.plan.rehearsal_order()

    # nothing rehearsed: nothing to plan from (exit 4, one line)
    r = _plan(env, "--residents", "3800000", "--workers", "8")
    assert r.returncode == 4, r.stderr
    assert f"no calibration data for {len(domains)} domain(s)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

    # each domain's latest rehearsal fitted two stages of 10 s and 20 s, whatever the volume
    for d in domains:
        run_id = f"manual__plan_{d}"
        report = {
            "domain": d,
            "run_id": run_id,
            "mode": "rehearsal",
            "generated_at": "2026-12-04T01:00:00+00:00",
            "timing": {
                "legacy_records": 1000,
                "expected_records": 1_000_000,
                "projection_basis": "uncontended",
                "projection_stages": {
                    "extract": {"overhead_seconds": 10.0, "per_record_ms": 0.0},
                    "load": {"overhead_seconds": 20.0, "per_record_ms": 0.0},
                },
                "projection_points": [{"records": 1000, "run_id": run_id}],
            },
        }
        key = f"reports/{d}/{run_key(run_id)}/rehearsal.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(report).encode())

    r = _plan(env, "--residents", "3800000", "--workers", "1", "--task-overhead", "5", "--json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    # one worker: every stage task one after another, each 5 s of orchestration more
    assert plan["wall_hours"] == pytest.approx(len(domains) * 40 / 3600, abs=1e-3)
    assert plan["task_overhead_seconds"] == 5 and plan["min_workers_0600"] == 1
    assert set(plan["calibration_points"]) == set(domains)
    assert plan["calibration_points"]["juki"]["run_id"] == "manual__plan_juki"
    assert plan["critical_path"]["domains"][0] in domains

    r = _plan(env, "--residents", "3800000", "--workers", "4")
    assert r.returncode == 0, r.stderr
    assert "(stages only)" in r.stdout and "ends by 06:00 JST" in r.stdout
    # an argument error comes first, before anything is read
    r = _plan(env, "--residents", "3800000", "--workers", "4", "--task-overhead", "-2")
    assert r.returncode == 2 and "--task-overhead -2: expected 0–3600" in r.stderr
