"""Integer arithmetic over digit matrices: int64 Horner, 128-bit limbs, decimal128 arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ikou.mainframe.copybook import Field
from ikou.mainframe.decode.base import decimal_ps, is_int64, np_array, validity


def horner(d: np.ndarray) -> np.ndarray:
    """(m, k) digit matrix -> int64 (k <= 18)."""
    m, k = d.shape
    v = np.zeros(m, np.int64)
    for i in range(k):
        v *= 10
        v += d[:, i]
    return v


M32 = np.uint64(0xFFFFFFFF)
S32 = np.uint64(32)


def mul_add_u128(hi: np.ndarray, lo: np.ndarray, mult: int, add: np.ndarray):
    """(hi, lo) * mult + add for uint64 limbs; mult < 2**32, add < 2**32."""
    mu = np.uint64(mult)
    lo0 = lo & M32
    lo1 = lo >> S32
    p0 = lo0 * mu + add.astype(np.uint64)
    p1 = lo1 * mu + (p0 >> S32)
    new_lo = ((p1 & M32) << S32) | (p0 & M32)
    new_hi = hi * mu + (p1 >> S32)
    return new_hi, new_lo


def digits_u128(d: np.ndarray):
    m, k = d.shape
    hi = np.zeros(m, np.uint64)
    lo = np.zeros(m, np.uint64)
    for s in range(0, k, 9):
        chunk = d[:, s : s + 9]
        hi, lo = mul_add_u128(hi, lo, 10 ** chunk.shape[1], horner(chunk))
    return hi, lo


def neg_u128(hi, lo, neg):
    nlo = (~lo) + np.uint64(1)
    nhi = (~hi) + (nlo == 0).astype(np.uint64)
    return np.where(neg, nhi, hi), np.where(neg, nlo, lo)


def decimal_array(hi, lo, valid, precision, scale) -> pa.Array:
    m = len(lo)
    buf = np.empty((m, 2), np.uint64)
    buf[:, 0] = lo
    buf[:, 1] = hi
    vb, nulls = validity(valid)
    return pa.Array.from_buffers(
        pa.decimal128(precision, scale), m, [vb, pa.py_buffer(buf)], null_count=nulls
    )


def number_array(
    f: Field, d: np.ndarray, neg: np.ndarray, valid: np.ndarray, money: bool
) -> pa.Array:
    """Arrow array from a digit matrix (m, k) and sign."""
    k = d.shape[1]
    up = -f.scale if f.scale < 0 else 0
    if is_int64(f, money) and k + up <= 18:
        v = horner(d) if k else np.zeros(len(d), np.int64)
        if up:
            v *= 10**up
        np.negative(v, out=v, where=neg)
        return np_array(v, pa.int64(), None if valid.all() else valid)
    precision, scale = decimal_ps(f)
    if k + up <= 18:
        v = horner(d)
        if up:
            v *= 10**up
        np.negative(v, out=v, where=neg)
        lo = v.view(np.uint64)
        hi = np.where(v < 0, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))
        return decimal_array(hi, lo, valid, precision, scale)
    hi, lo = digits_u128(d)
    while up > 0:
        step = min(up, 9)
        hi, lo = mul_add_u128(hi, lo, 10**step, np.zeros(len(lo), np.uint64))
        up -= step
    hi, lo = neg_u128(hi, lo, neg)
    return decimal_array(hi, lo, valid, precision, scale)


def first_true(mask: np.ndarray) -> np.ndarray:
    """Column index of the first True per row (0 where none)."""
    if mask.shape[1] == 0:
        return np.zeros(mask.shape[0], np.int32)
    return np.argmax(mask, axis=1).astype(np.int32)
