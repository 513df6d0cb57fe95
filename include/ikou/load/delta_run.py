"""The load of a delta run (差分): what the ``load`` task does after ``diff`` published a delta set.

A rehearsal loads into its own schema (``ikou_rehearsal_<hex>``, dropped by its rollback), so the
base it applies the delta to is rehearsed too: the base run's published full hand-off set
(``handoff/{domain}/{base run}/``, sha256-checked) is loaded in full into this run's schema — the
load ahead of the cutover weekend — then the delta set is applied in one transaction
(:func:`ikou.load.delta_apply.load_delta`: the load log must show the base, and records the
result). Both steps are timed apart: ``apply_seconds`` is the part the cutover window holds.

A delta *cutover* (``mode=cutover`` with a base snapshot) applies the delta set to the live
schema, which holds the full load ahead (``mode=load_ahead``, recorded ``loaded_ahead``; the
cutover guard checked that the load log still shows it): no base load, the delta in one
transaction that also refuses a live domain and records ``loaded``. :func:`return_to_base` loads
the base's hand-off set in full again after a NO-GO (the target back at the load ahead).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ikou.config import settings
from ikou.domains import registry
from ikou.load import load_target
from ikou.load.control import Control
from ikou.load.delta_apply import DeltaRefused, load_delta
from ikou.load.target import Target, schema_for, table_name
from ikou.pipeline import cpu_time
from ikou.storage import Store, publication


def load_delta_run(
    domain_id: str,
    delta: dict,
    *,
    run_id: str,
    mode: str,
    store: Store,
    who: str = "",
) -> dict:
    """Load the base's full hand-off into the run's schema, then apply the delta set.

    ``delta`` is the diff stage's ``StageResult.delta`` (:func:`ikou.load.delta.publish_delta`'s
    result plus ``base_snapshot``). Returns what :func:`ikou.load.load_domain` returns (rows per
    table after the delta, the schema, ``manifest_sha256`` = the delta's ``result_sha256``) and
    ``delta``: status, ops per table, base / result sha256, seconds of both steps."""
    if mode not in ("rehearsal", "cutover"):
        raise DeltaRefused(
            f"{domain_id}: mode {mode} loads in full; a delta is rehearsed or cut over"
        )
    target = Target(settings().target_db_url, schema_for(mode, run_id))
    try:
        t0, c0 = time.monotonic(), cpu_time()
        guard = after = None
        if mode == "cutover":
            # the live schema holds the load ahead (the guard checked its load log); the delta's
            # transaction refuses a live domain and records `loaded` with the load-log row
            control = Control(target.base_url).ensure()
            guard = control.guard_in_transaction(domain_id)
            after = control.loaded_in_transaction(
                domain_id, delta["summary"]["snapshot"], run_id, who, delta["result_sha256"]
            )
        else:
            load_base(target, domain_id, delta, store, run_id=run_id, mode=mode, who=who)
        t1, c1 = time.monotonic(), cpu_time()
        out = load_delta(
            target,
            domain_id,
            store,
            delta["delta"],
            run_id=run_id,
            mode=mode,
            guard=guard,
            after=after,
        )
        t2, c2 = time.monotonic(), cpu_time()
        return {
            "handoff": delta["handoff"],
            "rows": out["rows"],
            "target_url": target.url,
            "schema": target.schema,
            "tables": {t: table_name(domain_id, t) for t in out["rows"]},
            "manifest_sha256": out["result_sha256"],
            "dialect": target.dialect,
            "delta": {
                "kind": "delta",
                "set": delta["delta"],
                "base_handoff": delta["base_handoff"],
                "status": out["status"],
                "ops": out["ops"],
                "base_snapshot": delta["base_snapshot"],
                "base_sha256": out["base_sha256"],
                "result_sha256": out["result_sha256"],
                "base_load_seconds": round(t1 - t0, 3),
                "base_load_cpu_seconds": round(c1 - c0, 3),
                "apply_seconds": round(t2 - t1, 3),
                "apply_cpu_seconds": round(c2 - c1, 3),
            },
        }
    finally:
        target.dispose()


def load_base(
    target: Target, domain_id: str, delta: dict, store: Store, *, run_id: str, mode: str, who: str
) -> dict[str, int]:
    """The base's published full hand-off set (sha256-checked) loaded in full into ``target``."""
    d = registry().get(domain_id)
    base_prefix = delta["base_handoff"]
    with tempfile.TemporaryDirectory(prefix="ikou-delta-base-") as tmp:
        published = publication.read_manifest(store, base_prefix)
        csvs = {
            t.name: publication.fetch(store, base_prefix, f"{t.name}.csv", Path(tmp), published)
            for t in d.layout.tables
        }
        return load_target(
            target,
            domain_id,
            csvs,
            run_id=run_id,
            snapshot=delta["base_snapshot"],
            manifest_sha256=published["handoff_manifest_sha256"],
            mode=mode,
            who=who,
        )


def return_to_base(
    target: Target, domain_id: str, delta: dict, store: Store, *, run_id: str, who: str
) -> dict[str, int]:
    """After a NO-GO delta cutover: the live schema loaded with the base's hand-off set in full
    again (as the load ahead did, logged with its manifest sha256), so it holds what
    ``loaded_ahead`` recorded and a later delta cutover can start from it."""
    return load_base(target, domain_id, delta, store, run_id=run_id, mode="load_ahead", who=who)
