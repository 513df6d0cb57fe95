"""The cleanse stage of one domain run.

    raw/{d}/{run}/  ->  cleansed/{d}/{run}/   tables, change ledgers (+ restricted values ledgers),
                                              _atena_map.parquet (old -> new 宛名番号) when merging
                        review/{d}/{run}/     the 名寄せ review queue and decisions (addressee master)
                        reports/{d}/{run}/    cleansing.json / .html and findings/cleanse.json

1. Every legacy file gets its rules by configuration (:mod:`ikou.cleanse.config`) in the city's
   context (town list and 外字 table of the snapshot's reference data).
2. The domain holding the addressee master (a field with role ``atena_no``) runs 名寄せ on it
   (:mod:`ikou.cleanse.dedupe`), applies the reviewers' decisions (:mod:`ikou.cleanse.review`),
   merges, and publishes the old → new map beside its cleansed tables. On a delta run (a base
   snapshot) the base's survivors and merges carry over (also to a survivor the snapshot
   deleted: ``delta_survivor_gone``), and an automatic merge that would change a migrated
   addressee goes to review (:mod:`ikou.cleanse.carry`).
3. Every domain rewrites its references to merged addressees by that map (its own, or the one of
   the master run that passed ``gate_standard`` for the snapshot) and records each rewrite.

Accounting per legacy file: records in = out + merged (cleansing quarantines nothing; extract's
quarantine is reported beside it).

A large file is cleansed in record ranges (issue 13 §2, :mod:`ikou.stages.cleanse_parts`):
:func:`plan` (task ``cleanse_plan``) splits it, :func:`part` (one mapped ``cleanse_parts`` task
instance per range) cleanses one range, and :func:`run` (task ``cleanse``) checks the parts,
runs 名寄せ and streams the parts into the file's outputs — the same tables, ledgers and findings
as the whole file's. 名寄せ (:func:`dedupe_master`) is not split: its blocking rules share no
single key, so a split of the records would lose candidate pairs; it reads the master's dedupe
columns only. A small file is cleansed whole in :func:`run`, the same way in one range.
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
from collections import Counter
from pathlib import Path

from ikou.cleanse import carry as CA
from ikou.cleanse import merge as M
from ikou.cleanse import report as RP
from ikou.cleanse.config import load_context
from ikou.cleanse.stage import RecordKeyHashes, ledger_order, record_keys
from ikou.config import settings
from ikou.domains import registry
from ikou.domains.schema import ADDRESSEE_REFERENCE_ROLES
from ikou.findings import Findings
from ikou.load.control import Control
from ikou.load.cutover import delta_base
from ikou.pipeline import (
    CleansePart,
    CleansePartResult,
    RunContext,
    StageResult,
    UnitAccounting,
    cpu_time,
    mapped_clock,
    with_plan_clock,
)
from ikou.stages import cleanse_parts as CP
from ikou.stages.common import (
    StageError,
    balanced,
    check_stored_sha256,
    legacy_file,
    logged_plan,
    write_report,
)
from ikou.stages.extract_merge import as_list
from ikou.storage import (
    NotPublished,
    ObjectChanged,
    Store,
    join,
    publication,
    reference_uri,
    zone_uri,
)

MAP_FILE = "_atena_map.parquet"

log = logging.getLogger(__name__)


def master_map(
    snapshot: str, store, exclude_domain: str | None = None
) -> tuple[dict[str, str], str]:
    """(old -> new map, where it came from) of the addressee master's run that passed gate_standard
    for the snapshot; empty when there is none yet."""
    import pyarrow.parquet as pq

    master_domain, _ = registry().addressee_master()
    if master_domain == exclude_domain:
        return {}, ""
    try:
        pointer = publication.latest_validated(store, master_domain, snapshot)
    except NotPublished:
        return {}, ""
    prefix = zone_uri("cleansed", master_domain, pointer["run_id"])
    try:
        manifest = publication.read_manifest(store, prefix)
    except NotPublished:
        return {}, ""
    if not any(f["name"] == MAP_FILE for f in manifest["files"]):
        return {}, join(prefix, MAP_FILE)
    data = store.get_bytes(join(prefix, MAP_FILE))
    return M.map_from_table(pq.read_table(io.BytesIO(data))), join(prefix, MAP_FILE)


def base_pointer(ctx: RunContext, base_snapshot: str, store) -> dict:
    """The base snapshot's validated run a delta run starts from (``{"run_id", "uri", …}``): on a
    delta cutover the one loaded ahead (:func:`ikou.load.cutover.delta_base`: its hand-off is what
    the live schema holds; a later run of the base snapshot must not slip in — the guard's rules
    are checked again, :class:`ikou.load.cutover.CutoverRefused`), else the latest that passed
    gate_standard. The diff and 名寄せ's carry-over take the same base."""
    if ctx.delta_cutover:
        return delta_base(ctx.domain, base_snapshot, Control(), store)
    try:
        return publication.latest_validated(store, ctx.domain, base_snapshot)
    except NotPublished as exc:
        raise StageError(
            f"{ctx.domain}: base_snapshot {base_snapshot} has no validated output ({exc.message}); "
            "a delta run needs its base migrated first"
        ) from None


