"""Vectorised field decoders: numpy over every element of a chunk, no per-record Python loop.

Each decoder takes ``b``, a ``(m, size)`` uint8 matrix (one row per field element: a record's
field, or one OCCURS element) and returns an :class:`Elements`: the Arrow array of the ``m``
values (null where invalid), a reason code per row (0 = fine) and the byte position of the first
problem inside the element. Text decoders also report 外字 occurrences. The callers (the
engine) turn element rows into records, quarantine rows and lineage.

Text goes through :class:`TextTables`, built once per code page (+ 外字 table + policy): for
each SBCS byte and DBCS code the UTF-8 bytes packed into a uint32 word and their length, and a
status (defined / 外字 mapped / 外字 unmapped / sequence / undecodable). Building Arrow strings is
then a gather of words, a cumulative sum for the offsets and one boolean compress of the bytes.
Rows with a code that maps to several code points (an IVS sequence in the 外字 table, a JIS X
0213 combining pair) take a small per-row fallback; everything else stays vectorised.

Error details carry codes and offsets only, never decoded text (it is personal data).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ikou.mainframe.copybook import Field

__all__ = [
    "REASONS",
    "reason_code",
    "Elements",
    "TextTables",
    "arrow_type",
    "decode_elements",
    "decode_zoned",
    "decode_packed",
    "decode_binary",
    "decode_float",
    "decode_sbcs",
    "decode_dbcs",
    "decode_mixed",
    "PLACEHOLDER",
]

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
)
_R = {r: i for i, r in enumerate(REASONS)}


def reason_code(name: str) -> int:
    return _R[name]


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


class _LazyCompute:
    """``pyarrow.compute``, imported on first use (it costs start-up the CLI rarely needs)."""

    def __getattr__(self, name):
        import pyarrow.compute as _pc

        return getattr(_pc, name)


pc = _LazyCompute()


# ------------------------------------------------------------------ numpy -> Arrow (no pandas)
# pyarrow's pa.array() imports pandas on first use when it is installed (seconds); these build
# arrays from buffers instead.


def np_array(values: np.ndarray, type_: pa.DataType, valid: np.ndarray | None = None) -> pa.Array:
    """A primitive Arrow array over a numpy array (int64 / int32 / float64 ...)."""
    v = np.ascontiguousarray(values)
    vb, nulls = (None, 0) if valid is None else _validity(valid)
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
    vb, nulls = _validity(valid)
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


# ---------------------------------------------------------------------------------- types


def arrow_type(f: Field, money: bool = False) -> pa.DataType:
    """Arrow type of one element of ``f`` (decimal for money and packed, int64 for integral)."""
    if f.kind in ("alphanumeric", "dbcs", "mixed"):
        return pa.string()
    if f.kind == "float":
        return pa.float64()
    if _is_int64(f, money):
        return pa.int64()
    precision, scale = _decimal_ps(f)
    return pa.decimal128(precision, scale)


def _is_int64(f: Field, money: bool) -> bool:
    if f.kind == "packed" or money:
        return False
    if f.kind == "binary" and f.usage in ("comp-5", "index", "pointer") and f.scale <= 0:
        return f.size < 8 or f.signed
    return f.scale <= 0 and f.digits - f.scale <= 18


def _decimal_ps(f: Field) -> tuple[int, int]:
    if f.scale < 0:
        return min(38, max(1, f.digits - f.scale)), 0
    if f.kind == "binary" and f.usage in ("comp-5", "index", "pointer"):
        digits = {2: 5, 4: 10, 8: 20}[f.size]
        return min(38, max(digits, f.scale)), f.scale
    return min(38, max(1, f.digits, f.scale)), f.scale


# ----------------------------------------------------------------------------- integers


def _horner(d: np.ndarray) -> np.ndarray:
    """(m, k) digit matrix -> int64 (k <= 18)."""
    m, k = d.shape
    v = np.zeros(m, np.int64)
    for i in range(k):
        v *= 10
        v += d[:, i]
    return v


_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def _mul_add_u128(hi: np.ndarray, lo: np.ndarray, mult: int, add: np.ndarray):
    """(hi, lo) * mult + add for uint64 limbs; mult < 2**32, add < 2**32."""
    mu = np.uint64(mult)
    lo0 = lo & _M32
    lo1 = lo >> _S32
    p0 = lo0 * mu + add.astype(np.uint64)
    p1 = lo1 * mu + (p0 >> _S32)
    new_lo = ((p1 & _M32) << _S32) | (p0 & _M32)
    new_hi = hi * mu + (p1 >> _S32)
    return new_hi, new_lo


def _digits_u128(d: np.ndarray):
    m, k = d.shape
    hi = np.zeros(m, np.uint64)
    lo = np.zeros(m, np.uint64)
    for s in range(0, k, 9):
        chunk = d[:, s : s + 9]
        hi, lo = _mul_add_u128(hi, lo, 10 ** chunk.shape[1], _horner(chunk))
    return hi, lo


def _neg_u128(hi, lo, neg):
    nlo = (~lo) + np.uint64(1)
    nhi = (~hi) + (nlo == 0).astype(np.uint64)
    return np.where(neg, nhi, hi), np.where(neg, nlo, lo)


def _validity(valid: np.ndarray):
    if valid.all():
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), int(
        len(valid) - np.count_nonzero(valid)
    )


def _decimal_array(hi, lo, valid, precision, scale) -> pa.Array:
    m = len(lo)
    buf = np.empty((m, 2), np.uint64)
    buf[:, 0] = lo
    buf[:, 1] = hi
    vb, nulls = _validity(valid)
    return pa.Array.from_buffers(
        pa.decimal128(precision, scale), m, [vb, pa.py_buffer(buf)], null_count=nulls
    )


def _number_array(
    f: Field, d: np.ndarray, neg: np.ndarray, valid: np.ndarray, money: bool
) -> pa.Array:
    """Arrow array from a digit matrix (m, k) and sign."""
    k = d.shape[1]
    up = -f.scale if f.scale < 0 else 0
    if _is_int64(f, money) and k + up <= 18:
        v = _horner(d) if k else np.zeros(len(d), np.int64)
        if up:
            v *= 10**up
        np.negative(v, out=v, where=neg)
        return np_array(v, pa.int64(), None if valid.all() else valid)
    precision, scale = _decimal_ps(f)
    if k + up <= 18:
        v = _horner(d)
        if up:
            v *= 10**up
        np.negative(v, out=v, where=neg)
        lo = v.view(np.uint64)
        hi = np.where(v < 0, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))
        return _decimal_array(hi, lo, valid, precision, scale)
    hi, lo = _digits_u128(d)
    while up > 0:
        step = min(up, 9)
        hi, lo = _mul_add_u128(hi, lo, 10**step, np.zeros(len(lo), np.uint64))
        up -= step
    hi, lo = _neg_u128(hi, lo, neg)
    return _decimal_array(hi, lo, valid, precision, scale)


def _first(mask: np.ndarray) -> np.ndarray:
    """Column index of the first True per row (0 where none)."""
    if mask.shape[1] == 0:
        return np.zeros(mask.shape[0], np.int32)
    return np.argmax(mask, axis=1).astype(np.int32)


# ------------------------------------------------------------------------------- numbers


def decode_zoned(
    b: np.ndarray, f: Field, *, money: bool = False, blank: str = "quarantine"
) -> Elements:
    """Zoned decimal: F zones, overpunched sign (C/A/E/F +, D/B -) or a separate sign byte."""
    m, size = b.shape
    up = -f.scale if f.scale < 0 else 0
    if not (f.signed and f.sign_separate) and 0 < size and size + up <= 18:
        sc = 0 if (f.signed and f.sign_position == "leading") else size - 1
        return _number_with_kernel(
            b,
            f,
            "zoned",
            sc,
            size,
            money,
            lambda x: _decode_zoned_np(x, f, money=money, blank=blank),
        )
    return _decode_zoned_np(b, f, money=money, blank=blank)


def _decode_zoned_np(
    b: np.ndarray, f: Field, *, money: bool = False, blank: str = "quarantine"
) -> Elements:
    m, size = b.shape
    zone = b >> 4
    dig = b & 0x0F
    neg = np.zeros(m, bool)
    if f.signed and f.sign_separate:
        sc = 0 if f.sign_position == "leading" else size - 1
        s = b[:, sc]
        neg = s == 0x60
        sign_bad = ~(neg | (s == 0x4E))
        dcols = slice(1, size) if sc == 0 else slice(0, size - 1)
        zbad = zone[:, dcols] != 0xF
        dbad = dig[:, dcols] > 9
        badm = zbad | dbad
        digits = dig[:, dcols]
        off = 1 if sc == 0 else 0
        pos = np.where(sign_bad, sc, _first(badm) + off)
        bad = sign_bad | badm.any(axis=1)
    else:
        sc = 0 if (f.signed and f.sign_position == "leading") else size - 1
        zbad = zone != 0xF
        sz = zone[:, sc]
        if f.signed:
            neg = (sz == 0xD) | (sz == 0xB)
            zbad[:, sc] = sz < 0xA
        else:
            zbad[:, sc] = ~((sz == 0xF) | (sz == 0xC))
        badm = zbad | (dig > 9)
        digits = dig
        pos = _first(badm)
        bad = badm.any(axis=1)
    reason = np.where(bad, _R["invalid_zoned"], 0).astype(np.uint8)
    valid = ~bad
    if bad.any():
        blank_rows = bad & (b == 0x40).all(axis=1)
        if blank_rows.any():
            if blank == "null":
                reason[blank_rows] = 0
            else:
                reason[blank_rows] = _R["blank_numeric"]
            pos[blank_rows] = 0
    return Elements(_number_array(f, digits, neg, valid, money), reason, pos.astype(np.int32))


def decode_packed(b: np.ndarray, f: Field, *, money: bool = True) -> Elements:
    """Packed decimal: digit nibbles 0-9, sign nibble C/A/E/F + and D/B - (F/C/A/E unsigned)."""
    m, size = b.shape
    up = -f.scale if f.scale < 0 else 0
    k = min(f.digits, 2 * size - 1)
    if size and k + up <= 18 and 2 * size - 1 <= 19:
        return _number_with_kernel(
            b, f, "packed", f.digits, k, True, lambda x: _decode_packed_np(x, f)
        )
    return _decode_packed_np(b, f)


def _number_with_kernel(
    b: np.ndarray, f: Field, kind: str, arg: int, k: int, money: bool, np_fn
) -> Elements:
    """The compiled kernel for the plain rows, ``np_fn`` for the others (same results)."""
    from ikou.mainframe import kernel

    res = kernel.number_kernel(b, kind, arg, f.signed)
    if res is None:
        return np_fn(b)
    v, slow = res
    m = len(v)
    up = -f.scale if f.scale < 0 else 0
    if up:
        v *= 10**up
    if _is_int64(f, money):
        arr = np_array(v, pa.int64())
    else:
        precision, scale = _decimal_ps(f)
        hi = np.where(v < 0, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))
        arr = _decimal_array(hi, v.view(np.uint64), np.ones(m, bool), precision, scale)
    reason = np.zeros(m, np.uint8)
    pos = np.zeros(m, np.int32)
    if slow.any():
        rows = np.flatnonzero(slow)
        sub = np_fn(b[rows])
        arr = pc.replace_with_mask(arr, bool_array(slow), sub.array)
        reason[rows] = sub.bad
        pos[rows] = sub.pos
    return Elements(arr, reason, pos)


def _decode_packed_np(b: np.ndarray, f: Field, *, money: bool = True) -> Elements:
    m, size = b.shape
    nib = np.empty((m, 2 * size), np.uint8)
    nib[:, 0::2] = b >> 4
    nib[:, 1::2] = b & 0x0F
    dn = nib[:, :-1]
    sign = nib[:, -1]
    badm = dn > 9
    extra = dn.shape[1] - f.digits
    if extra > 0:
        badm[:, :extra] |= dn[:, :extra] != 0
    neg = (sign == 0xD) | (sign == 0xB)
    if f.signed:
        sign_bad = sign < 0xA
    else:
        sign_bad = (sign < 0xA) | neg
    bad = badm.any(axis=1) | sign_bad
    pos = np.where(badm.any(axis=1), _first(badm) // 2, size - 1).astype(np.int32)
    reason = np.where(bad, _R["bad_nibble"], 0).astype(np.uint8)
    digits = dn[:, extra:] if extra > 0 else dn
    return Elements(_number_array(f, digits, neg, ~bad, True), reason, pos)


def decode_binary(b: np.ndarray, f: Field, *, money: bool = False) -> Elements:
    """Big-endian two's complement (signed) or unsigned binary, 2 / 4 / 8 bytes."""
    m, size = b.shape
    c = np.ascontiguousarray(b).view(f">{'i' if f.signed else 'u'}{size}").reshape(m)
    reason = np.zeros(m, np.uint8)
    if not f.signed and size == 8:
        over = c > np.uint64(2**63 - 1)
        reason[over] = _R["binary_overflow"]
        v = np.where(over, 0, c).astype(np.int64)
    else:
        v = c.astype(np.int64)
    valid = reason == 0
    up = -f.scale if f.scale < 0 else 0
    if _is_int64(f, money):
        if up:
            v = v * 10**up
        arr = np_array(v, pa.int64(), None if valid.all() else valid)
    else:
        precision, scale = _decimal_ps(f)
        lo = v.view(np.uint64)
        hi = np.where(v < 0, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))
        while up > 0:  # negative scale (P): scale the magnitude up
            step = min(up, 9)
            neg = v < 0
            hi, lo = _neg_u128(hi, lo, neg)
            hi, lo = _mul_add_u128(hi, lo, 10**step, np.zeros(m, np.uint64))
            hi, lo = _neg_u128(hi, lo, neg)
            up -= step
        arr = _decimal_array(hi, lo, valid, precision, scale)
    return Elements(arr, reason, np.zeros(m, np.int32))


