"""The extract stage: a snapshot's legacy files decoded into the raw zone (Parquet).

    landing/{d}/{snapshot}/  ->  raw/{d}/{run}/{FILE}.parquet (+ .gaiji.parquet)
                                 quarantine/{d}/{run}/{FILE}.quarantine.jsonl (raw bytes)
                                 reports/{d}/{run}/gaiji_worklist.json, findings/extract.json

Large F/FB files are decoded in byte ranges: :func:`plan` (the ``extract_plan`` task) splits
them, :func:`part` (one mapped ``extract_parts`` task instance per range) decodes one range,
and :func:`run` (the ``extract`` task) merges the parts with the files it decodes whole, checks
the trailers over each whole file and publishes. The cutover guard runs first in ``plan`` and
``run``: a cutover that must not start never reads a byte.

The merge of the parts is in :mod:`ikou.stages.extract_merge`, the findings in
:mod:`ikou.stages.extract_findings`. This module stays a little over 500 lines: ``plan``,
``part`` and ``run`` are the three tasks of one stage and share its settings, the landing
entries and the copybook / decode options; split apart they would import each other's helpers.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from ikou.domains import registry
from ikou.findings import Findings
from ikou.load.cutover import guard
from ikou.mainframe.provenance import registry_file_provenance
from ikou.mainframe.registry_options import (
    registry_copybook,
    registry_decode_options,
)
from ikou.pipeline import (
    ExtractPart,
    ExtractPartResult,
    RunContext,
    StageResult,
    UnitAccounting,
    cpu_time,
    mapped_clock,
    with_plan_clock,
)
from ikou.stages.common import (
    StageError,
    balanced,
    check_stored_sha256,
    dumps,
    legacy_file,
    logged_plan,
    positive_setting,
    snapshot_of,
    write_report,
)
from ikou.stages.extract_findings import gaiji_occurrences, gaiji_worklist, quarantine_findings
from ikou.stages.extract_merge import as_list, merge_parts, part_findings_uri
from ikou.storage import (
    ObjectChanged,
    Store,
    join,
    landing_uri,
    publication,
    reference_uri,
    sha256_file,
    zone_uri,
)

log = logging.getLogger(__name__)

#: F/FB legacy files larger than this are decoded in parallel byte ranges (IKOU_EXTRACT_PART_BYTES)
EXTRACT_PART_BYTES = 64 << 20
#: at most this many parts per file (IKOU_EXTRACT_MAX_PARTS)
EXTRACT_MAX_PARTS = 32


def part_settings() -> tuple[int, int]:
    """(bytes per part, most parts per file) from the environment."""
    return positive_setting(
        "IKOU_EXTRACT_PART_BYTES", EXTRACT_PART_BYTES, "bytes/parts"
    ), positive_setting("IKOU_EXTRACT_MAX_PARTS", EXTRACT_MAX_PARTS, "bytes/parts")


def landing_entry(manifest: dict, landing: str, lf) -> dict:
    entry = next((f for f in manifest["files"] if f.get("legacy_file") == lf.name), None)
    if entry is None:
        raise StageError(
            f"{landing}: the snapshot manifest lists no file for legacy file {lf.name}"
        )
    return entry


def load_copybook(lf):
    """The legacy file's copybook, parsed with its ``decode`` options (format, COPY folders,
    NSYMBOL, decimal comma, FILLER columns): :func:`ikou.mainframe.registry_options.registry_copybook`."""
    return registry_copybook(lf)


def extract_options(lf, file_name: str, gaiji_path, byte_range=None):
    """The engine's options for a registry legacy file (the same for the whole file and its
    parts): :func:`ikou.mainframe.registry_options.registry_decode_options`, the one mapping
    ``ikou land`` and ``ikou decode --domain/--file`` use too."""
    return registry_decode_options(lf, file_name, gaiji_path, byte_range)


def reference_gaiji(snapshot: str, work: Path, store: Store) -> Path | None:
    """The snapshot's 外字 table (reference data), downloaded; None when none was delivered."""
    ref = reference_uri(snapshot)
    if store.exists(join(ref, "gaiji.csv")):
        return store.download(join(ref, "gaiji.csv"), work / "gaiji.csv")
    return None