def base_migration(ctx: RunContext, d, lf, store) -> CA.Base:
    """The addressee master as the base snapshot migrated it (the cleansed master of the base's
    validated run, :func:`base_pointer`: every surviving 宛名番号, plus its old -> new map)."""
    import pyarrow.parquet as pq

    base_snapshot = ctx.base_snapshot or ""  # called on a delta run only (ctx.base_snapshot set)
    pointer = base_pointer(ctx, base_snapshot, store)
    try:
        prefix = zone_uri("cleansed", d.id, pointer["run_id"])
        manifest = publication.read_manifest(store, prefix)
    except NotPublished as exc:
        raise StageError(
            f"{d.id}: base_snapshot {base_snapshot}: its validated run {pointer['run_id']} "
            f"has no cleansed output ({exc.message}); "
            "a delta run needs its base migrated first"
        ) from None
    names = {f["name"] for f in manifest["files"]}
    table = pq.read_table(io.BytesIO(store.get_bytes(join(prefix, f"{lf.name}.parquet"))))
    ids = {M.atena_text(v) for v in table.column(lf.fields_with_role("atena_no")[0]).to_pylist()}
    amap = (
        M.map_from_table(pq.read_table(io.BytesIO(store.get_bytes(join(prefix, MAP_FILE)))))
        if MAP_FILE in names
        else {}
    )
    return CA.Base({a for a in ids if a}, amap)


