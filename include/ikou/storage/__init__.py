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

import builtins
import functools
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ikou.config import resources, settings
from ikou.errors import Unreadable

MANIFEST = "_manifest.json"
RESTRICTED_ZONES = ("landing", "raw", "cleansed", "validated", "handoff", "quarantine", "review")
OPEN_ZONES = ("reports", "docs")


class StorageError(Unreadable):
    pass


class NotPublished(StorageError):
    """The prefix has no manifest: its writer did not finish (or never ran)."""


class ObjectChanged(StorageError):
    """An object changed between two reads that had to see the same version."""


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

    def list_dirs(self, prefix: str) -> builtins.list[str]:
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

    # -- operations callers used to take from the raw client -------------------------------
    def head(self, uri: str) -> ObjectInfo:
        """Size, version tag (S3 ETag; a local file's size and mtime) and modification time."""
        if is_s3(uri):
            bucket, key = split_s3(uri)
            try:
                h = self.client.head_object(Bucket=bucket, Key=key)
            except Exception as exc:
                if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                    raise FileNotFoundError(uri) from None
                raise
            return ObjectInfo(
                uri, int(h["ContentLength"]), str(h.get("ETag", "")), h["LastModified"].timestamp()
            )
        st = local_path(uri).stat()
        return ObjectInfo(uri, st.st_size, f"{st.st_size}-{st.st_mtime_ns}", st.st_mtime)

    def get_range(
        self, uri: str, start: int, end: int, dest: Path | str, if_match: str = ""
    ) -> Path:
        """Bytes [start, end) of an object into ``dest``. ``if_match``: the version tag the
        caller saw (:meth:`head`); an object changed since raises :class:`ObjectChanged`."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if is_s3(uri):
            bucket, key = split_s3(uri)
            kw = {"IfMatch": if_match} if if_match else {}
            try:
                obj = self.client.get_object(
                    Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}", **kw
                )
            except Exception as exc:
                if error_code(exc) in ("PreconditionFailed", "412"):
                    raise ObjectChanged(f"{uri} changed since it was planned") from None
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
            raise StorageError(
                f"{uri}: byte range {start}-{end} came back with {dest.stat().st_size} bytes"
            )
        return dest

    def sha256(self, uri: str, if_match: str = "") -> str:
        """The sha256 of a whole object, streamed (never downloaded to disk)."""
        if not is_s3(uri):
            return sha256_file(local_path(uri))
        bucket, key = split_s3(uri)
        kw = {"IfMatch": if_match} if if_match else {}
        try:
            body = self.client.get_object(Bucket=bucket, Key=key, **kw)["Body"]
        except Exception as exc:
            if error_code(exc) in ("PreconditionFailed", "412"):
                raise ObjectChanged(f"{uri} changed while it was read") from None
            raise
        h = hashlib.sha256()
        for chunk in body.iter_chunks(8 << 20):
            h.update(chunk)
        return h.hexdigest()

    def objects(self, prefix: str) -> builtins.list[ObjectInfo]:
        """Every object under a prefix (recursively) with its size and modification time."""
        if is_s3(prefix):
            bucket, key = split_s3(prefix)
            out = []
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=key
            ):
                for obj in page.get("Contents", []):
                    out.append(
                        ObjectInfo(
                            f"s3://{bucket}/{obj['Key']}",
                            int(obj["Size"]),
                            str(obj.get("ETag", "")),
                            obj["LastModified"].timestamp(),
                        )
                    )
            return out
        root = local_path(prefix)
        if not root.is_dir():
            return []
        return [
            ObjectInfo(str(p), p.stat().st_size, "", p.stat().st_mtime)
            for p in sorted(root.rglob("*"))
            if p.is_file()
        ]

    def list_files(self, prefix: str) -> builtins.list[str]:
        """Names of the objects directly under a prefix (not in its sub-prefixes)."""
        if is_s3(prefix):
            bucket, key = split_s3(prefix)
            key = key.rstrip("/") + "/" if key else ""
            out: builtins.list[str] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=key, Delimiter="/"):
                out.extend(o["Key"][len(key) :] for o in page.get("Contents", []))
            return sorted(n for n in out if n)
        root = local_path(prefix)
        return sorted(p.name for p in root.iterdir() if p.is_file()) if root.is_dir() else []

    # -- conditional writes (locks) ------------------------------------------------------------
    def put_if(
        self,
        uri: str,
        data: bytes,
        *,
        if_none_match: bool = False,
        if_match: str = "",
        content_type: str | None = None,
    ) -> str | None:
        """A conditional put: only if the object does not exist (``if_none_match``) or still
        has version ``if_match``. Returns the new version tag, or None when the condition
        failed. S3 only (locks between processes on several machines)."""
        bucket, key = split_s3(uri)
        kw: dict = {"ContentType": content_type} if content_type else {}
        if if_none_match:
            kw["IfNoneMatch"] = "*"
        if if_match:
            kw["IfMatch"] = if_match
        try:
            return str(self.client.put_object(Bucket=bucket, Key=key, Body=data, **kw)["ETag"])
        except Exception as exc:
            if error_code(exc) in PRECONDITION_CODES:
                return None
            raise

    def get_versioned(self, uri: str) -> tuple[str, bytes] | None:
        """(version tag, body) of an object, or None when it does not exist. S3 only."""
        bucket, key = split_s3(uri)
        try:
            r = self.client.get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        return str(r["ETag"]), r["Body"].read()

    def delete_if(self, uri: str, if_match: str) -> bool:
        """Delete an object if it still has version ``if_match``; False when it changed or is
        gone. S3 only."""
        bucket, key = split_s3(uri)
        try:
            self.client.delete_object(Bucket=bucket, Key=key, IfMatch=if_match)
            return True
        except Exception as exc:
            if error_code(exc) in PRECONDITION_CODES or error_code(exc) in ("NoSuchKey", "404"):
                return False
            raise


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    etag: str
    modified: float  # seconds since the epoch


#: S3 error codes of a failed condition (If-Match / If-None-Match)
PRECONDITION_CODES = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ClientError ('' for anything else)."""
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", "") or "")


def s3_client():
    """The boto3 S3 client: the one the host handed down (the Airflow layer's S3Hook client,
    see :mod:`ikou.config`), else plain boto3 (which honours AWS_ENDPOINT_URL). One per process
    and endpoint: creating a client costs up to a second."""
    provided = resources().s3_client
    if provided is not None:
        return provided
    return _s3_client(os.environ.get("AWS_ENDPOINT_URL", ""), os.getpid())


def forget_clients() -> None:
    """Drop this process's cached S3 clients (after the endpoint changed)."""
    _s3_client.cache_clear()


@functools.lru_cache(maxsize=8)
def _s3_client(endpoint: str, pid: int):  # noqa: ARG001 - cache keys
    # boto3 clients are thread-safe but not fork-safe: the pid is part of the key.
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