def decode_float(b: np.ndarray, f: Field, **_) -> Elements:
    """IBM System/360 hexadecimal floating point (COMP-1: 4 bytes, COMP-2: 8 bytes)."""
    m, size = b.shape
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


# ---------------------------------------------------------------------------------- text


class TextTables:
    """Lookup tables for one code page (+ 外字 table and policy), built once and cached."""

    _cache: dict = {}
    _lock = threading.Lock()

    def __init__(self, codepage, encoding: str, gaiji=None, policy: str = "placeholder"):
        self.codepage = codepage
        self.encoding = encoding
        self.gaiji = gaiji
        self.policy = policy
        sb = np.asarray(codepage.sbcs, dtype=np.uint32)
        self.sbcs_word, self.sbcs_len = _utf8_words(sb)
        self.sbcs_bad = sb == UNDEFINED
        self.sbcs_ascii = (self.sbcs_word & 0xFF).astype(np.uint8)
        self.sbcs_all_ascii = bool((self.sbcs_len[~self.sbcs_bad] <= 1).all())
        sp = codepage.sbcs_space
        self.sbcs_space = sp if isinstance(sp, int) else sp[0]
        dsp = codepage.dbcs_space
        self.dbcs_space = dsp if isinstance(dsp, int) else int.from_bytes(bytes(dsp), "big")
        so, si = bytes(codepage.shift_out), bytes(codepage.shift_in)
        self.shift_out, self.shift_in = so, si
        self.shift_outs = (so,) + tuple(bytes(x) for x in getattr(codepage, "extra_shift_outs", ()))
        db = np.asarray(codepage.dbcs, dtype=np.uint32).copy()
        status = np.zeros(65536, np.uint8)
        self.sequences: dict[int, str] = {}
        udc = _user_defined_mask(codepage)
        codes = np.arange(65536)
        hi, lo = codes >> 8, codes & 0xFF
        # codes that decode to several code points (JIS X 0213 kana + combining mark ...)
        for code, text in dict(getattr(codepage, "dbcs_sequences", {}) or {}).items():
            if db[code] == SEQUENCE:
                self.sequences[int(code)] = text
                status[code] = ST_SEQUENCE
                db[code] = ord(text[0])
        undefined = db == UNDEFINED
        # "plausible" DBCS codes: both bytes within the byte ranges the code page uses; an
        # undefined plausible code goes the 外字 way (table or placeholder), an implausible one
        # (e.g. 0x0102) is undecodable and quarantines its record
        defined = ~undefined & (codes != 0x4040) & (codes != self.dbcs_space)
        if defined.any():
            min_hi = int(hi[defined].min())
            min_lo = int(lo[defined].min())
        else:
            min_hi = min_lo = 0x41
        plausible = (hi >= min_hi) & (hi <= 0xFE) & (lo >= min_lo) & (lo <= 0xFE)
        gaiji_codes = udc | (undefined & plausible)
        status[undefined & ~gaiji_codes] = ST_BAD
        placeholder = ord(PLACEHOLDER)
        self.gaiji_mapped_codes: dict[int, str] = {}
        for code in np.flatnonzero(gaiji_codes).tolist():
            mapped = gaiji.lookup(encoding, code) if gaiji is not None else None
            if mapped is None:
                status[code] = ST_GAIJI_UNMAPPED
                db[code] = placeholder
            elif len(mapped) == 1:
                status[code] = ST_GAIJI_MAPPED
                db[code] = ord(mapped)
            else:
                status[code] = ST_SEQUENCE
                self.sequences[code] = mapped
                self.gaiji_mapped_codes[code] = mapped
                db[code] = placeholder
        if gaiji is not None:
            for code in np.flatnonzero(gaiji_codes & (status == ST_GAIJI_MAPPED)).tolist():
                self.gaiji_mapped_codes[code] = chr(db[code])
        db[status == ST_BAD] = placeholder
        self.dbcs_cp = db
        self.dbcs_status = status
        self.gaiji_codes = gaiji_codes
        self.dbcs_word, self.dbcs_len = _utf8_words(db)
        self.mixed_word = np.concatenate([self.sbcs_word, self.dbcs_word])
        self.mixed_len = np.concatenate([self.sbcs_len, self.dbcs_len])
        self.mixed_status = np.concatenate([np.zeros(256, np.uint8), self.dbcs_status])
        self.gaiji_sequence = np.zeros(65536, bool)
        for code in self.gaiji_mapped_codes:
            if code in self.sequences:
                self.gaiji_sequence[code] = True

    def _kernel_tables(self) -> tuple:
        """Pointers to the C kernel's tables (contiguous copies kept alive on the object)."""
        k = getattr(self, "_ktabs", None)
        if k is None:
            # one uint64 per byte / code: UTF-8 word | byte count << 32 | status << 40
            sb = (
                self.sbcs_word.astype(np.uint64)
                | (self.sbcs_len.astype(np.uint64) << np.uint64(32))
                | (self.sbcs_bad.astype(np.uint64) << np.uint64(40))
            )
            db = (
                self.dbcs_word.astype(np.uint64)
                | (self.dbcs_len.astype(np.uint64) << np.uint64(32))
                | (self.dbcs_status.astype(np.uint64) << np.uint64(40))
            )
            self._karrs = (np.ascontiguousarray(sb), np.ascontiguousarray(db))
            k = self._ktabs = tuple(a.ctypes.data for a in self._karrs)
        return k

    @classmethod
    def get(cls, codepage, encoding: str, gaiji=None, policy: str = "placeholder") -> "TextTables":
        key = (id(codepage), encoding, id(gaiji), policy)
        with cls._lock:
            t = cls._cache.get(key)
            if t is None or t.codepage is not codepage or t.gaiji is not gaiji:
                t = cls(codepage, encoding, gaiji, policy)
                cls._cache[key] = t
                if len(cls._cache) > 32:
                    cls._cache.pop(next(iter(cls._cache)))
            return t


