"""Airflow connections resolved into the resources the library uses (:class:`ikou.config.Resources`).

| connection / setting | what it gives | used for |
|---|---|---|
| ``IKOU_AWS_CONN_ID`` (e.g. ``ikou_s3``) | a boto3 S3 client from the Amazon provider's ``S3Hook`` | every S3 zone |
| ``ikou_target`` | the target database's SQLAlchemy URL | load, gate_target, reconciliation, cutover state |
| ``ikou_hmac`` (password) | the keyed-hash secret | record keys in reports, ledgers, reconciliation |
| ``[api] base_url`` | the UI's base URL | links in gate messages and reports |
| ``ikou_smtp`` + Variable ``ikou_notify_to`` | the SMTP server (sender: extra ``from_email``) and the recipients | the night's outcome (:mod:`ikou.airflow.notify`) |

Environment variables (``IKOU_TARGET_DB_URL``, ``IKOU_HMAC_SECRET``) still win, as documented in
:mod:`ikou.config`. Looked up once per process: a connection lookup and an S3 client cost up to
a second each.
"""

from __future__ import annotations

import functools
import logging
import os

from ikou.config import Resources

log = logging.getLogger(__name__)


def connection(conn_id: str):
    """The Airflow connection, or None when it is not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _target_url() -> str | None:
    conn = connection("ikou_target")
    if conn is None:
        return None
    return conn.get_uri().replace("postgres://", "postgresql://", 1)


def _hmac_secret() -> bytes | None:
    conn = connection("ikou_hmac")
    return conn.password.encode("utf-8") if conn is not None and conn.password else None


def _s3_client():
    conn_id = os.environ.get("IKOU_AWS_CONN_ID") or None
    if not conn_id:
        return None
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=conn_id).get_conn()


def ui_base_url() -> str | None:
    """The UI's ``[api] base_url`` (None: unset)."""
    from airflow.configuration import conf

    return conf.get("api", "base_url", fallback="") or None


@functools.lru_cache(maxsize=1)
def _resolved(pid: int) -> Resources:  # noqa: ARG001 - one per process (clients are not fork-safe)
    return Resources(
        s3_client=_s3_client(),
        target_db_url=None if os.environ.get("IKOU_TARGET_DB_URL") else _target_url(),
        hmac_secret=None if os.environ.get("IKOU_HMAC_SECRET") else _hmac_secret(),
        ui_base_url=ui_base_url(),
    )


def resolve() -> Resources:
    """This process's resources from Airflow's connections and configuration."""
    return _resolved(os.getpid())
