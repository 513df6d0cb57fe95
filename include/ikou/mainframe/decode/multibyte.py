"""Text of open-system files (utf-8, cp932, euc-jp): variable-width characters, vectorised.

A character's width follows from its first byte (``OpenCodePage.lead_len``); the character
boundaries of a field are found by one pass over its columns (numpy over every row at once, only
for the rows holding a byte above 0x7F -- pure ASCII rows need no scan). Each character is then
looked up by table index (cp932 / euc-jp, :func:`ikou.moji.opensystem.mb_index`) or computed
(utf-8, strictly validated), trailing spaces are trimmed (U+0020; in PIC N / G also U+3000) and
the Arrow strings are assembled from the characters' UTF-8 bytes.

外字 (cp932 F040-F9FC): the city's table under ``encoding=cp932`` first; an unmapped code
follows the policy: ``placeholder`` 〓, ``quarantine`` (reason ``unmapped_gaiji``) or ``pua``
(the code's Private Use Area point U+E000-U+E757); unmapped occurrences are reported either way.

Problems: a byte that starts no character or a single-byte code without a character is
``undefined_sbcs``; a multi-byte code without a character, invalid UTF-8 or a character cut off
by the end of the field is ``undecodable_dbcs`` with the code.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ikou.mainframe.decode.base import (
    PLACEHOLDER,
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
from ikou.mainframe.decode.tables import MultibyteTables, utf8_bytes

__all__ = ["decode_multibyte", "is_multibyte"]


def is_multibyte(codepage) -> bool:
    """True for an open-system code page with characters of several bytes (utf-8, cp932...)."""
    return bool(getattr(codepage, "multibyte", False))


def _boundaries(b: np.ndarray, lead_len: np.ndarray):
    """Per byte: starts a character? and the character's byte count (0 = not a valid lead)."""
    m, w = b.shape
    start = np.ones((m, w), bool)
    L = lead_len[b]
    rows = np.flatnonzero((b >= 0x80).any(axis=1))
    if len(rows):
        sub = L[rows]
        st = np.zeros((len(rows), w), bool)
        rem = np.zeros(len(rows), np.int16)
        for j in range(w):
            s = rem == 0
            st[:, j] = s
            rem = np.where(s, np.maximum(sub[:, j].astype(np.int16), 1) - 1, rem - 1)
        start[rows] = st
    return start, L


def _strings(cps: np.ndarray, counts: np.ndarray) -> pa.Array:
    by, n = utf8_bytes(cps)
    return _strings_of(by, n, counts)


def _strings_of(by: np.ndarray, n: np.ndarray, counts: np.ndarray) -> pa.Array:
    """Arrow strings from each character's UTF-8 bytes ``by`` (K, 4), byte counts ``n`` and the
    characters per row ``counts``."""
    m = len(counts)
    choff = np.zeros(m + 1, np.int64)
    np.cumsum(counts, out=choff[1:])
    cum = np.zeros(len(n) + 1, np.int64)
    np.cumsum(n, out=cum[1:])
    offsets = cum[choff]
    data = by[np.arange(4, dtype=np.uint8)[None, :] < n[:, None]]
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(
            m, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)
        )
    return pa.LargeStringArray.from_buffers(m, pa.py_buffer(offsets), pa.py_buffer(data)).cast(
        pa.string()
    )


