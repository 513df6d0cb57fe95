"""Columns of fixed-length EBCDIC records, encoded a column at a time (numpy).

A legacy file of the synthetic city is a matrix of ``rows × LRECL`` bytes. Each data field is one
:class:`Column` that writes its slice of the matrix for a range of rows, so a file is written in
chunks of rows with bounded memory, every field vectorised:

- :class:`Zoned` / :class:`Packed`: unsigned zoned and (signed) packed decimals from integers;
- :class:`Ascii`: SBCS text of ASCII characters (codes, digit strings such as 個人番号);
- :class:`Vocab`: any text from a table of already encoded values (one Python encoding per
  distinct value, then a gather);
- :class:`Parts`: text made of parts, each from a small table (surname + space + given name;
  city + town + 丁目 + 番 + 号 + building), joined and cut as :meth:`Encoder.fit` cuts — DBCS,
  mixed (SO … SI) or SBCS.

The bytes are those of ``ikou.mainframe.encode.encode_record`` for the same values (a test checks
it row by row).
"""

from __future__ import annotations

import numpy as np

from ikou_dev.synth import keys


def _u8(data: bytes) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=np.uint8)


class Column:
    field = None

    def put(self, out: np.ndarray, start: int, stop: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class Zoned(Column):
    """Unsigned zoned decimal (PIC 9(n) DISPLAY) from non-negative integers."""

    def __init__(self, f, values: np.ndarray):
        v = np.asarray(values, dtype=np.int64)
        if f.signed or f.sign_separate:
            raise ValueError(f"field {f.column}: signed zoned fields are not generated")
        if len(v) and v.min() < 0:
            raise ValueError(f"field {f.column}: negative value in an unsigned field")
        if len(v) and v.max() >= 10**f.digits:
            raise ValueError(f"field {f.column}: value does not fit ({f.digits} digits)")
        self.field, self.values = f, v

    def put(self, out, start, stop):
        f = self.field
        out[:, f.offset : f.offset + f.size] = keys.digits(self.values[start:stop], f.digits) + 0xF0


class Packed(Column):
    """Packed decimal (COMP-3) from integers (already scaled by the field's decimals)."""

    def __init__(self, f, values: np.ndarray):
        v = np.asarray(values, dtype=np.int64)
        width = 2 * f.size - 1
        if len(v) and np.abs(v).max() >= 10 ** min(width, f.digits):
            raise ValueError(f"field {f.column}: value does not fit ({f.digits} digits)")
        if len(v) and v.min() < 0 and not f.signed:
            raise ValueError(f"field {f.column}: negative value in an unsigned field")
        self.field, self.values, self.width = f, v, width

    def put(self, out, start, stop):
        f = self.field
        v = self.values[start:stop]
        nib = np.empty((len(v), self.width + 1), dtype=np.uint8)
        nib[:, : self.width] = keys.digits(np.abs(v), self.width)
        nib[:, self.width] = np.where(v < 0, 0xD, 0xC) if f.signed else 0xF
        out[:, f.offset : f.offset + f.size] = (nib[:, 0::2] << 4) | nib[:, 1::2]


class Ascii(Column):
    """SBCS text from ASCII bytes: ``text`` is (rows, width) with ``lengths`` used bytes per row."""

    def __init__(self, f, lut: np.ndarray, space: int, text: np.ndarray, lengths: np.ndarray):
        if text.shape[1] > f.size and len(lengths) and lengths.max() > f.size:
            raise ValueError(f"field {f.column}: value does not fit (field holds {f.size})")
        used = np.flatnonzero(np.bincount(text.ravel(), minlength=256))
        bad = [int(c) for c in used if lut[c] < 0]
        if bad:
            raise ValueError(f"field {f.column}: characters the code page lacks: {bad}")
        self.field, self.lut, self.space = f, lut.astype(np.uint8), space
        self.text, self.lengths = text[:, : f.size], lengths

    def put(self, out, start, stop):
        f = self.field
        t = self.text[start:stop]
        w = t.shape[1]
        block = np.full((stop - start, f.size), self.space, dtype=np.uint8)
        inside = np.arange(w)[None, :] < self.lengths[start:stop, None]
        block[:, :w] = np.where(inside, self.lut[t], self.space)
        out[:, f.offset : f.offset + f.size] = block


class Vocab(Column):
    """Text from a table of encoded field values (``table``: distinct values × field size).

    ``rows``: the rows this column writes (None: every row); ``codes`` index ``table``.
    """

    def __init__(self, f, table: np.ndarray, codes: np.ndarray, rows: np.ndarray | None = None):
        self.field, self.table, self.rows = f, table, rows
        self.codes = np.asarray(codes).astype(np.int32 if len(table) < 2**31 else np.int64)

    def put(self, out, start, stop):
        f = self.field
        if self.rows is None:
            out[:, f.offset : f.offset + f.size] = self.table[self.codes[start:stop]]
            return
        lo, hi = np.searchsorted(self.rows, [start, stop])
        if hi > lo:
            out[self.rows[lo:hi] - start, f.offset : f.offset + f.size] = self.table[
                self.codes[lo:hi]
            ]


class Parts(Column):
    """Text joined from parts: ``parts`` = [(encoded values, codes)], code -1 = the part is empty.

    ``mode``: "dbcs" (pure DBCS bytes, cut at an even length), "mixed" (SO + DBCS bytes + SI, cut
    so that SI still fits) or "sbcs". Padding as the record writer pads (DBCS / SBCS spaces).
    """

    def __init__(
        self, f, mode: str, parts, template: np.ndarray, pad: bytes, shift=(b"\x0e", b"\x0f")
    ):
        self.field, self.mode, self.pad = f, mode, _u8(pad)
        self.so, self.si = shift[0][0], shift[1][0]
        self.template = template[f.offset : f.offset + f.size]
        self.parts = []
        for values, codes in parts:
            lens = np.array([len(v) for v in values] + [0], dtype=np.int64)
            width = int(lens.max()) if len(lens) else 0
            table = np.zeros((len(values) + 1, max(width, 1)), dtype=np.uint8)
            for i, v in enumerate(values):
                table[i, : len(v)] = _u8(v)
            codes = np.asarray(codes, dtype=np.int64)
            codes = np.where(codes < 0, len(values), codes).astype(np.int32)  # -1: the empty row
            self.parts.append((table, lens, codes, width))
        self.width = sum(p[3] for p in self.parts)
        size = f.size
        p = len(self.pad)
        self.blank = self.template.copy()
        whole = (size // p) * p
        self.blank[:whole] = np.tile(self.pad, size // p)
        if mode == "dbcs":
            self.cap = size - size % 2
        elif mode == "mixed":
            self.cap = max(0, 2 * ((size - 2) // 2))
        else:
            self.cap = size

    def put(self, out, start, stop):
        f, size = self.field, self.field.size
        n = stop - start
        buf = np.zeros((n, max(self.width, 1)), dtype=np.uint8)
        flat = buf.reshape(-1)
        base = np.arange(n, dtype=np.int64) * buf.shape[1]
        offs = np.zeros(n, dtype=np.int64)
        for table, lens, codes, width in self.parts:
            c = codes[start:stop]
            ln = lens[c]
            for b in range(width):
                rows = np.flatnonzero(ln > b)
                if not len(rows):
                    break
                flat[base[rows] + offs[rows] + b] = table[c[rows], b]
            offs += ln
        used = np.minimum(offs, self.cap)
        # padding: whole pad units after the text (the record writer's rule). DBCS text has an
        # even length, so its pad units line up with the field's start: one blank row serves.
        block = np.empty((n, size), dtype=np.uint8)
        block[:] = self.blank
        shift = 1 if self.mode == "mixed" else 0
        w = min(self.cap, buf.shape[1])
        if w:
            inside = np.arange(w)[None, :] < used[:, None]
            np.copyto(block[:, shift : shift + w], buf[:, :w], where=inside)
        if self.mode == "mixed":
            has = np.flatnonzero(offs > 0)
            block[has, 0] = self.so
            block[has, 1 + used[has]] = self.si
        out[:, f.offset : f.offset + f.size] = block


def vocab_table(values: list[bytes], f, template: np.ndarray, pad: bytes) -> np.ndarray:
    """Encoded values (already cut to fit) padded as the record writer pads, one row each."""
    size = f.size
    base = template[f.offset : f.offset + size]
    table = np.tile(base, (max(len(values), 1), 1))
    for i, raw in enumerate(values):
        if len(raw) > size:
            raise ValueError(
                f"field {f.column}: value does not fit ({len(raw)} bytes, field holds {size})"
            )
        cell = raw + pad * ((size - len(raw)) // len(pad))
        table[i, : len(cell)] = _u8(cell)
    return table


def sbcs_lut(cp) -> np.ndarray:
    """ASCII byte → the code page's SBCS byte (-1 where the code page has no such character)."""
    lut = np.full(256, -1, dtype=np.int64)
    for c in range(0x20, 0x7F):
        try:
            b = cp.encode_sbcs(chr(c))
        except ValueError:
            continue
        if len(b) == 1:
            lut[c] = b[0]
    return lut


def ascii_digits(values: np.ndarray, widths) -> tuple[np.ndarray, np.ndarray]:
    """Integers as left-aligned zero-padded digit strings of ``widths`` (scalar or per row; 0 = "")."""
    v = np.asarray(values, dtype=np.int64)
    if np.ndim(widths) == 0:
        width = int(widths)
        return (keys.digits(v, width) + 48).astype(np.uint8), np.full(len(v), width)
    w = np.broadcast_to(np.asarray(widths, dtype=np.int64), v.shape)
    top = int(w.max()) if len(w) else 1
    d = keys.digits(v, max(top, 1)) + 48  # right-aligned in ``top`` digits
    # shift each row left by (top - width) so the number starts at column 0
    shift = top - w
    cols = np.arange(max(top, 1))[None, :] + shift[:, None]
    cols = np.minimum(cols, max(top, 1) - 1)
    text = np.take_along_axis(d, cols, axis=1).astype(np.uint8)
    return text, w.copy()


def ascii_strings(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Python strings (ASCII) as an (n, width) byte matrix and their lengths."""
    width = max((len(s) for s in strings), default=1) or 1
    text = np.full((len(strings), width), 0x20, dtype=np.uint8)
    lens = np.zeros(len(strings), dtype=np.int64)
    for i, s in enumerate(strings):
        b = s.encode("ascii")
        text[i, : len(b)] = _u8(b)
        lens[i] = len(b)
    return text, lens
