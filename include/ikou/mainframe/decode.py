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
import pyarrow.compute as pc

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
        chunk = d[:, s:s + 9]
        hi, lo = _mul_add_u128(hi, lo, 10 ** chunk.shape[1], _horner(chunk))
    return hi, lo


def _neg_u128(hi, lo, neg):
    nlo = (~lo) + np.uint64(1)
    nhi = (~hi) + (nlo == 0).astype(np.uint64)
    return np.where(neg, nhi, hi), np.where(neg, nlo, lo)


def _validity(valid: np.ndarray):
    if valid.all():
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), int(len(valid) - np.count_nonzero(valid))


def _decimal_array(hi, lo, valid, precision, scale) -> pa.Array:
    m = len(lo)
    buf = np.empty((m, 2), np.uint64)
    buf[:, 0] = lo
    buf[:, 1] = hi
    vb, nulls = _validity(valid)
    return pa.Array.from_buffers(pa.decimal128(precision, scale), m, [vb, pa.py_buffer(buf)], null_count=nulls)


def _number_array(f: Field, d: np.ndarray, neg: np.ndarray, valid: np.ndarray, money: bool) -> pa.Array:
    """Arrow array from a digit matrix (m, k) and sign."""
    k = d.shape[1]
    up = -f.scale if f.scale < 0 else 0
    if _is_int64(f, money) and k + up <= 18:
        v = _horner(d) if k else np.zeros(len(d), np.int64)
        if up:
            v *= 10 ** up
        np.negative(v, out=v, where=neg)
        return pa.array(v, type=pa.int64(), mask=None if valid.all() else ~valid)
    precision, scale = _decimal_ps(f)
    if k + up <= 18:
        v = _horner(d)
        if up:
            v *= 10 ** up
        np.negative(v, out=v, where=neg)
        lo = v.view(np.uint64)
        hi = np.where(v < 0, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))
        return _decimal_array(hi, lo, valid, precision, scale)
    hi, lo = _digits_u128(d)
    while up > 0:
        step = min(up, 9)
        hi, lo = _mul_add_u128(hi, lo, 10 ** step, np.zeros(len(lo), np.uint64))
        up -= step
    hi, lo = _neg_u128(hi, lo, neg)
    return _decimal_array(hi, lo, valid, precision, scale)


def _first(mask: np.ndarray) -> np.ndarray:
    """Column index of the first True per row (0 where none)."""
    if mask.shape[1] == 0:
        return np.zeros(mask.shape[0], np.int32)
    return np.argmax(mask, axis=1).astype(np.int32)


# ------------------------------------------------------------------------------- numbers


def decode_zoned(b: np.ndarray, f: Field, *, money: bool = False, blank: str = "quarantine") -> Elements:
    """Zoned decimal: F zones, overpunched sign (C/A/E/F +, D/B -) or a separate sign byte."""
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
        over = c > np.uint64(2 ** 63 - 1)
        reason[over] = _R["binary_overflow"]
        v = np.where(over, 0, c).astype(np.int64)
    else:
        v = c.astype(np.int64)
    valid = reason == 0
    up = -f.scale if f.scale < 0 else 0
    if _is_int64(f, money):
        if up:
            v = v * 10 ** up
        arr = pa.array(v, type=pa.int64(), mask=None if valid.all() else ~valid)
    else:
        precision, scale = _decimal_ps(f)
        lo = v.view(np.uint64)
        hi = np.where(v < 0, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))
        while up > 0:  # negative scale (P): scale the magnitude up
            step = min(up, 9)
            neg = v < 0
            hi, lo = _neg_u128(hi, lo, neg)
            hi, lo = _mul_add_u128(hi, lo, 10 ** step, np.zeros(m, np.uint64))
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
    return Elements(pa.array(v, type=pa.float64()), np.zeros(m, np.uint8), np.zeros(m, np.int32))


# ---------------------------------------------------------------------------------- text


