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

Error details carry codes and offsets only, never decoded text (it is personal data).
"""

from __future__ import annotations

import numpy as np

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
from ikou.mainframe.decode.floats import decode_float
from ikou.mainframe.decode.numeric import (
    decode_packed,
    decode_packed_numpy,
    decode_zoned,
    decode_zoned_numpy,
)
from ikou.mainframe.decode.text import (
    TextTables,
    decode_dbcs,
    decode_dbcs_numpy,
    decode_mixed,
    decode_mixed_numpy,
    decode_sbcs,
    decode_sbcs_numpy,
    user_defined_mask,
)

__all__ = [
    "PLACEHOLDER",
    "REASONS",
    "SEQUENCE",
    "UNDEFINED",
    "Elements",
    "TextTables",
    "arrow_type",
    "bool_array",
    "decode_binary",
    "decode_dbcs",
    "decode_dbcs_numpy",
    "decode_elements",
    "decode_float",
    "decode_mixed",
    "decode_mixed_numpy",
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
