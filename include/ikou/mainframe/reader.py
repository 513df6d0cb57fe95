"""Record extraction: RECFM F / FB / V / VB files -> chunks of records as a byte matrix.

Framing is separate from field decoding. A chunk is an ``(n, width)`` uint8 matrix, one record
per row, left-aligned and padded with 0x40 (for F/FB a zero-copy view of the bytes read), with
each record's length, 0-based record number in the file and byte offset. The file is read in
pieces of ``chunk_bytes`` (bounded memory: never the whole file).

* F / FB: ``lrecl`` bytes per record; a short last record is a broken record
  (``truncated_record``). A byte range (``start``/``end``, multiples of ``lrecl``) lets a large
  file be split into parallel parts; record numbers continue from ``start // lrecl``.
* V: each record led by its RDW (2-byte big-endian length including the RDW, 2 bytes zero).
  ``_offset`` is the RDW's offset. VB: blocks led by a BDW (same layout, or the 4-byte
  large-block form with the high bit set) holding RDW records.

Broken framing never raises past the first descriptor: a wrong RDW makes the rest of its block
(VB) or of the file (V) one broken record (``bad_rdw``), a wrong BDW the rest of the file
(``bad_bdw``); a record cut off by the end of the file is ``truncated_record``. Broken records
get a record number and are reported with their raw bytes (up to ``max_raw_bytes``) for the
quarantine. If the very first descriptor is wrong the file is not in that format:
:class:`RecordFormatError`. Spanned records (VS / VBS) are not supported.

The V/VB descriptor walk is a Python loop over records (only lengths, ~0.2 µs a record); the
field decoding that follows is vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

import numpy as np

__all__ = ["RecordFormatError", "BrokenRecord", "RecordChunk", "iter_record_chunks", "byte_ranges"]

PAD = 0x40
MAX_LBI_BLOCK = 1 << 24  # a large-block BDW above this is taken as garbage, not a block


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


def iter_record_chunks(
    f: BinaryIO,
    recfm: str,
    lrecl: int | None = None,
    *,
    chunk_bytes: int = 8 << 20,
    start: int = 0,
    end: int | None = None,
    max_raw_bytes: int = 65536,
) -> Iterator[RecordChunk]:
    """Yield :class:`RecordChunk` s from an open binary file (positioned at its start)."""
    recfm = recfm.upper()
    if recfm in ("F", "FB"):
        if not lrecl or lrecl <= 0:
            raise RecordFormatError("RECFM F/FB needs a positive LRECL")
        yield from _fixed(f, lrecl, chunk_bytes, start, end, max_raw_bytes)
    elif recfm in ("V", "VB"):
        if start or end is not None:
            raise RecordFormatError("byte ranges are supported for RECFM F/FB only")
        yield from _variable(f, recfm == "VB", max(chunk_bytes, 1 << 17), max_raw_bytes)
    else:
        raise RecordFormatError(f"unknown RECFM {recfm!r} (F, FB, V or VB)")


def _read_exact(f: BinaryIO, n: int) -> bytes:
    parts = []
    got = 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts) if len(parts) != 1 else parts[0]


def _fixed(f, lrecl, chunk_bytes, start, end, max_raw):
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
        buf = _read_exact(f, want)
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
                    tail[:max_raw],
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


def _matrix(buf: bytes, starts: list[int], lens: list[int]) -> np.ndarray:
    n = len(starts)
    width = max(lens) if lens else 0
    mat = np.full((n, max(width, 1)), PAD, np.uint8)
    if n == 0 or width == 0:
        return mat[:, :width] if width else np.zeros((n, 0), np.uint8)
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


def _variable(f, blocked: bool, chunk_bytes: int, max_raw: int):
    pending = b""
    base = 0  # file offset of pending[0]
    recno = 0
    first = True
    eof = False
    unreported = 0
    while not eof or pending:
        more = b"" if eof else _read_exact(f, chunk_bytes)
        if not more:
            eof = True
        buf = pending + more if pending else more
        if not buf:
            return
        L = len(buf)
        p = 0
        starts: list[int] = []
        lens: list[int] = []
        offs: list[int] = []
        nums: list[int] = []
        broken: list[BrokenRecord] = []
        stop = False  # the rest of the file is one broken record
        drained = 0
        while p + 4 <= L or (eof and p < L):
            if p + 4 > L:  # a descriptor cut off by the end of the file
                broken.append(
                    BrokenRecord(
                        recno,
                        base + p,
                        "truncated_record",
                        buf[p : p + max_raw],
                        L - p,
                        f"{L - p} bytes left, descriptor needs 4",
                    )
                )
                recno += 1
                p = L
                break
            if blocked:
                b0 = buf[p]
                if b0 & 0x80:
                    bl = int.from_bytes(buf[p : p + 4], "big") & 0x7FFFFFFF
                    ok = 4 <= bl <= MAX_LBI_BLOCK
                else:
                    bl = (b0 << 8) | buf[p + 1]
                    ok = bl >= 4 and buf[p + 2] == 0 and buf[p + 3] == 0
                if not ok:
                    if first:
                        raise RecordFormatError(
                            f"not a RECFM VB file: block descriptor at offset {base + p} is "
                            f"{buf[p : p + 4].hex().upper()}"
                        )
                    stop = True
                    reason, detail = "bad_bdw", f"block descriptor {buf[p : p + 4].hex().upper()}"
                    break
                if p + bl > L and not eof:
                    break  # need more bytes
                bend = min(p + bl, L)
                truncated_block = p + bl > L
                q = p + 4
                if truncated_block and q >= bend:  # the file ends right after the descriptor
                    broken.append(
                        BrokenRecord(
                            recno,
                            base + p,
                            "truncated_record",
                            buf[p:L][:max_raw],
                            L - p,
                            f"block of {bl} bytes, {L - p} present",
                        )
                    )
                    recno += 1
                    p = L
                    break
                while q < bend:
                    if q + 4 > bend:
                        broken.append(
                            BrokenRecord(
                                recno,
                                base + q,
                                "truncated_record" if truncated_block else "bad_rdw",
                                buf[q : min(bend, q + max_raw)],
                                bend - q,
                                f"{bend - q} bytes left in block, RDW needs 4",
                            )
                        )
                        recno += 1
                        q = bend
                        break
                    rl = (buf[q] << 8) | buf[q + 1]
                    if (
                        rl < 4
                        or buf[q + 2]
                        or buf[q + 3]
                        or (q + rl > bend and not truncated_block)
                    ):
                        if first:
                            raise RecordFormatError(
                                f"not a RECFM VB file: record descriptor at offset {base + q} is "
                                f"{buf[q : q + 4].hex().upper()}"
                            )
                        broken.append(
                            BrokenRecord(
                                recno,
                                base + q,
                                "bad_rdw",
                                buf[q : min(bend, q + max_raw)],
                                bend - q,
                                f"record descriptor {buf[q : q + 4].hex().upper()} "
                                f"with {bend - q} bytes left in the block",
                            )
                        )
                        recno += 1
                        q = bend
                        break
                    if q + rl > bend:  # the file ends inside this record
                        broken.append(
                            BrokenRecord(
                                recno,
                                base + q,
                                "truncated_record",
                                buf[q : min(bend, q + max_raw)],
                                bend - q,
                                f"{bend - q} of {rl} bytes",
                            )
                        )
                        recno += 1
                        q = bend
                        break
                    first = False
                    starts.append(q + 4)
                    lens.append(rl - 4)
                    offs.append(base + q)
                    nums.append(recno)
                    recno += 1
                    q += rl
                first = False
                p = bend
            else:
                rl = (buf[p] << 8) | buf[p + 1]
                if rl < 4 or buf[p + 2] or buf[p + 3]:
                    if first:
                        raise RecordFormatError(
                            f"not a RECFM V file: record descriptor at offset {base + p} is "
                            f"{buf[p : p + 4].hex().upper()}"
                        )
                    stop = True
                    reason, detail = "bad_rdw", f"record descriptor {buf[p : p + 4].hex().upper()}"
                    break
                if p + rl > L:
                    if not eof:
                        break
                    broken.append(
                        BrokenRecord(
                            recno,
                            base + p,
                            "truncated_record",
                            buf[p : p + max_raw],
                            L - p,
                            f"{L - p} of {rl} bytes",
                        )
                    )
                    recno += 1
                    p = L
                    break
                first = False
                starts.append(p + 4)
                lens.append(rl - 4)
                offs.append(base + p)
                nums.append(recno)
                recno += 1
                p += rl
        if stop:
            # the rest of the file is one broken record: keep its head, count its bytes
            head = buf[p : p + max_raw]
            span = L - p
            while True:
                extra = _read_exact(f, chunk_bytes)
                if not extra:
                    break
                span += len(extra)
                drained += len(extra)
                if len(head) < max_raw:
                    head += extra[: max_raw - len(head)]
            broken.append(
                BrokenRecord(
                    recno,
                    base + p,
                    reason,
                    head,
                    span,
                    f"{detail}; the remaining {span} bytes cannot be framed",
                )
            )
            recno += 1
            p = L
            eof = True
        mat = _matrix(buf, starts, lens)
        st = np.asarray(starts, np.int64)
        chunk = RecordChunk(
            mat,
            np.asarray(lens, np.int64),
            np.asarray(nums, np.int64),
            np.asarray(offs, np.int64),
            st + base,
            broken,
            len(more) + drained + unreported,
        )
        if len(chunk.lengths) or chunk.broken:
            unreported = 0
            yield chunk
        else:
            unreported = chunk.bytes_read  # bytes read but not yet in a yielded chunk
        pending = buf[p:]
        base += p
        if stop:
            return
    if unreported:  # bytes of empty blocks at the end: account for them
        yield RecordChunk(
            np.zeros((0, 0), np.uint8),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            [],
            unreported,
        )
