"""Settings from the environment (and, inside Airflow, from Airflow connections).

One code path for every deployment: only these settings differ between the embedded default
(`make run`: local S3 endpoint, SQLite target) and the real one (MinIO or AWS S3, PostgreSQL).

| variable                 | meaning                                                   | default |
|--------------------------|-----------------------------------------------------------|---------|
| AWS_ENDPOINT_URL         | S3 endpoint (boto3 reads it itself); unset = AWS          | unset |
| IKOU_AWS_CONN_ID         | Airflow AWS connection used inside tasks (S3Hook)          | unset (plain boto3) |
| IKOU_RESTRICTED_BUCKET   | bucket of the restricted zones (landing … review)          | ikou-restricted |
| IKOU_REPORTS_BUCKET      | bucket of reports/ and docs/ (no personal data)            | ikou-reports |
| IKOU_TARGET_DB_URL       | SQLAlchemy URL of the target database                      | Airflow conn ikou_target, else SQLite under IKOU_HOME |
| IKOU_HMAC_SECRET         | secret of the keyed hashes (HMAC-SHA256)                   | Airflow conn ikou_hmac (password); required |
| IKOU_HOME                | local working folder (SQLite target, caches)               | ./.ikou |
| IKOU_GAIJI_POLICY        | unmapped 外字: placeholder (record continues) or quarantine | placeholder |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class ConfigError(RuntimeError):
    pass


def _airflow_connection(conn_id: str):
    """The Airflow connection, or None outside Airflow / when it is not defined."""
    if not os.environ.get("AIRFLOW_HOME") and not os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return None
    try:
        from airflow.sdk import BaseHook  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - outside Airflow
        try:
            from airflow.hooks.base import BaseHook  # type: ignore
        except Exception:
            return None
    try:
        return BaseHook.get_connection(conn_id)
    except Exception:
        return None


@dataclass(frozen=True)
class Settings:
    restricted_bucket: str
    reports_bucket: str
    aws_conn_id: str | None
    home: Path

    @property
    def target_db_url(self) -> str:
        url = os.environ.get("IKOU_TARGET_DB_URL")
        if url:
            return url
        conn = _airflow_connection("ikou_target")
        if conn is not None:
            return conn.get_uri().replace("postgres://", "postgresql://", 1)
        self.home.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.home / 'target.sqlite').resolve()}"

    @property
    def hmac_secret(self) -> bytes:
        secret = os.environ.get("IKOU_HMAC_SECRET")
        if not secret:
            conn = _airflow_connection("ikou_hmac")
            secret = conn.password if conn is not None else None
        if not secret:
            raise ConfigError(
                "no HMAC secret: set IKOU_HMAC_SECRET or the password of the Airflow connection "
                "'ikou_hmac' (keyed hashes protect record keys in reports; a plain hash would not)"
            )
        return secret.encode("utf-8")

    @property
    def gaiji_policy(self) -> str:
        policy = os.environ.get("IKOU_GAIJI_POLICY", "placeholder")
        if policy not in ("placeholder", "quarantine"):
            raise ConfigError(
                f"IKOU_GAIJI_POLICY must be placeholder or quarantine, not {policy!r}"
            )
        return policy


def settings() -> Settings:
    return Settings(
        restricted_bucket=os.environ.get("IKOU_RESTRICTED_BUCKET", "ikou-restricted"),
        reports_bucket=os.environ.get("IKOU_REPORTS_BUCKET", "ikou-reports"),
        aws_conn_id=os.environ.get("IKOU_AWS_CONN_ID") or None,
        home=Path(os.environ.get("IKOU_HOME", ".ikou")),
    )