class TextTables:
    """Lookup tables for one code page (+ 外字 table and policy), built once and cached."""

    _cache: dict = {}
    _lock = threading.Lock()

    def __init__(self, codepage, encoding: str, gaiji=None, policy: str = "placeholder"):
        self.codepage = codepage
        self.encoding = encoding
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
        self.gaiji_sequence = np.zeros(65536, bool)
        for code in self.gaiji_mapped_codes:
            if code in self.sequences:
                self.gaiji_sequence[code] = True

    @classmethod
    def get(cls, codepage, encoding: str, gaiji=None, policy: str = "placeholder") -> "TextTables":
        key = (id(codepage), encoding, id(gaiji), policy)
        with cls._lock:
            t = cls._cache.get(key)
            if t is None or t.codepage is not codepage:
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
    b0 = np.where(n == 1, c, np.where(n == 2, 0xC0 | (c >> 6), np.where(n == 3, 0xE0 | (c >> 12), 0xF0 | (c >> 18))))
    b1 = np.where(n == 2, 0x80 | (c & 0x3F), np.where(n == 3, 0x80 | ((c >> 6) & 0x3F), 0x80 | ((c >> 12) & 0x3F)))
    b2 = np.where(n == 3, 0x80 | (c & 0x3F), 0x80 | ((c >> 6) & 0x3F))
    b3 = 0x80 | (c & 0x3F)
    w = b0 | np.where(n >= 2, b1 << 8, 0) | np.where(n >= 3, b2 << 16, 0) | np.where(n >= 4, b3 << 24, 0)
    n = np.where(undefined, 0, n).astype(np.uint8)
    return w.astype(np.uint32), n


