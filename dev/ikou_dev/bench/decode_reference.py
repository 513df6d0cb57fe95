"""The baseline of the ``decode`` benchmark's figure (a): a straightforward per-record decoder in
pure Python, what one would write without the engine (see :class:`PerRecordDecoder`)."""

from __future__ import annotations

from decimal import Decimal

from ikou_dev.bench.decode_data import MIXED_500


class PerRecordDecoder:
    """A straightforward per-record decoder in pure Python (the baseline of figure (a)).

    What one would write without the engine: for each record, pick the layout by the record
    type byte, then decode field by field -- zoned and packed digits in Python loops, binary with
    ``int.from_bytes``, text through Python lists / dicts built once from the same code-page
    tables (no numpy per byte), an SO/SI state machine for mixed fields, padding trimmed.
    Returns one dict per record (data records only) and counts header / trailer / bad records.
    """

    def __init__(self, cb, cp, mixed=MIXED_500):
        from ikou.mainframe.decode import UNDEFINED

        self.sb = [None if int(c) == UNDEFINED else chr(int(c)) for c in cp.sbcs]
        self.db = {}
        for code, c in enumerate(cp.dbcs.tolist()):
            if c != UNDEFINED and c < 0x110000:
                self.db[code] = chr(c)
        self.layouts = {}
        for rtype, name in (("H", "BENCH-HDR"), ("D", "BENCH-DATA"), ("T", "BENCH-TRL")):
            lay = cb.record(name).with_kinds(mixed)
            self.layouts[cp.encode_sbcs(rtype)[0]] = (
                name,
                [(f.column, f.offset, f.size, f.kind, f.signed, f.scale) for f in lay.data_fields],
            )
        self.header = self.trailer = self.bad = 0

    def _zoned(self, b: bytes, signed: bool, scale: int):
        n = 0
        for i, x in enumerate(b):
            z, d = x >> 4, x & 15
            if d > 9 or (z != 15 and not (i == len(b) - 1 and z >= 10)):
                raise ValueError("zoned")
            n = n * 10 + d
        if signed and (b[-1] >> 4) in (0xB, 0xD):
            n = -n
        return Decimal(n).scaleb(-scale) if scale else n

    def _packed(self, b: bytes, scale: int):
        n = 0
        for x in b[:-1]:
            hi, lo = x >> 4, x & 15
            if hi > 9 or lo > 9:
                raise ValueError("packed")
            n = n * 100 + hi * 10 + lo
        hi, sign = b[-1] >> 4, b[-1] & 15
        if hi > 9 or sign < 10:
            raise ValueError("packed")
        n = n * 10 + hi
        if sign in (0xB, 0xD):
            n = -n
        return Decimal(n).scaleb(-scale)

    def _sbcs(self, b: bytes) -> str:
        sb = self.sb
        s = "".join([sb[x] for x in b.rstrip(b"\x40")])
        return s

    def _dbcs(self, b: bytes) -> str:
        db = self.db
        out = [db[(b[i] << 8) | b[i + 1]] for i in range(0, len(b), 2)]
        return "".join(out).rstrip("\u3000")

    def _mixed(self, b: bytes) -> str:
        sb, db = self.sb, self.db
        out = []
        i, n, dbcs = 0, len(b), False
        while i < n:
            x = b[i]
            if x == 0x0E:
                dbcs = True
                i += 1
            elif x == 0x0F:
                dbcs = False
                i += 1
            elif dbcs:
                out.append(db[(x << 8) | b[i + 1]])
                i += 2
            else:
                out.append(sb[x])
                i += 1
        if dbcs:
            raise ValueError("unbalanced")
        return "".join(out).rstrip(" \u3000")

    def decode_record(self, rec: bytes):
        name, fields = self.layouts[rec[0]]
        row = {}
        for col, off, size, kind, signed, scale in fields:
            b = rec[off : off + size]
            if kind == "zoned":
                row[col] = self._zoned(b, signed, scale)
            elif kind == "packed":
                row[col] = self._packed(b, scale)
            elif kind == "binary":
                row[col] = int.from_bytes(b, "big", signed=signed)
            elif kind == "dbcs":
                row[col] = self._dbcs(b)
            elif kind == "mixed":
                row[col] = self._mixed(b)
            else:
                row[col] = self._sbcs(b)
        return name, row

    def decode(self, data: bytes, lrecl: int = 500) -> list[dict]:
        out = []
        for off in range(0, len(data) - lrecl + 1, lrecl):
            try:
                name, row = self.decode_record(data[off : off + lrecl])
            except (KeyError, ValueError, TypeError):
                self.bad += 1
                continue
            if name == "BENCH-HDR":
                self.header += 1
            elif name == "BENCH-TRL":
                self.trailer += 1
            else:
                out.append(row)
        return out
