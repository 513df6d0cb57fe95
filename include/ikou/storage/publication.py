"""Publication: a stage's output becomes visible when its manifest is written, last.

The one module that writes and reads manifests and the "latest" pointers:

* :func:`publish` uploads a prefix's files, then ``_manifest.json`` with each file's sha256 —
  a reader trusts a prefix only once its manifest exists (:class:`NotPublished` otherwise), and
  :func:`fetch` checks every file it downloads against it. A published prefix is never
  rewritten: a retried writer gets the existing manifest back.
* Latest pointers name the newest published output of a kind, e.g. the validated layout of a
  domain's snapshot that passed ``gate_standard`` (other domains check references against it).
  They are written by :func:`point_latest_validated` and read by :func:`latest_validated`,
  which raises :class:`NotPublished` with one message whatever is missing.
* :func:`latest_snapshot` finds the newest published snapshot of a domain's landing zone.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from ikou.storage import (
    MANIFEST,
    NotPublished,
    StorageError,
    Store,
    code_version,
    join,
    landing_uri,
    sha256_file,
    zone_uri,
)


def publish(store: Store, prefix: str, files: dict[str, Path], manifest: dict) -> dict:
    """Upload ``files`` (name -> local path) under ``prefix``, then the manifest, last.

    A prefix that already holds a manifest is never overwritten: a retried task that
    finished publishing returns the existing manifest (so retries are idempotent).
    """
    manifest_uri = join(prefix, MANIFEST)
    if store.exists(manifest_uri):
        return read_manifest(store, prefix)
    entries = []
    # A hand-off manifest.json, if any, goes after the files it describes.
    for name, path in sorted(files.items(), key=lambda kv: (kv[0] == "manifest.json", kv[0])):
        path = Path(path)
        store.put_file(join(prefix, name), path)
        entries.append({"name": name, "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    body = dict(manifest)
    body.setdefault("published_at", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    body.setdefault("code_version", code_version())
    body["files"] = entries + list(body.get("files", []))
    body["prefix"] = prefix
    store.put_bytes(
        manifest_uri,
        json.dumps(body, ensure_ascii=False, indent=2, default=str).encode("utf-8"),
        content_type="application/json",
    )
    return body


def read_manifest(store: Store, prefix: str) -> dict:
    uri = join(prefix, MANIFEST)
    try:
        return json.loads(store.get_bytes(uri))
    except FileNotFoundError:
        raise NotPublished(f"{prefix} is not published (no {MANIFEST})") from None
    except Exception as exc:
        if "NoSuchKey" in type(exc).__name__ or "404" in str(exc):
            raise NotPublished(f"{prefix} is not published (no {MANIFEST})") from None
        raise


def fetch(
    store: Store, prefix: str, name: str, workdir: Path, manifest: dict | None = None
) -> Path:
    """Download one published file and check its sha256 against the manifest."""
    manifest = manifest or read_manifest(store, prefix)
    entry = next((f for f in manifest["files"] if f["name"] == name), None)
    if entry is None:
        raise StorageError(f"{prefix}: the manifest lists no file {name!r}")
    path = store.download(join(prefix, name), Path(workdir) / name)
    if "sha256" in entry and sha256_file(path) != entry["sha256"]:
        raise StorageError(f"{join(prefix, name)}: sha256 differs from its manifest")
    return path


def fetch_tables(store: Store, prefix: str, workdir: Path) -> tuple[dict, dict[str, Path]]:
    """Every published Parquet table of a prefix (part files ``_…`` excluded): (manifest,
    {table name: local path})."""
    manifest = read_manifest(store, prefix)
    paths = {}
    for f in manifest["files"]:
        if f["name"].endswith(".parquet") and not f["name"].startswith("_"):
            paths[f["name"][: -len(".parquet")]] = fetch(
                store, prefix, f["name"], workdir, manifest
            )
    return manifest, paths


# ----------------------------------------------------------------------------- latest pointers


def latest_validated_pointer(domain: str, snapshot: str) -> str:
    return join(zone_uri("validated", domain, "_latest"), f"{snapshot}.json")


def point_latest_validated(store: Store, domain: str, snapshot: str, uri: str, run_id: str) -> None:
    """Record that run ``run_id``'s validated output ``uri`` of the snapshot passed its gate."""
    store.put_bytes(
        latest_validated_pointer(domain, snapshot),
        json.dumps({"uri": uri, "run_id": run_id}).encode("utf-8"),
        content_type="application/json",
    )


def latest_validated(store: Store, domain: str, snapshot: str) -> dict:
    """``{"uri", "run_id"}`` of the domain's validated output of the snapshot that last passed
    gate_standard; :class:`NotPublished` when there is none."""
    try:
        pointer = json.loads(store.get_bytes(latest_validated_pointer(domain, snapshot)))
    except FileNotFoundError:
        pointer = None
    if not isinstance(pointer, dict) or "uri" not in pointer:
        raise NotPublished(
            f"the validated layout of {domain} (snapshot {snapshot}) has not passed "
            f"gate_standard yet: run migrate_{domain} first (the master DAG orders this)"
        )
    return pointer


# ----------------------------------------------------------------------------- landing snapshots

_SNAPSHOT_DIR = re.compile(r"\d{4}-\d{2}-\d{2}")


def latest_snapshot(store: Store, domain: str) -> str:
    """The newest snapshot in the domain's landing zone whose manifest is published."""
    prefix = landing_uri(domain, "").rstrip("/") + "/"
    candidates = [s for s in store.list_dirs(prefix) if _SNAPSHOT_DIR.fullmatch(s)]
    for snap in sorted(candidates, reverse=True):
        if store.exists(join(landing_uri(domain, snap), MANIFEST)):
            return snap
    raise NotPublished(
        f"no published snapshot of {domain} in {prefix} (run `ikou synth` or deliver the extract)"
    )


def is_published(store: Store, prefix: str) -> bool:
    return store.exists(join(prefix, MANIFEST))
