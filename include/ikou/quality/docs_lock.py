"""The Data Docs build lock: one object, ``gx/_docs_build.lock`` in the reports bucket, taken
with a conditional put, renewed while its holder works and taken over when it is stale (the
protocol is described in :mod:`ikou.quality.docs`)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import time
import uuid

from ikou.storage import Store

log = logging.getLogger(__name__)

LOCK_KEY = "gx/_docs_build.lock"


LOCK_TTL = 30 * 60  # seconds without renewal after which a lock counts as abandoned


class LockTimeout(RuntimeError):
    pass


# ------------------------------------------------------------------------------ the lock


class BuildLock:
    """An exclusive lock held as an S3 object created with a conditional put."""

    def __init__(
        self,
        store: Store,
        bucket: str,
        key: str = LOCK_KEY,
        ttl: float = LOCK_TTL,
        timeout: float = 20 * 60,
        poll: float = 2.0,
    ):
        self.store, self.bucket, self.key = store, bucket, key
        self.ttl, self.timeout, self.poll = ttl, timeout, poll
        self.etag: str | None = None
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.waited = 0.0

    def _body(self) -> bytes:
        now = dt.datetime.now(dt.timezone.utc)
        return json.dumps(
            {
                "owner": self.owner,
                "renewed_at": now.isoformat(timespec="seconds"),
                "ttl_seconds": self.ttl,
            }
        ).encode()

    @staticmethod
    def _precondition_failed(exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")

    def _put(self, **condition) -> str | None:
        try:
            r = self.store.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=self._body(),
                ContentType="application/json",
                **condition,
            )
            return r["ETag"]
        except Exception as exc:  # botocore ClientError
            if self._precondition_failed(exc):
                return None
            raise

    def _current(self) -> tuple[str, dict] | None:
        try:
            r = self.store.client.get_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        try:
            return r["ETag"], json.loads(r["Body"].read())
        except ValueError:
            return r["ETag"], {}

    def acquire(self) -> BuildLock:
        started = time.monotonic()
        while True:
            self.etag = self._put(IfNoneMatch="*")
            if self.etag:
                break
            cur = self._current()
            if cur is not None:
                etag, body = cur
                try:
                    renewed = dt.datetime.fromisoformat(body["renewed_at"])
                    age = (dt.datetime.now(dt.timezone.utc) - renewed).total_seconds()
                except (KeyError, ValueError, TypeError):
                    age = float("inf")
                if age > float(body.get("ttl_seconds", self.ttl)):
                    self.etag = self._put(IfMatch=etag)  # take over an abandoned lock, atomically
                    if self.etag:
                        break
            if time.monotonic() - started > self.timeout:
                raise LockTimeout(
                    f"the Data Docs build lock s3://{self.bucket}/{self.key} is held by another "
                    f"build for more than {self.timeout:.0f}s"
                )
            time.sleep(self.poll)
        self.waited = round(time.monotonic() - started, 2)
        return self

    def renew(self) -> None:
        if self.etag:
            etag = self._put(IfMatch=self.etag)
            if etag is None:
                raise LockTimeout(
                    "the Data Docs build lock was taken over (this build was too slow)"
                )
            self.etag = etag

    def release(self) -> None:
        if not self.etag:
            return
        try:
            self.store.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except Exception as exc:
            if not self._precondition_failed(exc) and getattr(exc, "response", {}).get(
                "Error", {}
            ).get("Code") not in ("NoSuchKey", "404"):
                raise
        self.etag = None

    def __enter__(self) -> BuildLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