class RangeFile:
    """A local copy of bytes [base, ...) of a file, read as if it were the whole file (seek/read)."""

    def __init__(self, path: Path, base: int):
        self.fh = open(path, "rb")  # noqa: SIM115 - closed by close() / the context manager
        self.base = base

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 0:
            return self.fh.seek(pos - self.base) + self.base
        return self.fh.seek(pos, whence) + self.base

    def read(self, n: int = -1) -> bytes:
        return self.fh.read(n)

    def close(self) -> None:
        self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def part_stem(lf_name: str, index: int) -> str:
    return f"_parts/{lf_name}/part-{index:05d}"


# ----------------------------------------------------------------------------- extract_plan


def splittable(lf, store: Store, uri: str, etag: str = "") -> bool:
    """Whether a large F/FB file may be decoded in byte ranges: not compressed (told by its
    first bytes), no file offsets, no record length field (those are read whole, streamed)."""
    from ikou.mainframe.compression import sniff

    spec = getattr(lf, "decode", None)
    if spec is not None and (
        getattr(spec, "record_length_field", None)
        or getattr(spec, "file_start_offset", 0)
        or getattr(spec, "file_end_offset", 0)
    ):
        return False
    with tempfile.TemporaryDirectory(prefix="ikou-extract-head-") as tmp:
        head = store.get_range(uri, 0, 6, Path(tmp) / "head", etag).read_bytes()
    return sniff(head) is None


