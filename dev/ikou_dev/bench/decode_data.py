"""The synthetic inputs of the ``decode`` benchmark (:mod:`ikou_dev.bench.decode`): the two
copybooks, their declared mixed and single-byte fields, and the writers of the 500-byte
(header, data, trailer; figure a) and 140-byte (data only; figure b) cp930 files -- a few
thousand distinct records encoded with :mod:`ikou.mainframe.encode`, tiled with a fresh key per
record."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

MB = 1_000_000

# --------------------------------------------------------------------------------- layouts

#: (a) 500-byte records: header, data, trailer sharing one record area
COPYBOOK_500 = [
    "01  BENCH-HDR.",
    "    05  HDR-TYPE            PIC X.",
    "    05  HDR-CITY-CODE       PIC 9(6).",
    "    05  HDR-CREATED         PIC 9(8).",
    "    05  FILLER              PIC X(485).",
    "01  BENCH-DATA.",
    "    05  REC-TYPE            PIC X.",
    "    05  REC-KEY             PIC 9(10).",
    "    05  NAME-KANJI          PIC N(16).",
    "    05  NAME-KANA           PIC X(30).",
    "    05  BIRTH-ERA           PIC 9.",
    "    05  BIRTH-YMD           PIC 9(6).",
    "    05  SEX                 PIC X.",
    "    05  ADDRESS             PIC X(120).",
    "    05  ADDRESS-KANA        PIC X(60).",
    "    05  HOUSEHOLD-HEAD      PIC N(16).",
    "    05  TAX-AMOUNT          PIC S9(9)V99 COMP-3.",
    "    05  TAX-PAID            PIC S9(9)V99 COMP-3.",
    "    05  BALANCE             PIC S9(9).",
    "    05  INCOME              PIC S9(13)V99 COMP-3.",
    "    05  HOUSEHOLD-SIZE      PIC S9(4) COMP.",
    "    05  NOTE                PIC X(80).",
    "    05  PHONE               PIC X(15).",
    "    05  UPDATED             PIC 9(8).",
    "    05  REMARK-KANJI        PIC N(20).",
    "    05  FILLER              PIC X(33).",
    "01  BENCH-TRL.",
    "    05  TRL-TYPE            PIC X.",
    "    05  TRL-COUNT           PIC 9(9).",
    "    05  TRL-TAX-TOTAL       PIC S9(17)V99 COMP-3.",
    "    05  FILLER              PIC X(480).",
]
MIXED_500 = ("ADDRESS", "NOTE")
#: the PIC X fields that are strictly single-byte (declared, so that the figures compare like
#: with like: cp930 decodes SO/SI in every other PIC X field by default)
SBCS_500 = ("HDR-TYPE", "REC-TYPE", "NAME-KANA", "SEX", "ADDRESS-KANA", "PHONE", "TRL-TYPE")

#: (b) 140-byte records, data only (what the JVM decoder hard-codes too)
COPYBOOK_140 = [
    "01  REC140.",
    "    05  REC-TYPE            PIC X.",
    "    05  ATENA-NO            PIC 9(10).",
    "    05  SHIMEI-KANJI        PIC N(12).",
    "    05  SHIMEI-KANA         PIC X(20).",
    "    05  BIRTH-YMD           PIC 9(8).",
    "    05  ADDRESS             PIC X(50).",
    "    05  TAX-AMOUNT          PIC S9(9)V99 COMP-3.",
    "    05  BALANCE             PIC S9(7).",
    "    05  HOUSEHOLD-SIZE      PIC S9(4) COMP.",
    "    05  FILLER              PIC X(12).",
]
MIXED_140 = ("ADDRESS",)
SBCS_140 = ("REC-TYPE", "SHIMEI-KANA")


def copybook_text(lines: list[str]) -> str:
    """Fixed-format copybook text (sequence area, indicator column, code from column 8)."""
    return "".join(f"{i * 100:06d} {line}\n" for i, line in enumerate(lines, 1))


def options_500(**kw):
    from ikou.mainframe.engine_options import DecodeOptions

    base = dict(
        encoding="cp930",
        recfm="FB",
        record_type_field="REC-TYPE",
        record_types={"H": "BENCH-HDR", "D": "BENCH-DATA", "T": "BENCH-TRL"},
        header_layouts=("BENCH-HDR",),
        trailer_layouts=("BENCH-TRL",),
        record_count_field="TRL-COUNT",
        control_totals={"TRL-TAX-TOTAL": "TAX-AMOUNT"},
        mixed_fields=MIXED_500,
        sbcs_fields=SBCS_500,
    )
    base.update(kw)
    return DecodeOptions(**base)


# ---------------------------------------------------------------------------- synthetic text


class SyntheticText:
    """Random cp930-encodable text: invented names, kana, addresses (synthetic, never real)."""

    def __init__(self, cp, rng: random.Random):
        self.rng = rng
        enc = cp.dbcs_encoding
        self.kanji = [c for c in enc if len(c) == 1 and 0x4E00 <= ord(c) <= 0x9FFF]
        self.kanji.sort()
        self.kana_fw = [c for c in enc if len(c) == 1 and 0x30A1 <= ord(c) <= 0x30F3]
        self.kana_hw = [chr(c) for c in range(0xFF71, 0xFF9E) if chr(c) in cp.sbcs_encoding]
        self.common = self.kanji[:3000]  # JIS level 1 comes first in code order for most codes

    def kanji_run(self, a: int, b: int) -> str:
        return "".join(self.rng.choice(self.common) for _ in range(self.rng.randint(a, b)))

    def name(self) -> str:
        return self.kanji_run(1, 3) + "\u3000" + self.kanji_run(1, 3)

    def kana(self, a: int, b: int) -> str:
        return "".join(self.rng.choice(self.kana_hw) for _ in range(self.rng.randint(a, b)))

    def address(self) -> str:
        r = self.rng
        s = self.kanji_run(2, 4) + "市" + self.kanji_run(1, 2) + "区" + self.kanji_run(1, 3)
        s += f"{r.randint(1, 9)}-{r.randint(1, 40)}-{r.randint(1, 30)}"
        if r.random() < 0.5:
            s += " " + self.kana(3, 6) + self.kanji_run(0, 2) + f"{r.randint(101, 1205)}"
        return s

    def note(self) -> str:
        r = self.rng
        if r.random() < 0.3:
            return ""
        return (
            self.kanji_run(2, 8)
            + f" {r.randint(1, 99)}"
            + "".join(r.choice(self.kana_fw) for _ in range(r.randint(0, 5)))
        )


def distinct_500(cb, cp, n: int, seed: int):
    """``n`` distinct data records (bytes) and their TAX-AMOUNT values."""
    from ikou.mainframe.encode import encode_record

    rng = random.Random(seed)
    tx = SyntheticText(cp, rng)
    lay = cb.record("BENCH-DATA")
    recs, taxes = [], []
    for i in range(n):
        tax = Decimal(rng.randint(-10_000_00, 900_000_00)) / 100
        rec = encode_record(
            lay,
            {
                "REC-TYPE": "D",
                "REC-KEY": i,
                "NAME-KANJI": tx.name(),
                "NAME-KANA": tx.kana(4, 14) + " " + tx.kana(3, 8),
                "BIRTH-ERA": rng.randint(1, 5),
                "BIRTH-YMD": rng.randint(10101, 641231),
                "SEX": rng.choice("12"),
                "ADDRESS": tx.address(),
                "ADDRESS-KANA": tx.kana(10, 40),
                "HOUSEHOLD-HEAD": tx.name(),
                "TAX-AMOUNT": tax,
                "TAX-PAID": Decimal(rng.randint(0, 500_000_00)) / 100,
                "BALANCE": rng.randint(-99_999_999, 999_999_999),
                "INCOME": Decimal(rng.randint(0, 10**12)) / 100,
                "HOUSEHOLD-SIZE": rng.randint(-3, 12),
                "NOTE": tx.note(),
                "PHONE": f"0{rng.randint(10, 99)}-{rng.randint(100, 9999)}-{rng.randint(1000, 9999)}",
                "UPDATED": 20200101 + rng.randint(0, 61130),
                "REMARK-KANJI": tx.kanji_run(0, 20),
            },
            cp,
            mixed_fields=MIXED_500,
        )
        recs.append(rec)
        taxes.append(tax)
    return recs, taxes


def zoned_keys(start: int, n: int, digits: int):
    """(n, digits) uint8 zoned-decimal bytes of the keys start .. start+n-1 (unsigned, F zone)."""
    import numpy as np

    keys = np.arange(start, start + n, dtype=np.int64) % (10**digits)
    out = np.empty((n, digits), np.uint8)
    for i in range(digits - 1, -1, -1):
        out[:, i] = 0xF0 | (keys % 10)
        keys //= 10
    return out


def write_tiled(fh, base, key, records: int) -> None:
    """``records`` data records: the distinct records ``base`` (one row each) over and over, each
    with a fresh zoned key in the field ``key``."""
    distinct = len(base)
    done = 0
    block = base.copy()
    while done < records:
        n = min(distinct, records - done)
        blk = block[:n]
        blk[:, key.offset : key.offset + key.size] = zoned_keys(done, n, key.size)
        fh.write(blk.tobytes())
        done += n


def write_file_500(path: Path, data_records: int, *, distinct: int = 4000, seed: int = 7) -> dict:
    """Header + ``data_records`` tiled data records (fresh keys) + trailer with correct totals."""
    import numpy as np

    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.encode import encode_record
    from ikou.moji.codepages import get_codepage

    cp = get_codepage("cp930")
    cb = parse_copybook(copybook_text(COPYBOOK_500), source="bench500.cpy")
    distinct = max(1, min(distinct, data_records))
    recs, taxes = distinct_500(cb, cp, distinct, seed)
    base = np.frombuffer(b"".join(recs), np.uint8).reshape(distinct, 500)
    key = cb.record("BENCH-DATA").field("REC-KEY")
    full, rest = divmod(data_records, distinct)
    total = sum(taxes, Decimal(0)) * full + sum(taxes[:rest], Decimal(0))
    hdr = encode_record(
        cb.record("BENCH-HDR"),
        {"HDR-TYPE": "H", "HDR-CITY-CODE": 999999, "HDR-CREATED": 20261128},
        cp,
    )
    trl = encode_record(
        cb.record("BENCH-TRL"),
        {"TRL-TYPE": "T", "TRL-COUNT": data_records, "TRL-TAX-TOTAL": total},
        cp,
    )
    with open(path, "wb") as fh:
        fh.write(hdr)
        write_tiled(fh, base, key, data_records)
        fh.write(trl)
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "records": data_records + 2,
        "data_records": data_records,
        "distinct_records": distinct,
        "lrecl": 500,
    }


# ------------------------------------------------------------------------- (b) the 140-byte file


def write_file_140(path: Path, records: int, *, distinct: int = 4000, seed: int = 11) -> dict:
    """``records`` tiled 140-byte data records with fresh ATENA-NO keys (no header / trailer)."""
    import numpy as np

    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.encode import encode_record
    from ikou.moji.codepages import get_codepage

    cp = get_codepage("cp930")
    cb = parse_copybook(copybook_text(COPYBOOK_140), source="bench140.cpy")
    lay = cb.record("REC140")
    rng = random.Random(seed)
    tx = SyntheticText(cp, rng)
    distinct = max(1, min(distinct, records))
    recs = []
    for i in range(distinct):
        recs.append(
            encode_record(
                lay,
                {
                    "REC-TYPE": "D",
                    "ATENA-NO": i,
                    "SHIMEI-KANJI": tx.name(),
                    "SHIMEI-KANA": tx.kana(4, 18),
                    "BIRTH-YMD": 19000101 + rng.randint(0, 1_201_130),
                    "ADDRESS": tx.address()[:20],
                    "TAX-AMOUNT": Decimal(rng.randint(-10_000_00, 900_000_00)) / 100,
                    "BALANCE": rng.randint(-999_999, 9_999_999),
                    "HOUSEHOLD-SIZE": rng.randint(-3, 12),
                },
                cp,
                mixed_fields=MIXED_140,
            )
        )
    base = np.frombuffer(b"".join(recs), np.uint8).reshape(distinct, 140)
    key = lay.field("ATENA-NO")
    with open(path, "wb") as fh:
        write_tiled(fh, base, key, records)
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "records": records,
        "lrecl": 140,
        "distinct_records": distinct,
    }
