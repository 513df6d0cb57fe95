"""Shared pieces of the field decoders: reason codes, :class:`Elements`, numpy -> Arrow
builders (no pandas) and the Arrow type of a field."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ikou.mainframe.copybook import Field

UNDEFINED = 0xFFFFFFFF
SEQUENCE = 0xFFFFFFFE  # ikou.moji.codepages: a DBCS code that decodes to several code points
PLACEHOLDER = "\u3013"  # 〓 GETA MARK: a visible stand-in for an unmapped 外字

# reason codes (index into REASONS); 0 = no problem
REASONS = (
    "",
    "invalid_zoned",
    "blank_numeric",
    "bad_nibble",
    "binary_overflow",
    "undefined_sbcs",
    "undecodable_dbcs",
    "unbalanced_shift",
    "odd_dbcs_length",
    "unmapped_gaiji",
    "odo_out_of_range",
    "record_too_short",
    "unknown_record_type",
    "truncated_record",
    "bad_rdw",
    "bad_bdw",
    "record_too_long",
    "invalid_edited",
    "invalid_national",
    "odo_count_zero",
    "short_record",
    "orphan_segment",
)
R = {r: i for i, r in enumerate(REASONS)}


def reason_code(name: str) -> int:
    return R[name]


# DBCS status codes in TextTables.dbcs_status
ST_OK, ST_GAIJI_MAPPED, ST_GAIJI_UNMAPPED, ST_SEQUENCE, ST_BAD = 0, 1, 2, 3, 4


@dataclass
class Elements:
    """Decoded elements: ``array`` (length m), ``bad`` reason codes, ``pos`` first problem byte."""

    array: pa.Array
    bad: np.ndarray  # uint8 (m,)
    pos: np.ndarray  # int32 (m,), byte offset inside the element (valid where bad != 0)
    gaiji: list = field(default_factory=list)  # [(row, code, pos, mapped: bool)] unmapped only
    gaiji_mapped: int = 0
    code_at_pos: np.ndarray | None = None  # for DBCS problems: the code found at pos


class LazyCompute:
    """``pyarrow.compute``, imported on first use (it costs start-up the CLI rarely needs)."""

    def __getattr__(self, name):
        import pyarrow.compute as _pc

        return getattr(_pc, name)


pc = LazyCompute()


# ------------------------------------------------------------------ numpy -> Arrow (no pandas)
# pyarrow's pa.array() imports pandas on first use when it is installed (seconds); these build
# arrays from buffers instead.


def np_array(values: np.ndarray, type_: pa.DataType, valid: np.ndarray | None = None) -> pa.Array:
    """A primitive Arrow array over a numpy array (int64 / int32 / float64 ...)."""
    v = np.ascontiguousarray(values)
    vb, nulls = (None, 0) if valid is None else validity(valid)
    return pa.Array.from_buffers(type_, len(v), [vb, pa.py_buffer(v)], null_count=nulls)


def bool_array(mask: np.ndarray) -> pa.Array:
    m = np.ascontiguousarray(mask, dtype=bool).reshape(-1)
    return pa.Array.from_buffers(
        pa.bool_(), len(m), [None, pa.py_buffer(np.packbits(m, bitorder="little"))]
    )


def string_array(items: list) -> pa.Array:
    """Arrow strings from a Python list of str (None = null)."""
    enc = [b"" if x is None else x.encode("utf-8") for x in items]
    lens = np.fromiter((len(b) for b in enc), np.int64, count=len(enc))
    offs = np.zeros(len(enc) + 1, np.int64)
    np.cumsum(lens, out=offs[1:])
    valid = np.fromiter((x is not None for x in items), bool, count=len(items))
    vb, nulls = validity(valid)
    if offs[-1] < 2**31:
        return pa.StringArray.from_buffers(
            len(enc), pa.py_buffer(offs.astype(np.int32)), pa.py_buffer(b"".join(enc)), vb, nulls
        )
    return pa.LargeStringArray.from_buffers(
        len(enc), pa.py_buffer(offs), pa.py_buffer(b"".join(enc)), vb, nulls
    ).cast(pa.string())


def repeat_string(value: str, n: int) -> pa.Array:
    b = value.encode("utf-8")
    offs = np.arange(n + 1, dtype=np.int64) * len(b)
    if n * len(b) < 2**31:
        return pa.StringArray.from_buffers(
            n, pa.py_buffer(offs.astype(np.int32)), pa.py_buffer(b * n)
        )
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offs), pa.py_buffer(b * n)).cast(
        pa.string()
    )


def null_where(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    """``arr`` with nulls where ``mask`` is True."""
    return pc.if_else(bool_array(mask), pa.nulls(len(arr), arr.type), arr)


def empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


def validity(valid: np.ndarray):
    if valid.all():
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), int(
        len(valid) - np.count_nonzero(valid)
    )


# ---------------------------------------------------------------------------------- types


def arrow_type(f: Field, money: bool = False) -> pa.DataType:
    """Arrow type of one element of ``f`` (decimal for money and packed, int64 for integral)."""
    if f.kind in ("alphanumeric", "dbcs", "mixed", "national"):
        return pa.string()
    if f.kind == "float":
        return pa.float64()
    if is_int64(f, money):
        return pa.int64()
    precision, scale = decimal_ps(f)
    return pa.decimal128(precision, scale)


def is_int64(f: Field, money: bool) -> bool:
    if f.kind in ("packed", "edited") or money:
        return False
    if f.kind == "binary" and f.size > 8:
        return False
    if f.kind == "binary" and f.usage in ("comp-5", "index", "pointer") and f.scale <= 0:
        return f.size < 8 or f.signed
    return f.scale <= 0 and f.digits - f.scale <= 18


def decimal_ps(f: Field) -> tuple[int, int]:
    if f.scale < 0:
        return min(38, max(1, f.digits - f.scale)), 0
    if f.kind == "binary" and (f.usage in ("comp-5", "index", "pointer") or f.size > 8):
        digits = {2: 5, 4: 10, 8: 20}.get(f.size, 38)
        return min(38, max(digits, f.scale)), f.scale
    return min(38, max(1, f.digits, f.scale)), f.scale
