"""Settings from the environment, and the resources the Airflow layer resolved for them.

A primitive: it imports nothing of Airflow (nor of the rest of Ikou). One code path serves every
deployment: only these settings differ between the embedded default (`make run`: local S3
endpoint, SQLite target) and the real one (MinIO or AWS S3, PostgreSQL).

| variable                 | meaning                                                   | default |
|--------------------------|-----------------------------------------------------------|---------|
| AWS_ENDPOINT_URL         | S3 endpoint (boto3 reads it itself); unset = AWS          | unset |
| IKOU_AWS_CONN_ID         | Airflow AWS connection the Airflow layer uses (S3Hook)     | unset (plain boto3) |
| IKOU_RESTRICTED_BUCKET   | bucket of the restricted zones (landing … review)          | ikou-restricted |
| IKOU_REPORTS_BUCKET      | bucket of reports/ and docs/ (no personal data)            | ikou-reports |
| IKOU_TARGET_DB_URL       | SQLAlchemy URL of the target database                      | Airflow conn ikou_target, else SQLite under IKOU_HOME |
| IKOU_HMAC_SECRET         | secret of the keyed hashes (HMAC-SHA256)                   | Airflow conn ikou_hmac (password); required |
| IKOU_HOME                | local working folder (SQLite target, caches)               | ./.ikou |
| IKOU_GAIJI_POLICY        | unmapped 外字: placeholder (record continues), quarantine or pua | placeholder |
| IKOU_DEDUPE_MEMORY_LIMIT | DuckDB's memory in 名寄せ: a size (2GB, 512MB) or a share (10%) | 1GB |

The settings with a value to check (:meth:`Settings.check`) are checked when a task starts, before
its stage runs, and by ``ikou stack run`` before it starts anything: a malformed one is one line
and exit 2 at once, not a failure deep in a run (issue 10).

Inside Airflow, the Airflow layer (:mod:`ikou.airflow.connections`) resolves the connections
``ikou_s3`` (a boto3 client from the Amazon provider's S3Hook), ``ikou_target`` and
``ikou_hmac`` and hands them down for the duration of a task with :func:`using`; the library
reads them through :func:`settings` and :func:`resources` and never asks Airflow itself.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ikou.errors import BadArgument, IkouError


class ConfigError(IkouError):
    """A setting is missing or malformed (exit 2: the message names the setting)."""

    exit_code = BadArgument.exit_code


@dataclass(frozen=True)
class Resources:
    """What a host (the Airflow layer) resolved from its connections for the library to use.

    ``s3_client``: a boto3 S3 client (None: plain boto3 from the environment);
    ``target_db_url``: SQLAlchemy URL of the target database; ``hmac_secret``: the keyed-hash
    secret; ``ui_base_url``: the Airflow UI's base URL (links in reports and gate messages)."""

    s3_client: object | None = None
    target_db_url: str | None = None
    hmac_secret: bytes | None = None
    ui_base_url: str | None = None


_NONE = Resources()
_active: contextvars.ContextVar[Resources] = contextvars.ContextVar("ikou_resources", default=_NONE)


@contextlib.contextmanager
def using(res: Resources) -> Iterator[Resources]:
    """Hand ``res`` down to everything called inside the ``with`` block."""
    token = _active.set(res)
    try:
        yield res
    finally:
        _active.reset(token)


def resources() -> Resources:
    """The resources handed down by the host (empty outside one)."""
    return _active.get()


#: DuckDB's memory limit in 名寄せ (IKOU_DEDUPE_MEMORY_LIMIT): beyond it DuckDB spills to the
#: task's temp folder instead of growing with the city (its own default, 80 % of the machine, is
#: never reached). 1GB: a 500k city's 名寄せ needs about 0.8 GB of DuckDB; a 1M city's spilled
#: under 1GB at about the same CPU time
DEDUPE_MEMORY_LIMIT = "1GB"
_MEMORY = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B|%)", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    restricted_bucket: str
    reports_bucket: str
    aws_conn_id: str | None
    home: Path

    @property
    def target_db_url(self) -> str:
        url = os.environ.get("IKOU_TARGET_DB_URL") or resources().target_db_url
        if url:
            return url
        self.home.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.home / 'target.sqlite').resolve()}"

    @property
    def hmac_secret(self) -> bytes:
        secret = os.environ.get("IKOU_HMAC_SECRET")
        if secret:
            return secret.encode("utf-8")
        if resources().hmac_secret:
            return resources().hmac_secret  # type: ignore[return-value]
        raise ConfigError(
            "no HMAC secret: set IKOU_HMAC_SECRET or the password of the Airflow connection "
            "'ikou_hmac' (keyed hashes protect record keys in reports; a plain hash would not)"
        )

    @property
    def gaiji_policy(self) -> str:
        policy = os.environ.get("IKOU_GAIJI_POLICY", "placeholder")
        if policy not in ("placeholder", "quarantine", "pua"):
            raise ConfigError(
                f"IKOU_GAIJI_POLICY must be placeholder, quarantine or pua, not {policy[:40]!r}"
            )
        return policy

    @property
    def dedupe_memory_limit(self) -> str:
        """DuckDB's memory limit for 名寄せ (:data:`DEDUPE_MEMORY_LIMIT` when unset)."""
        raw = os.environ.get("IKOU_DEDUPE_MEMORY_LIMIT", "").strip()
        if not raw:
            return DEDUPE_MEMORY_LIMIT
        if not _MEMORY.fullmatch(raw):
            raise ConfigError(
                f"IKOU_DEDUPE_MEMORY_LIMIT must be a size such as 2GB or 512MB, or a share such "
                f"as 10%, not {raw[:40]!r}"
            )
        return raw

    def check(self) -> None:
        """Read every setting whose value has a form to check: a malformed one raises
        :class:`ConfigError` (exit 2) before a stage runs, instead of where it is first used."""
        for name in CHECKED_SETTINGS:
            getattr(self, name)

    @property
    def ui_base_url(self) -> str:
        """The Airflow UI's base URL, without a trailing slash."""
        url = os.environ.get("AIRFLOW__API__BASE_URL") or resources().ui_base_url
        return (url or "http://localhost:8080").rstrip("/")


#: The :class:`Settings` properties :meth:`Settings.check` reads (one place: a new checked
#: setting is added here)
CHECKED_SETTINGS = ("gaiji_policy", "dedupe_memory_limit")


def settings() -> Settings:
    return Settings(
        restricted_bucket=os.environ.get("IKOU_RESTRICTED_BUCKET", "ikou-restricted"),
        reports_bucket=os.environ.get("IKOU_REPORTS_BUCKET", "ikou-reports"),
        aws_conn_id=os.environ.get("IKOU_AWS_CONN_ID") or None,
        home=Path(os.environ.get("IKOU_HOME", ".ikou")),
    )
