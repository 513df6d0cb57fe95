"""RECFM V / VB / VS / VBS framing (and records whose length is a field of their own).

* V: each record led by its RDW: a 16-bit length in bytes 0-1 (big-endian, or little-endian
  with ``rdw="little"``; taken from bytes 2-3 when bytes 0-1 are zero), bytes 2-3 zero. The
  payload is ``length - 4 + rdw_adjust`` bytes (``rdw_adjust`` 0 for IBM RDWs, which count
  their own 4 bytes; +4 where the length excludes them; -4 where it also counts a block header).
* VB: blocks led by a BDW of the same form (or the 4-byte large-block form, high bit set)
  holding RDW records; block content ``length - 4 + bdw_adjust``.
* VS / VBS: spanned records: RDW byte 2 says which segment this is -- 0x00 a whole record,
  0x01 the first, 0x02 the last, 0x03 a middle segment; the segments' payloads make one record
  whose ``_offset`` is its first segment's RDW.
* Length field (``RecordLength``): each record's length is a field at a fixed offset of the
  record itself (``--record-length-field``), plus ``rdw_adjust``.

Broken framing never raises past the first descriptor: a wrong RDW makes the rest of its block
(VB) or of the file (V) one broken record (``bad_rdw``), a wrong BDW the rest of the file
(``bad_bdw``); a record cut off by the end of the file, or a block whose descriptor promises
more bytes than the file holds, is ``truncated_record``. If the very first descriptor is wrong
the file is not in that format: :class:`RecordFormatError`.

The descriptor walk is a Python loop over records (lengths only); the field decoding that
follows is vectorised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from ikou.mainframe.records import (
    BrokenRecord,
    RecordChunk,
    RecordFormatError,
    matrix,
    read_exact,
)

__all__ = ["MAX_LBI_BLOCK", "RecordLength", "length_field_chunks", "variable_chunks"]

MAX_LBI_BLOCK = 1 << 24  # a large-block BDW above this is taken as garbage, not a block


@dataclass(frozen=True)
class RecordLength:
    """Where a record's own length is: ``value(record bytes [offset, offset + size))``."""

    offset: int
    size: int
    value: Callable[[bytes], int | None]
    name: str = ""


