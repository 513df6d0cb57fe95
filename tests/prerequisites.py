"""What the test suite needs from the machine, and strict mode.

The suite needs PostgreSQL (``IKOU_TEST_PG_URL``), Redis (``IKOU_TEST_REDIS_URL``), Debian's
chromium (``IKOU_CHROMIUM``, default ``/usr/bin/chromium``), a C compiler (``CC``, default
``cc``) and java. :func:`need` is how a test says one is missing:

* with ``IKOU_STRICT=1`` (``.ci/run`` sets it) the test FAILS — and so does any other skip: in
  CI a test that cannot run is a failure, never a quiet skip;
* otherwise it is skipped, and the last line of the run lists what was skipped and why.

A pytest plugin: ``tests/conftest.py`` takes its hooks; ``pytest -p prerequisites`` loads it
elsewhere (tests/test_prerequisites.py runs a tiny suite that way).
"""

from __future__ import annotations

import collections
import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

PG_DEFAULT = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
CHROMIUM_DEFAULT = "/usr/bin/chromium"


def strict() -> bool:
    return os.environ.get("IKOU_STRICT", "") not in ("", "0")


def need(what: str, reason: str) -> None:
    """A prerequisite is missing: fail under IKOU_STRICT=1, else skip (listed at the end)."""
    if strict():
        pytest.fail(f"{what} is missing (IKOU_STRICT=1: no skips): {reason}", pytrace=False)
    pytest.skip(f"{what} is missing: {reason}")


# -- the prerequisites ------------------------------------------------------------------------


def pg_admin_url() -> str:
    return os.environ.get("IKOU_TEST_PG_URL") or PG_DEFAULT


def postgresql_problem(url: str | None = None) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used (None: it answers)."""
    from sqlalchemy import create_engine

    url = url or pg_admin_url()
    try:
        eng = create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with eng.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        finally:
            eng.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: not usable
        u = urlsplit(url)
        return f"PostgreSQL not reachable at {u.hostname}:{u.port or 5432} ({type(exc).__name__})"
    return None


def redis_problem(url: str | None = None) -> str | None:
    """Why Redis at ``url`` cannot be used (None: it answers PING)."""
    url = url or os.environ.get("IKOU_TEST_REDIS_URL") or REDIS_DEFAULT
    u = urlsplit(url)
    host, port = u.hostname or "127.0.0.1", u.port or 6379
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            s.settimeout(5)
            if u.password:
                pw = u.password.encode()
                s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(pw), pw))
                s.recv(256)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = s.recv(256)
    except OSError as exc:
        return f"Redis not reachable at {host}:{port} ({type(exc).__name__})"
    if not reply.startswith(b"+PONG"):
        return f"Redis at {host}:{port} did not answer PING"
    return None


def chromium_path() -> Path:
    return Path(os.environ.get("IKOU_CHROMIUM") or CHROMIUM_DEFAULT)


def chromium_problem() -> str | None:
    p = chromium_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        return f"no browser at {p} (IKOU_CHROMIUM; make deps installs Debian's chromium)"
    return None


def compiler_problem() -> str | None:
    cc = os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        return f"no C compiler ({cc}): the decoder's compiled kernel cannot be built"
    return None


def java_problem() -> str | None:
    if shutil.which("java") is None:
        return "no java: the code-page oracle cannot be re-run"
    return None


PREREQUISITES = {
    "PostgreSQL": postgresql_problem,
    "Redis": redis_problem,
    "browser": chromium_problem,
    "C compiler": compiler_problem,
    "java": java_problem,
}


def require(what: str) -> None:
    """Fail (strict) or skip when the named prerequisite is missing."""
    problem = PREREQUISITES[what]()
    if problem:
        need(what, problem)


# -- hooks --------------------------------------------------------------------------------------

_skipped: collections.Counter = collections.Counter()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if strict():
        report.outcome = "failed"
        report.longrepr = f"skipped under IKOU_STRICT=1 (CI runs every test): {reason}"
    else:
        _skipped[reason] += 1


def _skip_reason(report) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        text = str(lr[2])
    else:
        text = str(lr)
    return text.removeprefix("Skipped: ").strip() or "no reason given"


def pytest_unconfigure(config):
    """The last line of a run that skipped tests says what was skipped (strict mode has none)."""
    if not _skipped:
        return
    total = sum(_skipped.values())
    parts = [f"{reason} ({n})" for reason, n in _skipped.most_common()]
    line = f"SKIPPED {total} test{'s' if total != 1 else ''}: " + "; ".join(parts)
    line += " — IKOU_STRICT=1 (as .ci/run) fails instead"
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(line)
    else:  # pragma: no cover - without the terminal reporter
        print(line)
    _skipped.clear()
