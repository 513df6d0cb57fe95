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


def record_keys(
    domain: str, file: str, rows: Iterable[Iterable[object]], secret: bytes | None = None
) -> list[str]:
    """:func:`record_key` of many records at once (``rows``: each record's key values)."""
    return keyed_hashes(
        ("\x1e".join(str(v) for v in key_values) for key_values in rows),
        purpose=f"record:{domain}:{file}",
        secret=secret,
    )


def column_hash_key(purpose: str, secret: bytes | None = None) -> str:
    """The 128-bit key (16 ASCII characters) of :func:`keyed_hash_array` for one purpose, derived
    from the secret with HMAC-SHA256: never the secret itself."""
    import base64

    key = secret if secret is not None else settings().hmac_secret
    digest = hmac.new(key, f"column-key\x1f{purpose}".encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")[:16]


def keyed_hash_array(values, purpose: str, secret: bytes | None = None):
    """Keyed 64-bit hashes of many strings at once (a numpy ``uint64`` array): SipHash-2-4 (a
    keyed pseudo-random function; pandas' vectorised ``hash_array``) under a key derived from the
    secret and ``purpose``. For comparing millions of values inside the restricted zone (the
    difference of two snapshots); never for naming a record in a report (:func:`record_key`)."""
    import numpy as np
    from pandas.util import hash_array

    arr = np.asarray(values, dtype=object)
    return hash_array(arr, hash_key=column_hash_key(purpose, secret), categorize=False)
