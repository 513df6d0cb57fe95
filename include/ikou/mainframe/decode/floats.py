"""Floating point: COMP-1 (4 bytes) and COMP-2 (8 bytes), IBM hexadecimal or IEEE 754."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ikou.mainframe.copybook import Field
from ikou.mainframe.decode.base import Elements, np_array

FLOAT_FORMATS = ("ibm", "ieee", "ieee-le")


def decode_float(b: np.ndarray, f: Field, *, fmt: str = "ibm", **_) -> Elements:
    """COMP-1 / COMP-2: ``fmt`` "ibm" (System/360 hexadecimal floating point, the default),
    "ieee" (IEEE 754 big-endian) or "ieee-le" (IEEE 754 little-endian)."""
    m, size = b.shape
    if fmt in ("ieee", "ieee-le"):
        order = ">" if fmt == "ieee" else "<"
        v = np.ascontiguousarray(b).view(f"{order}f{size}").reshape(m).astype(np.float64)
        return Elements(np_array(v, pa.float64()), np.zeros(m, np.uint8), np.zeros(m, np.int32))
    if fmt != "ibm":
        raise ValueError(f"float format {fmt!r}: use one of {', '.join(FLOAT_FORMATS)}")
    u = np.ascontiguousarray(b).view(f">u{size}").reshape(m).astype(np.uint64)
    bits = 24 if size == 4 else 56
    shift = np.uint64(8 * size - 8)
    top = (u >> shift).astype(np.int64)
    frac = (u & np.uint64((1 << (8 * size - 8)) - 1)).astype(np.float64)
    exp = (top & 0x7F) - 64
    v = np.ldexp(frac, (4 * exp - bits).astype(np.int32))
    v = np.where(top & 0x80, -v, v)
    return Elements(
        np_array(v.astype(np.float64), pa.float64()), np.zeros(m, np.uint8), np.zeros(m, np.int32)
    )