def dedupe_master(
    d,
    lf,
    table,
    findings,
    run_id: str,
    store,
    key_hash,
    base: CA.Base | None = None,
    temp_directory: Path | None = None,
) -> tuple[dict, dict, dict]:
    """名寄せ of the addressee master: (old -> new map, counts for the report, review files).
    One step over the whole master even when it was cleansed in parts: the blocking rules
    (name, kana, birth date, address …) share no single key, so no split of the records keeps
    every candidate pair.
    ``table``: the cleansed master (at least the columns :func:`ikou.cleanse.merge.dedupe_columns`
    names); ``base``: a delta run's base migration (:mod:`ikou.cleanse.carry`);
    ``temp_directory``: where DuckDB spills beyond IKOU_DEDUPE_MEMORY_LIMIT
    (``settings().dedupe_memory_limit``)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ikou.cleanse import review as RV
    from ikou.cleanse.dedupe import DedupeConfig, dedupe

    spec = d.cleanse.dedupe
    records = M.dedupe_input(table, lf)
    res = dedupe(
        records,
        DedupeConfig(
            auto_merge=spec.auto_merge,
            review=spec.review,
            max_auto_cluster=spec.max_auto_cluster,
            memory_limit=settings().dedupe_memory_limit,
            temp_directory=None if temp_directory is None else str(temp_directory),
        ),
    )
    decisions = RV.load_decisions(d.id, store)
    clusters = res.clusters if base is None else CA.open_survivor_gone(res.clusters, base)
    clusters, decisions = RV.apply_decisions(clusters, decisions)
    held: Counter = Counter()
    if base is not None:  # a delta run: migrated addressees change only by a person's decision
        clusters, held = CA.hold_migrated(clusters, base)
    applied = {x.cluster: x.survivor for x in decisions if x.status == "applied" and x.survivor}
    ids = records.column("atena_id").combine_chunks()

    def positions(atena) -> list[int]:
        """Rows of ``records`` of these 宛名番号, in ascending order (Arrow: no per-record dict
        of a million-record master)."""
        at = pc.index_in(pa.array(atena, pa.string()), value_set=ids).drop_null()
        return sorted(set(at.to_pylist()))

    final_col = clusters.column("final")
    merging_ids = clusters.filter(pc.is_in(final_col, value_set=pa.array(sorted(CA.MERGING))))
    merging = positions(merging_ids.column("atena_id").to_pylist())
    rows = {r["atena_id"]: r for r in records.take(merging).to_pylist()} if merging else {}
    amap = CA.merge_map(clusters, rows, applied, M.survivor, base)
    queue = RV.build_queue(clusters, records)
    # findings: counts with keyed hashes only (the master's record key is its 宛名番号)
    queued = positions(queue.column("atena_id").to_pylist())
    if queued:
        findings.extend(
            "duplicate_review",
            "info",
            lf.fields_with_role("atena_no")[0],
            key_hash(queued),
            detail="possible duplicate addressee: queued for review (名寄せ)",
        )
    # a delta run: a record kept merged into the base's survivor, which the snapshot deleted
    targets = pa.array(sorted(set(amap.values())), pa.string())
    present = set(targets.filter(pc.is_in(targets, value_set=ids)).to_pylist())
    gone = CA.survivor_gone(amap, present)
    if gone:
        findings.extend(
            CA.SURVIVOR_GONE,
            "warning",
            lf.fields_with_role("atena_no")[0],
            key_hash(positions(gone)),
            detail="kept merged into the base's survivor, which the snapshot deleted: not "
            "published; the mainframe should retire it (references to it: orphan_reference)",
        )
    merged_rows = positions(list(amap))
    if merged_rows:
        findings.extend(
            "duplicate_merged",
            "info",
            lf.fields_with_role("atena_no")[0],
            key_hash(merged_rows),
            detail="duplicate addressee merged into another 宛名番号",
        )
    final = Counter({r["values"]: r["counts"] for r in pc.value_counts(final_col).to_pylist()})
    by = Counter(
        {
            (r["final"], r["decided_by"]): r["count_all"]
            for r in clusters.group_by(["final", "decided_by"])
            .aggregate([([], "count_all")])
            .to_pylist()
        }
    )
    info = {
        "addressee_records": records.num_rows,
        "clusters": res.stats["clusters"],
        "auto_merge_records": by[("auto_merge", "model")],
        "merged_by_reviewer_records": by[("merge", "reviewer")],
        "distinct_by_reviewer_records": by[("distinct", "reviewer")],
        "review_records": final["review"],
        "delta_held_records": sum(held.values()),  # a delta run: auto-merges sent to review
        "delta_held_by_reason": dict(sorted(held.items())),
        "delta_survivor_gone_records": len(gone),  # kept merged into a deleted survivor
        "review_clusters": len(set(queue.column("cluster").to_pylist())),
        "merged_records": len(amap),
        "map_entries": len(amap),
        "dedupe_seconds": res.stats["seconds"]["total"],
        "decisions": RV.status_counts(decisions),
        "thresholds": res.stats["thresholds"],
    }
    files = {}
    clustered = clusters.filter(pc.not_equal(clusters.column("decision"), "distinct"))
    for name, t in (
        (RV.QUEUE, queue),
        (RV.CLUSTERS, clustered),
        (RV.APPLIED, RV.decisions_table(decisions, run_id)),
    ):
        buf = io.BytesIO()
        pq.write_table(t, buf, compression="zstd")
        files[name] = buf.getvalue()
    return amap, info, files


def plan(ctx: RunContext, extracted: StageResult, store: Store | None = None) -> list[CleansePart]:
    """The record ranges of the domain's large legacy files (the mapped ``cleanse_parts``): a
    file of more than ``IKOU_CLEANSE_PART_ROWS`` records (default 500,000) is split into ranges
    of about that many (at most ``IKOU_CLEANSE_MAX_PARTS``); the others are cleansed whole by
    :func:`run` (:mod:`ikou.stages.cleanse_parts`)."""
    part_rows, max_parts = CP.part_settings()
    store = store or Store()
    d = registry().get(ctx.domain)
    planned_at, cpu0 = time.time(), cpu_time()
    parts: list[CleansePart] = []
    manifest: dict | None = None
    for lf in d.legacy_files:
        rows = extracted.units.get(lf.name, 0)
        ranges = CP.row_ranges(rows, part_rows, max_parts)
        if not ranges:
            continue
        # the parts read ranges of the file (CP.fetch_rows): its sha256 is checked here, once,
        # and they read the version checked (its ETag)
        manifest = manifest or publication.read_manifest(store, extracted.published)
        name = f"{lf.name}.parquet"
        uri = join(extracted.published, name)
        entry = next((f for f in manifest["files"] if f["name"] == name), None)
        if entry is None:
            raise StageError(f"{extracted.published}: the manifest lists no file {name!r}")
        info = store.head(uri)
        check_stored_sha256(store, uri, info.etag, entry.get("sha256"), "its manifest")
        parts.extend(
            CleansePart(
                file=lf.name,
                snapshot=extracted.snapshot,
                source=extracted.published,
                index=i,
                parts=len(ranges),
                start=start,
                end=end,
                rows=rows,
                planned_at=planned_at,
                size=info.size,
                etag=info.etag,
            )
            for i, (start, end) in enumerate(ranges)
        )
    return logged_plan(log, "cleanse_plan", ctx.domain, with_plan_clock(parts, planned_at, cpu0))


def part(ctx: RunContext, planned: CleansePart, store: Store | None = None) -> CleansePartResult:
    """Cleanse one record range of a large legacy file (a mapped ``cleanse_parts`` task
    instance) into part files under ``cleansed/{d}/{run}/_parts/{FILE}/``; nothing is
    published: :func:`run` merges the parts and publishes."""
    import pyarrow.parquet as pq

    started, cpu0 = time.monotonic(), cpu_time()
    store = store or Store()
    d = registry().get(ctx.domain)
    lf = legacy_file(d, planned.file)
    city = load_context(reference_uri(planned.snapshot), store, d)
    findings = Findings(ctx.domain, ctx.run_id, "cleanse")
    with tempfile.TemporaryDirectory(prefix="ikou-cleanse-part-") as tmp:
        work = Path(tmp)
        uri = join(planned.source, f"{lf.name}.parquet")
        try:
            table, rows = CP.fetch_rows(
                store, uri, planned.size, planned.etag, planned.start, planned.end, work
            )
        except ObjectChanged:
            raise StageError(f"{uri} changed after cleanse_plan: run the cleanse again") from None
        if rows != planned.rows:
            raise StageError(
                f"{uri}: {rows} records, cleanse_plan planned {planned.rows}: run the cleanse again"
            )
        lp = CP.cleanse_range(
            table, d, lf, city, findings, work, f"part-{planned.index:05d}", planned.index,
            planned.start,
        )  # fmt: skip
        records_in = table.num_rows
        del table
        files, sha, size = CP.store_part(lp, CP.part_prefix(ctx.domain, ctx.run_id, lf.name), store)
        records_out = pq.ParquetFile(lp.table).metadata.num_rows
    return CleansePartResult(
        file=lf.name,
        index=planned.index,
        parts=planned.parts,
        start=planned.start,
        end=planned.end,
        planned_at=planned.planned_at,
        files=files,
        sha256=sha,
        bytes=size,
        records_in=records_in,
        records_out=records_out,
        changes=sum(n for *_, n in lp.entries),
        findings=len(findings),
        seconds=round(time.monotonic() - started, 3),
        cpu_seconds=round(cpu_time() - cpu0, 3),
    )


def apply_map(
    d, lf, is_master: bool, table, amap: dict[str, str], fixed: Counter, ledger_counts: dict
):
    """名寄せ's map applied to a cleansed file (the master, ``is_master``, leaves its merged
    records out; every reference to a merged addressee rewritten): (table, merged, rewritten,
    [(ledger, values)]). ``table`` holds the columns the steps read and write (:func:`run`: of
    the whole file)."""
    import pyarrow as pa

    steps = []
    if is_master and amap:
        steps.append(M.apply_to_master)
    if amap and lf.fields_with_role(*ADDRESSEE_REFERENCE_ROLES):
        steps.append(M.apply_to_references)
    merged = rewritten = 0
    ledgers = []
    for step in steps:
        mr = step(table, lf, amap)
        if mr.ledger:
            # record keys and numbers of the ledger's rows only, by row
            at = sorted({r[0] for r in mr.ledger})
            sub = table.take(pa.array(at, pa.int64()))
            raw_keys = dict(zip(at, record_keys(sub, list(lf.business_keys))))
            records = dict(
                zip(
                    at,
                    sub.column("_record").to_pylist() if "_record" in sub.column_names else at,
                )
            )
            ledgers.append(M.ledger_tables(d.id, lf, mr.ledger, raw_keys, records, None))
            for r in mr.ledger:
                fixed[f"{r[2]}.{lf.name}.{r[1]}"] += 1
                ledger_counts[f"{lf.name}.{r[2]}.{r[1]}"] = (
                    ledger_counts.get(f"{lf.name}.{r[2]}.{r[1]}", 0) + 1
                )
        table, merged, rewritten = mr.table, merged + mr.merged, rewritten + mr.rewritten
    return table, merged, rewritten, ledgers


def map_columns(
    lf, is_master: bool, names: list[str], amap: dict[str, str]
) -> tuple[list[str], list[str]]:
    """(columns :func:`apply_map` reads, columns it may rewrite) of a cleansed file with these
    column ``names``; none when the map does not apply to the file."""
    refs = [f for f in lf.fields_with_role(*ADDRESSEE_REFERENCE_ROLES) if f in names]
    master = lf.fields_with_role("atena_no") if is_master else []
    if not amap or not (master or lf.fields_with_role(*ADDRESSEE_REFERENCE_ROLES)):
        return [], []
    read = list(lf.business_keys) + ["_record"] + master[:1] + refs
    return [c for c in dict.fromkeys(read) if c in names], refs


def run(
    ctx: RunContext,
    extracted: StageResult,
    store: Store | None = None,
    *,
    plan: object = None,
    parts: object = None,
) -> StageResult:
    """Cleanse the raw tables by the domain's rules (ledger every change); 名寄せ of the
    addressee master with its review queue; references to merged addressees rewritten; the
    cleansing report. ``plan`` / ``parts``: what :func:`plan` planned and the :func:`part`
    results — a planned file is merged from its parts, every other file cleansed here whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    started, cpu0 = time.monotonic(), cpu_time()
    store = store or Store()
    domain_id, run_id, mode = ctx.domain, ctx.run_id, ctx.mode
    reg = registry()
    d = reg.get(domain_id)
    snap = extracted.snapshot
    planned = as_list(plan, CleansePart)
    results = as_list(parts, CleansePartResult)
    by_file: dict[str, list[CleansePart]] = {}
    for p in planned:
        by_file.setdefault(p.file, []).append(p)
    unknown = sorted(set(by_file) - {lf.name for lf in d.legacy_files})
    if unknown:
        raise StageError(f"{domain_id}: cleanse_plan planned parts of unknown file(s) {unknown}")
    findings = Findings(domain_id, run_id, "cleanse")
    city = load_context(reference_uri(snap), store, d)
    if city.towns is None:
        findings.add(
            "no_town_list", "warning", detail="the snapshot has no towns.csv: addresses not checked"
        )
    out_prefix = zone_uri("cleansed", domain_id, run_id)
    extract_acc = {a.unit: a.row() for a in extracted.accounting}
    master_lf = next((lf for lf in d.legacy_files if lf.fields_with_role("atena_no")), None)
    refers = any(lf.fields_with_role(*ADDRESSEE_REFERENCE_ROLES) for lf in d.legacy_files)
    accounting: list[dict] = []
    files: dict = {}
    ledger_counts: dict[str, int] = {}
    fixed: Counter = Counter()
    problems: Counter = Counter()
    stats: Counter = Counter()
    file_rows = []
    merge_info: dict = {}
    review_files: dict = {}
    amap: dict[str, str] = {}
    map_source = ""
    parts_by_file: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="ikou-cleanse-") as tmp:
        work = Path(tmp)
        manifest = publication.read_manifest(store, extracted.published)
        # Every file is cleansed in record ranges into local files (its parts, fetched from
        # cleanse_parts, or the whole file as one range here) and streamed from them into its
        # output: never two files in memory, a partitioned file never whole. The addressee
        # master is cleansed first (名寄せ reads its dedupe columns). Each file's findings are
        # kept apart and joined in the files' order, 名寄せ's last (the report's order).
        file_findings = {lf.name: Findings(domain_id, run_id, "cleanse") for lf in d.legacy_files}
        dedupe_findings = Findings(domain_id, run_id, "cleanse")

        def file_parts(lf) -> list[CP.LocalPart]:
            if lf.name in by_file:
                mine = by_file[lf.name]
                checked = CP.check_parts(lf, mine, [r for r in results if r.file == lf.name])
                want = extract_acc.get(lf.name, {}).get("records_out")
                if want is not None and mine[0].rows != want:
                    raise StageError(
                        f"{lf.name}: cleanse_plan planned {mine[0].rows} records, the extract "
                        f"wrote {want}: run the cleanse again"
                    )
                return [CP.fetch_part(r, d, run_id, work / "parts", store) for r in checked]
            src = publication.fetch(
                store, extracted.published, f"{lf.name}.parquet", work / "in", manifest
            )
            table = pq.read_table(src)
            src.unlink()
            lp = CP.cleanse_range(
                table, d, lf, city, Findings(domain_id, run_id, "cleanse"), work / "parts",
                lf.name, 0, 0,
            )  # fmt: skip
            del table
            pa.default_memory_pool().release_unused()
            return [lp]

        cleansed: dict[str, list[CP.LocalPart]] = {}
        if master_lf is not None and d.cleanse.dedupe.enabled:
            mparts = cleansed[master_lf.name] = file_parts(master_lf)
            purpose = f"record:{d.id}:{master_lf.name}"
            keys = list(master_lf.business_keys)
            # in memory during 名寄せ: the columns it reads and the record keys (findings),
            # read from the cleansed parts; the rest of the master waits in them
            empty = CP.schema_of(mparts).empty_table()
            cols = list(dict.fromkeys(M.dedupe_columns(empty, master_lf) + keys))
            t = CP.read_columns(mparts, cols).select(cols)
            key_hash = RecordKeyHashes(t, keys, purpose, None)
            base = base_migration(ctx, d, master_lf, store) if ctx.base_snapshot else None
            (work / "duckdb").mkdir()
            amap, merge_info, review_files = dedupe_master(
                d, master_lf, t, dedupe_findings, run_id, store, key_hash, base, work / "duckdb"
            )
            del t, key_hash  # both held the master's columns through every other file
            map_source = "this run"
        elif refers:
            amap, map_source = master_map(
                snap, store, exclude_domain=None if master_lf is None else d.id
            )
        rewritten_total = 0
        for lf in d.legacy_files:
            lparts = cleansed.pop(lf.name, None) or file_parts(lf)
            n_in = sum(p.records_in for p in lparts)
            file_findings[lf.name].merge([p.findings for p in lparts])
            n_findings = len(file_findings[lf.name])
            names = CP.schema_of(lparts).names
            read, rewrites = map_columns(lf, lf is master_lf, names, amap)
            mapped, merged, ledgers = None, 0, []
            if read:  # 名寄せ's map over the columns it reads and rewrites, of the whole file
                mapped, merged, rewritten, ledgers = apply_map(
                    d, lf, lf is master_lf, CP.read_columns(lparts, read), amap, fixed,
                    ledger_counts,
                )  # fmt: skip
                rewritten_total += rewritten
            out = work / f"{lf.name}.parquet"
            n_out = CP.write_file(lparts, out, mapped, tuple(rewrites))
            files[out.name] = out
            del mapped
            led = work / f"{lf.name}.ledger.parquet"
            vals = work / f"_values.{lf.name}.ledger.parquet"
            changes = CP.write_ledgers(lparts, ledger_order(d, lf, city), led, vals, ledgers)
            files[led.name] = led
            files[vals.name] = vals
            for k, v in changes.items():
                ledger_counts[f"{lf.name}.{k}"] = v
                rule, _, fld = k.partition(".")
                fixed[f"{rule}.{lf.name}.{fld}"] += v
            for k, v in CP.sum_counts([p.problems for p in lparts]).items():
                rule, _, fld = k.partition(".")
                problems[f"{rule}.{lf.name}.{fld}"] += v
            for k, v in CP.sum_counts([p.stats for p in lparts]).items():
                rule, _, fld = k.partition(".")
                stats[f"{rule}.{lf.name}.{fld}"] += v
            acc = {
                "unit": lf.name,
                "records_in": n_in,
                "records_out": n_out,
                "quarantined": 0,
                "merged": merged,
                "changes": sum(changes.values()),
                "parts": len(lparts),
            }
            # in = out + merged for the file, and in = out for each of its parts (checked as
            # each was cleansed and as the merge got them: CP.cleanse_range, CP.check_parts)
            acc["balanced"] = balanced(acc) and n_in == sum(p.end - p.start for p in lparts)
            accounting.append(acc)
            if lf.name in by_file:  # each part's accounting beside the file's (the manifest)
                parts_by_file[lf.name] = [
                    {
                        "part": r.index,
                        "records": [r.start, r.end],
                        "records_in": r.records_in,
                        "records_out": r.records_out,
                        "merged": r.merged,
                        "changes": r.changes,
                        "findings": r.findings,
                    }
                    for r in sorted(results, key=lambda r: r.index)
                    if r.file == lf.name
                ]
            file_rows.append(
                {
                    "unit": lf.name,
                    "records_in": n_in,
                    "records_out": n_out,
                    "merged": merged,
                    "quarantined_at_extract": extract_acc.get(lf.name, {}).get("quarantined", 0),
                    "fixed": sum(changes.values()),
                    "findings": n_findings,
                }
            )
            for p in lparts:  # the next file's parts take their place on disk
                for path in (p.table, p.ledger, p.values):
                    path.unlink(missing_ok=True)
        for lf in d.legacy_files:
            findings.items.extend(file_findings[lf.name].items)
        findings.items.extend(dedupe_findings.items)
        if amap:
            mpath = work / MAP_FILE
            pq.write_table(M.map_table(amap), mpath)
            files[MAP_FILE] = mpath
        publication.publish(
            store,
            out_prefix,
            files,
            {
                "zone": "cleansed",
                "stage": "cleanse",
                "domain": domain_id,
                "run_id": run_id,
                "snapshot": snap,
                "input": extracted.uri,
                "accounting": accounting,
                "ledger_counts": ledger_counts,
                "atena_map": {"entries": len(amap), "source": map_source},
                "parts": parts_by_file,
                "files": CP.manifest_entries(out_prefix, results) if by_file else [],
            },
        )
        review_uri = ""
        if review_files:
            review_uri = zone_uri("review", domain_id, run_id)
            rpaths = {}
            for name, data in review_files.items():
                p = work / f"review-{name}"
                p.write_bytes(data)
                rpaths[name] = p
            publication.publish(
                store,
                review_uri,
                rpaths,
                {
                    "zone": "review",
                    "stage": "cleanse",
                    "domain": domain_id,
                    "run_id": run_id,
                    "snapshot": snap,
                    "review_records": merge_info.get("review_records", 0),
                },
            )
    if amap and not merge_info:
        merge_info = {"map_entries": len(amap)}
    if merge_info:
        merge_info["references_rewritten"] = rewritten_total
        merge_info["map_source"] = (
            "addressee master run" if map_source and map_source != "this run" else map_source
        )
    severities = Counter(f.severity for f in findings.items)
    names = Counter(f.rule for f in findings.items)
    for f in findings.items:  # findings the per-file tables do not count (dedupe, context)
        if f.rule in ("duplicate_review", "no_town_list", CA.SURVIVOR_GONE):
            problems[f"{f.rule}.{f.field or '-'}"] += f.count
    previous = RP.previous_points(domain_id, run_id, store)
    doc = RP.build(
        d,
        run_id=run_id,
        snapshot=snap,
        mode=mode,
        files=file_rows,
        fixed=dict(fixed),
        problems=dict(problems),
        severities=dict(severities),
        stats=dict(stats),
        names=dict(names),
        merge=merge_info,
        previous=previous,
    )
    report_json, report_html = RP.write(doc, store)
    write_report(
        domain_id,
        run_id,
        "findings/cleanse.json",
        {
            "summary": findings.summary(),
            "ledger_counts": ledger_counts,
            "findings": findings.rows(),
        },
        store,
    )
    seconds, cpu, task_seconds = mapped_clock(started, cpu0, planned, results)
    return StageResult.of(
        ctx,
        "cleanse",
        snap,
        out_prefix,
        [UnitAccounting(**a) for a in accounting],
        seconds,
        findings.by_rule(),
        cpu_seconds=cpu,
        task_seconds=task_seconds,
        changes=sum(fixed.values()),
        fixed_by_rule_field=dict(sorted(fixed.items())),
        findings_by_rule_field=dict(sorted(problems.items())),
        review={
            "uri": review_uri,
            "records": merge_info.get("review_records", 0),
            "clusters": merge_info.get("review_clusters", 0),
        },
        atena_map_entries=len(amap),
        parts={f: len(v) for f, v in by_file.items()},
        report=report_html,
        report_json=report_json,
    )


def atena_map_for(validated: StageResult, store: Store) -> dict[str, str] | None:
    """The old -> new 宛名番号 map the domain's cleanse applied (for the hand-off), or None."""
    import pyarrow.parquet as pq

    try:
        vman = publication.read_manifest(store, validated.published)
        cprefix = vman.get("input")
        if not cprefix:
            return None
        cman = publication.read_manifest(store, cprefix)
    except NotPublished:
        return None
    if not any(f["name"] == MAP_FILE for f in cman["files"]):
        return None
    return M.map_from_table(pq.read_table(io.BytesIO(store.get_bytes(join(cprefix, MAP_FILE)))))