def plan(ctx: RunContext, store: Store | None = None) -> list[ExtractPart]:
    """The byte-range parts of the domain's large F/FB legacy files (the mapped extract_parts).

    A file above ``IKOU_EXTRACT_PART_BYTES`` (default 64 MB) is split into record-aligned ranges
    of about that size (at most ``IKOU_EXTRACT_MAX_PARTS``); its sha256 is checked here, once, by
    streaming it. Smaller files and V/VB files are decoded whole by :func:`run`.
    """
    from ikou.mainframe.reader import byte_ranges

    store = store or Store()
    guard(ctx, store=store)
    d = registry().get(ctx.domain)
    snap = snapshot_of(ctx, store)
    landing = landing_uri(ctx.domain, snap)
    manifest = publication.read_manifest(store, landing)
    part_bytes, max_parts = part_settings()
    planned_at, cpu0 = time.time(), cpu_time()
    parts: list[ExtractPart] = []
    for lf in d.legacy_files:
        if lf.recfm.upper() not in ("F", "FB") or not lf.lrecl:
            continue
        entry = landing_entry(manifest, landing, lf)
        uri = join(landing, entry["name"])
        info = store.head(uri)
        if info.size <= part_bytes or not splittable(lf, store, uri, info.etag):
            continue
        # a compressed file (gzip / bzip2, e.g. landed as delivered by `ikou land`) has no
        # record-aligned byte ranges: it is decoded whole in the extract task
        if store.peek(uri, 3).startswith((b"\x1f\x8b", b"BZh")):
            continue
        if entry.get("bytes") is not None and int(entry["bytes"]) != info.size:
            raise StageError(
                f"{uri}: {info.size} bytes, the snapshot manifest says {entry['bytes']}"
            )
        want = entry.get("sha256")
        check_stored_sha256(store, uri, info.etag, want, "the snapshot manifest")
        ranges = byte_ranges(info.size, int(lf.lrecl), min(max_parts, -(-info.size // part_bytes)))
        for i, (start, end) in enumerate(ranges):
            parts.append(
                ExtractPart(
                    file=lf.name,
                    landing_name=entry["name"],
                    snapshot=snap,
                    index=i,
                    parts=len(ranges),
                    start=start,
                    end=end,
                    size=info.size,
                    etag=info.etag,
                    sha256=want or "",
                    planned_at=planned_at,
                )
            )
    return logged_plan(log, "extract_plan", ctx.domain, with_plan_clock(parts, planned_at, cpu0))


# ----------------------------------------------------------------------------- extract_parts


def part(ctx: RunContext, planned: ExtractPart, store: Store | None = None) -> ExtractPartResult:
    """Decode one byte range of a large legacy file into part files under the run's prefixes.

    Writes ``raw/{d}/{run}/_parts/{FILE}/part-NNNNN.parquet`` (+ ``.gaiji.parquet`` and the
    part's decode summary ``.summary.json``) and the quarantine rows to
    ``quarantine/{d}/{run}/_parts/{FILE}/part-NNNNN.jsonl``; nothing is published: :func:`run`
    merges the parts and publishes.
    """
    from ikou.mainframe.engine import decode_to_parquet

    started, cpu0 = time.monotonic(), cpu_time()
    store = store or Store()
    d = registry().get(ctx.domain)
    lf = legacy_file(d, planned.file)
    snap = planned.snapshot
    landing = landing_uri(ctx.domain, snap)
    raw_prefix = zone_uri("raw", ctx.domain, ctx.run_id)
    qprefix = zone_uri("quarantine", ctx.domain, ctx.run_id)
    stem = part_stem(lf.name, planned.index)
    start, end = planned.start, planned.end
    with tempfile.TemporaryDirectory(prefix="ikou-extract-part-") as tmp:
        work = Path(tmp)
        gaiji_path = reference_gaiji(snap, work, store)
        try:
            src = store.get_range(
                join(landing, planned.landing_name), start, end, work / "range.bin", planned.etag
            )
        except ObjectChanged:
            raise StageError(
                f"{join(landing, planned.landing_name)} changed after extract_plan: "
                "run the extract again"
            ) from None
        cb = load_copybook(lf)
        opts = extract_options(lf, planned.landing_name, gaiji_path, byte_range=(start, end))
        out, qpath, gpath = (
            work / "part.parquet",
            work / "part.quarantine.jsonl",
            work / "part.gaiji.parquet",
        )
        fpath = work / "part.findings.jsonl"
        with RangeFile(src, start) as fh:
            summary = decode_to_parquet(
                fh, cb, opts, out, qpath, gaiji_path=gpath, findings_path=fpath
            )
        if not out.exists():
            raise StageError(f"{lf.name}: several data layouts per file are not supported in parts")
        if not summary.complete or summary.bytes_read != end - start or not summary.accounted:
            raise StageError(
                f"{lf.name} part {planned.index}: read {summary.bytes_read} of {end - start} bytes"
            )
        data_uri = join(raw_prefix, stem + ".parquet")
        store.put_file(data_uri, out)
        gaiji_uri = join(raw_prefix, stem + ".gaiji.parquet")
        store.put_file(gaiji_uri, gpath)
        summary_uri = join(raw_prefix, stem + ".summary.json")
        # the part's summary reproduces the part's decode on its own (its byte range is in
        # the options), like the whole file's entry in the raw manifest
        part_summary = {
            **summary.to_dict(),
            **registry_file_provenance(
                lf,
                ctx.domain,
                snap,
                planned.landing_name,
                gaiji_path,
                sha256=planned.sha256 or None,
                size=planned.size,
                byte_range=(start, end),
                copybook=cb,
            ),
        }
        store.put_bytes(summary_uri, dumps(part_summary), content_type="application/json")
        quarantine_uri = join(qprefix, stem + ".jsonl")
        store.put_file(quarantine_uri, qpath)
        store.put_file(part_findings_uri(quarantine_uri), fpath)
        data_sha, data_bytes = sha256_file(out), out.stat().st_size
    return ExtractPartResult(
        file=lf.name,
        index=planned.index,
        parts=planned.parts,
        snapshot=snap,
        start=start,
        end=end,
        size=planned.size,
        planned_at=planned.planned_at,
        data_uri=data_uri,
        data_name=stem + ".parquet",
        data_sha256=data_sha,
        data_bytes=data_bytes,
        gaiji_uri=gaiji_uri,
        summary_uri=summary_uri,
        quarantine_uri=quarantine_uri,
        records_in=summary.records_in,
        records_out=summary.records_out,
        header=summary.header_records,
        trailer=summary.trailer_records,
        quarantined=summary.quarantined,
        bytes=summary.bytes_read,
        decode_seconds=round(summary.seconds, 3),
        seconds=round(time.monotonic() - started, 3),
        cpu_seconds=round(cpu_time() - cpu0, 3),
    )


# ----------------------------------------------------------------------------- extract


def run(
    ctx: RunContext,
    plan: Iterable[ExtractPart] | None = None,
    parts: Iterable[ExtractPartResult] | None = None,
    store: Store | None = None,
) -> StageResult:
    """Decode the domain's legacy files of a snapshot into the raw zone (Parquet).

    ``plan`` / ``parts``: what :func:`plan` planned and the :func:`part` results. A planned
    (large F/FB) file is merged from its parts: summaries merged (trailer checks over the whole
    file), part files concatenated into ``{FILE}.parquet``, part quarantine rows into
    ``{FILE}.quarantine.jsonl``; the raw manifest lists the part files too (``_parts/...``,
    which readers of ``{unit}.parquet`` skip). Every other file is decoded here, whole.
    """
    from ikou.mainframe.engine import decode_to_parquet

    started, cpu0 = time.monotonic(), cpu_time()
    store = store or Store()
    guard(ctx, store=store)
    planned_parts = as_list(plan, ExtractPart)
    part_results = as_list(parts, ExtractPartResult)
    domain_id, run_id = ctx.domain, ctx.run_id
    d = registry().get(domain_id)
    snap = planned_parts[0].snapshot if planned_parts else snapshot_of(ctx, store)
    landing = landing_uri(domain_id, snap)
    manifest = publication.read_manifest(store, landing)
    findings = Findings(domain_id, run_id, "extract")
    accounting: list[dict] = []
    summaries, files = {}, {}
    quarantine_files: dict = {}
    worklist_rows: list[dict] = []
    part_entries: list[dict] = []
    parts_by_file: dict[str, list[dict]] = {}
    raw_prefix = zone_uri("raw", domain_id, run_id)
    by_file: dict[str, list[ExtractPart]] = {}
    for p in planned_parts:
        by_file.setdefault(p.file, []).append(p)
    with tempfile.TemporaryDirectory(prefix="ikou-extract-") as tmp:
        work = Path(tmp)
        gaiji_path = reference_gaiji(snap, work, store)
        for lf in d.legacy_files:
            entry = landing_entry(manifest, landing, lf)
            out = work / f"{lf.name}.parquet"
            qpath = work / f"{lf.name}.quarantine.jsonl"
            gpath = work / f"{lf.name}.gaiji.parquet"
            # field findings carry raw bytes: restricted, published beside the quarantine
            fpath = work / f"{lf.name}.findings.jsonl"
            nparts = 1
            if lf.name in by_file:
                mine = [r for r in part_results if r.file == lf.name]
                summary, entries = merge_parts(
                    lf, by_file[lf.name], mine, work, out, qpath, gpath, store, fpath
                )
                part_entries.extend(entries)
                nparts = len(entries)
                parts_by_file[lf.name] = [
                    {
                        k: e[k]
                        for k in ("part", "byte_range", "records_in", "records_out", "quarantined")
                    }
                    for e in entries
                ]
            else:
                src = publication.fetch(store, landing, entry["name"], work, manifest)
                cb = load_copybook(lf)
                summary = decode_to_parquet(
                    src,
                    cb,
                    extract_options(lf, entry["name"], gaiji_path),
                    out,
                    qpath,
                    gaiji_path=gpath,
                    findings_path=fpath,
                )
                src.unlink()
            files[out.name] = out
            quarantine_files[qpath.name] = qpath
            quarantine_files[fpath.name] = fpath
            # what reproduces the decode (options, copybook / input / 外字 sha256, code version)
            summaries[lf.name] = {
                **summary.to_dict(),
                **registry_file_provenance(
                    lf,
                    domain_id,
                    snap,
                    entry["name"],
                    gaiji_path,
                    sha256=entry.get("sha256"),
                    size=entry.get("bytes"),
                ),
            }
            count_ok = all(c.ok for c in summary.trailer_checks if c.name == "record_count")
            sums_ok = all(c.ok for c in summary.trailer_checks if c.name == "sum")
            for c in summary.trailer_checks:
                if not c.ok:
                    findings.add(
                        "trailer_control_total",
                        "critical",
                        c.trailer_field,
                        detail=f"{c.name}: trailer {c.expected} vs file {c.actual} {c.detail}".strip(),
                    )
            quarantine_findings(findings, qpath)
            for reason, n in sorted(summary.findings.items()):  # counts; rows stay restricted
                findings.add("field_finding", "warning", count=n, detail=reason)
            worklist_rows.extend(gaiji_occurrences(d, lf, out, gpath))
            acc = {
                "unit": lf.name,
                "records_in": summary.records_in,
                "records_out": summary.records_out,
                "header": summary.header_records,
                "trailer": summary.trailer_records,
                "quarantined": summary.quarantined,
                "merged": 0,
                "trailer_count_ok": count_ok,
                "trailer_sums_ok": sums_ok,
                "quarantine_rate": round(summary.quarantined / max(summary.records_in, 1), 6),
                "unmapped_gaiji": summary.gaiji_unmapped,
                "gaiji_mapped": summary.gaiji_mapped,
                "bytes": summary.bytes_read,
                "decode_seconds": round(summary.seconds, 3),
                "parts": nparts,
            }
            acc["balanced"] = balanced(acc) and summary.accounted
            accounting.append(acc)
        worklist = gaiji_worklist(domain_id, run_id, snap, worklist_rows)
        for row in worklist["codes"]:
            findings.add(
                "unmapped_gaiji",
                "warning" if not ctx.cutover else "critical",
                ",".join(row["fields"]),
                count=row["occurrences"],
                detail=f"legacy code {row['legacy_code']}",
            )
        qprefix = zone_uri("quarantine", domain_id, run_id)
        publication.publish(
            store,
            qprefix,
            quarantine_files,
            {
                "zone": "quarantine",
                "domain": domain_id,
                "run_id": run_id,
                "snapshot": snap,
                "stage": "extract",
                "records": {a["unit"]: a["quarantined"] for a in accounting},
            },
        )
        publication.publish(
            store,
            raw_prefix,
            files,
            {
                "zone": "raw",
                "stage": "extract",
                "domain": domain_id,
                "run_id": run_id,
                "snapshot": snap,
                "mode": ctx.mode,
                "landing": landing,
                "landing_files": manifest["files"],
                "accounting": accounting,
                "decode": summaries,
                "quarantine": qprefix,
                "parts": parts_by_file,
                "files": part_entries,
            },
        )
    write_report(domain_id, run_id, "gaiji_worklist.json", worklist, store)
    write_report(
        domain_id,
        run_id,
        "findings/extract.json",
        {"summary": findings.summary(), "findings": findings.rows()},
        store,
    )
    # with parts: the span from the plan, every task's CPU time and the tasks' running time
    seconds, cpu, task_seconds = mapped_clock(started, cpu0, planned_parts, part_results)
    return StageResult.of(
        ctx,
        "extract",
        snap,
        raw_prefix,
        [UnitAccounting(**a) for a in accounting],
        seconds,
        findings.by_rule(),
        cpu_seconds=cpu,
        task_seconds=task_seconds,
        quarantine=qprefix,
        gaiji_unmapped=sum(a["unmapped_gaiji"] for a in accounting),
        gaiji_codes=len(worklist["codes"]),
        parts={f: len(v) for f, v in parts_by_file.items()},
    )
