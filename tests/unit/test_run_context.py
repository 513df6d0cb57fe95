"""RunContext's base_snapshot (差分): the one snapshot parser, earlier than the run's snapshot,
a bad value one BadArgument line (exit 2); empty means a full load."""

from __future__ import annotations

import contextlib

import pytest

from ikou.errors import BadArgument
from ikou.pipeline import RunContext


def test_base_snapshot_from_params_and_conf():
    params = {"snapshot": "", "base_snapshot": "", "mode": "rehearsal"}
    assert RunContext.from_params("juki", "r1", params).base_snapshot is None
    ctx = RunContext.from_params(
        "juki", "r1", params, {"snapshot": "20261101", "base_snapshot": "20261001"}
    )
    assert (ctx.snapshot, ctx.base_snapshot) == ("2026-11-01", "2026-10-01")


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("2026-11-01", "must be earlier than snapshot 2026-11-01"),
        ("2026-12-01", "must be earlier than snapshot"),
        ("2026-02-30", "base_snapshot: a real date"),
        ("yesterday", "base_snapshot: a real date"),
    ],
)
def test_a_bad_base_snapshot_is_one_line_exit_2(base, message):
    with pytest.raises(BadArgument, match=message) as exc:
        RunContext.build(domain="juki", run_id="r1", snapshot="2026-11-01", base_snapshot=base)
    assert exc.value.exit_code == 2 and "\n" not in str(exc.value)
    assert base not in str(exc.value) or "earlier" in str(exc.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("IKOU_DEDUPE_MEMORY_LIMIT", "lots"), ("IKOU_GAIJI_POLICY", "guess")],
)
def test_a_malformed_setting_fails_a_task_at_its_start(monkeypatch, name, value):
    """A malformed deployment setting fails the task before its stage runs (no retry: the same
    setting fails the same way), in one line naming the setting — not where the stage first
    uses it (名寄せ reads IKOU_DEDUPE_MEMORY_LIMIT minutes into a large city's cleanse)."""
    from airflow.sdk.exceptions import AirflowFailException

    from ikou.airflow import context

    ctx = RunContext.build(domain="juki", run_id="r1")
    monkeypatch.setattr(context, "run_context", lambda domain: ctx)
    ran = []
    monkeypatch.setenv(name, value)
    with pytest.raises(AirflowFailException) as exc:
        context.stage_call("juki", lambda c: ran.append(c))
    assert ran == [] and name in str(exc.value) and "\n" not in str(exc.value)
    monkeypatch.delenv(name)
    monkeypatch.setattr(context, "using", lambda res: contextlib.nullcontext())
    monkeypatch.setattr("ikou.airflow.connections.resolve", lambda: None)
    context.stage_call("juki", lambda c: ran.append(c))
    assert ran == [ctx]


def test_stack_run_refuses_a_malformed_setting_before_starting_anything(monkeypatch, capsys):
    """``ikou stack run`` checks the settings first: exit 2, one line, and no stack started."""
    from ikou_dev import localstack

    started = []
    monkeypatch.setattr(localstack, "run_master", lambda *a, **k: started.append("run") or 0)
    monkeypatch.setattr(localstack, "down", lambda: started.append("down"))
    monkeypatch.setenv("IKOU_DEDUPE_MEMORY_LIMIT", "a lot")
    code = localstack.main(["run", "--residents", "30"])
    assert code == 2 and started == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "IKOU_DEDUPE_MEMORY_LIMIT must be a size" in err
