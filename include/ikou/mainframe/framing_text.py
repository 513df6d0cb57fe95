"""RECFM LF / CRLF: text files of an open-system encoding, one record per line.

Lines end with LF (0x0A); a CR (0x0D) right before it is dropped in both modes, so a CRLF file
read as LF still frames. A leading UTF-8 byte-order mark and a final DOS end-of-file byte 0x1A
are ignored; empty lines are not records (they are counted in the bytes read). A line shorter
than the layout is a short record (the engine nulls the fields beyond its end). ``_offset`` is
the line's first byte. Splitting is vectorised (numpy over each chunk read).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from ikou.mainframe.records import RecordChunk, empty_chunk, matrix, read_exact

__all__ = ["BOM", "text_chunks"]

BOM = b"\xef\xbb\xbf"


def text_chunks(
    f: BinaryIO, *, chunk_bytes: int = 4 << 20, pad: int = 0x20
) -> Iterator[RecordChunk]:
    pending = b""
    base = 0  # file offset of pending[0]
    recno = 0
    first = True
    unreported = 0
    while True:
        more = read_exact(f, chunk_bytes)
        eof = not more
        buf = pending + more if pending else more
        if first and buf:
            if len(buf) < 3 and not eof:
                pending = buf
                continue
            first = False
            if buf.startswith(BOM):  # not data: skipped, counted as read
                buf = buf[3:]
                base += 3
                unreported += 3
        if eof:
            if buf.endswith(b"\x1a"):
                buf = buf[:-1]
                unreported += 1
            cut = len(buf)
        else:
            cut = buf.rfind(b"\n") + 1
            if cut == 0:  # no line end in this piece yet: read on
                pending = buf
                continue
        arr = np.frombuffer(buf, np.uint8, count=cut)
        nl = np.flatnonzero(arr == 0x0A)
        starts = np.concatenate(([0], nl + 1)).astype(np.int64)
        ends = np.concatenate((nl, [cut])).astype(np.int64)
        if cut:
            ends = ends - ((ends > starts) & (arr[np.maximum(ends - 1, 0)] == 0x0D))
        keep = ends > starts  # empty lines (and the nothing after the last LF) are no records
        starts, ends = starts[keep], ends[keep]
        n = len(starts)
        lens = ends - starts
        if n:
            yield RecordChunk(
                matrix(buf, starts, lens, pad),
                lens.astype(np.int64),
                np.arange(recno, recno + n, dtype=np.int64),
                starts + base,
                starts + base,
                [],
                cut + unreported,
            )
            unreported = 0
        else:
            unreported += cut
        recno += n
        base += cut
        pending = buf[cut:]
        if eof:
            break
    if unreported:
        yield empty_chunk(unreported)
