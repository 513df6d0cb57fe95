"""A domain's full load in partitions (issue 13 §2): plan, stage each partition, swap.

* :func:`plan_partitions` (task ``load_plan``) publishes the run's hand-off set as the single-task
  load does (or finds it published), then splits each standard table by the 宛名番号 hash into
  ``P`` CSV files (:mod:`ikou.load.partitions`, streamed from the Parquet published beside the
  CSV) under the hand-off prefix's ``_parts/`` (beside the set, not in its manifests), and starts
  the run's staging afresh. It returns one :class:`~ikou.pipeline.LoadPart` per partition: URIs,
  sha256 and row counts.
* :func:`load_partition` (mapped task ``load_parts``) fetches its files (sha256-checked) and
  stages them (:meth:`ikou.load.staging.Staging.stage`: idempotent, a killed one leaves nothing).
* :func:`swap_partitions` (task ``load``) checks the accounting per partition and in total, swaps
  the staged tables into the target and writes the load log, in one transaction
  (:func:`ikou.load.logged_load`: the same sweep, guard, cutover event and log as the
  single-task load). A swap retried after its transaction committed finds this run's load in the
  load log and returns it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ikou.config import settings
from ikou.domains import registry
from ikou.load import load_result, logged_load, run_handoff
from ikou.load.control import Control
from ikou.load.partitions import split_table
from ikou.load.staging import Planned, Staging, StagingError
from ikou.load.target import Target, schema_for, table_name
from ikou.pipeline import LoadPart, LoadPartResult, StageResult, cpu_time, with_plan_clock
from ikou.storage import Store, join, publication, sha256_file, zone_uri


def _target(mode: str, run_id: str) -> Target:
    return Target(settings().target_db_url, schema_for(mode, run_id))


def parts_prefix(domain_id: str, run_id: str) -> str:
    return join(zone_uri("handoff", domain_id, run_id), "_parts/")


def plan_partitions(
    domain_id: str,
    validated: StageResult,
    parts: int,
    run_id: str,
    mode: str,
    store: Store,
    atena_map: dict[str, str] | None = None,
) -> list[LoadPart]:
    planned_at, cpu0 = time.time(), cpu_time()  # the stage's clocks start with the plan
    d = registry().get(domain_id)
    out_prefix = parts_prefix(domain_id, run_id)
    target = _target(mode, run_id)
    try:
        with tempfile.TemporaryDirectory(prefix="ikou-load-plan-") as tmp:
            work = Path(tmp)
            prefix, sha, csvs = run_handoff(
                d, validated, store, work, run_id=run_id, mode=mode, atena_map=atena_map
            )
            published = publication.read_manifest(store, prefix)
            files: dict[int, dict[str, tuple[str, str, int]]] = {i: {} for i in range(parts)}
            totals: dict[str, int] = {}
            for t in d.layout.tables:
                csvs[t.name].unlink(missing_ok=True)  # the partitions come from the Parquet
                pq_path = work / f"{t.name}.parquet"
                if not pq_path.exists():  # a retry: the published Parquet, sha256-checked
                    pq_path = publication.fetch(store, prefix, pq_path.name, work, published)
                outs = [work / "parts" / f"{t.name}.p{i:05d}.csv" for i in range(parts)]
                outs[0].parent.mkdir(exist_ok=True)
                counts = split_table(domain_id, t, pq_path, parts, outs)
                pq_path.unlink()
                totals[t.name] = sum(counts)
                for i, (path, n) in enumerate(zip(outs, counts)):
                    uri = join(out_prefix, path.name)
                    digest = sha256_file(path)
                    store.put_file(uri, path, content_type="text/csv")
                    path.unlink()
                    files[i][t.name] = (uri, digest, n)
        # a new plan stages afresh: nothing a failed earlier attempt (or run) staged is taken
        Staging(target, domain_id, d.layout, run_id).discard(every_run=True)
    finally:
        target.dispose()
    return with_plan_clock(
        [
            LoadPart(
                index=i,
                parts=parts,
                snapshot=validated.snapshot,
                handoff=prefix,
                manifest_sha256=sha,
                files={t: f[0] for t, f in files[i].items()},
                sha256={t: f[1] for t, f in files[i].items()},
                rows={t: f[2] for t, f in files[i].items()},
                total_rows=totals,
                planned_at=planned_at,
            )
            for i in range(parts)
        ],
        planned_at,
        cpu0,
    )


def load_partition(
    domain_id: str, part: LoadPart, *, run_id: str, mode: str, store: Store
) -> LoadPartResult:
    started, cpu0 = time.monotonic(), cpu_time()
    d = registry().get(domain_id)
    target = _target(mode, run_id)
    try:
        with tempfile.TemporaryDirectory(prefix="ikou-load-part-") as tmp:
            csvs = {}
            for t, uri in part.files.items():
                path = store.download(uri, Path(tmp) / f"{t}.csv")
                if sha256_file(path) != part.sha256[t]:
                    raise StagingError(
                        f"{domain_id}.{t}: partition {part.index + 1}/{part.parts}: the file's "
                        "sha256 differs from the plan's; clear load_plan"
                    )
                csvs[t] = path
            rows = Staging(target, domain_id, d.layout, run_id).stage(part.index, csvs, part.sha256)
    finally:
        target.dispose()
    if rows != part.rows:  # the partition's own accounting: in = out
        raise StagingError(
            f"{domain_id}: partition {part.index + 1}/{part.parts} staged {rows}, planned {part.rows}"
        )
    return LoadPartResult(
        index=part.index,
        parts=part.parts,
        rows=rows,
        seconds=round(time.monotonic() - started, 3),
        cpu_seconds=round(cpu_time() - cpu0, 3),
    )


def planned_of(parts: list[LoadPart]) -> Planned:
    return {p.index: {t: (p.rows[t], p.sha256[t]) for t in p.rows} for p in parts}


def swap_partitions(
    domain_id: str,
    parts: list[LoadPart],
    results: list[LoadPartResult],
    *,
    run_id: str,
    mode: str,
    who: str = "",
) -> dict:
    """The swap of a partitioned load (see the module docstring); the result as
    :func:`ikou.load.load_domain` returns it."""
    d = registry().get(domain_id)
    parts = sorted(parts, key=lambda p: p.index)
    first = parts[0]
    if len(parts) != first.parts or sorted(p.index for p in parts) != list(range(first.parts)):
        raise StagingError(f"{domain_id}: the plan lists {len(parts)} of {first.parts} partitions")
    # the partition tasks' own results (XCom) agree with the plan: in = out per partition
    for r in results:
        if r.index >= len(parts) or r.rows != parts[r.index].rows:
            raise StagingError(
                f"{domain_id}: partition {r.index + 1}/{first.parts} staged {r.rows}"
            )
    target = _target(mode, run_id)
    staging = Staging(target, domain_id, d.layout, run_id)
    try:
        if not staging.exists():
            rows = _swapped_before(target, d, run_id, first.manifest_sha256)
        else:
            run = {"run_id": run_id, "snapshot": first.snapshot, "mode": mode}
            rows = logged_load(
                target,
                domain_id,
                lambda guard, after: staging.swap(planned_of(parts), guard, after),
                {**run, "manifest_sha256": first.manifest_sha256},
                who=who,
            )
        if rows != first.total_rows:  # the total: the hand-off's rows, every one loaded
            raise StagingError(f"{domain_id}: loaded {rows}, the hand-off holds {first.total_rows}")
        res = load_result(first.handoff, target, domain_id, rows, first.manifest_sha256)
        return {**res, "partitions": first.parts}
    finally:
        target.dispose()


def _swapped_before(target: Target, d, run_id: str, manifest_sha256: str) -> dict[str, int]:
    """Nothing staged: a swap whose transaction committed before its task died (its load-log
    row is there) — the rows as loaded; else the staging is gone and the plan must run again."""
    logged = [
        r
        for r in Control(target.base_url).loads_of(d.id)
        if r["run_id"] == run_id
        and r["manifest_sha256"] == manifest_sha256
        and r["target_schema"] == target.schema
        and not r.get("dropped_at")
    ]
    if not logged:
        raise StagingError(
            f"{d.id}: nothing is staged for this run and its load is not logged; clear load_plan "
            "to stage the run again"
        )
    return {
        t.name: int(
            target.scalar(f"SELECT count(*) FROM {target.qualified(table_name(d.id, t.name))}")
        )
        for t in d.layout.tables
    }
