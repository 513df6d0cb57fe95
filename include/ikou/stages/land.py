"""Landing a vendor's file (`ikou land`): the way a real extract file enters a domain's pipeline.

The city's mainframe vendor hands over extract files (local files, or objects under an S3
prefix). Each one is checked against the domain's registry entry before anything is written:

1. it is one of the domain's legacy files — its name (without suffixes such as ``.dat`` or
   ``.gz``) is the legacy file's name or its dataset name (``JUKI.JUMIN.MASTER``), or the
   argument says so (``JUMIN=path``); every legacy file of the domain at most once;
2. its size after decompression (gzip / bzip2 are read as they are) fits the record format:
   for F / FB, the bytes between the file offsets are a multiple of LRECL;
3. a trial decode of its first records (up to :data:`TRIAL_RECORDS`, with the registry's decode
   options — the same as the extract stage's) does not quarantine most of them, which would say
   wrong file, copybook or code page.

Only then are the files uploaded to ``landing/{domain}/{snapshot}/`` and the snapshot's
``_manifest.json`` written last, with each file's sha256, size, source and the person who landed
it. A snapshot already landed is never overwritten. A file the registry does not know or one
that fails its checks is a refusal (exit 1, one line); nothing is uploaded then.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ikou.domains import registry
from ikou.errors import BadArgument, IkouError, Refused, Unreadable
from ikou.pipeline import WHO_MAX, check_text, parse_snapshot
from ikou.stages.extract import extract_options, load_copybook, reference_gaiji
from ikou.storage import MANIFEST, Store, is_s3, join, landing_uri

#: records decoded on trial (from the start of each file)
TRIAL_RECORDS = 2000
#: more than this share of the trial quarantined is a refusal
TRIAL_MAX_QUARANTINED = 0.5
_SUFFIXES = re.compile(r"(\.(dat|bin|txt|ebc|ebcdic|gz|gzip|bz2))+$", re.IGNORECASE)
_FIXED = ("F", "FB")


@dataclass
class Candidate:
    """One file to land: where it comes from, which legacy file it is, a local copy."""

    source: str
    legacy_file: str
    local: Path
    name: str  # its object name in the landing zone


def match_legacy_file(domain, source: str, named: str | None = None):
    """The registry's legacy file ``source`` is (by ``named``, its name or its dataset name)."""
    files = {lf.name.upper(): lf for lf in domain.legacy_files}
    datasets = {lf.dataset.upper(): lf for lf in domain.legacy_files}
    if named is not None:
        lf = files.get(named.upper())
        if lf is None:
            raise Refused(
                f"{source}: {named!r} is not a legacy file of {domain.id} "
                f"(known: {', '.join(f'{x.name} ({x.dataset})' for x in domain.legacy_files)})"
            )
        return lf
    stem = _SUFFIXES.sub("", Path(source.rstrip("/")).name).upper()
    lf = files.get(stem) or datasets.get(stem)
    if lf is None:
        raise Refused(
            f"{source}: not a file of {domain.id} in the registry — name it as a legacy file "
            f"or its dataset ({', '.join(f'{x.name} = {x.dataset}' for x in domain.legacy_files)}), "
            "or say which with NAME=FILE"
        )
    return lf