_UDC_CACHE: dict[int, tuple] = {}


def _user_defined_mask(codepage) -> np.ndarray:
    """``codepage.is_user_defined`` for all 65536 codes (vectorised where the areas are known)."""
    key = id(codepage)
    hit = _UDC_CACHE.get(key)
    if hit is not None and hit[0] is codepage:
        return hit[1]
    mask = _areas_mask(codepage)
    if mask is None:
        fn = getattr(codepage, "is_user_defined", None)
        mask = np.zeros(65536, bool)
        if fn is not None:
            mask = np.fromiter((bool(fn(c)) for c in range(65536)), dtype=bool, count=65536)
    _UDC_CACHE[key] = (codepage, mask)
    return mask


def _areas_mask(codepage) -> np.ndarray | None:
    """The user-defined mask from the code page's area specification (ikou.moji.codepages),
    None when the code page does not expose it in a form read here (then the method is asked)."""
    spec = getattr(codepage, "_spec", None)
    if spec is None or getattr(spec, "dbcs_form", None) not in ("ibm", "euc"):
        return None
    try:
        codes = np.arange(65536)
        hi, lo = codes >> 8, codes & 0xFF

        def areas(specs) -> np.ndarray:
            m = np.zeros(65536, bool)
            for a, b, c, d in specs:
                m |= (hi >= a) & (hi <= b) & (lo >= c) & (lo <= d)
            return m

        undefined = np.asarray(codepage.dbcs) == UNDEFINED
        return areas(spec.user_defined) | (areas(spec.vendor_extension) & undefined)
    except Exception:
        return None


