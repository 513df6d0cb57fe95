"""The five stages and the gate of a domain run, as plain functions the DAG tasks call.

Each stage reads its input through the previous stage's published manifest, writes its output
under a run-scoped prefix of its zone, publishes it (manifest last) and returns a small dict for
XCom: URIs, counts, seconds, findings by rule — never records. Every stage accounts for every
record: in = out + quarantined + merged (+ header and trailer records at extract).

    extract   landing/{d}/{snapshot}/  -> raw/{d}/{run}/        (+ quarantine/{d}/{run}/)
    cleanse   raw                      -> cleansed/{d}/{run}/   (+ ledger)
    validate  cleansed                 -> validated/{d}/{run}/  (standard layout)
    load      validated                -> handoff/{d}/{run}/ + target database
    rehearse  everything               -> reports/{d}/{run}/    (reconciliation, timing, verdict)

Reports (``reports/{d}/{run}/``) hold counts, keyed hashes and verdicts only.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from pathlib import Path

from ikou.config import settings
from ikou.domains import registry
from ikou.findings import Findings
from ikou.storage import (
    MANIFEST,
    NotPublished,
    Store,
    join,
    landing_uri,
    reference_uri,
    run_key,
    zone_uri,
)

log = logging.getLogger(__name__)


class StageError(RuntimeError):
    """A stage cannot run (missing input, refused cutover …); the message says what to do."""


try:  # a refused cutover fails its task at once: retrying cannot change the answer
    from airflow.sdk.exceptions import AirflowFailException as _NoRetry
except Exception:  # pragma: no cover - outside Airflow

    class _NoRetry(Exception):  # type: ignore[no-redef]
        pass


class CutoverRefused(StageError, _NoRetry):
    """The cutover guard said no; the message lists every reason."""


# ----------------------------------------------------------------------------- helpers


def _store() -> Store:
    return Store()


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def write_report(domain: str, run_id: str, name: str, obj: dict, store: Store | None = None) -> str:
    """A JSON document in the reports zone (no personal data: counts, hashes, verdicts)."""
    uri = join(zone_uri("reports", domain, run_id), name)
    (store or _store()).put_bytes(uri, _dumps(obj), content_type="application/json")
    return uri


def resolve_snapshot(domain: str, snapshot: str = "", store: Store | None = None) -> str:
    """The given snapshot, or the latest one in the landing zone that is published."""
    store = store or _store()
    if snapshot:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", snapshot):
            raise StageError(f"snapshot must be YYYY-MM-DD, not {snapshot!r}")
        return snapshot
    prefix = landing_uri(domain, "").rstrip("/") + "/"
    candidates = [s for s in store.list_dirs(prefix) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s)]
    for snap in sorted(candidates, reverse=True):
        if store.exists(join(landing_uri(domain, snap), MANIFEST)):
            return snap
    raise StageError(
        f"no published snapshot of {domain} in {prefix} (run `ikou synth` or deliver the extract)"
    )


def _result(
    domain: str,
    stage: str,
    run_id: str,
    snapshot: str,
    uri: str,
    accounting: list[dict],
    started: float,
    findings: Findings | None = None,
    **extra,
) -> dict:
    res = {
        "domain": domain,
        "stage": stage,
        "run_id": run_id,
        "snapshot": snapshot,
        "uri": uri,
        "records_in": sum(a["records_in"] for a in accounting),
        "records_out": sum(a["records_out"] for a in accounting),
        "quarantined": sum(a.get("quarantined", 0) for a in accounting),
        "merged": sum(a.get("merged", 0) for a in accounting),
        "units": {a["unit"]: a["records_out"] for a in accounting},
        "accounting": accounting,
        "findings": findings.by_rule() if findings is not None else {},
        "seconds": round(time.monotonic() - started, 3),
    }
    res.update(extra)
    return res


def _balanced(a: dict) -> bool:
    return a["records_in"] == (
        a["records_out"]
        + a.get("quarantined", 0)
        + a.get("merged", 0)
        + a.get("header", 0)
        + a.get("trailer", 0)
    )


def _fetch_tables(prefix: str, workdir: Path, store: Store) -> tuple[dict, dict[str, Path]]:
    manifest = store.read_manifest(prefix)
    paths = {}
    for f in manifest["files"]:
        if f["name"].endswith(".parquet") and not f["name"].startswith("_"):
            paths[f["name"][: -len(".parquet")]] = store.fetch(prefix, f["name"], workdir, manifest)
    return manifest, paths


def _check_cutover(
    mode: str,
    confirm_cutover: bool,
    domain_id: str | None = None,
    snapshot: str = "",
    run_id: str = "",
    who: str = "",
) -> None:
    """The cutover guard, first thing of a run (see :mod:`ikou.cutover`).

    A cutover run starts only when a person confirmed it, the domain is in the migration phase
    and not live yet, every domain in its ``cuts_over_after`` is live, and the same snapshot had
    a GO rehearsal within ``plan.rehearsal.go_valid_days``. A refusal is recorded (who, why) in
    ``ikou_cutover`` and fails the task without retries; an accepted start is recorded once per
    run. Called without a domain inside an Airflow task, the guard takes the domain, snapshot,
    run and person from the task's context (so every extract task that calls it is guarded)."""
    if mode not in ("rehearsal", "cutover"):
        raise StageError(f"mode must be rehearsal or cutover, not {mode!r}")
    if mode != "cutover":
        return
    if domain_id is None:
        domain_id, snapshot, run_id, who = _cutover_context(snapshot, run_id, who)
    if domain_id is None:  # outside a task and without a domain: the confirmation is all there is
        if not confirm_cutover:
            raise CutoverRefused(
                "cutover refused: a person must confirm it with confirm_cutover=true"
            )
        return
    from ikou import cutover

    snap = resolve_snapshot(domain_id, snapshot)
    control = cutover.Control()
    reasons = cutover.check(
        domain_id, snap, confirm=bool(confirm_cutover), control=control, store=_store()
    )
    if reasons:
        control.record(
            "refused",
            domain=domain_id,
            snapshot=snap,
            run_id=run_id,
            who=who,
            detail=json.dumps(reasons, ensure_ascii=False),
        )
        raise CutoverRefused(
            f"cutover of {domain_id} (snapshot {snap}) refused:\n"
            + "\n".join(f"  ✗ {r}" for r in reasons)
        )
    if (
        not any(e.status == "started" and e.run_id == run_id for e in control.events(domain_id))
        or not run_id
    ):
        control.record(
            "started",
            domain=domain_id,
            snapshot=snap,
            run_id=run_id,
            who=who,
            detail="guard passed: confirmed, GO rehearsal found, predecessors live",
        )


