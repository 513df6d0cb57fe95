"""Storage: S3 zones, run-scoped paths and atomic publication.

Zones (DESIGN.md): ``landing``, ``raw``, ``cleansed``, ``validated``, ``handoff``, ``quarantine``
and ``review`` hold personal data and live in the restricted bucket; ``reports`` and ``docs`` hold
none and live in the reports bucket. A stage writes its files under a run-scoped prefix
(``{zone}/{domain}/{run}/``) and publishes them by writing ``_manifest.json`` last: a reader only
trusts a prefix whose manifest exists, and reads the files the manifest lists (with their sha256),
so a half-written output is never consumed. Nothing is overwritten in place.

URIs are ``s3://bucket/key`` or local paths (``file://`` or plain), so the same code serves the
DAGs, the CLI and the tests.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ikou.config import settings

MANIFEST = "_manifest.json"
RESTRICTED_ZONES = ("landing", "raw", "cleansed", "validated", "handoff", "quarantine", "review")
OPEN_ZONES = ("reports", "docs")


class StorageError(RuntimeError):
    pass


class NotPublished(StorageError):
    """The prefix has no manifest: its writer did not finish (or never ran)."""


def run_key(run_id: str) -> str:
    """A run id made safe for object keys (Airflow run ids hold ':' and '+')."""
    key = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("_")
    key = re.sub(r"\.{2,}", "_", key).strip(".")  # never '.' or '..' as a path segment
    return key or "run"


def zone_uri(zone: str, domain: str, run: str) -> str:
    s = settings()
    if zone in RESTRICTED_ZONES:
        bucket = s.restricted_bucket
    elif zone in OPEN_ZONES:
        bucket = s.reports_bucket
    else:
        raise ValueError(f"unknown zone {zone!r}")
    return f"s3://{bucket}/{zone}/{domain}/{run_key(run)}/"


def landing_uri(domain: str, snapshot: str) -> str:
    return f"s3://{settings().restricted_bucket}/landing/{domain}/{snapshot}/"


def reference_uri(snapshot: str) -> str:
    """City reference data that comes with a snapshot (外字 table, town list)."""
    return f"s3://{settings().restricted_bucket}/landing/_reference/{snapshot}/"


def join(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name.lstrip("/")


def split_s3(uri: str) -> tuple[str, str]:
    m = re.match(r"^s3://([^/]+)/?(.*)$", uri)
    if not m:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return m.group(1), m.group(2)


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def local_path(uri: str) -> Path:
    return Path(uri[len("file://") :] if uri.startswith("file://") else uri)


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def code_version() -> str:
    """The git SHA of the code that produced an output (IKOU_CODE_VERSION overrides)."""
    v = os.environ.get("IKOU_CODE_VERSION")
    if v:
        return v
    head = Path(__file__).resolve().parents[3] / ".git"
    try:
        ref = (head / "HEAD").read_text().strip()
        if ref.startswith("ref: "):
            ref_path = head / ref[5:]
            if ref_path.exists():
                return ref_path.read_text().strip()
            packed = head / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    if line.endswith(ref[5:]):
                        return line.split()[0]
            return "unknown"
        return ref
    except OSError:
        return "unknown"


@dataclass
class Store:
    """Object storage behind the zones: S3 through boto3 (or the Amazon provider), or local files."""

    _client: object | None = None

    @property
    def client(self):
        if self._client is None:
            self._client = s3_client()
        return self._client

    # -- primitives -------------------------------------------------------------------------
    def put_file(self, uri: str, path: Path | str, content_type: str | None = None) -> None:
        if is_s3(uri):
            bucket, key = split_s3(uri)
            extra = {"ContentType": content_type} if content_type else None
            self.client.upload_file(str(path), bucket, key, ExtraArgs=extra)
        else:
            dest = local_path(uri)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            shutil.copyfile(path, tmp)
            os.replace(tmp, dest)

    def put_bytes(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        if is_s3(uri):
            bucket, key = split_s3(uri)
            kw = {"ContentType": content_type} if content_type else {}
            self.client.put_object(Bucket=bucket, Key=key, Body=data, **kw)
        else:
            dest = local_path(uri)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            tmp.write_bytes(data)
            os.replace(tmp, dest)

    def get_bytes(self, uri: str) -> bytes:
        if is_s3(uri):
            bucket, key = split_s3(uri)
            try:
                return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except self.client.exceptions.NoSuchKey:
                raise FileNotFoundError(uri) from None
        return local_path(uri).read_bytes()

    def download(self, uri: str, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if is_s3(uri):
            bucket, key = split_s3(uri)
            self.client.download_file(bucket, key, str(path))
        else:
            shutil.copyfile(local_path(uri), path)
        return path

    def exists(self, uri: str) -> bool:
        if is_s3(uri):
            bucket, key = split_s3(uri)
            try:
                self.client.head_object(Bucket=bucket, Key=key)
                return True
            except Exception as exc:  # botocore ClientError 404
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                if code in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        return local_path(uri).exists()

    def list(self, prefix: str) -> Iterator[str]:
        """URIs of the objects under a prefix (recursively)."""
        if is_s3(prefix):
            bucket, key = split_s3(prefix)
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=key):
                for obj in page.get("Contents", []):
                    yield f"s3://{bucket}/{obj['Key']}"
        else:
            root = local_path(prefix)
            if root.is_dir():
                for p in sorted(root.rglob("*")):
                    if p.is_file():
                        yield str(p)

    def list_dirs(self, prefix: str) -> list[str]:
        """Immediate sub-prefixes (names only) of a prefix."""
        if is_s3(prefix):
            bucket, key = split_s3(prefix)
            key = key.rstrip("/") + "/" if key else ""
            out = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=key, Delimiter="/"):
                for cp in page.get("CommonPrefixes", []):
                    out.append(cp["Prefix"][len(key) :].rstrip("/"))
            return sorted(out)
        root = local_path(prefix)
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def delete_prefix(self, prefix: str) -> int:
        n = 0
        if is_s3(prefix):
            bucket, _ = split_s3(prefix)
            keys = [split_s3(u)[1] for u in self.list(prefix)]
            for i in range(0, len(keys), 1000):
                self.client.delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i : i + 1000]]}
                )
                n += len(keys[i : i + 1000])
        else:
            root = local_path(prefix)
            if root.exists():
                n = sum(1 for p in root.rglob("*") if p.is_file())
                shutil.rmtree(root)
        return n

    # -- publication ------------------------------------------------------------------------
    def publish(self, prefix: str, files: dict[str, Path], manifest: dict) -> dict:
        """Upload ``files`` (name -> local path) under ``prefix``, then the manifest, last.

        A prefix that already holds a manifest is never overwritten: a retried task that
        finished publishing returns the existing manifest (so retries are idempotent).
        """
        manifest_uri = join(prefix, MANIFEST)
        if self.exists(manifest_uri):
            return self.read_manifest(prefix)
        entries = []
        # A hand-off manifest.json, if any, goes after the files it describes.
        for name, path in sorted(files.items(), key=lambda kv: (kv[0] == "manifest.json", kv[0])):
            path = Path(path)
            self.put_file(join(prefix, name), path)
            entries.append(
                {"name": name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
            )
        body = dict(manifest)
        body.setdefault(
            "published_at", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        )
        body.setdefault("code_version", code_version())
        body["files"] = entries + list(body.get("files", []))
        body["prefix"] = prefix
        self.put_bytes(
            manifest_uri,
            json.dumps(body, ensure_ascii=False, indent=2, default=str).encode("utf-8"),
            content_type="application/json",
        )
        return body

    def read_manifest(self, prefix: str) -> dict:
        uri = join(prefix, MANIFEST)
        try:
            return json.loads(self.get_bytes(uri))
        except FileNotFoundError:
            raise NotPublished(f"{prefix} is not published (no {MANIFEST})") from None
        except Exception as exc:
            if "NoSuchKey" in type(exc).__name__ or "404" in str(exc):
                raise NotPublished(f"{prefix} is not published (no {MANIFEST})") from None
            raise

    def fetch(self, prefix: str, name: str, workdir: Path, manifest: dict | None = None) -> Path:
        """Download one published file and check its sha256 against the manifest."""
        manifest = manifest or self.read_manifest(prefix)
        entry = next((f for f in manifest["files"] if f["name"] == name), None)
        if entry is None:
            raise StorageError(f"{prefix}: the manifest lists no file {name!r}")
        path = self.download(join(prefix, name), Path(workdir) / name)
        if "sha256" in entry and sha256_file(path) != entry["sha256"]:
            raise StorageError(f"{join(prefix, name)}: sha256 differs from its manifest")
        return path


def s3_client():
    """boto3 S3 client: through the Amazon provider's S3Hook when IKOU_AWS_CONN_ID names an
    Airflow connection, else plain boto3 (which honours AWS_ENDPOINT_URL). One per process and
    configuration: creating a client (and looking the connection up) costs up to a second."""
    s = settings()
    return _s3_client(s.aws_conn_id, os.environ.get("AWS_ENDPOINT_URL", ""), os.getpid())


@functools.lru_cache(maxsize=8)
def _s3_client(conn_id: str | None, endpoint: str, pid: int):  # noqa: ARG001 - cache keys
    # boto3 clients are thread-safe but not fork-safe: the pid is part of the key.
    if conn_id:
        try:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            return S3Hook(aws_conn_id=conn_id).get_conn()
        except ImportError:
            pass
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        config=Config(
            retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=120
        ),
    )


def workdir(prefix: str = "ikou-") -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=prefix)
