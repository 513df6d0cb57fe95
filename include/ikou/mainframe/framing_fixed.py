"""RECFM F / FB framing: ``lrecl`` bytes per record, a zero-copy view of the bytes read.

A short last record is a broken record (``truncated_record``). A byte range (``start``/``end``,
multiples of ``lrecl``) lets a large file be split into parallel parts; record numbers continue
from ``start // lrecl``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from ikou.mainframe.records import BrokenRecord, RecordChunk, RecordFormatError, read_exact

__all__ = ["byte_ranges", "fixed_chunks"]


def byte_ranges(file_size: int, lrecl: int, parts: int) -> list[tuple[int, int]]:
    """Split an F/FB file into ``parts`` record-aligned byte ranges ``(start, end)``."""
    if lrecl <= 0 or parts <= 0:
        raise ValueError("lrecl and parts must be positive")
    nrec = -(-file_size // lrecl)
    per = -(-nrec // parts) if nrec else 0
    out = []
    for i in range(parts):
        s = min(i * per, nrec) * lrecl
        e = min((i + 1) * per, nrec) * lrecl
        if i == parts - 1:
            e = file_size
        if s < e or (i == 0 and file_size == 0):
            out.append((s, min(e, file_size)))
    return out


def fixed_chunks(
    f: BinaryIO,
    lrecl: int,
    *,
    chunk_bytes: int = 8 << 20,
    start: int = 0,
    end: int | None = None,
    max_raw_bytes: int = 65536,
) -> Iterator[RecordChunk]:
    """Chunks of an F / FB file (``f`` positioned at its start; seeks to ``start``)."""
    if start % lrecl:
        raise RecordFormatError(f"byte range start {start} is not a multiple of LRECL {lrecl}")
    if start:
        f.seek(start)
    per = max(1, chunk_bytes // lrecl)
    recno = start // lrecl
    pos = start
    while True:
        want = per * lrecl
        if end is not None:
            want = min(want, end - pos)
            if want <= 0:
                return
        buf = read_exact(f, want)
        if not buf:
            return
        n = len(buf) // lrecl
        rest = len(buf) - n * lrecl
        if n:
            data = np.frombuffer(buf, dtype=np.uint8, count=n * lrecl).reshape(n, lrecl)
        else:
            data = np.zeros((0, lrecl), np.uint8)
        rn = np.arange(recno, recno + n, dtype=np.int64)
        offs = pos + np.arange(n, dtype=np.int64) * lrecl
        broken = []
        if rest:
            tail = buf[n * lrecl :]
            broken.append(
                BrokenRecord(
                    recno + n,
                    pos + n * lrecl,
                    "truncated_record",
                    tail[:max_raw_bytes],
                    rest,
                    f"{rest} of {lrecl} bytes",
                )
            )
        yield RecordChunk(
            data, np.full(n, lrecl, np.int64), rn, offs, offs.copy(), broken, len(buf)
        )
        recno += n + (1 if rest else 0)
        pos += len(buf)
        if rest or len(buf) < want:
            return