def _cutover_context(snapshot: str, run_id: str, who: str) -> tuple[str | None, str, str, str]:
    """(domain, snapshot, run id, who) of the running domain DAG's task, or (None, …) outside one."""
    try:
        from airflow.sdk import get_current_context

        ctx = get_current_context()
    except Exception:  # noqa: BLE001 - not inside an Airflow task
        return None, snapshot, run_id, who
    dag_id = getattr(ctx.get("dag"), "dag_id", "") or ""
    domain = next((d.id for d in registry() if d.dag_id == dag_id), None)
    if domain is None:
        return None, snapshot, run_id, who
    dag_run = ctx.get("dag_run")
    conf = getattr(dag_run, "conf", None) or {}
    params = ctx.get("params") or {}
    snap = snapshot or str(conf.get("snapshot", params.get("snapshot", "")) or "")
    person = who or str(
        getattr(dag_run, "triggering_user_name", "") or conf.get("triggered_by", "") or ""
    )
    return domain, snap, run_id or str(ctx.get("run_id") or ""), person


# ----------------------------------------------------------------------------- extract

#: F/FB legacy files larger than this are decoded in parallel byte ranges (IKOU_EXTRACT_PART_BYTES)
EXTRACT_PART_BYTES = 64 << 20
#: at most this many parts per file (IKOU_EXTRACT_MAX_PARTS)
EXTRACT_MAX_PARTS = 32


def _extract_part_settings() -> tuple[int, int]:
    import os

    def positive(name: str, default: int) -> int:
        raw = os.environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise StageError(
                f"{name} must be a positive integer of bytes/parts, not {raw!r}"
            ) from None
        if value <= 0:
            raise StageError(f"{name} must be positive, not {value}")
        return value

    return positive("IKOU_EXTRACT_PART_BYTES", EXTRACT_PART_BYTES), positive(
        "IKOU_EXTRACT_MAX_PARTS", EXTRACT_MAX_PARTS
    )


def _landing_entry(manifest: dict, landing: str, lf) -> dict:
    entry = next((f for f in manifest["files"] if f.get("legacy_file") == lf.name), None)
    if entry is None:
        raise StageError(
            f"{landing}: the snapshot manifest lists no file for legacy file {lf.name}"
        )
    return entry


def extract_options(lf, file_name: str, gaiji_path, byte_range=None):
    """The engine's options for a registry legacy file (the same for the whole file and its parts)."""
    from ikou.mainframe.engine import DecodeOptions

    return DecodeOptions(
        encoding=lf.encoding,
        recfm=lf.recfm,
        lrecl=lf.lrecl,
        record_type_field=lf.record_type_field,
        record_types=dict(lf.record_types),
        header_layouts=tuple(v for k, v in lf.record_types.items() if k == "H"),
        trailer_layouts=tuple(v for k, v in lf.record_types.items() if k == "T"),
        record_count_field=lf.trailer.count_field,
        control_totals=dict(lf.trailer.sums),
        mixed_fields=tuple(lf.mixed_fields),
        gaiji=str(gaiji_path) if gaiji_path else None,
        gaiji_policy=settings().gaiji_policy,
        file_name=file_name,
        byte_range=byte_range,
    )


def _reference_gaiji(snapshot: str, work: Path, store: Store) -> Path | None:
    ref = reference_uri(snapshot)
    if store.exists(join(ref, "gaiji.csv")):
        return store.download(join(ref, "gaiji.csv"), work / "gaiji.csv")
    return None


def _object_version(store: Store, uri: str) -> tuple[int, str]:
    """(size, version tag) of a landing object: S3 ContentLength + ETag, or a local file's stat."""
    from ikou.storage import is_s3, local_path, split_s3

    if is_s3(uri):
        bucket, key = split_s3(uri)
        head = store.client.head_object(Bucket=bucket, Key=key)
        return int(head["ContentLength"]), str(head.get("ETag", ""))
    st = local_path(uri).stat()
    return st.st_size, f"{st.st_size}-{st.st_mtime_ns}"


def _check_landing_sha256(store: Store, uri: str, entry: dict, etag: str) -> None:
    """Stream the whole landing file once through sha256 (a split file is never downloaded whole)."""
    import hashlib

    from ikou.storage import is_s3, local_path, sha256_file, split_s3

    want = entry.get("sha256")
    if not want:
        return
    if is_s3(uri):
        bucket, key = split_s3(uri)
        h = hashlib.sha256()
        body = store.client.get_object(
            Bucket=bucket, Key=key, **({"IfMatch": etag} if etag else {})
        )["Body"]
        for chunk in body.iter_chunks(8 << 20):
            h.update(chunk)
        got = h.hexdigest()
    else:
        got = sha256_file(local_path(uri))
    if got != want:
        raise StageError(f"{uri}: sha256 differs from the snapshot manifest")


