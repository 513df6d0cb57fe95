"""Text decoders: SBCS, DBCS (PIC G / N) and mixed SBCS/DBCS with shift codes, 外字.

Text goes through :class:`TextTables`, built once per code page (+ 外字 table + policy): for
each SBCS byte and DBCS code the UTF-8 bytes packed into a uint32 word and their length, and a
status (defined / 外字 mapped / 外字 unmapped / sequence / undecodable). Building Arrow strings is
then a gather of words, a cumulative sum for the offsets and one boolean compress of the bytes.
Rows with a code that maps to several code points (an IVS sequence in the 外字 table, a JIS X
0213 combining pair) take a small per-row fallback; everything else stays vectorised.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ikou.mainframe.decode.base import (
    ST_BAD,
    ST_GAIJI_MAPPED,
    ST_GAIJI_UNMAPPED,
    ST_SEQUENCE,
    Elements,
    R,
    bool_array,
    pc,
    string_array,
)
from ikou.mainframe.decode.ints import first_true
from ikou.mainframe.decode.tables import TextTables


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
