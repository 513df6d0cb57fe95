"""Binary integers (COMP, COMP-4, COMP-5, BINARY, INDEX, POINTER)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ikou.mainframe.copybook import Field
from ikou.mainframe.decode.base import Elements, R, decimal_ps, is_int64, np_array
from ikou.mainframe.decode.ints import decimal_array, mul_add_u128, neg_u128


def decode_binary(b: np.ndarray, f: Field, *, money: bool = False) -> Elements:
    """Big-endian two's complement (signed) or unsigned binary, 2 / 4 / 8 bytes."""
    m, size = b.shape
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