def _fetch_range(store: Store, uri: str, start: int, end: int, etag: str, dest: Path) -> Path:
    """Bytes [start, end) of a landing object into ``dest`` (the object the plan saw: If-Match)."""
    from ikou.storage import is_s3, local_path, split_s3

    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_s3(uri):
        bucket, key = split_s3(uri)
        kw = {"IfMatch": etag} if etag else {}
        try:
            obj = store.client.get_object(
                Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}", **kw
            )
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "412"):
                raise StageError(
                    f"{uri} changed after extract_plan: run the extract again"
                ) from None
            raise
        with open(dest, "wb") as fh:
            for chunk in obj["Body"].iter_chunks(8 << 20):
                fh.write(chunk)
    else:
        with open(local_path(uri), "rb") as src, open(dest, "wb") as fh:
            src.seek(start)
            left = end - start
            while left > 0:
                buf = src.read(min(left, 8 << 20))
                if not buf:
                    break
                fh.write(buf)
                left -= len(buf)
    if dest.stat().st_size != end - start:
        raise StageError(
            f"{uri}: byte range {start}-{end} came back with {dest.stat().st_size} bytes"
        )
    return dest


class _RangeFile:
    """A local copy of bytes [base, ...) of a file, read as if it were the whole file (seek/read)."""

    def __init__(self, path: Path, base: int):
        self.fh = open(path, "rb")
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


def _part_stem(lf_name: str, index: int) -> str:
    return f"_parts/{lf_name}/part-{index:05d}"


