"""`ikou synth | stack | bench | train-dedupe` come from the development package through entry
points; on a runtime-only install (the worker image) they say so and exit 1."""

from __future__ import annotations

import importlib.metadata

import pytest

from ikou import cli


@pytest.mark.parametrize("name", cli.DEV_COMMANDS)
def test_a_development_command_without_the_development_package(name, monkeypatch, capsys):
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: ())
    assert cli.main([name, "--help"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"ikou {name}: development tools not installed (make venv)"


@pytest.mark.parametrize("name", cli.DEV_COMMANDS)
def test_every_development_command_is_installed_here(name):
    found = importlib.metadata.entry_points(group=cli.DEV_ENTRY_POINTS, name=name)
    assert len(found) == 1
    assert callable(next(iter(found)).load())


def test_a_development_command_runs_through_the_runtime_cli(capsys):
    assert cli.main(["bench", "--help"]) == 0  # the top-level handler turns exits into codes
    assert "usage: ikou bench" in capsys.readouterr().out


def test_the_celery_workers_hostname_callable_resolves():
    """The workers' ``[core] hostname_callable`` is a dotted path Airflow imports in every task:
    it must name the function that exists (a module split once left it pointing nowhere, and
    every task of the Celery stack failed)."""
    import importlib
    import os

    from ikou_dev.localstack import WORKER_HOSTNAME_CALLABLE

    module, name = WORKER_HOSTNAME_CALLABLE.rsplit(".", 1)
    fn = getattr(importlib.import_module(module), name)
    os.environ["IKOU_WORKER_HOSTNAME"] = "ikou-worker-9"
    try:
        assert fn() == "ikou-worker-9"
    finally:
        del os.environ["IKOU_WORKER_HOSTNAME"]


def test_a_killed_component_not_yet_reaped_is_not_running():
    """``ikou stack run`` starts the components and does not reap them: a worker killed during
    the run is a zombie until the run ends. It must count as stopped, or starting it again (the
    Celery test restarts the worker it killed) silently does nothing."""
    import signal
    import subprocess
    import time

    from ikou_dev.localstack import process_running

    proc = subprocess.Popen(["sleep", "60"])
    try:
        assert process_running(proc.pid)
        proc.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_running(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_running(proc.pid)  # a zombie: killed, its parent has not waited yet
        assert proc.poll() == -signal.SIGKILL
        assert not process_running(proc.pid)
    finally:
        proc.kill()
        proc.wait(timeout=10)
