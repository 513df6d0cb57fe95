"""The machine has what the suite needs; strict mode turns a missing one (or any skip) into a
failure, and without it the last line of the run lists what was skipped.

The strict-mode proof runs pytest as a subprocess on a tiny suite with an unreachable
PostgreSQL and Redis URL (a closed port) and a browser path that does not exist — the machine's
own services are never touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prerequisites import PREREQUISITES, require

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("what", list(PREREQUISITES))
def test_the_machine_has(what):
    require(what)


TINY = """
import pytest
from prerequisites import require


def test_postgresql():
    require("PostgreSQL")


def test_redis():
    require("Redis")


def test_browser():
    require("browser")


@pytest.mark.skipif(True, reason="a plain skip of another kind")
def test_plain_skip():
    pass


def test_runs():
    assert 1 + 1 == 2
"""


def _tiny_run(tmp_path: Path, strict: bool) -> subprocess.CompletedProcess:
    (tmp_path / "test_tiny.py").write_text(TINY, encoding="utf-8")
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]),
            "IKOU_TEST_PG_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/postgres",
            "IKOU_TEST_REDIS_URL": "redis://127.0.0.1:1/0",
            "IKOU_CHROMIUM": str(tmp_path / "no-such-browser"),
            "IKOU_STRICT": "1" if strict else "0",
        }
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "prerequisites",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rN",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_tiny.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_strict_mode_fails_for_a_missing_service_or_browser(tmp_path):
    p = _tiny_run(tmp_path, strict=True)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    # the require() calls fail; the plain skipif skips at setup, so it becomes an error
    assert "3 failed, 1 passed, 1 error" in out, out
    assert "PostgreSQL not reachable at 127.0.0.1:1" in out
    assert "Redis not reachable at 127.0.0.1:1" in out
    assert f"no browser at {tmp_path / 'no-such-browser'}" in out
    assert "skipped under IKOU_STRICT=1" in out and "a plain skip of another kind" in out
    assert "SKIPPED" not in out.strip().splitlines()[-1]


def test_without_strict_mode_the_last_line_says_what_was_skipped(tmp_path):
    p = _tiny_run(tmp_path, strict=False)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    last = out.strip().splitlines()[-1]
    assert last.startswith("SKIPPED 4 tests: "), last
    for reason in (
        "PostgreSQL is missing: PostgreSQL not reachable at 127.0.0.1:1",
        "Redis is missing: Redis not reachable at 127.0.0.1:1",
        "browser is missing: no browser at",
        "a plain skip of another kind",
    ):
        assert reason in last, last
