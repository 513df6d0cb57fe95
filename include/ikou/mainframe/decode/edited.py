"""Numeric-edited fields (``Z * + - CR DB . , B 0 / $``, V, P, BLANK WHEN ZERO) -> decimal.

The picture fixes what every byte position may hold (:func:`ikou.mainframe.copybook.pictures.
edited_layout`): a digit (9), a suppressible digit (Z, * : a digit, a space or an asterisk), a
floating position (+ - $ repeated: a digit, a space or the symbol), a sign (+ - CR DB) or an
insertion character (B 0 / , . and a single currency sign, not read). The value is the digits
of the digit positions with the picture's scale; it is negative when a sign or floating
position shows ``-`` or the CR / DB positions hold CR / DB. An all-space field is 0 when the
picture has Z or BLANK WHEN ZERO (else it is an all-blank numeric, as for zoned fields), an
all-asterisk field of a ``*`` picture is 0. Bytes go through the code page's SBCS table, so
the same decoder reads EBCDIC and ASCII files. Vectorised over all rows.
"""

from __future__ import annotations

import functools

import numpy as np

from ikou.mainframe.copybook import Field
from ikou.mainframe.copybook.pictures import edited_layout
from ikou.mainframe.decode.base import Elements, R
from ikou.mainframe.decode.ints import first_true, number_array

_SP, _STAR, _PLUS, _MINUS, _DOLLAR = 0x20, 0x2A, 0x2B, 0x2D, 0x24
_COMMA, _POINT = 0x2C, 0x2E


@functools.lru_cache(maxsize=512)
def _positions(pic: str) -> tuple:
    classes, _digits, _scale = edited_layout(pic)
    c = np.array(classes)
    digit_cols = np.flatnonzero(np.isin(c, ("d", "z", "f", "o")))
    return (
        digit_cols,
        c[digit_cols],
        np.flatnonzero(c == "s"),
        np.flatnonzero(c == "i"),
        "Z" in pic.upper(),
        "*" in pic,
    )


def decode_edited(
    b: np.ndarray, f: Field, ascii_table: np.ndarray, *, blank: str = "quarantine"
) -> Elements:
    """(m, size) bytes of a numeric-edited field -> decimal128 with the picture's scale.

    ``ascii_table``: per byte of the code page, its character when ASCII (anything else
    >= 0x80), e.g. ``TextTables.sbcs_ascii``.
    """
    m, size = b.shape
    digit_cols, kinds, sign_cols, ins_cols, has_z, has_star = _positions(f.pic or "")
    ch = ascii_table[b]
    dch = ch[:, digit_cols]
    isdig = (dch >= 0x30) & (dch <= 0x39)
    space = dch == _SP
    ok = np.where(
        (kinds == "d") | (kinds == "o"),
        isdig,
        np.where(
            kinds == "z",
            isdig | space | (dch == _STAR),
            isdig
            | space
            | np.isin(dch, (_PLUS, _MINUS, _DOLLAR, _STAR, _COMMA, _POINT))
            | (dch >= 0x80),
        ),
    )
    sch = ch[:, sign_cols]
    sign_ok = np.isin(sch, (_SP, _PLUS, _MINUS, 0x43, 0x52, 0x44, 0x42))  # space + - C R D B
    neg = (sch == _MINUS).any(axis=1) | np.isin(sch, (0x43, 0x44)).any(axis=1)
    neg |= ((dch == _MINUS) & (kinds == "f")).any(axis=1)
    digits = np.where(isdig, dch - 0x30, 0).astype(np.int64)
    over = kinds == "o"
    if over.any():  # overpunched sign in the last digit (S in the picture)
        od = dch[:, over]
        pos_p = (od >= 0x41) & (od <= 0x49)
        neg_p = (od >= 0x4A) & (od <= 0x52)
        plus0, minus0 = od == 0x7B, od == 0x7D
        val = np.where(pos_p, od - 0x40, np.where(neg_p, od - 0x49, 0))
        punched = pos_p | neg_p | plus0 | minus0
        dsub = digits[:, over]
        dsub[punched] = val[punched]
        digits[:, over] = dsub
        osub = ok[:, over]
        osub |= punched
        ok[:, over] = osub
        neg |= (neg_p | minus0).any(axis=1)
    badpos = np.zeros((m, size), bool)
    badpos[:, digit_cols] = ~ok
    badpos[:, sign_cols] |= ~sign_ok
    bad = badpos.any(axis=1)
    reason = np.where(bad, R["invalid_edited"], 0).astype(np.uint8)
    pos = first_true(badpos)
    if bad.any():
        all_space = (ch == _SP).all(axis=1)
        zero_rows = np.zeros(m, bool)
        if has_z or f.blank_when_zero:
            zero_rows |= all_space
        if has_star:
            star_or_ins = ch == _STAR
            star_or_ins[:, ins_cols] = True
            zero_rows |= star_or_ins.all(axis=1) & (ch[:, digit_cols] == _STAR).all(axis=1)
        blank_rows = all_space & ~zero_rows
        reason[zero_rows] = 0
        digits[zero_rows] = 0
        neg &= ~zero_rows
        if blank_rows.any():
            reason[blank_rows] = 0 if blank == "null" else R["blank_numeric"]
            pos[blank_rows] = 0
        bad = bad & ~zero_rows
    valid = ~bad
    arr = number_array(f, digits, neg & valid, valid, True)
    return Elements(arr, reason, pos.astype(np.int32))
