"""RunContext's base_snapshot (差分): the one snapshot parser, earlier than the run's snapshot,
a bad value one BadArgument line (exit 2); empty means a full load."""

from __future__ import annotations

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