def decode_multibyte(
    b: np.ndarray, t: MultibyteTables, *, keep_padding: bool = False, dbcs: bool = False
) -> Elements:
    """Decode an (m, size) matrix of text elements in an open multi-byte encoding.

    Works on the characters (one entry per character start, row-major), not on the byte grid:
    widths from the first bytes, codes from up to four bytes, a table lookup (or the UTF-8
    arithmetic), trailing padding, then the Arrow strings.
    """
    m, w = b.shape
    reason = np.zeros(m, np.uint8)
    pos = np.zeros(m, np.int32)
    code_at = np.zeros(m, np.int32)
    if w == 0:
        e = Elements(string_array([""] * m), reason, pos)
        e.code_at_pos = code_at
        return e
    start, L = _boundaries(b, t.lead_len)
    if not keep_padding:
        # trailing 0x20 / 0x00 bytes are padding characters in every one of these encodings
        # (no trail byte of cp932, euc-jp or utf-8 is below 0x40): trim them on the bytes
        content = (b != 0x20) & (b != 0)
        rev = content[:, ::-1]
        last_b = np.where(rev.any(axis=1), w - np.argmax(rev, axis=1), 0)
        start &= np.arange(w)[None, :] < last_b[:, None]
    r, c = np.nonzero(start)  # every character: row, column (row-major)
    Lc = L[r, c].astype(np.int64)
    width = np.maximum(Lc, 1)
    cut = c + width > w  # a character running past the field's end
    bp = np.zeros((m, w + 3), np.uint8)
    bp[:, :w] = b
    b0 = bp[r, c].astype(np.uint32)
    multi = width > 1
    b1 = np.zeros_like(b0)
    b2 = np.zeros_like(b0)
    b3 = np.zeros_like(b0)
    if multi.any():
        mi = np.flatnonzero(multi)
        rm, cm = r[mi], c[mi]
        b1[mi] = bp[rm, cm + 1]
        b2[mi] = bp[rm, cm + 2]
        if t.utf8:
            b3[mi] = bp[rm, cm + 3]
    if t.utf8:
        code = np.where(
            width == 1,
            b0,
            np.where(
                width == 2,
                (b0 << 8) | b1,
                np.where(
                    width == 3,
                    (b0 << 16) | (b1 << 8) | b2,
                    (b0 << 24) | (b1 << 16) | (b2 << 8) | b3,
                ),
            ),
        )
        cp = np.where(
            width == 1,
            b0,
            np.where(
                width == 2,
                ((b0 & 0x1F) << 6) | (b1 & 0x3F),
                np.where(
                    width == 3,
                    ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F),
                    ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F),
                ),
            ),
        )
        ok = Lc > 0
        ok &= (width < 2) | ((b1 & 0xC0) == 0x80)
        ok &= (width < 3) | ((b2 & 0xC0) == 0x80)
        ok &= (width < 4) | ((b3 & 0xC0) == 0x80)
        ok &= ~((width == 3) & (cp < 0x800))
        ok &= ~((width == 4) & ((cp < 0x10000) | (cp > 0x10FFFF)))
        ok &= ~((cp >= 0xD800) & (cp <= 0xDFFF))
        status = np.where(ok & ~cut, 0, ST_BAD).astype(np.uint8)
    else:
        idx = b0.astype(np.int64)
        if multi.any():
            w2 = np.flatnonzero(width == 2)
            idx[w2] = 256 + ((b0[w2] << 8) | b1[w2])
            w3 = np.flatnonzero(width == 3)
            idx[w3] = 256 + 65536 + ((b1[w3] << 8) | b2[w3])
        invalid = cut | (Lc == 0)
        if invalid.any():
            idx[invalid] = 0
        cp = t.cp[idx]
        status = t.status[idx]
        if invalid.any():
            status[invalid] = ST_BAD
        code = np.where(
            width == 1, b0, np.where(width == 2, (b0 << 8) | b1, (b0 << 16) | (b1 << 8) | b2)
        )
    # padding: trailing U+0020 and NUL (and U+3000 in DBCS fields)
    if keep_padding or not dbcs:
        keep = np.ones(len(r), bool)
    else:  # PIC N: also trailing ideographic spaces
        pad = ((cp == 0x20) | (cp == 0) | (cp == 0x3000)) & (status == 0)
        last = np.zeros(m, np.int64)  # columns up to the end of the last content character
        ci = np.flatnonzero(~pad)
        if len(ci):
            rc = r[ci]
            tail = np.flatnonzero(np.r_[rc[1:] != rc[:-1], True])
            last[rc[tail]] = (c[ci] + width[ci])[tail]
        keep = c < last[r]
    counts = np.bincount(r[keep], minlength=m).astype(np.int64)
    kst = status[keep]
    kcp = np.where(kst == ST_BAD, ord(PLACEHOLDER), cp[keep])
    if t.utf8:
        arr = _strings(kcp, counts)
    else:
        kidx_all = idx[keep]
        by, nb = t.words[kidx_all], t.nbytes[kidx_all]
        if invalid.any():
            kb = np.flatnonzero(invalid[keep])
            by[kb], nb[kb] = t.words_placeholder, 3
        arr = _strings_of(by, nb, counts)
    gaiji: list = []
    mapped = 0
    if kst.any():
        kr, kc = r[keep], c[keep]
        kw = width[keep]
        kcode = code[keep]
        badk = np.flatnonzero(kst == ST_BAD)
        if len(badk):
            ur, fi = np.unique(kr[badk], return_index=True)
            k = badk[fi]
            reason[ur] = np.where(kw[k] > 1, R["undecodable_dbcs"], R["undefined_sbcs"])
            pos[ur] = kc[k]
            code_at[ur] = kcode[k]
        mapped = int(np.count_nonzero(kst == ST_GAIJI_MAPPED))
        unk = np.flatnonzero(kst == ST_GAIJI_UNMAPPED)
        if len(unk):
            gaiji = list(zip(kr[unk].tolist(), kcode[unk].tolist(), kc[unk].tolist()))
            if t.policy == "quarantine":
                ur, fi = np.unique(kr[unk], return_index=True)
                free = reason[ur] == 0
                ur, k = ur[free], unk[fi[free]]
                reason[ur] = R["unmapped_gaiji"]
                pos[ur] = kc[k]
                code_at[ur] = kcode[k]
        seqk = np.flatnonzero(kst == ST_SEQUENCE)
        if len(seqk):
            mapped += len(seqk)
            choff = np.zeros(m + 1, np.int64)
            np.cumsum(counts, out=choff[1:])
            kidx = (256 + kcode).astype(np.int64)
            rows = np.unique(kr[seqk])
            fixed = []
            for row in rows.tolist():
                a, z = int(choff[row]), int(choff[row + 1])
                fixed.append(
                    "".join(
                        t.sequences[int(i)] if s == ST_SEQUENCE else chr(int(x))
                        for i, s, x in zip(kidx[a:z], kst[a:z], kcp[a:z])
                    )
                )
            mask = np.zeros(m, bool)
            mask[rows] = True
            arr = pc.replace_with_mask(arr, bool_array(mask), string_array(fixed))
    e = Elements(arr, reason, pos, gaiji, mapped)
    e.code_at_pos = code_at
    return e


