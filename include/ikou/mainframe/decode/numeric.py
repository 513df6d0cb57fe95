"""Zoned decimal (DISPLAY) and packed decimal (COMP-3) decoders."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ikou.mainframe.copybook import Field
from ikou.mainframe.decode.base import (
    Elements,
    R,
    bool_array,
    decimal_ps,
    is_int64,
    np_array,
    pc,
)
from ikou.mainframe.decode.ints import decimal_array, first_true, number_array


def decode_zoned(
    b: np.ndarray, f: Field, *, money: bool = False, blank: str = "quarantine"
) -> Elements:
    """Zoned decimal: F zones, overpunched sign (C/A/E/F +, D/B -) or a separate sign byte."""
    m, size = b.shape
    up = -f.scale if f.scale < 0 else 0
    if not (f.signed and f.sign_separate) and 0 < size and size + up <= 18:
        sc = 0 if (f.signed and f.sign_position == "leading") else size - 1
        return number_with_kernel(
            b,
            f,
            "zoned",
            sc,
            size,
            money,
            lambda x: decode_zoned_numpy(x, f, money=money, blank=blank),
        )
    return decode_zoned_numpy(b, f, money=money, blank=blank)


def decode_zoned_numpy(
    b: np.ndarray, f: Field, *, money: bool = False, blank: str = "quarantine"
) -> Elements:
    m, size = b.shape
    if not (f.signed and f.sign_position == "leading") and size > 1:
        # a number right-justified with leading spaces (files from other tools, as Cobrix
        # reads them): the spaces before the first digit are zeros; an all-space field stays
        # a blank numeric and a space anywhere else stays invalid
        sp = b == 0x40
        if sp[:, 0].any():
            lead = np.logical_and.accumulate(sp, axis=1)
            lead[:, size - 1] = False  # the last byte holds a digit (and the sign)
            lead &= ~sp.all(axis=1)[:, None]
            if lead.any():
                b = np.where(lead, np.uint8(0xF0), b)
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
        pos = np.where(sign_bad, sc, first_true(badm) + off)
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
        pos = first_true(badm)
        bad = badm.any(axis=1)
    reason = np.where(bad, R["invalid_zoned"], 0).astype(np.uint8)
    valid = ~bad
    if bad.any():
        blank_rows = bad & (b == 0x40).all(axis=1)
        if blank_rows.any():
            if blank == "null":
                reason[blank_rows] = 0
            else:
                reason[blank_rows] = R["blank_numeric"]
            pos[blank_rows] = 0
    return Elements(number_array(f, digits, neg, valid, money), reason, pos.astype(np.int32))


def decode_packed(
    b: np.ndarray, f: Field, *, money: bool = True, blank: str = "quarantine"
) -> Elements:
    """Packed decimal: digit nibbles 0-9, sign nibble C/A/E/F + and D/B - (F/C/A/E unsigned)."""
    m, size = b.shape
    up = -f.scale if f.scale < 0 else 0
    k = min(f.digits, 2 * size - 1)
    if size and k + up <= 18 and 2 * size - 1 <= 19:
        return number_with_kernel(
            b, f, "packed", f.digits, k, True, lambda x: decode_packed_numpy(x, f, blank=blank)
        )
    return decode_packed_numpy(b, f, blank=blank)


def number_with_kernel(
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
    if is_int64(f, money):
        arr = np_array(v, pa.int64())
    else:
        precision, scale = decimal_ps(f)
        hi = np.where(v < 0, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))
        arr = decimal_array(hi, v.view(np.uint64), np.ones(m, bool), precision, scale)
    reason = np.zeros(m, np.uint8)
    pos = np.zeros(m, np.int32)
    if slow.any():
        rows = np.flatnonzero(slow)
        sub = np_fn(b[rows])
        arr = pc.replace_with_mask(arr, bool_array(slow), sub.array)
        reason[rows] = sub.bad
        pos[rows] = sub.pos
    return Elements(arr, reason, pos)


def decode_packed_numpy(
    b: np.ndarray, f: Field, *, money: bool = True, blank: str = "quarantine"
) -> Elements:
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
    pos = np.where(badm.any(axis=1), first_true(badm) // 2, size - 1).astype(np.int32)
    reason = np.where(bad, R["bad_nibble"], 0).astype(np.uint8)
    if bad.any():  # all spaces: a blank numeric (decided by --blank-numeric), as for zoned
        blank_rows = bad & (b == 0x40).all(axis=1)
        if blank_rows.any():
            reason[blank_rows] = 0 if blank == "null" else R["blank_numeric"]
            pos[blank_rows] = 0
    digits = dn[:, extra:] if extra > 0 else dn
    return Elements(number_array(f, digits, neg, ~bad, True), reason, pos)
