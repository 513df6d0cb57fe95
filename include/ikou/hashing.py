"""Keyed hashes (HMAC-SHA256) for record keys and values outside the restricted zones.

A plain hash of a birth date or a 個人番号 can be brute-forced; an HMAC with a secret cannot
without the secret. Every hash is domain-separated by a ``purpose`` (e.g. ``record``,
``ledger-value``) so hashes made for one use cannot be joined with another's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from ikou.config import settings

DIGEST_HEX = 32  # 128 bits: plenty against collisions among a city's records, short in reports


def keyed_hash(value: object, purpose: str = "record", secret: bytes | None = None) -> str:
    key = secret if secret is not None else settings().hmac_secret
    msg = f"{purpose}\x1f{'' if value is None else value}".encode("utf-8")
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:DIGEST_HEX]


def keyed_hashes(
    values: Iterable[object], purpose: str = "record", secret: bytes | None = None
) -> list[str]:
    key = secret if secret is not None else settings().hmac_secret
    prefix = f"{purpose}\x1f".encode("utf-8")
    base = hmac.new(key, prefix, hashlib.sha256)
    out = []
    for v in values:
        h = base.copy()
        h.update(("" if v is None else str(v)).encode("utf-8"))
        out.append(h.hexdigest()[:DIGEST_HEX])
    return out


def record_key(
    domain: str, file: str, key_values: Iterable[object], secret: bytes | None = None
) -> str:
    """Keyed hash naming one record in findings and reports: never the key itself."""
    return keyed_hash(
        "\x1e".join(str(v) for v in key_values), purpose=f"record:{domain}:{file}", secret=secret
    )