class _Cursor:
    """A sliding window over the file and the records found in it (a chunk at a time)."""

    def __init__(self, f: BinaryIO, chunk_bytes: int, max_raw: int, pad: int):
        self.f = f
        self.chunk = chunk_bytes
        self.max_raw = max_raw
        self.pad = pad
        self.buf = b""
        self.base = 0  # file offset of buf[0]
        self.p = 0
        self.eof = False
        self.reported = 0
        self.recno = 0
        self._reset()
        self.ready: list[RecordChunk] = []

    def _reset(self) -> None:
        self.starts: list[int] = []
        self.lens: list[int] = []
        self.offs: list[int] = []
        self.nums: list[int] = []
        self.extra: list[bytes] = []  # assembled spanned records: starts point past buf
        self.extra_len = 0
        self.broken: list[BrokenRecord] = []

    @property
    def pos(self) -> int:
        """File offset of the cursor."""
        return self.base + self.p

    def avail(self) -> int:
        return len(self.buf) - self.p

    def have(self, n: int) -> bool:
        """True when ``n`` bytes are there at the cursor (reads more; False at the end)."""
        while len(self.buf) - self.p < n and not self.eof:
            self.flush()
            more = read_exact(self.f, max(self.chunk, n - (len(self.buf) - self.p)))
            if not more:
                self.eof = True
            self.base += self.p
            self.buf = self.buf[self.p :] + more
            self.p = 0
        return len(self.buf) - self.p >= n

    def add(self, start: int, length: int, offset: int) -> None:
        """A record of ``length`` bytes at buffer index ``start``; ``offset`` its descriptor."""
        self.starts.append(start)
        self.lens.append(length)
        self.offs.append(offset)
        self.nums.append(self.recno)
        self.recno += 1

    def add_bytes(self, data: bytes, offset: int) -> None:
        """A record assembled from segments."""
        self.extra.append(data)
        self.starts.append(("x", len(self.extra) - 1))  # type: ignore[arg-type]
        self.lens.append(len(data))
        self.offs.append(offset)
        self.nums.append(self.recno)
        self.recno += 1

    def bad(self, offset: int, reason: str, raw: bytes, length: int, detail: str) -> None:
        self.broken.append(
            BrokenRecord(self.recno, offset, reason, raw[: self.max_raw], length, detail)
        )
        self.recno += 1

    def skip_bad(self, n: int, reason: str, detail: str) -> None:
        """The next ``n`` bytes of the buffer are one broken record: record it, move past it."""
        self.bad(self.pos, reason, self.buf[self.p : self.p + n], n, detail)
        self.p += n

    def truncated_tail(self, detail: str) -> None:
        """The bytes left in the buffer are a record the end of the file cut short."""
        self.skip_bad(self.avail(), "truncated_record", detail)

    def rest_broken(self, reason: str, detail: str) -> None:
        """The rest of the file is one broken record: keep its head, count its bytes."""
        head = self.buf[self.p : self.p + self.max_raw]
        span = self.avail()
        offset = self.pos
        self.p = len(self.buf)
        while True:
            extra = read_exact(self.f, self.chunk)
            if not extra:
                break
            span += len(extra)
            self.base += len(extra)
            if len(head) < self.max_raw:
                head += extra[: self.max_raw - len(head)]
        self.eof = True
        self.bad(
            offset, reason, head, span, f"{detail}; the remaining {span} bytes cannot be framed"
        )

    def flush(self) -> None:
        """The records found so far (in the current buffer) become a ready chunk."""
        consumed = self.pos - self.reported
        if not self.starts and not self.broken:
            return
        if self.extra:
            src = self.buf + b"".join(self.extra)
            firsts = np.cumsum([0] + [len(x) for x in self.extra])
            starts = [
                len(self.buf) + int(firsts[s[1]]) if isinstance(s, tuple) else s
                for s in self.starts
            ]
        else:
            src, starts = self.buf, self.starts
        st = np.asarray(starts, np.int64)
        offs = np.asarray(self.offs, np.int64)
        data_offs = (
            np.where(
                np.asarray([isinstance(s, tuple) for s in self.starts], bool),
                offs + 4,
                st + self.base,
            )
            if self.extra
            else st + self.base
        )
        self.ready.append(
            RecordChunk(
                matrix(src, starts, self.lens, self.pad),
                np.asarray(self.lens, np.int64),
                np.asarray(self.nums, np.int64),
                offs,
                np.asarray(data_offs, np.int64),
                self.broken,
                consumed,
            )
        )
        self.reported = self.pos
        self._reset()

    def take(self) -> list[RecordChunk]:
        out, self.ready = self.ready, []
        return out

    def finish(self) -> list[RecordChunk]:
        self.p = len(self.buf)
        self.flush()
        if self.pos > self.reported:  # bytes of empty blocks at the end: account for them
            self.ready.append(
                RecordChunk(
                    np.zeros((0, 0), np.uint8),
                    np.zeros(0, np.int64),
                    np.zeros(0, np.int64),
                    np.zeros(0, np.int64),
                    np.zeros(0, np.int64),
                    [],
                    self.pos - self.reported,
                )
            )
            self.reported = self.pos
        return self.take()


