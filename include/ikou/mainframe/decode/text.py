"""Text decoders: SBCS, DBCS (PIC G / N) and mixed SBCS/DBCS with shift codes, 外字.

Text goes through :class:`TextTables`, built once per code page (+ 外字 table + policy): for
each SBCS byte and DBCS code the UTF-8 bytes packed into a uint32 word and their length, and a
status (defined / 外字 mapped / 外字 unmapped / sequence / undecodable). Building Arrow strings is
then a gather of words, a cumulative sum for the offsets and one boolean compress of the bytes.
Rows with a code that maps to several code points (an IVS sequence in the 外字 table, a JIS X
0213 combining pair) take a small per-row fallback; everything else stays vectorised.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa

from ikou.mainframe.decode.base import (
    PLACEHOLDER,
    SEQUENCE,
    ST_BAD,
    ST_GAIJI_MAPPED,
    ST_GAIJI_UNMAPPED,
    ST_SEQUENCE,
    UNDEFINED,
    Elements,
    R,
    bool_array,
    pc,
    string_array,
)
from ikou.mainframe.decode.ints import first_true


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
        udc = user_defined_mask(codepage)
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
                pua = codepage.pua(code) if policy == "pua" and hasattr(codepage, "pua") else None
                db[code] = placeholder if pua is None else pua
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
    def get(cls, codepage, encoding: str, gaiji=None, policy: str = "placeholder") -> TextTables:
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


def user_defined_mask(codepage) -> np.ndarray:
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
    return _with_kernel(b, t, 0, keep_padding, decode_sbcs_numpy)


def decode_sbcs_numpy(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
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
        reason[ur] = R["undefined_sbcs"]
        pos[ur] = k[fi] - choff[ur]
    return Elements(arr, reason, pos)


def decode_dbcs(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    """DBCS-only text (PIC N / G): pairs looked up in the DBCS table; trailing 0x4040 trimmed."""
    return _with_kernel(b, t, 1, keep_padding, decode_dbcs_numpy)


def decode_dbcs_numpy(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
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
            reason[ur] = R["undecodable_dbcs"]
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
                reason[ur] = R["unmapped_gaiji"]
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
    """Mixed SBCS/DBCS text with shift codes (SO ... SI); see :func:`decode_mixed_numpy`."""
    return _with_kernel(b, t, 2, keep_padding, decode_mixed_numpy)


def decode_mixed_numpy(b: np.ndarray, t: TextTables, *, keep_padding: bool = False) -> Elements:
    """Mixed SBCS/DBCS text with shift codes (SO ... SI), vectorised over the shift state.

    The shift state is a cumulative count of SO minus SI sequences; DBCS bytes pair up from the
    byte after each SO. A field must end in SBCS state, never nest SO, and hold an even number
    of bytes between SO and SI. Trailing SBCS 0x40 and DBCS 0x4040 are padding.
    """
    m, w = b.shape
    sos, si = t.shift_outs, t.shift_in
    if w == 0:
        return decode_sbcs_numpy(b, t, keep_padding=keep_padding)
    single = len(si) == 1 and all(len(x) == 1 for x in sos)
    if single:
        is_so = b == sos[0][0]
        for x in sos[1:]:
            is_so |= b == x[0]
        is_si = b == si[0]
        if not is_so.any() and not is_si.any():
            return decode_sbcs_numpy(b, t, keep_padding=keep_padding)
        cover = is_so | is_si
        delta = is_so.astype(np.int16)
        delta -= is_si
    else:
        first_bytes = {x[0] for x in sos} | {si[0]}
        if not np.isin(b, list(first_bytes)).any():
            return decode_sbcs_numpy(b, t, keep_padding=keep_padding)
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
            return decode_sbcs_numpy(b, t, keep_padding=keep_padding)
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
        reason[rows] = R["unbalanced_shift"]
        ub = unbalanced[rows]
        last_so = np.where(is_so[rows], cols, -1).max(axis=1)
        pos[rows] = np.where(ub.any(axis=1), first_true(ub), np.maximum(last_so, 0))
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
        reason[odd_rows] = R["odd_dbcs_length"]
        pos[odd_rows] = first_true(odd[odd_rows])
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
        reason[ur[free]] = R["undefined_sbcs"]
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
