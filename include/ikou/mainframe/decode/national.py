"""USAGE NATIONAL / PIC N under NSYMBOL(NATIONAL): UTF-16 big-endian text."""

from __future__ import annotations

import numpy as np

from ikou.mainframe.decode.base import Elements, R, string_array

PAD = " \u3000\x00"


def decode_national(b: np.ndarray, *, trim: str = "right") -> Elements:
    """(m, size) UTF-16BE bytes -> strings; a lone surrogate is ``invalid_national``.

    ``trim``: right | left | both | none (spaces, U+3000 and U+0000 are padding).
    """
    m = b.shape[0]
    reason = np.zeros(m, np.uint8)
    pos = np.zeros(m, np.int32)
    out: list = []
    for i, row in enumerate(np.ascontiguousarray(b)):
        raw = row.tobytes()
        try:
            s = raw.decode("utf-16-be")
        except UnicodeDecodeError as exc:
            reason[i] = R["invalid_national"]
            pos[i] = exc.start
            out.append(None)
            continue
        if trim in ("right", "both"):
            s = s.rstrip(PAD)
        if trim in ("left", "both"):
            s = s.lstrip(PAD)
        out.append(s)
    return Elements(string_array(out), reason, pos)
