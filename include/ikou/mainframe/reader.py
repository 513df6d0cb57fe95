"""Record extraction: a legacy file -> chunks of records as a byte matrix (framing only).

Framing is separate from field decoding. A chunk (:class:`RecordChunk`) is an ``(n, width)``
uint8 matrix, one record per row, with each record's length, 0-based record number in the file
and byte offset. The file is read in pieces of ``chunk_bytes`` (bounded memory: never the whole
file). One module per record structure:

=====================================  =========================================================
:mod:`ikou.mainframe.framing_fixed`    F / FB (``lrecl`` bytes a record; byte ranges)
:mod:`ikou.mainframe.framing_variable` V (RDW), VB (BDW + RDW), VS / VBS (spanned segments),
                                       records carrying their own length (a length field)
:mod:`ikou.mainframe.framing_text`     LF / CRLF text lines (open-system encodings)
:mod:`ikou.mainframe.compression`      gzip / bzip2 read transparently; zip, .Z, xz refused
=====================================  =========================================================

Around every structure (:class:`Framing`): ``file_start_offset`` / ``file_end_offset`` bytes
skipped at the start / end of the file (headers and trailers outside the records),
``record_start_offset`` / ``record_end_offset`` bytes skipped around each record's layout;
``_offset`` stays the absolute byte offset of the record in the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from ikou.mainframe.compression import open_decompressed
from ikou.mainframe.framing_fixed import byte_ranges, fixed_chunks
from ikou.mainframe.framing_text import text_chunks
from ikou.mainframe.framing_variable import RecordLength, length_field_chunks, variable_chunks
from ikou.mainframe.records import (
    PAD,
    BrokenRecord,
    RecordChunk,
    RecordFormatError,
    empty_chunk,
    read_exact,
)

__all__ = [
    "RECFMS",
    "TEXT_RECFMS",
    "BrokenRecord",
    "Framing",
    "RecordChunk",
    "RecordFormatError",
    "RecordLength",
    "Window",
    "byte_ranges",
    "iter_record_chunks",
]

RECFMS = ("F", "FB", "V", "VB", "VS", "VBS", "LF", "CRLF")
TEXT_RECFMS = ("LF", "CRLF")


@dataclass(frozen=True)
class Framing:
    """How records sit in the file beyond the RECFM (see the module docstring)."""

    rdw_adjust: int = 0
    bdw_adjust: int = 0
    rdw_endian: str = "big"  # big | little
    record_start_offset: int = 0
    record_end_offset: int = 0
    file_start_offset: int = 0
    file_end_offset: int = 0
    record_length: RecordLength | None = None  # F: each record's length from a field of its own
    pad: int = PAD  # the code page's space: pads short records in the matrix
    decompress: bool = True

    def check(self) -> None:
        for name in ("record_start_offset", "record_end_offset"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', '-')} must be 0 or more")
        for name in ("file_start_offset", "file_end_offset"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', '-')} must be 0 or more")
        if self.rdw_endian not in ("big", "little"):
            raise ValueError("rdw must be big or little")


class Window:
    """A stream without its first ``skip`` bytes and its last ``trim`` bytes (read ahead)."""

    def __init__(self, f: BinaryIO, skip: int, trim: int):
        self.f = f
        self.trim = trim
        self.skipped = len(read_exact(f, skip)) if skip else 0
        self.held = b""
        self.eof = False

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            data = self.held + self.f.read()
            self.eof = True
            keep = max(0, len(data) - self.trim)
            self.held = data[keep:]
            return data[:keep]
        while len(self.held) < n + self.trim and not self.eof:
            more = self.f.read(max(n + self.trim - len(self.held), 1 << 16))
            if not more:
                self.eof = True
                break
            self.held += more
        avail = max(0, len(self.held) - self.trim)
        out, self.held = self.held[: min(n, avail)], self.held[min(n, avail) :]
        return out

    @property
    def cut(self) -> int:
        """Bytes left out at the end (known once the stream is read to its end)."""
        return len(self.held) if self.eof else 0


def iter_record_chunks(
    f: BinaryIO,
    recfm: str,
    lrecl: int | None = None,
    *,
    chunk_bytes: int = 8 << 20,
    start: int = 0,
    end: int | None = None,
    max_raw_bytes: int = 65536,
    framing: Framing | None = None,
) -> Iterator[RecordChunk]:
    """Yield :class:`RecordChunk` s from an open binary file (positioned at its start)."""
    fr = framing or Framing()
    fr.check()
    recfm = recfm.upper()
    if recfm not in RECFMS:
        raise RecordFormatError(f"unknown RECFM {recfm!r} ({', '.join(RECFMS)})")
    ranged = bool(start) or end is not None
    if ranged and recfm not in ("F", "FB"):
        raise RecordFormatError("byte ranges are supported for RECFM F/FB only")
    if ranged and (fr.file_start_offset or fr.file_end_offset or fr.record_length):
        raise RecordFormatError(
            "byte ranges do not combine with file offsets or a record length field"
        )
    if fr.decompress and not start:
        f, _kind = open_decompressed(f, ranged=ranged)
    win = None
    if fr.file_start_offset or fr.file_end_offset:
        win = Window(f, fr.file_start_offset, fr.file_end_offset)
        f = win
    little = fr.rdw_endian == "little"
    if recfm in ("F", "FB"):
        if fr.record_length is not None:
            inner = length_field_chunks(
                f,
                fr.record_length,
                adjust=fr.rdw_adjust,
                chunk_bytes=max(chunk_bytes, 1 << 17),
                max_raw_bytes=max_raw_bytes,
                pad=fr.pad,
            )
        else:
            if not lrecl or lrecl <= 0:
                raise RecordFormatError("RECFM F/FB needs a positive LRECL")
            inner = fixed_chunks(
                f, lrecl, chunk_bytes=chunk_bytes, start=start, end=end, max_raw_bytes=max_raw_bytes
            )
    elif recfm in TEXT_RECFMS:
        inner = text_chunks(f, chunk_bytes=max(chunk_bytes, 1 << 16), pad=fr.pad)
    else:
        inner = variable_chunks(
            f,
            blocked=recfm.startswith("VB"),
            spanned=recfm.endswith("S"),
            rdw_adjust=fr.rdw_adjust,
            bdw_adjust=fr.bdw_adjust,
            little=little,
            chunk_bytes=max(chunk_bytes, 1 << 17),
            max_raw_bytes=max_raw_bytes,
            pad=fr.pad,
        )
    shift = fr.file_start_offset if win is not None else 0
    a, b = fr.record_start_offset, fr.record_end_offset
    for rc in inner:
        if shift:
            rc.offsets = rc.offsets + shift
            rc.data_offsets = rc.data_offsets + shift
            for br in rc.broken:
                br.offset += shift
        if (a or b) and len(rc):
            rc = _around(rc, a, b)
        yield rc
    if win is not None and (win.skipped or win.cut):
        yield empty_chunk(win.skipped + win.cut)


def _around(rc: RecordChunk, a: int, b: int) -> RecordChunk:
    """Each record without its first ``a`` and last ``b`` bytes (the layout's bytes)."""
    n, w = rc.data.shape
    data = rc.data[:, a:] if a < w else np.zeros((n, 0), np.uint8)
    return RecordChunk(
        data,
        np.maximum(rc.lengths - a - b, 0),
        rc.record_no,
        rc.offsets,
        rc.data_offsets + a,
        rc.broken,
        rc.bytes_read,
    )
