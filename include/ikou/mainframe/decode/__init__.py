"""Vectorised field decoders: numpy over every element of a chunk, no per-record Python loop.

Each decoder takes ``b``, a ``(m, size)`` uint8 matrix (one row per field element: a record's
field, or one OCCURS element) and returns an :class:`Elements`: the Arrow array of the ``m``
values (null where invalid), a reason code per row (0 = fine) and the byte position of the first
problem inside the element. Text decoders also report 外字 occurrences. The callers (the
engine) turn element rows into records, quarantine rows and lineage.

One module per field type:

``base``     reason codes, :class:`Elements`, numpy -> Arrow builders, ``arrow_type``
``ints``     int64 / 128-bit digit arithmetic shared by the numeric decoders
``numeric``  zoned decimal (DISPLAY) and packed decimal (COMP-3)
``binary``   COMP / COMP-4 / COMP-5 / BINARY
``floats``   COMP-1 / COMP-2
``edited``   numeric-edited pictures (Z * + - CR DB . , B 0 /)
``text``     SBCS, DBCS and mixed SO/SI text through :class:`TextTables`, 外字
``multibyte`` open-system multi-byte text (utf-8, cp932, euc-jp) through :class:`MultibyteTables`
``tables``   the text decoders' lookup tables, built once per code page and cached

Error details carry codes and offsets only, never decoded text (it is personal data).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa

from ikou.mainframe.copybook import Field
from ikou.mainframe.decode.base import (
    PLACEHOLDER,
    REASONS,
    SEQUENCE,
    UNDEFINED,
    Elements,
    arrow_type,
    bool_array,
    empty_batch,
    np_array,
    null_where,
    pc,
    reason_code,
    repeat_string,
    string_array,
)
from ikou.mainframe.decode.binary import decode_binary
from ikou.mainframe.decode.edited import decode_edited
from ikou.mainframe.decode.floats import FLOAT_FORMATS, decode_float
from ikou.mainframe.decode.multibyte import (
    ascii_zoned,
    decode_multibyte,
    is_multibyte,
)
from ikou.mainframe.decode.national import decode_national
from ikou.mainframe.decode.numeric import (
    decode_packed,
    decode_packed_numpy,
    decode_zoned,
    decode_zoned_numpy,
)
from ikou.mainframe.decode.tables import MultibyteTables, TextTables, user_defined_mask
from ikou.mainframe.decode.text import (
    decode_dbcs,
    decode_dbcs_numpy,
    decode_mixed,
    decode_mixed_numpy,
    decode_sbcs,
    decode_sbcs_numpy,
)

__all__ = [
    "FLOAT_FORMATS",
    "PLACEHOLDER",
    "REASONS",
    "SEQUENCE",
    "TRIMS",
    "UNDEFINED",
    "Elements",
    "TextTables",
    "arrow_type",
    "bool_array",
    "decode_binary",
    "decode_dbcs",
    "decode_dbcs_numpy",
    "decode_edited",
    "decode_elements",
    "decode_float",
    "decode_mixed",
    "decode_mixed_numpy",
    "decode_national",
    "decode_packed",
    "decode_packed_numpy",
    "decode_sbcs",
    "decode_sbcs_numpy",
    "decode_zoned",
    "decode_zoned_numpy",
    "empty_batch",
    "np_array",
    "null_where",
    "pc",
    "reason_code",
    "repeat_string",
    "string_array",
    "user_defined_mask",
]


TRIMS = ("right", "both", "left", "none")
_PAD = " \u3000\x00"  # SBCS space, DBCS space (U+3000), 0x00 (low-values)


def decode_elements(
    b: np.ndarray,
    f: Field,
    tables: TextTables | None,
    *,
    money: bool = False,
    keep_padding: bool = False,
    blank: str = "quarantine",
    trim: str | None = None,
    float_format: str = "ibm",
) -> Elements:
    """Decode an (m, size) element matrix of field ``f`` by its kind.

    ``trim`` (text): right (default) | both | left | none -- SBCS / DBCS spaces and 0x00 are
    padding; an all-0x00 text field is null (unless none). ``keep_padding`` = ``trim="none"``.
    ``float_format``: ibm | ieee | ieee-le for COMP-1 / COMP-2.
    """
    k = f.kind
    cp = getattr(tables, "codepage", None)
    open_system = getattr(cp, "ascii_numbers", False)  # ikou.moji.opensystem
    if open_system and k == "zoned":
        b = ascii_zoned(b)  # ASCII digits and overpunch
    if k == "zoned":
        el = decode_zoned(b, f, money=money, blank=blank)
        if f.blank_when_zero:
            _blank_is_zero(el, b)
        return el
    if k == "packed":
        return decode_packed(b, f, blank=blank)
    if k == "binary":
        return decode_binary(b, f, money=money)
    if k == "float":
        return decode_float(b, f, fmt=float_format)
    mode = trim or ("none" if keep_padding else "right")
    if mode not in TRIMS:
        raise ValueError(f"trim {mode!r}: use one of {', '.join(TRIMS)}")
    if k == "national":
        el = decode_national(b, trim=mode)
        if mode != "none" and b.size:
            zero = (b == 0).all(axis=1)
            if zero.any():
                el.array = null_where(el.array, zero)
        return el
    if tables is None:
        raise ValueError("text fields need code-page tables")
    if k == "edited":
        return decode_edited(b, f, tables.sbcs_ascii, blank=blank)
    kp = mode in ("none", "left")
    if open_system and k in ("alphanumeric", "dbcs", "mixed"):
        if is_multibyte(cp):  # utf-8 / cp932 / euc-jp: characters of 1-4 bytes
            mt = MultibyteTables.get(cp, tables.encoding, tables.gaiji, tables.policy)
            el = decode_multibyte(b, mt, keep_padding=kp, dbcs=k == "dbcs")
        else:  # ascii / latin1: one byte per character, no shift codes
            el = decode_sbcs(b, tables, keep_padding=kp)
    elif k == "alphanumeric":
        el = decode_sbcs(b, tables, keep_padding=kp)
    elif k == "dbcs":
        el = decode_dbcs(_low_values_as_spaces(b) if mode != "none" else b, tables, keep_padding=kp)
    elif k == "mixed":
        el = decode_mixed(b, tables, keep_padding=kp)
    else:
        raise ValueError(f"unknown field kind {k}")
    if mode == "none" or not b.size:
        return el
    if mode in ("left", "both"):
        el.array = pc.utf8_ltrim(el.array, characters=_PAD)
    # 0x00 padding (low-values) ends a field: only rows whose last byte is 0x00 need a look
    last0 = b[:, -1] == 0
    if mode == "left":
        last0 = last0 | (b[:, 0] == 0)
    if last0.any():
        if mode != "left":
            el.array = pc.utf8_rtrim(el.array, characters=_PAD)
        all0 = last0.copy()
        all0[last0] = (b[last0] == 0).all(axis=1)
        if all0.any():
            el.array = null_where(el.array, all0)
    return el


def _low_values_as_spaces(b: np.ndarray) -> np.ndarray:
    """Trailing 0x0000 pairs of DBCS elements as DBCS spaces: low-values padding, not codes."""
    if not b.size or not (b[:, -1] == 0).any():
        return b
    z = (b[:, 0::2] == 0) & (b[:, 1::2] == 0)
    tail = np.cumprod(z[:, ::-1], axis=1)[:, ::-1].astype(bool)
    out = b.copy()
    hi, lo = out[:, 0::2], out[:, 1::2]
    hi[tail] = 0x40
    lo[tail] = 0x40
    return out


def _blank_is_zero(el: Elements, b: np.ndarray) -> None:
    """BLANK WHEN ZERO: an all-space numeric DISPLAY field is 0, not a blank numeric."""
    blank = el.bad == reason_code("blank_numeric")
    if b.size:
        blank |= (el.bad == 0) & (b == 0x40).all(axis=1)  # --blank-numeric null made it null
    if not blank.any():
        return
    t = el.array.type
    zero = pa.scalar(Decimal(0) if pa.types.is_decimal(t) else 0, t)
    el.array = pc.if_else(bool_array(blank), zero, el.array)
    el.bad[blank] = 0