def _utf8_words(cps: np.ndarray):
    """Per table entry: UTF-8 bytes packed little-endian in a uint32, and their count."""
    c = cps.astype(np.uint64)
    undefined = cps == UNDEFINED
    c = np.where(undefined | ((c >= 0xD800) & (c <= 0xDFFF)) | (c > 0x10FFFF), 0xFFFD, c)
    n = np.where(c < 0x80, 1, np.where(c < 0x800, 2, np.where(c < 0x10000, 3, 4))).astype(np.uint8)
    b0 = np.where(
        n == 1,
        c,
        np.where(n == 2, 0xC0 | (c >> 6), np.where(n == 3, 0xE0 | (c >> 12), 0xF0 | (c >> 18))),
    )
    b1 = np.where(
        n == 2,
        0x80 | (c & 0x3F),
        np.where(n == 3, 0x80 | ((c >> 6) & 0x3F), 0x80 | ((c >> 12) & 0x3F)),
    )
    b2 = np.where(n == 3, 0x80 | (c & 0x3F), 0x80 | ((c >> 6) & 0x3F))
    b3 = 0x80 | (c & 0x3F)
    w = (
        b0
        | np.where(n >= 2, b1 << 8, 0)
        | np.where(n >= 3, b2 << 16, 0)
        | np.where(n >= 4, b3 << 24, 0)
    )
    n = np.where(undefined, 0, n).astype(np.uint8)
    return w.astype(np.uint32), n


