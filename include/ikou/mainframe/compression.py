"""Compressed input, told by its first bytes: gzip and bzip2 are read transparently; zip, Unix
``compress`` (.Z) and xz are refused (exit 5: "compressed (zip): decompress first")."""

from __future__ import annotations

from typing import BinaryIO

from ikou.mainframe.records import RecordFormatError

__all__ = ["MAGIC", "Prefixed", "open_decompressed", "sniff"]

#: magic bytes -> kind
MAGIC = (
    (b"\x1f\x8b\x08", "gzip"),
    *((b"BZh" + bytes([d]), "bzip2") for d in b"123456789"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x9d", "Z"),
    (b"\xfd7zXZ\x00", "xz"),
)
READABLE = ("gzip", "bzip2")


def sniff(head: bytes) -> str | None:
    """The compression a file's first bytes show, or None."""
    for magic, kind in MAGIC:
        if head.startswith(magic):
            # the header bytes after the magic narrow it down (a binary key could start with
            # 1F 8B or 1F 9D): gzip's flag byte has its top three bits clear; compress (.Z)
            # says 9-16 bits and nothing in its two reserved bits
            if kind == "gzip" and (len(head) < 4 or head[3] & 0xE0):
                continue
            if kind == "Z" and (len(head) < 3 or not 9 <= head[2] & 0x1F <= 16 or head[2] & 0x60):
                continue
            return kind
    return None


class Prefixed:
    """A binary stream that first returns ``head`` (bytes already read), then the rest of ``f``."""

    def __init__(self, head: bytes, f: BinaryIO):
        self.head = head
        self.f = f

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.f.read(n)
        if n is None or n < 0:
            out, self.head = self.head + self.f.read(), b""
            return out
        out, self.head = self.head[:n], self.head[n:]
        if len(out) < n:
            out += self.f.read(n - len(out))
        return out


def open_decompressed(f: BinaryIO, *, ranged: bool = False) -> tuple[BinaryIO, str | None]:
    """``(stream, kind)``: ``f`` itself (kind None) or a decompressing reader over it.

    Reads the first bytes (no seek needed). RecordFormatError for zip / .Z / xz, and for any
    compressed file when a byte range is asked for (``ranged``).
    """
    head = f.read(6) or b""
    kind = sniff(head)
    stream = Prefixed(head, f)
    if kind is None:
        return stream, None
    if kind not in READABLE:
        raise RecordFormatError(f"compressed ({kind}): decompress first")
    if ranged:
        raise RecordFormatError(f"compressed ({kind}): byte ranges need an uncompressed file")
    if kind == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=stream, mode="rb"), kind
    import bz2

    return bz2.BZ2File(stream, mode="rb"), kind
