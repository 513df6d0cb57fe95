"""The record chunk every framing yields, broken records, and the byte helpers they share.

A chunk is an ``(n, width)`` uint8 matrix, one record per row, left-aligned and padded with the
code page's space (0x40 EBCDIC, 0x20 ASCII), with each record's length, 0-based record number in
the file and byte offset. Framings: :mod:`ikou.mainframe.framing_fixed` (F / FB, length field),
:mod:`ikou.mainframe.framing_variable` (V / VB / VS / VBS), :mod:`ikou.mainframe.framing_text`
(LF / CRLF); :mod:`ikou.mainframe.reader` chooses one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

__all__ = [
    "PAD",
    "BrokenRecord",
    "RecordChunk",
    "RecordFormatError",
    "empty_chunk",
    "matrix",
    "read_exact",
]

PAD = 0x40


class RecordFormatError(ValueError):
    """The file does not fit the record format (wrong RECFM / LRECL, not a V file, ...)."""


@dataclass
class BrokenRecord:
    record_no: int
    offset: int
    reason: str  # truncated_record | bad_rdw | bad_bdw
    raw: bytes  # at most max_raw_bytes
    length: int  # bytes the broken record spans
    detail: str = ""


@dataclass
class RecordChunk:
    data: np.ndarray  # (n, width) uint8
    lengths: np.ndarray  # (n,) int64
    record_no: np.ndarray  # (n,) int64
    offsets: np.ndarray  # (n,) int64, byte offset of the record (its RDW for V / VB)
    data_offsets: np.ndarray  # (n,) int64, byte offset of the first data byte
    broken: list[BrokenRecord] = field(default_factory=list)
    bytes_read: int = 0

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def records_in(self) -> int:
        return len(self.lengths) + len(self.broken)

    def raw(self, i: int) -> bytes:
        return self.data[i, : int(self.lengths[i])].tobytes()


def empty_chunk(bytes_read: int = 0, broken: list | None = None) -> RecordChunk:
    z = np.zeros(0, np.int64)
    return RecordChunk(np.zeros((0, 0), np.uint8), z, z, z, z, list(broken or []), bytes_read)


def read_exact(f: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes: fewer only at the end of the file."""
    parts = []
    got = 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts) if len(parts) != 1 else parts[0]


def matrix(buf, starts, lens, pad: int = PAD) -> np.ndarray:
    """Records ``buf[starts[i] : starts[i] + lens[i]]`` as a padded ``(n, max(lens))`` matrix."""
    n = len(starts)
    width = int(max(lens)) if n else 0
    if n == 0 or width == 0:
        return np.zeros((n, 0), np.uint8)
    mat = np.full((n, width), pad, np.uint8)
    src = np.frombuffer(buf, dtype=np.uint8)
    ln = np.asarray(lens, np.int64)
    st = np.asarray(starts, np.int64)
    if (ln == ln[0]).all():
        idx = st[:, None] + np.arange(ln[0], dtype=np.int64)
        mat[:, : ln[0]] = src[idx]
        return mat
    total = int(ln.sum())
    rows = np.repeat(np.arange(n), ln)
    first = np.cumsum(ln) - ln
    cols = np.arange(total, dtype=np.int64) - np.repeat(first, ln)
    mat[rows, cols] = src[np.repeat(st, ln) + cols]
    return mat