def _last_content(content: np.ndarray) -> np.ndarray:
    """Per row: the number of positions up to and including the last True (0 when none)."""
    m, w = content.shape
    if w == 0 or m == 0:
        return np.zeros(m, np.int64)
    rev = content[:, ::-1]
    i = np.argmax(rev, axis=1)
    has = rev[np.arange(m), i]
    return np.where(has, w - i, 0).astype(np.int64)


def _prefix(counts: np.ndarray, w: int) -> np.ndarray:
    return np.arange(w, dtype=np.int64) < counts[:, None]


def _assemble(kidx: np.ndarray, counts: np.ndarray, word_tab: np.ndarray, len_tab: np.ndarray):
    """Arrow strings from the kept characters' table indexes (row-major) and per-row counts.

    Returns (array, per-character byte lengths, character offsets per row).
    """
    m = len(counts)
    K = len(kidx)
    choff = np.zeros(m + 1, np.int64)
    np.cumsum(counts, out=choff[1:])
    kl = len_tab[kidx]
    if K == 0:
        data = np.zeros(0, np.uint8)
        offsets = np.zeros(m + 1, np.int64)
    else:
        hi, lo = int(kl.max()), int(kl.min())
        if hi == lo:
            offsets = choff * hi
        else:
            cum = np.zeros(K + 1, np.int64)
            np.cumsum(kl, out=cum[1:])
            offsets = cum[choff]
        kw = word_tab[kidx]
        if hi == 1 and lo == 1:
            data = kw.astype(np.uint8)
        else:
            kb = kw.view(np.uint8).reshape(K, 4)
            if hi == lo:
                data = kb[:, :hi].reshape(-1)
            else:
                data = kb[:, :hi][np.arange(hi, dtype=np.uint8) < kl[:, None]]
    total = int(offsets[-1])
    if total < 2**31:
        arr = pa.StringArray.from_buffers(
            m, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)
        )
    else:
        arr = pa.LargeStringArray.from_buffers(m, pa.py_buffer(offsets), pa.py_buffer(data)).cast(
            pa.string()
        )
    return arr, kl, choff


