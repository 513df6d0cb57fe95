"""The load stage: the hand-off set (CSV + manifest, Parquet beside) and the transactional
target load (see :mod:`ikou.load`).

Rehearsals load into their own schema (``ikou_rehearsal_<hex>``), cutovers into ``ikou``; the
hand-off manifest records 名寄せ's 宛名番号 old → new map that the domain's cleanse applied.
Preparation-phase domains load nothing (:class:`StageNotApplicable`). After a ``diff`` (a run
with a ``base_snapshot``) the load applies the delta set instead of the full load
(:func:`ikou.load.delta_run.load_delta_run`); ``StageResult.delta`` says so.

A large domain's full load runs in partitions (issue 13 §2, :mod:`ikou.load.partitioned`):
:func:`plan` (task ``load_plan``) publishes the hand-off set and splits it by the 宛名番号 hash,
:func:`part` (mapped ``load_parts``) stages one partition, and :func:`run` (task ``load``) swaps
the staged partitions into the target in one transaction. One partition (a small city, see
:func:`ikou.load.partitions.partition_count`) plans nothing and :func:`run` loads in one task.
"""

from __future__ import annotations

import time

from ikou.domains import registry
from ikou.load import load_domain
from ikou.load.delta_run import load_delta_run
from ikou.load.partitioned import load_partition, plan_partitions, swap_partitions
from ikou.load.partitions import partition_count
from ikou.pipeline import (
    LoadPart,
    LoadPartResult,
    RunContext,
    StageResult,
    cpu_time,
    mapped_clock,
)
from ikou.stages.cleanse import atena_map_for
from ikou.stages.common import StageNotApplicable, passed_on
from ikou.stages.extract_merge import as_list
from ikou.storage import Store


def applies(domain_id: str) -> bool:
    return registry().plan[domain_id].phase == "migration"


NOT_APPLICABLE = "preparation phase: nothing is loaded (readiness report instead)"


def plan(
    ctx: RunContext,
    validated: StageResult | None,
    diffed: StageResult | None = None,
    store: Store | None = None,
) -> list[LoadPart]:
    """The partitions of a full load (``load_plan``): none for a delta run or a domain small
    enough for one partition (then :func:`run` loads in one task)."""
    if not applies(ctx.domain):
        raise StageNotApplicable(NOT_APPLICABLE)
    if validated is None or (diffed is not None and diffed.delta):
        # (None: gate_standard marked success by hand, no result; the load task says so)
        return []
    parts = partition_count(max(validated.units.values(), default=0))
    if parts <= 1:
        return []
    store = store or Store()
    atena_map = atena_map_for(validated, store)
    return plan_partitions(ctx.domain, validated, parts, ctx.run_id, ctx.mode, store, atena_map)


def part(ctx: RunContext, planned: LoadPart, store: Store | None = None) -> LoadPartResult:
    """Stage one partition of a full load (a mapped ``load_parts`` task instance)."""
    return load_partition(
        ctx.domain, planned, run_id=ctx.run_id, mode=ctx.mode, store=store or Store()
    )


def run(
    ctx: RunContext,
    validated: StageResult,
    diffed: StageResult | None = None,
    store: Store | None = None,
    atena_map: dict[str, str] | None = None,
    *,
    plan: object = None,
    parts: object = None,
) -> StageResult:
    """Publish the hand-off set, then load the target from it in one transaction; after a diff
    (``diffed``: its published delta set) the base in full, then the delta applied; after a
    ``plan`` of partitions (staged by ``parts``) the swap of the staged partitions."""
    if not applies(ctx.domain):
        raise StageNotApplicable(NOT_APPLICABLE)
    started, cpu0 = time.monotonic(), cpu_time()
    store = store or Store()
    planned = as_list(plan, LoadPart)
    if diffed is not None and diffed.delta:
        res = load_delta_run(
            ctx.domain, diffed.delta, run_id=ctx.run_id, mode=ctx.mode, store=store, who=ctx.who
        )
        # the diff's time belongs to the delta path's window (the rehearsal times both paths)
        res["delta"]["diff_seconds"] = round(diffed.seconds, 3)
        res["delta"]["diff_cpu_seconds"] = diffed.cpu_seconds
    elif planned:
        res = swap_partitions(
            ctx.domain,
            planned,
            as_list(parts, LoadPartResult),
            run_id=ctx.run_id,
            mode=ctx.mode,
            who=ctx.who,
        )
    else:
        res = full_load(ctx, validated, store, atena_map)
    nparts = res.get("partitions", 1)
    accounting = [passed_on(t, validated.units[t], n) for t, n in res["rows"].items()]
    seconds, cpu, task_seconds = mapped_clock(
        started, cpu0, planned, as_list(parts, LoadPartResult)
    )
    return StageResult.of(
        ctx,
        "load",
        validated.snapshot,
        res["handoff"],
        accounting,
        seconds,
        cpu_seconds=cpu,
        task_seconds=task_seconds,
        target_schema=res["schema"],
        tables=res["tables"],
        manifest_sha256=res["manifest_sha256"],
        delta=res.get("delta"),
        parts={t: nparts for t in res["rows"]} if nparts > 1 else {},
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