def extract_plan(
    domain_id: str,
    *,
    run_id: str,
    mode: str = "rehearsal",
    snapshot: str = "",
    confirm_cutover: bool = False,
    **_ignored,
) -> list[dict]:
    """The byte-range parts of the domain's large F/FB legacy files (the mapped extract_parts).

    A file above ``IKOU_EXTRACT_PART_BYTES`` (default 64 MB) is split into record-aligned ranges
    of about that size (at most ``IKOU_EXTRACT_MAX_PARTS``); its sha256 is checked here, once, by
    streaming it. Smaller files and V/VB files are decoded whole by ``extract``. Returns one dict
    per part: names, offsets and counts only.
    """
    from ikou.mainframe.reader import byte_ranges

    _check_cutover(mode, confirm_cutover)
    store = _store()
    d = registry().get(domain_id)
    snap = resolve_snapshot(domain_id, snapshot, store)
    landing = landing_uri(domain_id, snap)
    manifest = store.read_manifest(landing)
    part_bytes, max_parts = _extract_part_settings()
    planned_at = time.time()
    parts: list[dict] = []
    for lf in d.legacy_files:
        if lf.recfm.upper() not in ("F", "FB") or not lf.lrecl:
            continue
        entry = _landing_entry(manifest, landing, lf)
        uri = join(landing, entry["name"])
        size, etag = _object_version(store, uri)
        if size <= part_bytes:
            continue
        if entry.get("bytes") is not None and int(entry["bytes"]) != size:
            raise StageError(f"{uri}: {size} bytes, the snapshot manifest says {entry['bytes']}")
        _check_landing_sha256(store, uri, entry, etag)
        ranges = byte_ranges(size, int(lf.lrecl), min(max_parts, -(-size // part_bytes)))
        for i, (start, end) in enumerate(ranges):
            parts.append(
                {
                    "file": lf.name,
                    "landing_name": entry["name"],
                    "snapshot": snap,
                    "index": i,
                    "parts": len(ranges),
                    "start": start,
                    "end": end,
                    "size": size,
                    "etag": etag,
                    "planned_at": planned_at,
                }
            )
    log.info(
        "extract_plan %s: %d part(s) of %d large file(s)",
        domain_id,
        len(parts),
        len({p["file"] for p in parts}),
    )
    return parts


def extract_part(domain_id: str, part: dict, *, run_id: str, **_ignored) -> dict:
    """Decode one byte range of a large legacy file into part files under the run's prefixes.

    Writes ``raw/{d}/{run}/_parts/{FILE}/part-NNNNN.parquet`` (+ ``.gaiji.parquet`` and the
    part's decode summary ``.summary.json``) and the quarantine rows to
    ``quarantine/{d}/{run}/_parts/{FILE}/part-NNNNN.jsonl``; nothing is published: ``extract``
    merges the parts and publishes. Returns URIs and counts (XCom).
    """
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import decode_to_parquet
    from ikou.storage import sha256_file

    started = time.monotonic()
    store = _store()
    d = registry().get(domain_id)
    lf = next((x for x in d.legacy_files if x.name == part["file"]), None)
    if lf is None:
        raise StageError(f"{domain_id} has no legacy file {part['file']!r}")
    snap = part["snapshot"]
    landing = landing_uri(domain_id, snap)
    raw_prefix = zone_uri("raw", domain_id, run_id)
    qprefix = zone_uri("quarantine", domain_id, run_id)
    stem = _part_stem(lf.name, int(part["index"]))
    start, end = int(part["start"]), int(part["end"])
    with tempfile.TemporaryDirectory(prefix="ikou-extract-part-") as tmp:
        work = Path(tmp)
        gaiji_path = _reference_gaiji(snap, work, store)
        src = _fetch_range(
            store,
            join(landing, part["landing_name"]),
            start,
            end,
            part.get("etag", ""),
            work / "range.bin",
        )
        cb = parse_copybook(lf.copybook_path.read_text(encoding="utf-8"), source=lf.copybook)
        opts = extract_options(lf, part["landing_name"], gaiji_path, byte_range=(start, end))
        out, qpath, gpath = (
            work / "part.parquet",
            work / "part.quarantine.jsonl",
            work / "part.gaiji.parquet",
        )
        with _RangeFile(src, start) as fh:
            summary = decode_to_parquet(fh, cb, opts, out, qpath, gaiji_path=gpath)
        if not out.exists():
            raise StageError(f"{lf.name}: several data layouts per file are not supported in parts")
        if not summary.complete or summary.bytes_read != end - start or not summary.accounted:
            raise StageError(
                f"{lf.name} part {part['index']}: read {summary.bytes_read} of {end - start} bytes"
            )
        data_uri = join(raw_prefix, stem + ".parquet")
        store.put_file(data_uri, out)
        gaiji_uri = join(raw_prefix, stem + ".gaiji.parquet")
        store.put_file(gaiji_uri, gpath)
        summary_uri = join(raw_prefix, stem + ".summary.json")
        store.put_bytes(summary_uri, _dumps(summary.to_dict()), content_type="application/json")
        quarantine_uri = join(qprefix, stem + ".jsonl")
        store.put_file(quarantine_uri, qpath)
        data_sha, data_bytes = sha256_file(out), out.stat().st_size
    return {
        "file": lf.name,
        "index": int(part["index"]),
        "parts": int(part["parts"]),
        "snapshot": snap,
        "start": start,
        "end": end,
        "size": int(part["size"]),
        "planned_at": part.get("planned_at"),
        "data_uri": data_uri,
        "data_name": stem + ".parquet",
        "data_sha256": data_sha,
        "data_bytes": data_bytes,
        "gaiji_uri": gaiji_uri,
        "summary_uri": summary_uri,
        "quarantine_uri": quarantine_uri,
        "records_in": summary.records_in,
        "records_out": summary.records_out,
        "header": summary.header_records,
        "trailer": summary.trailer_records,
        "quarantined": summary.quarantined,
        "bytes": summary.bytes_read,
        "decode_seconds": round(summary.seconds, 3),
        "seconds": round(time.monotonic() - started, 3),
    }


def _as_list(value) -> list[dict]:
    """An XCom of a mapped task: a list, one dict (a single map index) or nothing."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return [v for v in value if v is not None]


def _concat_parquet(paths: list[Path], out: Path) -> None:
    """Part files -> one Parquet file, row group by row group (bounded memory)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(paths[0])
    tmp = out.with_name(out.name + ".tmp")
    with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
        for p in paths:
            pf = pq.ParquetFile(p)
            if not pf.schema_arrow.equals(schema):
                raise StageError(f"{p.name}: part schema differs from the first part's")
            for i in range(pf.num_row_groups):
                w.write_table(pf.read_row_group(i))
    tmp.replace(out)


def _concat_files(paths: list[Path], out: Path) -> None:
    import shutil

    with open(out, "wb") as dst:
        for p in paths:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, dst, 8 << 20)


def _merge_parts(
    lf,
    planned: list[dict],
    results: list[dict],
    work: Path,
    out: Path,
    qpath: Path,
    gpath: Path,
    store: Store,
):
    """The parts of one file -> its merged summary and files (+ manifest entries of the parts)."""
    from ikou.mainframe.engine import DecodeSummary, merge_summaries
    from ikou.storage import sha256_file

    results = sorted(results, key=lambda r: int(r["index"]))
    want = sorted((int(p["index"]), int(p["start"]), int(p["end"])) for p in planned)
    got = [(int(r["index"]), int(r["start"]), int(r["end"])) for r in results]
    if got != want:
        raise StageError(
            f"{lf.name}: extract_parts returned parts {[g[0] for g in got]}, "
            f"the plan has {[w[0] for w in want]}"
        )
    pos = 0
    for _, start, end in got:
        if start != pos:
            raise StageError(
                f"{lf.name}: parts do not tile the file (gap or overlap at byte {pos})"
            )
        pos = end
    if pos != int(planned[0]["size"]):
        raise StageError(f"{lf.name}: parts end at byte {pos} of {planned[0]['size']}")
    summaries = [
        DecodeSummary.from_dict(json.loads(store.get_bytes(r["summary_uri"]))) for r in results
    ]
    summary = merge_summaries(summaries)
    pdir = work / "_parts" / lf.name
    pdir.mkdir(parents=True, exist_ok=True)
    data, quar, gaiji, entries = [], [], [], []
    for r in results:
        i = int(r["index"])
        dp = store.download(r["data_uri"], pdir / f"part-{i:05d}.parquet")
        if sha256_file(dp) != r["data_sha256"]:
            raise StageError(f"{r['data_uri']}: sha256 differs from what extract_parts wrote")
        data.append(dp)
        quar.append(store.download(r["quarantine_uri"], pdir / f"part-{i:05d}.jsonl"))
        gaiji.append(store.download(r["gaiji_uri"], pdir / f"part-{i:05d}.gaiji.parquet"))
        entries.append(
            {
                "name": r["data_name"],
                "bytes": r["data_bytes"],
                "sha256": r["data_sha256"],
                "part_of": lf.name,
                "part": i,
                "byte_range": [r["start"], r["end"]],
                "records_in": r["records_in"],
                "records_out": r["records_out"],
                "quarantined": r["quarantined"],
            }
        )
    _concat_parquet(data, out)
    _concat_files(quar, qpath)
    _concat_parquet(gaiji, gpath)
    for p in data + quar + gaiji:
        p.unlink()
    return summary, entries


def extract(
    domain_id: str,
    *,
    run_id: str,
    mode: str = "rehearsal",
    snapshot: str = "",
    confirm_cutover: bool = False,
    plan=None,
    parts=None,
    **_ignored,
) -> dict:
    """Decode the domain's legacy files of a snapshot into the raw zone (Parquet).

    ``plan`` / ``parts``: what ``extract_plan`` planned and the ``extract_parts`` results. A
    planned (large F/FB) file is merged from its parts: summaries merged (trailer checks over
    the whole file), part files concatenated into ``{FILE}.parquet``, part quarantine rows into
    ``{FILE}.quarantine.jsonl``; the raw manifest lists the part files too (``_parts/...``,
    which readers of ``{unit}.parquet`` skip). Every other file is decoded here, whole.
    """
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import decode_to_parquet

    started = time.monotonic()
    _check_cutover(mode, confirm_cutover)
    planned_parts, part_results = _as_list(plan), _as_list(parts)
    store = _store()
    d = registry().get(domain_id)
    snap = (
        planned_parts[0]["snapshot"]
        if planned_parts
        else resolve_snapshot(domain_id, snapshot, store)
    )
    landing = landing_uri(domain_id, snap)
    manifest = store.read_manifest(landing)
    findings = Findings(domain_id, run_id, "extract")
    accounting, summaries, files = [], {}, {}
    quarantine_files, worklist_rows, part_entries, parts_by_file = {}, [], [], {}
    raw_prefix = zone_uri("raw", domain_id, run_id)
    by_file: dict[str, list[dict]] = {}
    for p in planned_parts:
        by_file.setdefault(p["file"], []).append(p)
    with tempfile.TemporaryDirectory(prefix="ikou-extract-") as tmp:
        work = Path(tmp)
        gaiji_path = _reference_gaiji(snap, work, store)
        for lf in d.legacy_files:
            entry = _landing_entry(manifest, landing, lf)
            out = work / f"{lf.name}.parquet"
            qpath = work / f"{lf.name}.quarantine.jsonl"
            gpath = work / f"{lf.name}.gaiji.parquet"
            nparts = 1
            if lf.name in by_file:
                mine = [r for r in part_results if r.get("file") == lf.name]
                summary, entries = _merge_parts(
                    lf, by_file[lf.name], mine, work, out, qpath, gpath, store
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
                src = store.fetch(landing, entry["name"], work, manifest)
                cb = parse_copybook(
                    lf.copybook_path.read_text(encoding="utf-8"), source=lf.copybook
                )
                summary = decode_to_parquet(
                    src,
                    cb,
                    extract_options(lf, entry["name"], gaiji_path),
                    out,
                    qpath,
                    gaiji_path=gpath,
                )
                src.unlink()
            files[out.name] = out
            quarantine_files[qpath.name] = qpath
            summaries[lf.name] = summary.to_dict()
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
            _quarantine_findings(findings, qpath)
            worklist_rows.extend(_gaiji_occurrences(d, lf, out, gpath))
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
            acc["balanced"] = _balanced(acc) and summary.accounted
            accounting.append(acc)
        worklist = _gaiji_worklist(domain_id, run_id, snap, worklist_rows)
        for row in worklist["codes"]:
            findings.add(
                "unmapped_gaiji",
                "warning" if mode != "cutover" else "critical",
                ",".join(row["fields"]),
                count=row["occurrences"],
                detail=f"legacy code {row['legacy_code']}",
            )
        qprefix = zone_uri("quarantine", domain_id, run_id)
        store.publish(
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
        store.publish(
            raw_prefix,
            files,
            {
                "zone": "raw",
                "stage": "extract",
                "domain": domain_id,
                "run_id": run_id,
                "snapshot": snap,
                "mode": mode,
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
    res = _result(
        domain_id,
        "extract",
        run_id,
        snap,
        raw_prefix,
        accounting,
        started,
        findings,
        quarantine=qprefix,
        gaiji_unmapped=sum(a["unmapped_gaiji"] for a in accounting),
        gaiji_codes=len(worklist["codes"]),
        mode=mode,
        parts={f: len(v) for f, v in parts_by_file.items()},
    )
    if planned_parts:  # the stage's wall time: from the plan through the parallel parts to here
        first = min(float(p.get("planned_at") or time.time()) for p in planned_parts)
        res["seconds"] = round(max(res["seconds"], time.time() - first), 3)
    return res


def _quarantine_findings(findings: Findings, qpath: Path) -> None:
    """One finding per quarantined record, naming the file, the record, its byte offset, the
    field and the reason (codes and offsets only: the raw bytes stay in the quarantine zone)."""
    if not qpath.exists():
        return
    with open(qpath, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            q = json.loads(line)
            where = f"{q.get('_file')} record {q.get('_record')} offset {q.get('_offset')}"
            extra = f" ({q['detail']})" if q.get("detail") else ""
            findings.add(
                "decode_error",
                "warning",
                q.get("field") or "",
                detail=f"{where}: {q.get('reason')}{extra}",
            )


def _gaiji_occurrences(d, lf, raw_path: Path, gaiji_path: Path) -> list[dict]:
    """Unmapped 外字 occurrences with the keyed hash of their record (never the key itself)."""
    import pyarrow.parquet as pq

    from ikou.hashing import keyed_hashes

    if not gaiji_path.exists():
        return []
    occ = pq.read_table(gaiji_path)
    if occ.num_rows == 0:
        return []
    raw = pq.read_table(raw_path, columns=["_record", *lf.business_keys])
    by_record = dict(
        zip(
            raw.column("_record").to_pylist(),
            zip(*[raw.column(k).to_pylist() for k in lf.business_keys]),
        )
    )
    recs = occ.column("_record").to_pylist()
    keys = ["\x1e".join(str(v) for v in by_record.get(r, ("?",))) for r in recs]
    hashes = keyed_hashes(keys, purpose=f"record:{d.id}:{lf.name}")
    rows = []
    for i, r in enumerate(occ.to_pylist()):
        rows.append(
            {
                "file": lf.name,
                "field": r["field"],
                "legacy_code": r["legacy_code"],
                "encoding": r["encoding"],
                "record_key": hashes[i],
                "candidates": r.get("candidates") or [],
            }
        )
    return rows


def _gaiji_worklist(domain: str, run_id: str, snapshot: str, rows: list[dict]) -> dict:
    """The 外字 worklist for 文字同定: per unmapped code its count, fields, affected records."""
    codes: dict[tuple[str, str], dict] = {}
    for r in rows:
        k = (r["encoding"], r["legacy_code"])
        c = codes.setdefault(
            k,
            {
                "encoding": r["encoding"],
                "legacy_code": r["legacy_code"],
                "occurrences": 0,
                "fields": set(),
                "record_keys": set(),
                "candidates": set(),
            },
        )
        c["occurrences"] += 1
        c["fields"].add(f"{r['file']}.{r['field']}")
        c["record_keys"].add(r["record_key"])
        c["candidates"].update(r["candidates"])
    out = []
    for c in sorted(codes.values(), key=lambda x: (-x["occurrences"], x["legacy_code"])):
        out.append(
            {
                **c,
                "fields": sorted(c["fields"]),
                "record_keys": sorted(c["record_keys"]),
                "records": len(c["record_keys"]),
                "candidates": sorted(c["candidates"]),
            }
        )
    return {
        "domain": domain,
        "run_id": run_id,
        "snapshot": snapshot,
        "unmapped_codes": len(out),
        "occurrences": sum(c["occurrences"] for c in out),
        "codes": out,
        "note": "文字同定 worklist: legacy codes missing from the city's 外字 table; record keys are keyed hashes",
    }


# ----------------------------------------------------------------------------- cleanse


def cleanse(
    domain_id: str, extract_result: dict, *, run_id: str, mode: str = "rehearsal", **_ignored
) -> dict:
    """Cleanse the raw tables by the domain's rules (ledger every change); 名寄せ of the addressee
    master with its review queue; references to merged addressees rewritten; the cleansing report.
    See :mod:`ikou.cleanse.run`."""
    from ikou.cleanse.run import cleanse_domain

    return cleanse_domain(domain_id, extract_result, run_id=run_id, mode=mode, store=_store())


# ----------------------------------------------------------------------------- validate


def latest_validated_pointer(domain: str, snapshot: str) -> str:
    return join(zone_uri("validated", domain, "_latest"), f"{snapshot}.json")


def validate(
    domain_id: str, cleanse_result: dict, *, run_id: str, mode: str = "rehearsal", **_ignored
) -> dict:
    """Map the cleansed tables to the domain's versioned standard layout; check references."""
    import pyarrow.parquet as pq

    from ikou.domains.mapping import addressee_references, map_table

    started = time.monotonic()
    store = _store()
    reg = registry()
    d = reg.get(domain_id)
    snap = cleanse_result["snapshot"]
    findings = Findings(domain_id, run_id, "validate")
    out_prefix = zone_uri("validated", domain_id, run_id)
    accounting, files, tables = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="ikou-validate-") as tmp:
        work = Path(tmp)
        _, paths = _fetch_tables(cleanse_result["uri"], work / "in", store)
        for t in d.layout.tables:
            src = pq.read_table(paths[t.source])
            mapped = map_table(src, d, t, findings)
            tables[t.name] = mapped
        master_domain, master_table = reg.addressee_master()
        master_ids = None
        for t in d.layout.tables:
            refs = addressee_references(d, t)
            orphans = 0
            if refs:
                if master_ids is None:
                    master_ids = _addressee_ids(
                        master_domain,
                        master_table,
                        snap,
                        tables if domain_id == master_domain else None,
                        work,
                        store,
                    )
                orphans = _count_orphans(tables[t.name], refs, master_ids, d, t, findings)
            out = work / f"{t.name}.parquet"
            pq.write_table(tables[t.name], out, compression="zstd")
            files[out.name] = out
            src_rows = cleanse_result["units"][t.source]
            acc = {
                "unit": t.name,
                "records_in": src_rows,
                "records_out": tables[t.name].num_rows,
                "quarantined": 0,
                "merged": 0,
                "orphan_references": orphans,
            }
            acc["balanced"] = _balanced(acc)
            accounting.append(acc)
        store.publish(
            out_prefix,
            files,
            {
                "zone": "validated",
                "stage": "validate",
                "domain": domain_id,
                "run_id": run_id,
                "snapshot": snap,
                "input": cleanse_result["uri"],
                "spec_version": d.spec.version,
                "layout_version": d.layout.layout_version,
                "accounting": accounting,
            },
        )
    write_report(
        domain_id,
        run_id,
        "findings/validate.json",
        {"summary": findings.summary(), "findings": findings.rows()},
        store,
    )
    return _result(
        domain_id,
        "validate",
        run_id,
        snap,
        out_prefix,
        accounting,
        started,
        findings,
        mode=mode,
        spec_version=d.spec.version,
        layout_version=d.layout.layout_version,
    )


def _addressee_ids(
    master_domain: str,
    master_table: str,
    snapshot: str,
    in_run: dict | None,
    work: Path,
    store: Store,
) -> set:
    import pyarrow.parquet as pq

    if in_run is not None:
        return set(in_run[master_table].column("atena_no").to_pylist())
    pointer = latest_validated_pointer(master_domain, snapshot)
    try:
        prefix = json.loads(store.get_bytes(pointer))["uri"]
    except FileNotFoundError:
        raise StageError(
            f"the addressee master ({master_domain}) of snapshot {snapshot} has not passed gate_standard yet: "
            f"run migrate_{master_domain} first (the master DAG orders this)"
        ) from None
    manifest = store.read_manifest(prefix)
    path = store.fetch(prefix, f"{master_table}.parquet", work / "master", manifest)
    return set(pq.read_table(path, columns=["atena_no"]).column("atena_no").to_pylist())


def _count_orphans(table, ref_columns: list[str], master_ids: set, d, t, findings: Findings) -> int:
    from ikou.hashing import keyed_hashes

    total = 0
    keys = [
        "\x1e".join(str(v) for v in vals)
        for vals in zip(*[table.column(k).to_pylist() for k in t.business_keys])
    ]
    for col in ref_columns:
        values = table.column(col).to_pylist()
        bad = [i for i, v in enumerate(values) if v is not None and v not in master_ids]
        if bad:
            hashes = keyed_hashes([keys[i] for i in bad], purpose=f"record:{d.id}:{t.name}")
            findings.extend(
                "orphan_reference",
                "critical",
                col,
                hashes,
                detail="宛名番号 not in the addressee master",
            )
            total += len(bad)
    return total


# ----------------------------------------------------------------------------- gate


def _frames_for_gate(gate: str, stage_result: dict, work: Path, store: Store):
    """The gate's validation units: each stage output table as a dataframe (the GX pandas
    datasource), the stage's accounting; for gate_target the tables inside the database (nothing
    is read here); for gate_reconciliation the reconciliation figures and the cutover window."""
    import pandas as pd
    import pyarrow.parquet as pq

    from ikou.quality.gate import Unit

    units = []
    if gate in ("gate_raw", "gate_cleansed", "gate_standard"):
        _, paths = _fetch_tables(stage_result["uri"], work, store)
        tables = {unit: pq.read_table(paths[unit]) for unit in stage_result["units"]}
        references = (
            _reference_sets(stage_result, tables, work, store) if gate == "gate_standard" else {}
        )
        for unit, rows in stage_result["units"].items():
            frame = tables[unit].to_pandas(types_mapper=pd.ArrowDtype)
            units.append(Unit(unit, frame, expected_rows=rows, references=references))
        acc = pd.DataFrame(stage_result["accounting"])
        units.append(Unit("accounting", acc))
    elif gate == "gate_target":
        for unit, rows in stage_result["units"].items():
            units.append(Unit(unit, None, expected_rows=rows))
    elif gate == "gate_reconciliation":
        frame = pd.DataFrame(stage_result["reconciliation"])
        projected, window = stage_result.get("projected_hours"), stage_result.get("window_hours")
        frame["within_window"] = bool(projected is None or window is None or projected <= window)
        units.append(Unit("reconciliation", frame))
    else:
        raise ValueError(f"unknown gate {gate!r}")
    return units


def _reference_sets(stage_result: dict, tables: dict, work: Path, store: Store) -> dict:
    """{(master table, "atena_no"): ids} of the snapshot's addressee master, for the
    referential-integrity expectations of gate_standard (in this process only)."""
    import pyarrow.parquet as pq

    from ikou.domains.mapping import addressee_references
    from ikou.quality.suites import target_table_name

    reg = registry()
    d = reg.get(stage_result["domain"])
    if not any(addressee_references(d, t) for t in d.layout.tables):
        return {}
    master_domain, master_table = reg.addressee_master()
    if d.id == master_domain:
        ids = tables[master_table].column("atena_no")
    else:
        pointer = latest_validated_pointer(master_domain, stage_result["snapshot"])
        try:
            prefix = json.loads(store.get_bytes(pointer))["uri"]
        except FileNotFoundError:
            raise StageError(
                f"the addressee master ({master_domain}) of snapshot {stage_result['snapshot']} has not "
                f"passed gate_standard: run migrate_{master_domain} first"
            ) from None
        path = store.fetch(prefix, f"{master_table}.parquet", work / "master")
        ids = pq.read_table(path, columns=["atena_no"]).column("atena_no")
    return {(target_table_name(master_domain, master_table), "atena_no"): ids}


def _city_characters(snapshot: str | None, work: Path, store: Store) -> list[str]:
    """The targets of the snapshot's 外字 table (reference data): the city's additions to the
    standard character set."""
    if not snapshot:
        return []
    uri = join(reference_uri(snapshot), "gaiji.csv")
    try:
        path = store.download(uri, work / "gaiji.csv")
    except Exception:  # noqa: BLE001 - no table delivered with this snapshot
        return []
    from ikou.moji.gaiji import GaijiTable

    return sorted({e.text for e in GaijiTable.load(path).entries()})


def gate(
    domain_id: str,
    gate_name: str,
    stage_result: dict,
    *,
    run_id: str,
    mode: str = "rehearsal",
    override_reason: str = "",
    triggered_by: str = "",
    **_ignored,
) -> dict:
    """Run the gate's checkpoints on the stage output; raise GateFailed on a critical failure.

    The gate report goes to ``reports/{domain}/{run}/gates/{gate}.json`` whatever the outcome;
    the task's XCom gets the verdict, counts and URIs only.
    """
    from ikou.quality.gate import GateFailed, gx_target_url, run_gate

    if stage_result is None:
        raise StageError(f"{gate_name}: the stage before it produced no result")
    started = time.monotonic()
    store = _store()
    target_url = None
    if gate_name == "gate_target":
        target_url = gx_target_url(stage_result["target_url"], stage_result.get("target_schema"))
    parameters = {"snapshot": stage_result.get("snapshot") or None}
    with tempfile.TemporaryDirectory(prefix="ikou-gate-") as tmp:
        units = _frames_for_gate(gate_name, stage_result, Path(tmp), store)
        city = (
            _city_characters(stage_result.get("snapshot"), Path(tmp), store)
            if gate_name in ("gate_raw", "gate_cleansed", "gate_standard")
            else ()
        )
        try:
            report = run_gate(
                domain_id,
                gate_name,
                units,
                run_id=run_id,
                mode=mode,
                override_reason=override_reason,
                who=triggered_by,
                target_url=target_url,
                parameters=parameters,
                city_characters=city,
            )
        except GateFailed as exc:
            exc.report["seconds_total"] = round(time.monotonic() - started, 3)
            write_report(domain_id, run_id, f"gates/{gate_name}.json", exc.report, store)
            raise
    report["seconds_total"] = round(time.monotonic() - started, 3)
    write_report(domain_id, run_id, f"gates/{gate_name}.json", report, store)
    if gate_name == "gate_standard":
        store.put_bytes(
            latest_validated_pointer(domain_id, stage_result["snapshot"]),
            _dumps({"uri": stage_result["uri"], "run_id": run_id}),
            content_type="application/json",
        )
    return {
        "gate": gate_name,
        "verdict": report["verdict"],
        "warnings": len(report["warnings"]),
        "critical_failures": len(report["critical_failures"]),
        "override": report["override"],
        "units": [u["validation_result"] for u in report["units"]],
        "seconds": report["seconds_total"],
    }


# ----------------------------------------------------------------------------- load


def load(
    domain_id: str,
    validate_result: dict,
    *,
    run_id: str,
    mode: str = "rehearsal",
    atena_map: dict[str, str] | None = None,
    triggered_by: str = "",
    **_ignored,
) -> dict:
    """Hand-off files (CSV + manifest, Parquet beside) and the transactional target load.

    Rehearsals load into their own schema (``ikou_rehearsal_<hex>``), cutovers into ``ikou``;
    ``atena_map`` is 名寄せ's 宛名番号 old → new map, recorded in the hand-off manifest."""
    from ikou.cleanse.run import atena_map_for
    from ikou.load import load_domain

    started = time.monotonic()
    store = _store()
    if (
        atena_map is None
    ):  # the map the domain's cleanse stage applied (名寄せ of the addressee master)
        atena_map = atena_map_for(domain_id, validate_result, store)
    res = load_domain(
        domain_id,
        validate_result,
        run_id=run_id,
        mode=mode,
        store=store,
        atena_map=atena_map,
        who=triggered_by,
    )
    accounting = [
        {
            "unit": t,
            "records_in": validate_result["units"][t],
            "records_out": n,
            "quarantined": 0,
            "merged": 0,
        }
        for t, n in res["rows"].items()
    ]
    for a in accounting:
        a["balanced"] = _balanced(a)
    return _result(
        domain_id,
        "load",
        run_id,
        validate_result["snapshot"],
        res["handoff"],
        accounting,
        started,
        target_url=res["target_url"],
        target_schema=res["schema"],
        tables=res["tables"],
        manifest_sha256=res["manifest_sha256"],
        mode=mode,
    )


# ----------------------------------------------------------------------------- rehearsal


def rehearse(
    domain_id: str,
    results: dict,
    *,
    run_id: str,
    mode: str = "rehearsal",
    triggered_by: str = "",
    **_ignored,
) -> dict:
    """Reconciliation, timing and the verdict (rehearsal: then the rehearsal schema is dropped;
    cutover: GO makes the domain live, NO-GO drops the live tables it loaded)."""
    from ikou.rehearsal import rehearse_domain

    return rehearse_domain(
        domain_id, results, run_id=run_id, mode=mode, store=_store(), who=triggered_by
    )


# ----------------------------------------------------------------------------- master


def plan_master_run(domains: list[str], snapshot: str = "") -> dict:
    """The domains of a master run in the plan's order, and the one snapshot they all use.

    Without a snapshot: the latest one published for the first domain, which every selected
    domain must have too (a master run never mixes snapshots)."""
    reg = registry()
    unknown = [x for x in domains if x not in reg]
    if unknown:
        raise StageError(f"unknown domains {unknown}; known: {', '.join(reg.ids)}")
    order = reg.plan.rehearsal_order(domains or None)
    if not order:
        return {"domains": [], "snapshot": snapshot}
    store = _store()
    snap = resolve_snapshot(order[0], snapshot, store)
    missing = [d for d in order if not store.exists(join(landing_uri(d, snap), MANIFEST))]
    if missing:
        raise StageError(
            f"snapshot {snap} is not published for {', '.join(missing)} "
            f"(landing/<domain>/{snap}/{MANIFEST}); deliver it or choose another snapshot"
        )
    return {
        "domains": order,
        "snapshot": snap,
        "cutover_order": [d for d in reg.plan.cutover_order() if d in order],
    }


def city_report(plan: dict, *, run_id: str, **_ignored) -> dict:
    """The city-wide report of a master run (reports/_city/{run}/city.html + city.json)."""
    from ikou.rehearsal.city import build_city_report

    return build_city_report(
        plan or {"domains": [], "snapshot": ""}, master_run_id=run_id, store=_store()
    )


def domain_run_id(master_run_id: str, domain: str) -> str:
    """The run id the master gives a domain run (its trigger_run_id)."""
    return f"{master_run_id}__{domain}"


__all__ = [
    "extract",
    "cleanse",
    "validate",
    "gate",
    "load",
    "rehearse",
    "plan_master_run",
    "city_report",
    "StageError",
    "CutoverRefused",
    "resolve_snapshot",
    "write_report",
    "run_key",
    "NotPublished",
]
