"""The diff stage (差分): on a delta run, the difference between the base snapshot's validated
layout and this run's, published as a delta hand-off set (see :mod:`ikou.load.delta`).

Between ``gate_standard`` and ``load``; skipped (:class:`StageNotApplicable`) on a full load
(no base snapshot: the run's ``RunContext.base_snapshot``, the DAG Param) and for
preparation-phase domains. It publishes the run's full hand-off set
(what the target will equal: the delta's ``result_sha256``) and the delta set beneath it, and
writes ``diff.json`` to the reports zone (counts and column names only). Applying the set is the
load's (:func:`ikou.load.delta_run.load_delta_run`).
"""

from __future__ import annotations

import time

from ikou.load.delta import publish_delta
from ikou.pipeline import RunContext, StageResult, cpu_time, parse_snapshot
from ikou.stages.cleanse import atena_map_for, base_pointer
from ikou.stages.common import StageError, StageNotApplicable, passed_on, write_report
from ikou.stages.load import applies
from ikou.storage import Store


def base_result(ctx: RunContext, base_snapshot: str, snapshot: str, store: Store) -> StageResult:
    """The base snapshot's validated output: on a delta cutover the one loaded ahead (its
    hand-off is what the live schema's load log holds — a later run of the base snapshot, a
    rehearsal say, must not become the base the difference is taken from; the guard's rules are
    checked again: :class:`ikou.load.cutover.CutoverRefused`), else (a rehearsal of the delta
    path, which loads the base itself) the one that last passed gate_standard."""
    base_snapshot = parse_snapshot(base_snapshot, "base_snapshot")
    if base_snapshot >= snapshot:
        raise StageError(
            f"{ctx.domain}: base_snapshot {base_snapshot} is not earlier than the run's snapshot "
            f"{snapshot}; a delta goes from an earlier snapshot to a later one"
        )
    pointer = base_pointer(ctx, base_snapshot, store)
    return StageResult(
        domain=ctx.domain,
        stage="validate",
        run_id=pointer["run_id"],
        uri=pointer["uri"],
        snapshot=base_snapshot,
        mode=ctx.mode,
    )


def run(
    ctx: RunContext,
    validated: StageResult,
    base_snapshot: str | None = None,
    store: Store | None = None,
    atena_map: dict[str, str] | None = None,
) -> StageResult:
    """Publish the delta set between ``base_snapshot``'s validated output (default: the run's
    ``ctx.base_snapshot``) and ``validated``."""
    if base_snapshot is None:
        base_snapshot = ctx.base_snapshot
    if not base_snapshot:
        raise StageNotApplicable("no base snapshot: a full load")
    if not applies(ctx.domain):
        raise StageNotApplicable("preparation phase: nothing is loaded (readiness report instead)")
    started, cpu0 = time.monotonic(), cpu_time()
    store = store or Store()
    base = base_result(ctx, base_snapshot, validated.snapshot, store)
    if atena_map is None:
        atena_map = atena_map_for(validated, store)
    res = publish_delta(
        store,
        ctx.domain,
        base,
        validated,
        run_id=ctx.run_id,
        mode=ctx.mode,
        atena_map=atena_map,
    )
    accounting = [
        passed_on(t["table"], validated.units.get(t["table"], t["rows_result"]), t["rows_result"])
        for t in res["summary"]["tables"]
    ]
    report = {
        **res["summary"],
        "base_sha256": res["base_sha256"],
        "result_sha256": res["result_sha256"],
    }
    write_report(ctx.domain, ctx.run_id, "diff.json", report, store)
    return StageResult.of(
        ctx,
        "diff",
        validated.snapshot,
        res["delta"],
        accounting,
        time.monotonic() - started,
        cpu_seconds=cpu_time() - cpu0,
        manifest_sha256=res["manifest_sha256"],
        delta={**res, "base_snapshot": base.snapshot},
    )
