"""The load stage: the hand-off set (CSV + manifest, Parquet beside) and the transactional
target load (see :mod:`ikou.load`).

Rehearsals load into their own schema (``ikou_rehearsal_<hex>``), cutovers into ``ikou``; the
hand-off manifest records 名寄せ's 宛名番号 old → new map that the domain's cleanse applied.
Preparation-phase domains load nothing (:class:`StageNotApplicable`). After a ``diff`` (a run
with a ``base_snapshot``) the load applies the delta set instead of the full load
(:func:`ikou.load.delta_run.load_delta_run`); ``StageResult.delta`` says so.
"""

from __future__ import annotations

import time

from ikou.domains import registry
from ikou.load import load_domain
from ikou.load.delta_run import load_delta_run
from ikou.pipeline import RunContext, StageResult, cpu_time
from ikou.stages.cleanse import atena_map_for
from ikou.stages.common import StageNotApplicable, passed_on
from ikou.storage import Store


def applies(domain_id: str) -> bool:
    return registry().plan[domain_id].phase == "migration"


def run(
    ctx: RunContext,
    validated: StageResult,
    diffed: StageResult | None = None,
    store: Store | None = None,
    atena_map: dict[str, str] | None = None,
) -> StageResult:
    """Publish the hand-off set, then load the target from it in one transaction; after a diff
    (``diffed``: its published delta set) the base in full, then the delta applied."""
    if not applies(ctx.domain):
        raise StageNotApplicable("preparation phase: nothing is loaded (readiness report instead)")
    started, cpu0 = time.monotonic(), cpu_time()
    store = store or Store()
    if diffed is not None and diffed.delta:
        res = load_delta_run(
            ctx.domain, diffed.delta, run_id=ctx.run_id, mode=ctx.mode, store=store, who=ctx.who
        )
        # the diff's time belongs to the delta path's window (the rehearsal times both paths)
        res["delta"]["diff_seconds"] = round(diffed.seconds, 3)
        res["delta"]["diff_cpu_seconds"] = diffed.cpu_seconds
    else:
        res = full_load(ctx, validated, store, atena_map)
    accounting = [passed_on(t, validated.units[t], n) for t, n in res["rows"].items()]
    return StageResult.of(
        ctx,
        "load",
        validated.snapshot,
        res["handoff"],
        accounting,
        time.monotonic() - started,
        cpu_seconds=cpu_time() - cpu0,
        target_schema=res["schema"],
        tables=res["tables"],
        manifest_sha256=res["manifest_sha256"],
        delta=res.get("delta"),
    )


def full_load(
    ctx: RunContext, validated: StageResult, store: Store, atena_map: dict[str, str] | None
) -> dict:
    """The full load: this run's hand-off set published, then loaded in one transaction."""
    if atena_map is None:  # the map the domain's cleanse stage applied (名寄せ of the master)
        atena_map = atena_map_for(validated, store)
    return load_domain(
        ctx.domain,
        validated,
        run_id=ctx.run_id,
        mode=ctx.mode,
        store=store,
        atena_map=atena_map,
        who=ctx.who,
    )
