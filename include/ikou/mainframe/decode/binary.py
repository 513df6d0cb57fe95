"""Binary integers (COMP, COMP-4, COMP-5, BINARY, INDEX, POINTER)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ikou.mainframe.copybook import Field
from ikou.mainframe.decode.base import Elements, R, decimal_ps, is_int64, np_array
from ikou.mainframe.decode.ints import decimal_array, mul_add_u128, neg_u128


def decode_binary(b: np.ndarray, f: Field, *, money: bool = False) -> Elements:
    """Big-endian two's complement (signed) or unsigned binary, 2 / 4 / 8 bytes (COMP-5: the
    whole range of its bytes, never limited by the picture); 9-16 bytes (19-38 digits) as
    decimal128, values of 39 digits or more are ``binary_overflow``."""
    m, size = b.shape
    if size > 8:
        return _decode_wide(b, f)
    c = np.ascontiguousarray(b).view(f">{'i' if f.signed else 'u'}{size}").reshape(m)
    reason = np.zeros(m, np.uint8)
    if not f.signed and size == 8:
        over = c > np.uint64(2**63 - 1)
        reason[over] = R["binary_overflow"]
        v = np.where(over, 0, c).astype(np.int64)
    else:
        v = c.astype(np.int64)
    valid = reason == 0
    up = -f.scale if f.scale < 0 else 0
    if is_int64(f, money):
        if up:
            v = v * 10**up
        arr = np_array(v, pa.int64(), None if valid.all() else valid)
    else:
        precision, scale = decimal_ps(f)
        lo = v.view(np.uint64)
        hi = np.where(v < 0, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))
        while up > 0:  # negative scale (P): scale the magnitude up
            step = min(up, 9)
            neg = v < 0
            hi, lo = neg_u128(hi, lo, neg)
            hi, lo = mul_add_u128(hi, lo, 10**step, np.zeros(m, np.uint64))
            hi, lo = neg_u128(hi, lo, neg)
            up -= step
        arr = decimal_array(hi, lo, valid, precision, scale)
    return Elements(arr, reason, np.zeros(m, np.int32))


_LIMIT = 10**38


def _decode_wide(b: np.ndarray, f: Field) -> Elements:
    """9-16 byte binary: sign-extended into two uint64 limbs, then decimal128."""
    m, size = b.shape
    if size > 16:
        raise ValueError(f"binary field {f.column} of {size} bytes: at most 16 are supported")
    neg = (b[:, 0] >= 0x80) if f.signed else np.zeros(m, bool)
    full = np.where(neg[:, None], np.uint8(0xFF), np.uint8(0)).repeat(16, axis=1)
    full[:, 16 - size :] = b
    full = np.ascontiguousarray(full)
    hi = full[:, :8].copy().view(">u8").reshape(m).astype(np.uint64)
    lo = full[:, 8:].copy().view(">u8").reshape(m).astype(np.uint64)
    # magnitude against 10**38 (decimal128 holds 38 digits)
    mh, ml = neg_u128(hi, lo, neg)
    lim_hi, lim_lo = np.uint64(_LIMIT >> 64), np.uint64(_LIMIT & 0xFFFFFFFFFFFFFFFF)
    over = (mh > lim_hi) | ((mh == lim_hi) & (ml >= lim_lo))
    if not f.signed:
        over |= hi >= np.uint64(1 << 63)
    reason = np.where(over, R["binary_overflow"], 0).astype(np.uint8)
    precision, scale = decimal_ps(f)
    hi = np.where(over, np.uint64(0), hi)
    lo = np.where(over, np.uint64(0), lo)
    return Elements(decimal_array(hi, lo, ~over, precision, scale), reason, np.zeros(m, np.int32))
