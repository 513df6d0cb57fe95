"""Record structure around the layouts: framing options, record length fields, short records,
parent / child segments. Used by :mod:`ikou.mainframe.engine`.

* :func:`framing_for` -- the reader's :class:`~ikou.mainframe.reader.Framing` from the options
  (RDW / BDW adjustments and byte order, file and record offsets, a record length field, the
  code page's space as padding).
* :func:`length_reader` -- a scalar reader of a record length field (binary, zoned in EBCDIC or
  ASCII, packed, or digits in a PIC X field).
* :func:`missing_rows` -- which records end before a field (short records: the field is null
  and the record gets a ``short_record`` finding; text fields partly present keep what is
  there).
* :class:`Segments` -- ``--segment-parent CHILD=PARENT`` / ``--segment-key PARENT=FIELD,...``:
  each child record is linked to the last parent record before it in the file
  (``_parent_record``, ``_parent_key``); a child before any parent is ``orphan_segment``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from ikou.errors import BadArgument
from ikou.mainframe.reader import TEXT_RECFMS, Framing, RecordLength

__all__ = [
    "PARENT_COLUMNS",
    "Segments",
    "check_structure",
    "framing_for",
    "length_reader",
    "missing_rows",
    "short_records_allowed",
]

PARENT_COLUMNS = (("_parent_record", pa.int64()), ("_parent_key", pa.string()))
TEXT_KINDS = ("alphanumeric", "dbcs", "mixed", "national")
BOUNDS = {
    "rdw_adjust": (-32760, 32760),
    "bdw_adjust": (-32760, 32760),
    "file_start_offset": (0, None),
    "file_end_offset": (0, None),
    "record_start_offset": (0, 32760),
    "record_end_offset": (0, 32760),
}


def check_structure(opts, recfm: str, codepage) -> None:
    """Bounds and combinations of the structure options (BadArgument, exit 2)."""
    for name, (lo, hi) in BOUNDS.items():
        v = getattr(opts, name, 0)
        if not isinstance(v, int) or isinstance(v, bool):
            raise BadArgument(f"--{name.replace('_', '-')} {v!r}: a whole number of bytes")
        if v < lo or (hi is not None and v > hi):
            rng = f"{lo} to {hi}" if hi is not None else f"{lo} or more"
            raise BadArgument(f"--{name.replace('_', '-')} {v}: allowed {rng}")
    if getattr(opts, "rdw_endian", "big") not in ("big", "little"):
        raise BadArgument(f"--rdw {opts.rdw_endian!r}: use big or little")
    if recfm in TEXT_RECFMS and not getattr(codepage, "ascii_numbers", False):
        raise BadArgument(
            f"--recfm {recfm} is for text files of an open-system encoding (ascii, latin1, "
            f"utf-8, cp932, euc-jp), not {getattr(codepage, 'name', '?')}"
        )
    if getattr(opts, "record_length_field", None) and recfm not in ("F", "FB"):
        raise BadArgument("--record-length-field goes with --recfm F (records of their own length)")
    lrecl = getattr(opts, "lrecl", None)
    if lrecl is not None and not 1 <= lrecl <= 32760:
        raise BadArgument(f"--lrecl {lrecl}: allowed 1 to 32760")


def short_records_allowed(recfm: str, opts) -> bool:
    """Formats whose records may end before the layout does (V, text, length field)."""
    return recfm not in ("F", "FB") or bool(getattr(opts, "record_length_field", None))


def framing_for(opts, codepage, length_field=None) -> Framing:
    pad = int(getattr(codepage, "sbcs_space", 0x40))
    return Framing(
        rdw_adjust=opts.rdw_adjust,
        bdw_adjust=opts.bdw_adjust,
        rdw_endian=opts.rdw_endian,
        record_start_offset=opts.record_start_offset,
        record_end_offset=opts.record_end_offset,
        file_start_offset=opts.file_start_offset,
        file_end_offset=opts.file_end_offset,
        record_length=length_field,
        pad=pad,
    )


def length_reader(f, start_offset: int, ascii_digits: bool) -> RecordLength:
    """A :class:`RecordLength` reading field ``f`` (at ``start_offset`` + its offset)."""
    kind, size, signed = f.kind, f.size, getattr(f, "signed", False)
    if f.dims:
        raise BadArgument(f"--record-length-field {f.column}: an OCCURS field cannot be a length")
    if kind == "binary":

        def value(raw: bytes) -> int | None:
            little = getattr(f, "usage", "") == "comp-5-le"
            return int.from_bytes(raw, "little" if little else "big", signed=signed)

    elif kind == "packed":

        def value(raw: bytes) -> int | None:
            h = raw.hex().upper()
            digits, sign = h[:-1], h[-1]
            if not digits.isdigit() or sign not in "ABCDEF":
                return None
            return -int(digits) if sign in "BD" else int(digits)

    elif kind in ("zoned", "alphanumeric"):

        def value(raw: bytes) -> int | None:
            if ascii_digits or kind == "alphanumeric" and all(0x20 <= b < 0x7F for b in raw):
                text = raw.decode("latin1").strip()
                if ascii_digits and text and text[-1] in "{ABCDEFGHI}JKLMNOPQR":
                    i = "{ABCDEFGHI}JKLMNOPQR".index(text[-1])
                    text = text[:-1] + str(i % 10)
                    if i >= 10:
                        text = "-" + text
                try:
                    return int(text)
                except ValueError:
                    return None
            digits = []
            neg = False
            for i, b in enumerate(raw):
                z, d = b >> 4, b & 0x0F
                if b == 0x40 and not digits:
                    continue
                if d > 9 or (z != 0xF and not (i == len(raw) - 1 and z in (0xC, 0xD, 0xA, 0xB))):
                    return None
                neg = neg or (i == len(raw) - 1 and z in (0xD, 0xB))
                digits.append(str(d))
            if not digits:
                return None
            v = int("".join(digits))
            return -v if neg else v

    else:
        raise BadArgument(
            f"--record-length-field {f.column}: a {kind} field cannot hold a record length"
        )
    return RecordLength(start_offset + f.offset, size, value, f.column)


def missing_rows(f, base, lengths: np.ndarray, extent: int, bad: np.ndarray) -> np.ndarray:
    """Records that end before field ``f`` at ``base`` (``extent`` bytes with its OCCURS) ends:
    any field cut off counts, except a text field partly there that decodes (``bad`` 0) --
    text lines lose their trailing spaces."""
    start = base if np.ndim(base) == 0 else np.asarray(base)
    cut = lengths < start + extent
    if f.kind in TEXT_KINDS:
        return cut & ((lengths <= start) | (bad != 0))
    return cut


class Segments:
    """Parent / child segments: ``parents`` {CHILD layout: PARENT layout}, ``keys`` {PARENT:
    (field, ...)}; state carries across chunks."""

    def __init__(self, parents: Mapping[str, str], keys: Mapping[str, tuple], layouts):
        self.parents = {c.strip().upper(): p.strip().upper() for c, p in dict(parents).items()}
        self.keys = {p.strip().upper(): tuple(x.strip() for x in v) for p, v in dict(keys).items()}
        known = {name.upper() for name in layouts}
        for child, parent in self.parents.items():
            for what, name in (("child", child), ("parent", parent)):
                if name not in known:
                    raise BadArgument(
                        f"--segment-parent {child}={parent}: {what} layout {name} is not among "
                        f"the record layouts in use ({', '.join(sorted(known))})"
                    )
        for parent in self.keys:
            if parent not in set(self.parents.values()):
                raise BadArgument(
                    f"--segment-key {parent}=...: {parent} is no parent (--segment-parent)"
                )
        self.last: dict[str, tuple[int, str | None]] = {}  # parent -> (record, key) so far
        self.seen: dict[str, tuple[np.ndarray, list]] = {}  # parent -> this chunk's records

    @property
    def active(self) -> bool:
        return bool(self.parents)

    def is_parent(self, layout: str) -> bool:
        return layout in self.parents.values()

    def key_fields(self, parent_layout) -> list:
        names = self.keys.get(parent_layout.name, ())
        out = []
        for n in names:
            if n not in parent_layout:
                raise BadArgument(f"--segment-key {parent_layout.name}={n}: no such field")
            out.append(parent_layout.field(n))
        return out

    def start_chunk(self) -> None:
        self.seen = {}

    def note_parents(self, parent: str, recno: np.ndarray, keys: list) -> None:
        """Parent records of this chunk (record numbers in file order, their keys)."""
        old = self.seen.get(parent)
        if old is not None:
            recno = np.concatenate([old[0], recno])
            keys = old[1] + keys
            order = np.argsort(recno, kind="stable")
            recno = recno[order]
            keys = [keys[i] for i in order.tolist()]
        self.seen[parent] = (recno, keys)

    def link(self, child: str, recno: np.ndarray) -> tuple[np.ndarray, list, np.ndarray]:
        """(parent record, parent key, orphan mask) for child records ``recno``."""
        parent = self.parents[child]
        prec, pkeys = self.seen.get(parent, (np.zeros(0, np.int64), []))
        n = len(recno)
        out_rec = np.full(n, -1, np.int64)
        out_key: list = [None] * n
        i = np.searchsorted(prec, recno, side="right") - 1
        have = i >= 0
        out_rec[have] = prec[i[have]]
        for r in np.flatnonzero(have).tolist():
            out_key[r] = pkeys[int(i[r])]
        before = self.last.get(parent)
        if before is not None:
            rest = ~have
            out_rec[rest] = before[0]
            for r in np.flatnonzero(rest).tolist():
                out_key[r] = before[1]
        return out_rec, out_key, out_rec < 0

    def end_chunk(self) -> None:
        for parent, (prec, pkeys) in self.seen.items():
            if len(prec):
                self.last[parent] = (int(prec[-1]), pkeys[-1])
