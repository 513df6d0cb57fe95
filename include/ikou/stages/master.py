"""The master run: which domains, in which order, on which snapshot; and its city-wide report."""

from __future__ import annotations

from ikou.domains import registry
from ikou.errors import BadArgument
from ikou.pipeline import MasterPlan, optional_snapshot
from ikou.rehearsal.city import build_city_report
from ikou.stages.common import StageError
from ikou.storage import MANIFEST, NotPublished, Store, join, landing_uri
from ikou.storage.publication import latest_snapshot


def plan(
    domains: list[str],
    snapshot: object = "",
    store: Store | None = None,
    base_snapshot: object = "",
) -> MasterPlan:
    """The domains of a master run in the plan's order, and the one snapshot they all use.

    Without a snapshot: the latest one published for the first domain, which every selected
    domain must have too (a master run never mixes snapshots). Domains the plan cuts over by
    ``full_ahead_then_delta`` get their ``full_load_date`` as base snapshot (a delta run);
    ``base_snapshot`` (the run's conf, e.g. ``IKOU_DELTA=1 make run``) gives every
    migration-phase domain of the run that base instead."""
    reg = registry()
    unknown = [x for x in domains if x not in reg]
    if unknown:
        raise BadArgument(f"domains: unknown {unknown}; known: {', '.join(reg.ids)}")
    snap = optional_snapshot(snapshot)
    order = reg.plan.rehearsal_order(domains or None)
    if not order:
        return MasterPlan(domains=[], snapshot=snap)
    store = store or Store()
    if snap is None:
        try:
            snap = latest_snapshot(store, order[0])
        except NotPublished as exc:
            raise StageError(exc.message) from None
    missing = [d for d in order if not store.exists(join(landing_uri(d, snap), MANIFEST))]
    if missing:
        raise StageError(
            f"snapshot {snap} is not published for {', '.join(missing)} "
            f"(landing/<domain>/{snap}/{MANIFEST}); deliver it or choose another snapshot"
        )
    base = optional_snapshot(base_snapshot, "base_snapshot")
    if base is not None and base >= snap:
        raise BadArgument(f"base_snapshot {base} must be earlier than the snapshot {snap}")
    bases = {
        d: (base if base and reg.plan[d].phase == "migration" else reg.plan[d].base_snapshot(snap))
        for d in order
    }
    return MasterPlan(
        domains=order,
        snapshot=snap,
        cutover_order=[d for d in reg.plan.cutover_order() if d in order],
        base_snapshots={d: b for d, b in bases.items() if b},
    )


def city_report(planned: MasterPlan | None, run_id: str, store: Store | None = None) -> dict:
    """The city-wide report of a master run (reports/_city/{run}/city.html + city.json)."""
    return build_city_report(planned or MasterPlan(), master_run_id=run_id, store=store or Store())