def _fast(c: _Cursor, limit: int, little: bool, adjust: int) -> int:
    """Take the whole, well-formed records (RDW bytes 2-3 zero) from the cursor up to buffer
    index ``limit``; the number taken. Anything else is left to the careful path."""
    buf, p, base, recno = c.buf, c.p, c.base, c.recno
    st, ln, of, nu = c.starts, c.lens, c.offs, c.nums
    first = recno
    while p + 4 <= limit:
        v = (buf[p] | (buf[p + 1] << 8)) if little else ((buf[p] << 8) | buf[p + 1])
        if not v or buf[p + 2] or buf[p + 3]:
            break
        payload = v - 4 + adjust
        if payload < 0 or p + 4 + payload > limit:
            break
        st.append(p + 4)
        ln.append(payload)
        of.append(base + p)
        nu.append(recno)
        recno += 1
        p += 4 + payload
    c.p, c.recno = p, recno
    return recno - first


def _descriptor(b: bytes, little: bool) -> tuple[int, int, int]:
    """(length, byte 2, byte 3) of an RDW / BDW; the length from bytes 0-1, else 2-3."""
    if little:
        v01, v23 = b[0] | (b[1] << 8), b[2] | (b[3] << 8)
    else:
        v01, v23 = (b[0] << 8) | b[1], (b[2] << 8) | b[3]
    if v01:
        return v01, b[2], b[3]
    return v23, 0, 0


def variable_chunks(
    f: BinaryIO,
    *,
    blocked: bool,
    spanned: bool = False,
    rdw_adjust: int = 0,
    bdw_adjust: int = 0,
    little: bool = False,
    chunk_bytes: int = 1 << 20,
    max_raw_bytes: int = 65536,
    pad: int = 0x40,
) -> Iterator[RecordChunk]:
    """Chunks of the records of a V / VB / VS / VBS file (see the module docstring)."""
    c = _Cursor(f, chunk_bytes, max_raw_bytes, pad)
    fmt = ("VB" if blocked else "V") + ("S" if spanned else "")
    state = {"first": True, "seg": None}  # seg: [bytearray, offset of the first segment]

    def rdw_at():
        """Parse the RDW at the cursor: (payload, segment) or None when it is not an RDW."""
        b4 = c.buf[c.p : c.p + 4]
        value, s2, s3 = _descriptor(b4, little)
        payload = value - 4 + rdw_adjust
        if spanned:
            ok = s3 == 0 and s2 <= 3
        else:
            ok = s2 == 0 and s3 == 0
        ok = ok and payload >= 0
        return (payload, s2 if spanned else 0) if ok else None

    def drop_pending(detail: str) -> None:
        """The spanned record begun (its segments so far) is broken: it never got its last one."""
        pending = state["seg"]
        c.bad(pending[1], "truncated_record", bytes(pending[0]), len(pending[0]), detail)
        state["seg"] = None

    def take_record(payload: int, seg: int, rec_off: int, data_start: int) -> None:
        pending = state["seg"]
        data = c.buf[data_start : data_start + payload]
        if seg == 0:
            if pending is not None:
                drop_pending("spanned record without its last segment")
            c.add(data_start, payload, rec_off)
        elif seg == 1:
            if pending is not None:
                drop_pending("spanned record without its last segment")
            state["seg"] = [bytearray(data), rec_off]
        elif pending is None:
            c.bad(
                rec_off,
                "bad_rdw",
                c.buf[c.p : c.p + 4 + payload],
                4 + payload,
                f"{'last' if seg == 2 else 'middle'} segment without a first segment",
            )
        else:
            pending[0] += data
            if seg == 2:
                c.add_bytes(bytes(pending[0]), pending[1])
                state["seg"] = None

    def not_this_format(what: str) -> RecordFormatError:
        return RecordFormatError(
            f"not a RECFM {fmt} file: {what} descriptor at offset {c.pos} is "
            f"{c.buf[c.p : c.p + 4].hex().upper()}"
        )

    while True:
        if c.ready:
            yield from c.take()
        if not c.have(4):
            if c.avail():
                c.truncated_tail(f"{c.avail()} bytes left, descriptor needs 4")
            break
        if blocked:
            b4 = c.buf[c.p : c.p + 4]
            if b4[0] & 0x80 and not little:
                bl = int.from_bytes(b4, "big") & 0x7FFFFFFF
                ok = 4 <= bl <= MAX_LBI_BLOCK
            else:
                bl, s2, s3 = _descriptor(b4, little)
                ok = bl > 0 and s2 == 0 and s3 == 0
            content = bl - 4 + bdw_adjust
            if not ok or content < 0:
                if state["first"]:
                    raise not_this_format("block")
                c.rest_broken("bad_bdw", f"block descriptor {b4.hex().upper()}")
                break
            block_off = c.pos
            whole = c.have(4 + content)
            present = min(content, c.avail() - 4)
            c.p += 4
            end_abs = c.pos + present
            while c.pos < end_abs:
                left = end_abs - c.pos
                if left < 4:
                    c.skip_bad(
                        left,
                        "truncated_record" if not whole else "bad_rdw",
                        f"{left} bytes left in block, RDW needs 4",
                    )
                    break
                if state["seg"] is None and _fast(c, end_abs - c.base, little, rdw_adjust):
                    state["first"] = False
                    continue
                r = rdw_at()
                if r is None or (4 + r[0] > left and whole):
                    if state["first"]:
                        raise not_this_format("record")
                    c.skip_bad(
                        left,
                        "bad_rdw",
                        f"record descriptor {c.buf[c.p : c.p + 4].hex().upper()} "
                        f"with {left} bytes left in the block",
                    )
                    break
                payload, seg = r
                if 4 + payload > left:  # the file ends inside this record
                    c.skip_bad(left, "truncated_record", f"{left} of {4 + payload} bytes")
                    break
                state["first"] = False
                take_record(payload, seg, c.pos, c.p + 4)
                c.p += 4 + payload
            else:
                if not whole:
                    c.bad(
                        block_off,
                        "truncated_record",
                        b"",
                        0,
                        f"block descriptor promises {content} bytes, {present} present",
                    )
            state["first"] = False
        else:
            if state["seg"] is None and _fast(c, len(c.buf), little, rdw_adjust):
                state["first"] = False
                continue
            r = rdw_at()
            if r is None:
                if state["first"]:
                    raise not_this_format("record")
                c.rest_broken("bad_rdw", f"record descriptor {c.buf[c.p : c.p + 4].hex().upper()}")
                break
            payload, seg = r
            if not c.have(4 + payload):
                c.truncated_tail(f"{c.avail()} of {4 + payload} bytes")
                break
            state["first"] = False
            take_record(payload, seg, c.pos, c.p + 4)
            c.p += 4 + payload
    if state["seg"] is not None:
        drop_pending("spanned record without its last segment at the end of the file")
    yield from c.finish()