def _ascii_zoned_lut() -> np.ndarray:
    """ASCII zoned byte -> the EBCDIC zoned byte the zoned decoder reads (0x00: invalid)."""
    lut = np.zeros(256, np.uint8)
    for d in range(10):
        lut[0x30 + d] = 0xF0 | d  # digits
    lut[ord("{")] = 0xC0  # overpunch +0
    lut[ord("}")] = 0xD0  # overpunch -0
    for d in range(1, 10):
        lut[ord("A") + d - 1] = 0xC0 | d  # A-I: +1..+9
        lut[ord("J") + d - 1] = 0xD0 | d  # J-R: -1..-9
    for d in range(10):  # Micro Focus / ASCII-host sign: 0x70-0x79 ('p'-'y') = -0..-9
        lut[0x70 + d] = 0xD0 | d
    lut[ord("+")] = 0x4E  # SIGN SEPARATE
    lut[ord("-")] = 0x60
    lut[0x20] = 0x40  # an all-space field stays "blank"
    lut.flags.writeable = False
    return lut


#: ASCII zoned decimal (digits 0x30-0x39, overpunch ``{A-I`` +0..+9 and ``}J-R`` -0..-9, separate
#: signs ``+`` / ``-``) translated byte by byte to EBCDIC zoned (positions unchanged)
ASCII_ZONED = _ascii_zoned_lut()


def ascii_zoned(b: np.ndarray) -> np.ndarray:
    """An ASCII zoned element matrix as the EBCDIC zoned matrix the zoned decoder reads."""
    return ASCII_ZONED[b]


def _inverse_zoned() -> np.ndarray:
    inv = np.arange(256, dtype=np.uint8)
    for a in range(255, -1, -1):  # lowest ASCII byte wins (digits before letters)
        e = int(ASCII_ZONED[a])
        if e and not 0x70 <= a <= 0x79:  # the overpunch letters, not the 'p'-'y' convention
            inv[e] = a
    inv[0xF0:0xFA] = np.arange(0x30, 0x3A)
    inv.flags.writeable = False
    return inv


#: EBCDIC zoned byte -> its ASCII form (record-type values of ASCII files)
EBCDIC_TO_ASCII_ZONED = _inverse_zoned()
