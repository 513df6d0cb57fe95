"""Business keys of the synthetic city, distinct by construction (vectorised).

Every number a gate checks unique — 宛名番号, 個人番号, 住民票コード, 法人番号, 基礎年金番号 and the
files' own numbers (被保険者番号, 通知番号 …) — is drawn here without repetition. A duplicate key in
the legacy files exists only as a seeded defect (``duplicate_key``) with its answer-key row.

Check digits follow :mod:`ikou.identifiers` (a test checks every number with its validator).
"""

from __future__ import annotations

import numpy as np


def distinct(
    rng: np.random.Generator,
    low: int,
    high: int,
    n: int,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` distinct integers in ``[low, high)`` (none of ``exclude``), in random order."""
    if n < 0:
        raise ValueError("n must be >= 0")
    excluded = np.unique(np.asarray(exclude, dtype=np.int64)) if exclude is not None else None
    room = high - low - (len(excluded) if excluded is not None else 0)
    if n > room:
        raise ValueError(f"cannot draw {n:,} distinct numbers from a range of {high - low:,}")
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        need = n - len(out)
        # a few more than needed: collisions are rare when the range is much larger than n
        draw = rng.integers(low, high, size=need + need // 50 + 16, dtype=np.int64)
        cand = np.concatenate([out, draw])
        _, first = np.unique(cand, return_index=True)
        keep = np.zeros(len(cand), dtype=bool)
        keep[first] = True
        if excluded is not None and len(excluded):
            keep &= ~np.isin(cand, excluded)
        out = cand[keep][:n]  # first occurrences, in draw order
    return out


_LUT4 = np.array([[(i // 10**k) % 10 for k in (3, 2, 1, 0)] for i in range(10_000)], np.uint8)


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """The decimal digits (0-9, uint8) of non-negative integers, most significant first:
    shape (n, width). Four digits at a time from a table (one division per four digits)."""
    v = np.array(values, dtype=np.int64, copy=True).reshape(-1)
    groups = max(1, -(-width // 4))
    out = np.empty((len(v), groups * 4), dtype=np.uint8)
    for g in range(groups - 1, -1, -1):
        v, r = np.divmod(v, 10_000)
        out[:, g * 4 : g * 4 + 4] = _LUT4[r]
    return out[:, groups * 4 - width :]


def my_number_check(bodies: np.ndarray) -> np.ndarray:
    """Check digits of 11-digit 個人番号 bodies (weights 6,5,4,3,2,7,6,5,4,3,2)."""
    w = np.array((6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2), dtype=np.int64)
    r = (digits(bodies, 11) * w).sum(axis=1) % 11
    return np.where(r <= 1, 0, 11 - r)


def corporate_check(bodies: np.ndarray) -> np.ndarray:
    """Check digits of 12-digit 法人番号 bodies (9 - weighted sum mod 9, weights 1,2 from the right)."""
    w = np.array([1 if i % 2 == 0 else 2 for i in range(12)][::-1], dtype=np.int64)
    return 9 - (digits(bodies, 12) * w).sum(axis=1) % 9


def juminhyo_check(bodies: np.ndarray) -> np.ndarray:
    """Check digits of 10-digit 住民票コード bodies (the synthetic city's mod-11 rule)."""
    w = np.arange(11, 1, -1, dtype=np.int64)  # weights 2..11 from the right
    r = (digits(bodies, 10) * w).sum(axis=1) % 11
    return np.where(r <= 1, 0, 11 - r)


def my_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct valid 個人番号 (12 digits, first digit 1-9) as integers."""
    bodies = distinct(rng, 10**10, 10**11, n)
    return bodies * 10 + my_number_check(bodies)


def corporate_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct valid 法人番号 (13 digits: check digit first, body starting 1-9)."""
    bodies = distinct(rng, 10**11, 10**12, n)
    return corporate_check(bodies) * 10**12 + bodies


def juminhyo_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct 住民票コード (11 digits, first digit 1-9) with the synthetic check digit."""
    bodies = distinct(rng, 10**9, 10**10, n)
    return bodies * 10 + juminhyo_check(bodies)


def atena_numbers(rng: np.random.Generator, n: int, exclude: np.ndarray | None = None):
    """``n`` distinct 宛名番号 (10 digits, 0000000001-9999999999)."""
    return distinct(rng, 1, 10**10, n, exclude)


def pension_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct 基礎年金番号 (4-digit office code 1000-9999 + 6-digit serial) as integers."""
    return distinct(rng, 1000 * 10**6, 10**10, n)


def sequential(rng: np.random.Generator, n: int, width: int, what: str = "key") -> np.ndarray:
    """``n`` increasing numbers of at most ``width`` digits (random start, steps of 1-3)."""
    top = 10**width - 1
    if 3 * n + 1 > top:
        raise ValueError(f"{what}: {n:,} numbers do not fit in {width} digits")
    start = int(rng.integers(1, max(2, min(10 ** max(width - 2, 1), top - 3 * n))))
    return start + np.cumsum(rng.integers(1, 4, size=n, dtype=np.int64))


# -- keys that stay with a person across snapshots (``ikou synth --changes-from``) ---------------


def stable_sequential(key: int, uids: np.ndarray, total: int, width: int, what: str = "key"):
    """Increasing numbers by uid (steps of 1-3 over the uids ``0..total``): a person's number does
    not depend on who else is in the file, and people added later (higher uids) number after."""
    from ikou_dev.synth.draws import Draws

    top = 10**width - 1
    start = 1 + _keyed(key, 0) % max(1, 10 ** max(width - 2, 1) - 1)
    if start + 3 * total > top:
        raise ValueError(f"{what}: {total:,} numbers do not fit in {width} digits")
    steps = Draws(key).rows(np.arange(total)).integers(1, 4, total)
    ends = start + np.cumsum(steps)
    return ends[np.asarray(uids, dtype=np.int64)]


_PENSION_SPAN = 9 * 10**9  # 1000-9999 office code + 6-digit serial
_PENSION_A = 1_234_567_891  # odd, not a multiple of 3 or 5: coprime to the span


def stable_pension_numbers(key: int, uids: np.ndarray) -> np.ndarray:
    """Distinct 基礎年金番号 by uid (an affine permutation of the uid: distinct by construction)."""
    u = np.asarray(uids, dtype=np.int64) % _PENSION_SPAN
    hi, lo = divmod(_PENSION_A, 1 << 16)
    prod = ((u * hi) % _PENSION_SPAN * (1 << 16) + u * lo) % _PENSION_SPAN
    return 10**9 + (prod + _keyed(key, 1) % _PENSION_SPAN) % _PENSION_SPAN


def _keyed(key: int, label: int) -> int:
    from ikou_dev.synth.draws import Draws

    return Draws(key).stream(label).key >> 1