def _rows_of(k: np.ndarray, choff: np.ndarray) -> np.ndarray:
    return np.searchsorted(choff, k, side="right") - 1


def decode_sbcs(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    """SBCS text through the code page's byte table; trailing 0x40 trimmed."""
    return _with_kernel(b, t, 0, keep_padding, _decode_sbcs_np)


def _decode_sbcs_np(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    m, w = b.shape
    if keep_padding:
        counts = np.full(m, w, np.int64)
        kidx = np.ascontiguousarray(b).reshape(-1)
    else:
        counts = _last_content(b != t.sbcs_space)
        kidx = b[_prefix(counts, w)]
    arr, kl, choff = _assemble(kidx, counts, t.sbcs_word, t.sbcs_len)
    reason = np.zeros(m, np.uint8)
    pos = np.zeros(m, np.int32)
    bad = kl == 0
    if bad.any():
        k = np.flatnonzero(bad)
        rows = _rows_of(k, choff)
        ur, fi = np.unique(rows, return_index=True)
        reason[ur] = _R["undefined_sbcs"]
        pos[ur] = k[fi] - choff[ur]
    return Elements(arr, reason, pos)


def decode_dbcs(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    """DBCS-only text (PIC N / G): pairs looked up in the DBCS table; trailing 0x4040 trimmed."""
    return _with_kernel(b, t, 1, keep_padding, _decode_dbcs_np)


def _decode_dbcs_np(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    m, w = b.shape
    if w % 2:
        raise ValueError("DBCS field with an odd byte size")
    codes = (b[:, 0::2].astype(np.uint16) << 8) | b[:, 1::2]
    if keep_padding:
        counts = np.full(m, w // 2, np.int64)
        kcodes = codes.reshape(-1)
    else:
        counts = _last_content((codes != 0x4040) & (codes != t.dbcs_space))
        kcodes = codes[_prefix(counts, w // 2)]
    arr, kl, choff = _assemble(kcodes, counts, t.dbcs_word, t.dbcs_len)
    st = t.dbcs_status[kcodes]

    def where(k):  # kept index -> (row, byte offset in the element)
        rows = _rows_of(k, choff)
        return rows, 2 * (k - choff[rows])

    return _finish_text(arr, st, kcodes, kcodes.astype(np.int64), choff, m, t, where)


def _finish_text(
    arr,
    st,
    kidx,
    codes,
    choff,
    m,
    t: TextTables,
    where,
    base: Elements | None = None,
    mixed: bool = False,
) -> Elements:
    """Statuses of the kept DBCS characters: undecodable codes, 外字, sequence fallback rows."""
    reason = np.zeros(m, np.uint8) if base is None else base.bad
    pos = np.zeros(m, np.int32) if base is None else base.pos
    code_at = np.zeros(m, np.int32)
    gaiji: list = []
    mapped = 0
    if st.any():
        badk = np.flatnonzero(st == ST_BAD)
        if len(badk):
            rows, bp = where(badk)
            ur, fi = np.unique(rows, return_index=True)
            free = reason[ur] == 0
            ur, fi = ur[free], fi[free]
            reason[ur] = _R["undecodable_dbcs"]
            pos[ur] = bp[fi]
            code_at[ur] = codes[badk[fi]]
        mapped = int(np.count_nonzero(st == ST_GAIJI_MAPPED))
        seqk = np.flatnonzero(st == ST_SEQUENCE)
        if len(seqk):
            mapped += int(np.count_nonzero(t.gaiji_sequence[codes[seqk]]))
        unk = np.flatnonzero(st == ST_GAIJI_UNMAPPED)
        if len(unk):
            rows, bp = where(unk)
            c = codes[unk]
            gaiji = list(zip(rows.tolist(), c.tolist(), bp.tolist()))
            if t.policy == "quarantine":
                ur, fi = np.unique(rows, return_index=True)
                free = reason[ur] == 0
                ur, fi = ur[free], fi[free]
                reason[ur] = _R["unmapped_gaiji"]
                pos[ur] = bp[fi]
                code_at[ur] = c[fi]
        if len(seqk):
            rows = np.unique(_rows_of(seqk, choff))
            fixed = []
            for r in rows.tolist():
                a, z = int(choff[r]), int(choff[r + 1])
                fixed.append(_row_text(kidx[a:z], codes[a:z], st[a:z], t, mixed))
            mask = np.zeros(m, bool)
            mask[rows] = True
            arr = pc.replace_with_mask(arr, bool_array(mask), string_array(fixed))
    e = Elements(arr, reason, pos, gaiji, mapped)
    e.code_at_pos = code_at
    return e


def _row_text(kidx_row, codes_row, st_row, t: TextTables, mixed: bool) -> str:
    """Per-row fallback (rare): splice multi-code-point sequences into the row's text."""
    out = []
    for k, code, s in zip(kidx_row.tolist(), codes_row.tolist(), st_row.tolist()):
        if s == ST_SEQUENCE:
            out.append(t.sequences[code])
            continue
        word, ln = (t.mixed_word[k], t.mixed_len[k]) if mixed else (t.dbcs_word[k], t.dbcs_len[k])
        if ln:
            out.append(int(word).to_bytes(4, "little")[: int(ln)].decode("utf-8"))
    return "".join(out)


def decode_mixed(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    """Mixed SBCS/DBCS text with shift codes (SO ... SI); see :func:`_decode_mixed_np`."""
    return _with_kernel(b, t, 2, keep_padding, _decode_mixed_np)


def _decode_mixed_np(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    """Mixed SBCS/DBCS text with shift codes (SO ... SI), vectorised over the shift state.

    The shift state is a cumulative count of SO minus SI sequences; DBCS bytes pair up from the
    byte after each SO. A field must end in SBCS state, never nest SO, and hold an even number
    of bytes between SO and SI. Trailing SBCS 0x40 and DBCS 0x4040 are padding.
    """
    m, w = b.shape
    sos, si = t.shift_outs, t.shift_in
    if w == 0:
        return _decode_sbcs_np(b, t, keep_padding=keep_padding)
    single = len(si) == 1 and all(len(x) == 1 for x in sos)
    if single:
        is_so = b == sos[0][0]
        for x in sos[1:]:
            is_so |= b == x[0]
        is_si = b == si[0]
        if not is_so.any() and not is_si.any():
            return _decode_sbcs_np(b, t, keep_padding=keep_padding)
        cover = is_so | is_si
        delta = is_so.astype(np.int16)
        delta -= is_si
    else:
        first_bytes = {x[0] for x in sos} | {si[0]}
        if not np.isin(b, list(first_bytes)).any():
            return _decode_sbcs_np(b, t, keep_padding=keep_padding)
        is_si = _match(b, si)
        is_so = np.zeros((m, w), bool)
        cover = is_si.copy()
        so_len = np.zeros((m, w), np.int32)
        for so in sos:
            hit = _match(b, so)
            if not hit.any():
                continue
            is_so |= hit
            so_len[hit] = len(so)
            for k in range(len(so)):
                cover[:, k:] |= hit[:, : w - k]
        for k in range(1, len(si)):
            cover[:, k:] |= is_si[:, : w - k]
        if not is_so.any() and not is_si.any():
            return _decode_sbcs_np(b, t, keep_padding=keep_padding)
        delta = is_so.astype(np.int16)
        delta -= is_si
    cols = np.arange(w, dtype=np.int32)
    depth = np.cumsum(delta, axis=1, dtype=np.int16)
    reason = np.zeros(m, np.uint8)
    pos = np.zeros(m, np.int32)
    unbalanced = depth.view(np.uint16) > 1  # below 0 or above 1
    bad_rows = unbalanced.any(axis=1) | (depth[:, -1] != 0)
    if bad_rows.any():
        rows = np.flatnonzero(bad_rows)
        reason[rows] = _R["unbalanced_shift"]
        ub = unbalanced[rows]
        last_so = np.where(is_so[rows], cols, -1).max(axis=1)
        pos[rows] = np.where(ub.any(axis=1), _first(ub), np.maximum(last_so, 0))
    in_dbcs = (depth == 1) & ~cover
    if single:
        run_from = np.where(is_so, cols + 1, -1)
    else:
        run_from = np.where(is_so, cols + so_len, -1)
    run_start = np.maximum.accumulate(run_from, axis=1)
    hi_pos = in_dbcs & (((cols - run_start) & 1) == 0)
    in_next = np.zeros_like(in_dbcs)
    in_next[:, :-1] = in_dbcs[:, 1:]
    odd = hi_pos & ~in_next
    odd_rows = odd.any(axis=1) & (reason == 0)
    if odd_rows.any():
        reason[odd_rows] = _R["odd_dbcs_length"]
        pos[odd_rows] = _first(odd[odd_rows])
    codes = b.astype(np.uint16) << 8
    codes[:, :-1] |= b[:, 1:]
    sb_pos = ~(in_dbcs | cover)
    # one lookup for both: index < 256 is an SBCS byte, 256 + code a DBCS code
    idx = np.where(hi_pos, codes.astype(np.int32) + 256, b)
    # padding: SBCS 0x40 and DBCS 0x4040; shift codes are transparent
    pad = np.where(hi_pos, (codes == 0x4040) | (codes == t.dbcs_space), b == t.sbcs_space)
    emit = sb_pos | hi_pos
    keep = emit if keep_padding else emit & _prefix(_last_content(emit & ~pad), w)
    kidx = idx[keep]
    counts = keep.sum(axis=1, dtype=np.int64)
    arr, kl, choff = _assemble(kidx, counts, t.mixed_word, t.mixed_len)
    cols_k = None

    def where(k):  # kept index -> (row, byte offset in the element)
        nonlocal cols_k
        if cols_k is None:
            cols_k = np.nonzero(keep)[1]
        return _rows_of(k, choff), cols_k[k]

    sb_bad = np.flatnonzero((kl == 0) & (kidx < 256))
    if len(sb_bad):
        rows, bp = where(sb_bad)
        ur, fi = np.unique(rows, return_index=True)
        free = reason[ur] == 0
        reason[ur[free]] = _R["undefined_sbcs"]
        pos[ur[free]] = bp[fi[free]]
    st = t.mixed_status[kidx]
    codes_k = kidx.astype(np.int64) - 256
    base = Elements(arr, reason, pos)
    return _finish_text(arr, st, kidx, codes_k, choff, m, t, where, base=base, mixed=True)


def _with_kernel(b: np.ndarray, t: TextTables, kind: int, keep_padding: bool, np_fn) -> Elements:
    """The compiled kernel for the plain rows, ``np_fn`` for the rows it leaves (same results)."""
    from ikou.mainframe import kernel

    res = kernel.text_kernel(b, kind, t, keep_padding)
    if res is None:
        return np_fn(b, t, keep_padding=keep_padding)
    arr, slow = res
    m = len(slow)
    bad = np.zeros(m, np.uint8)
    pos = np.zeros(m, np.int32)
    code_at = np.zeros(m, np.int32)
    gaiji: list = []
    mapped = 0
    if slow.any():
        rows = np.flatnonzero(slow)
        sub = np_fn(b[rows], t, keep_padding=keep_padding)
        arr = pc.replace_with_mask(arr, bool_array(slow), sub.array)
        bad[rows] = sub.bad
        pos[rows] = sub.pos
        if sub.code_at_pos is not None:
            code_at[rows] = sub.code_at_pos
        gaiji = [(int(rows[r]), c, p) for r, c, p in sub.gaiji]
        mapped = sub.gaiji_mapped
    e = Elements(arr, bad, pos, gaiji, mapped)
    e.code_at_pos = code_at
    return e


def _match(b: np.ndarray, seq: bytes) -> np.ndarray:
    """Positions where the byte sequence ``seq`` starts."""
    m, w = b.shape
    out = b == seq[0]
    for k in range(1, len(seq)):
        nxt = np.zeros((m, w), bool)
        nxt[:, : w - k] = b[:, k:] == seq[k]
        out &= nxt
    return out


# ----------------------------------------------------------------------------- dispatch


def decode_elements(
    b: np.ndarray,
    f: Field,
    tables: TextTables | None,
    *,
    money: bool = False,
    keep_padding: bool = False,
    blank: str = "quarantine",
) -> Elements:
    """Decode an (m, size) element matrix of field ``f`` by its kind."""
    k = f.kind
    if k == "zoned":
        return decode_zoned(b, f, money=money, blank=blank)
    if k == "packed":
        return decode_packed(b, f)
    if k == "binary":
        return decode_binary(b, f, money=money)
    if k == "float":
        return decode_float(b, f)
    if tables is None:
        raise ValueError("text fields need code-page tables")
    if k == "alphanumeric":
        return decode_sbcs(b, tables, keep_padding=keep_padding)
    if k == "dbcs":
        return decode_dbcs(b, tables, keep_padding=keep_padding)
    if k == "mixed":
        return decode_mixed(b, tables, keep_padding=keep_padding)
    raise ValueError(f"unknown field kind {k}")