def _compression(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    return None


def decompressed_size(path: Path) -> int:
    """The file's size after decompression (gzip and bzip2 are streamed, nothing is kept)."""
    kind = _compression(path)
    if kind is None:
        return path.stat().st_size
    opener = gzip.open if kind == "gzip" else bz2.open
    n = 0
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                n += len(chunk)
    except (OSError, EOFError) as exc:
        raise Refused(f"{path.name}: {kind} data is damaged ({type(exc).__name__})") from None
    return n


def check_size(lf, path: Path, source: str) -> int:
    """F / FB: the bytes between the file offsets are whole records of LRECL."""
    size = decompressed_size(path)
    if lf.recfm in _FIXED:
        spec = lf.decode
        start = int(getattr(spec, "file_start_offset", 0) or 0)
        end = int(getattr(spec, "file_end_offset", 0) or 0)
        body = size - start - end
        if body < 0 or body % lf.lrecl:
            raise Refused(
                f"{source}: {size:,} bytes (after decompression) is not a whole number of "
                f"{lf.lrecl}-byte records of {lf.name} ({lf.recfm}"
                + (f", offsets {start}/{end}" if start or end else "")
                + ") — a cut transfer or another file?"
            )
    return size


def trial_decode(lf, path: Path, source: str, gaiji_path: Path | None) -> dict:
    """Decode the first records with the registry's options; refuse when most are quarantined."""
    from ikou.mainframe.engine import decode_file

    copybook = load_copybook(lf)
    options = extract_options(lf, path.name, gaiji_path)
    run = decode_file(path, copybook, options)
    records = quarantined = 0
    reasons: dict[str, int] = {}
    try:
        for chunk in run:
            records += chunk.records_in - chunk.header_records - chunk.trailer_records
            quarantined += chunk.quarantined
            if chunk.quarantine.num_rows and "reason" in chunk.quarantine.column_names:
                for reason in chunk.quarantine.column("reason").to_pylist():
                    reasons[reason] = reasons.get(reason, 0) + 1
            if records >= TRIAL_RECORDS:
                break
    except IkouError as exc:
        raise Refused(f"{source}: trial decode as {lf.name} failed: {exc.message}") from None
    if records == 0:
        raise Refused(f"{source}: trial decode as {lf.name} found no records")
    if quarantined > TRIAL_MAX_QUARANTINED * records:
        top = max(reasons, key=lambda r: reasons[r]) if reasons else "?"
        raise Refused(
            f"{source}: trial decode of the first {records:,} records as {lf.name} "
            f"({lf.encoding}, {lf.recfm}) quarantined {quarantined:,} (mostly {top}) — "
            "wrong file, copybook or code page?"
        )
    return {"records": records, "quarantined": quarantined}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _gather(sources: list[str], work: Path, store: Store) -> list[tuple[str, str | None, Path]]:
    """(source, named legacy file or None, local copy) for every argument; an S3 prefix gives
    each object under it."""
    out: list[tuple[str, str | None, Path]] = []
    for arg in sources:
        head, sep, where = arg.partition("=")
        named: str | None = head
        if not sep or "/" in head or head.startswith("s3:"):
            named, where = None, arg
        if is_s3(where):
            uris = [where] if not where.endswith("/") else list(store.list(where))
            if where.endswith("/") and not uris:
                raise Unreadable(f"{where}: no objects under this prefix")
            for uri in uris:
                try:
                    local = store.download(uri, work / f"{len(out)}-{Path(uri).name}")
                except IkouError:
                    raise
                except Exception as exc:  # noqa: BLE001 - one line, the code of the table
                    raise Unreadable(f"{uri}: cannot be read ({type(exc).__name__})") from None
                out.append((uri, named, local))
        else:
            p = Path(where)
            if not p.is_file():
                raise Unreadable(f"{where}: no such file")
            out.append((str(p), named, p))
    if not out:
        raise BadArgument("FILE: at least one file (or s3:// prefix) to land")
    return out


def land(
    domain_id: str,
    snapshot: object,
    sources: list[str],
    who: str,
    store: Store | None = None,
) -> dict:
    """Check and land ``sources`` as ``snapshot`` of ``domain_id``; returns the manifest."""
    reg = registry()
    if domain_id not in reg:
        raise BadArgument(f"--domain {domain_id!r}: unknown; known: {', '.join(reg.ids)}")
    snap = parse_snapshot(snapshot, "--snapshot")
    who = check_text(who, "--who", max_len=WHO_MAX, required=True)
    domain = reg.get(domain_id)
    store = store or Store()
    prefix = landing_uri(domain_id, snap)
    if store.exists(join(prefix, MANIFEST)):
        raise Refused(
            f"snapshot {snap} of {domain_id} is already landed ({join(prefix, MANIFEST)}); "
            "a landed snapshot is never overwritten — land under another snapshot"
        )
    with tempfile.TemporaryDirectory(prefix="ikou-land-") as tmp:
        work = Path(tmp)
        gaiji = reference_gaiji(snap, work, store)
        seen: dict[str, str] = {}
        files = []
        for source, named, local in _gather(sources, work, store):
            lf = match_legacy_file(domain, source, named)
            if lf.name in seen:
                raise Refused(f"{source}: {lf.name} is already given by {seen[lf.name]}")
            seen[lf.name] = source
            size = check_size(lf, local, source)
            trial = trial_decode(lf, local, source, gaiji)
            suffix = {"gzip": ".gz", "bzip2": ".bz2"}.get(_compression(local) or "", "")
            files.append(
                (
                    local,
                    {
                        "name": f"{lf.name}.dat{suffix}",
                        "legacy_file": lf.name,
                        "dataset": lf.dataset,
                        "copybook": lf.copybook,
                        "encoding": lf.encoding,
                        "recfm": lf.recfm,
                        "lrecl": lf.lrecl,
                        "bytes": local.stat().st_size,
                        "bytes_decompressed": size,
                        "sha256": _sha256(local),
                        "source": source,
                        "trial": trial,
                    },
                )
            )
        missing = [lf.name for lf in domain.legacy_files if lf.name not in seen]
        if missing:
            raise Refused(
                f"snapshot {snap} of {domain_id} needs every legacy file; missing: {', '.join(missing)}"
            )
        for local, meta in files:  # the data first …
            store.put_file(join(prefix, meta["name"]), local)
        manifest = {
            "zone": "landing",
            "domain": domain_id,
            "snapshot": snap,
            "files": [meta for _, meta in files],
            "written_by": "ikou land",
            "landed_by": who,
            "landed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        store.put_bytes(  # … the manifest last: the snapshot exists once it is complete
            join(prefix, MANIFEST),
            json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"),
            content_type="application/json",
        )
    return manifest