def _strings(words: np.ndarray, lens: np.ndarray) -> pa.Array:
    """Arrow strings from per-position UTF-8 words (m, w) uint32 and byte counts (0 = skip)."""
    m = words.shape[0]
    rowlen = lens.sum(axis=1, dtype=np.int64)
    offsets = np.zeros(m + 1, np.int64)
    np.cumsum(rowlen, out=offsets[1:])
    total = int(offsets[-1])
    if total == 0:
        data = np.zeros(0, np.uint8)
    elif lens.max() <= 1:
        data = (words & 0xFF).astype(np.uint8)[lens.astype(bool)]
    else:
        width = int(lens.max())
        wb = np.ascontiguousarray(words).view(np.uint8).reshape(m, words.shape[1], 4)[:, :, :width]
        mask = np.arange(width, dtype=np.uint8) < lens[..., None]
        data = wb[mask]
    if total < 2 ** 31:
        return pa.StringArray.from_buffers(m, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
    return pa.LargeStringArray.from_buffers(m, pa.py_buffer(offsets), pa.py_buffer(data)).cast(pa.string())


def _trailing_keep(content: np.ndarray) -> np.ndarray:
    """Keep mask: positions up to the last True of ``content`` per row."""
    w = content.shape[1]
    last = np.where(content, np.arange(1, w + 1, dtype=np.int32), 0).max(axis=1, initial=0)
    return np.arange(w, dtype=np.int32) < last[:, None]


def decode_sbcs(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    """SBCS text through the code page's byte table; trailing 0x40 trimmed."""
    m, w = b.shape
    keep = np.ones((m, w), bool) if keep_padding else _trailing_keep(b != t.sbcs_space)
    badm = t.sbcs_bad[b]
    reason = np.zeros(m, np.uint8)
    pos = np.zeros(m, np.int32)
    if badm.any():
        rows = badm.any(axis=1)
        reason[rows] = _R["undefined_sbcs"]
        pos[rows] = _first(badm[rows])
    if t.sbcs_all_ascii:
        rowlen = keep.sum(axis=1, dtype=np.int64)
        offsets = np.zeros(m + 1, np.int64)
        np.cumsum(rowlen, out=offsets[1:])
        data = t.sbcs_ascii[b][keep]
        arr = pa.StringArray.from_buffers(m, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
    else:
        lens = t.sbcs_len[b]
        lens = np.where(keep, lens, 0).astype(np.uint8)
        arr = _strings(t.sbcs_word[b], lens)
    return Elements(arr, reason, pos)


def decode_dbcs(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    """DBCS-only text (PIC N / G): pairs looked up in the DBCS table; trailing 0x4040 trimmed."""
    m, w = b.shape
    if w % 2:
        raise ValueError("DBCS field with an odd byte size")
    codes = (b[:, 0::2].astype(np.uint16) << 8) | b[:, 1::2]
    if keep_padding:
        keep = np.ones(codes.shape, bool)
    else:
        keep = _trailing_keep((codes != 0x4040) & (codes != t.dbcs_space))
    lens = np.where(keep, t.dbcs_len[codes], 0).astype(np.uint8)
    return _finish_dbcs_like(codes, keep, t, t.dbcs_word[codes], lens, lambda j: 2 * j)


def _finish_dbcs_like(codes, consider, t: TextTables, words, lens, byte_pos) -> Elements:
    """Shared tail of DBCS and mixed decoding: statuses, 外字, fallback rows, strings.

    ``consider`` marks the positions holding a DBCS character that is kept (not padding);
    ``byte_pos`` turns a column index of ``codes`` into the byte offset inside the element.
    """
    m = codes.shape[0]
    st = np.where(consider, t.dbcs_status[codes], 0).astype(np.uint8)
    reason = np.zeros(m, np.uint8)
    pos = np.zeros(m, np.int32)
    code_at = np.zeros(m, np.int32)
    gaiji: list = []
    mapped = 0
    if st.any():
        badm = st == ST_BAD
        if badm.any():
            rows = np.flatnonzero(badm.any(axis=1))
            j = _first(badm[rows])
            reason[rows] = _R["undecodable_dbcs"]
            pos[rows] = byte_pos(j)
            code_at[rows] = codes[rows, j]
        mapped = int(np.count_nonzero(st == ST_GAIJI_MAPPED))
        seqm = st == ST_SEQUENCE
        if seqm.any():
            mapped += int(np.count_nonzero(seqm & t.gaiji_sequence[codes]))
        un = st == ST_GAIJI_UNMAPPED
        if un.any():
            r, j = np.nonzero(un)  # row-major: first occurrence of a row comes first
            p = np.asarray(byte_pos(j))
            c = codes[r, j]
            gaiji = list(zip(r.tolist(), c.tolist(), p.tolist()))
            if t.policy == "quarantine":
                ur, fi = np.unique(r, return_index=True)
                free = reason[ur] == 0
                rr, fi = ur[free], fi[free]
                reason[rr] = _R["unmapped_gaiji"]
                pos[rr] = p[fi]
                code_at[rr] = c[fi]
    arr = _strings(words, lens)
    if st.any() and (st == ST_SEQUENCE).any():
        rows = np.flatnonzero((st == ST_SEQUENCE).any(axis=1))
        fixed = [_row_text(words[r], lens[r], codes[r], st[r], t) for r in rows.tolist()]
        mask = np.zeros(m, bool)
        mask[rows] = True
        arr = pc.replace_with_mask(arr, pa.array(mask), pa.array(fixed, type=pa.string()))
    e = Elements(arr, reason, pos, gaiji, mapped)
    e.code_at_pos = code_at
    return e


def _row_text(words_row, lens_row, codes_row, st_row, t: TextTables) -> str:
    """Per-row fallback (rare): splice multi-code-point sequences into the row's text."""
    out = []
    for wv, ln, code, s in zip(words_row.tolist(), lens_row.tolist(), codes_row.tolist(), st_row.tolist()):
        if not ln:
            continue
        if s == ST_SEQUENCE:
            out.append(t.sequences[code])
        else:
            out.append(int(wv).to_bytes(4, "little")[:ln].decode("utf-8"))
    return "".join(out)


def decode_mixed(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    """Mixed SBCS/DBCS text with shift codes (SO ... SI), vectorised over the shift state.

    The shift state is a cumulative count of SO minus SI sequences; DBCS bytes pair up from the
    byte after each SO. A field must end in SBCS state, never nest SO, and hold an even number
    of bytes between SO and SI. Trailing SBCS 0x40 and DBCS 0x4040 are padding.
    """
    m, w = b.shape
    sos, si = t.shift_outs, t.shift_in
    first_bytes = {x[0] for x in sos} | {si[0]}
    if w == 0 or not np.isin(b, list(first_bytes)).any():
        return decode_sbcs(b, t, keep_padding=keep_padding)
    cols = np.arange(w, dtype=np.int32)
    is_si = _match(b, si)
    is_so = np.zeros((m, w), bool)
    cover = is_si.copy()
    run_from = np.full((m, w), -1, np.int32)  # where the DBCS run opened by an SO starts
    for so in sos:
        hit = _match(b, so)
        if not hit.any():
            continue
        is_so |= hit
        run_from = np.where(hit, cols + len(so), run_from)
        for k in range(len(so)):
            cover[:, k:] |= hit[:, : w - k]
    for k in range(1, len(si)):
        cover[:, k:] |= is_si[:, : w - k]
    if not is_so.any() and not is_si.any():
        return decode_sbcs(b, t, keep_padding=keep_padding)
    depth = np.cumsum(is_so, axis=1, dtype=np.int16) - np.cumsum(is_si, axis=1, dtype=np.int16)
    reason = np.zeros(m, np.uint8)
    pos = np.zeros(m, np.int32)
    unbalanced = (depth < 0) | (depth > 1)
    end_open = depth[:, -1] != 0
    bad_rows = unbalanced.any(axis=1) | end_open
    if bad_rows.any():
        reason[bad_rows] = _R["unbalanced_shift"]
        first_bad = np.where(unbalanced.any(axis=1), _first(unbalanced), w - 1)
        # position of the SO that opened the unterminated run, where that is the problem
        last_so = np.where(is_so, cols, -1).max(axis=1)
        pos[bad_rows] = np.where(unbalanced.any(axis=1), first_bad, np.maximum(last_so, 0))[bad_rows]
    in_dbcs = (depth == 1) & ~cover
    run_start = np.maximum.accumulate(run_from, axis=1)
    rel = cols - run_start
    hi_pos = in_dbcs & (rel % 2 == 0)
    nxt = np.empty_like(b)
    nxt[:, :-1] = b[:, 1:]
    nxt[:, -1] = 0x40
    in_next = np.zeros_like(in_dbcs)
    in_next[:, :-1] = in_dbcs[:, 1:]
    odd = hi_pos & ~in_next
    odd_rows = odd.any(axis=1) & (reason == 0)
    if odd_rows.any():
        reason[odd_rows] = _R["odd_dbcs_length"]
        pos[odd_rows] = _first(odd[odd_rows])
    codes = np.where(hi_pos, (b.astype(np.uint16) << 8) | nxt, 0).astype(np.uint16)
    sb_pos = (depth == 0) & ~cover
    # padding: SBCS 0x40 and DBCS 0x4040; shift codes are transparent
    pad = (sb_pos & (b == t.sbcs_space)) | (hi_pos & ((codes == 0x4040) | (codes == t.dbcs_space)))
    emit = sb_pos | hi_pos
    keep = emit if keep_padding else emit & _trailing_keep(emit & ~pad)
    words = np.where(hi_pos, t.dbcs_word[codes], t.sbcs_word[b])
    lens = np.where(keep, np.where(hi_pos, t.dbcs_len[codes], t.sbcs_len[b]), 0).astype(np.uint8)
    sbad = sb_pos & t.sbcs_bad[b]
    sbad_rows = sbad.any(axis=1) & (reason == 0)
    if sbad_rows.any():
        reason[sbad_rows] = _R["undefined_sbcs"]
        pos[sbad_rows] = _first(sbad[sbad_rows])
    e = _finish_dbcs_like(codes, keep & hi_pos, t, words, lens, lambda j: j)
    # merge: shift-state problems first, then undefined SBCS bytes, then what the DBCS part found
    take = (reason == 0) & (e.bad != 0)
    reason[take] = e.bad[take]
    pos[take] = e.pos[take]
    e.bad = reason
    e.pos = pos
    return e


def _match(b: np.ndarray, seq: bytes) -> np.ndarray:
    """Positions where the byte sequence ``seq`` starts."""
    m, w = b.shape
    out = b == seq[0]
    for k in range(1, len(seq)):
        nxt = np.zeros((m, w), bool)
        nxt[:, :w - k] = b[:, k:] == seq[k]
        out &= nxt
    return out


# ----------------------------------------------------------------------------- dispatch


def decode_elements(b: np.ndarray, f: Field, tables: TextTables | None, *, money: bool = False,
                    keep_padding: bool = False, blank: str = "quarantine") -> Elements:
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