def length_field_chunks(
    f: BinaryIO,
    length: RecordLength,
    *,
    adjust: int = 0,
    chunk_bytes: int = 1 << 20,
    max_raw_bytes: int = 65536,
    pad: int = 0x40,
) -> Iterator[RecordChunk]:
    """Chunks of a file whose records carry their own length (``--record-length-field``)."""
    c = _Cursor(f, chunk_bytes, max_raw_bytes, pad)
    head = length.offset + length.size
    first = True
    while True:
        yield from c.take()
        if not c.have(head):
            if c.avail():
                c.truncated_tail(f"{c.avail()} bytes left, the length field ends at byte {head}")
            break
        value = length.value(c.buf[c.p + length.offset : c.p + head])
        size = None if value is None else value + adjust
        if size is None or size <= 0:
            what = "unreadable" if value is None else f"{value}"
            if first:
                raise RecordFormatError(
                    f"record length field {length.name} of the first record is {what}: "
                    "not a file of self-describing records (check --rdw-adjust)"
                )
            c.rest_broken("bad_record_length", f"record length field {length.name} is {what}")
            break
        if not c.have(size):
            c.truncated_tail(f"{c.avail()} of {size} bytes")
            break
        first = False
        c.add(c.p, size, c.pos)
        c.p += size
    yield from c.finish()
