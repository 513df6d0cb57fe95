"""Legacy extract files of the synthetic city, as the mainframe would write them.

For every legacy file in the registry: fixed-length EBCDIC records described by the file's
copybook, a header record (file id, snapshot) first and a trailer record (record count and
control totals of the amount fields) last, Japanese text in the file's code page, user-defined
characters (外字) as codes of the city's 外字 table. Seeded defects are applied at known rates and
every seeded record is written to the answer key (``_answer_key/defects.parquet`` and
``_answer_key/duplicates.parquet``) beside the data.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from ikou.domains import Domain, LegacyFile, Registry
from ikou_dev.synth import city as C
from ikou_dev.synth.population import Population

DEFAULT_RATES = {
    "duplicate_addressee": 0.02,  # share of residents with a second 宛名 record (名寄せ)
    "notation_variant": 0.05,  # share of addresses written in a variant form (表記ゆれ)
    "impossible_wareki": 0.004,  # share of 和暦 date fields holding an impossible date
    "bad_check_digit": 0.004,  # share of 個人番号 with a wrong check digit
    "unmapped_gaiji": 0.002,  # share of name fields holding a 外字 code missing from the table
    "corrupt_record": 0.001,  # share of records with broken bytes (bad packed nibble, bad zoned digit)
    "orphan_reference": 0.0,  # share of 宛名番号 references to no addressee (off by default)
}

ERAS = (  # code (the common 1..5 scheme), name, first day
    (1, "明治", dt.date(1868, 10, 23)),
    (2, "大正", dt.date(1912, 7, 30)),
    (3, "昭和", dt.date(1926, 12, 25)),
    (4, "平成", dt.date(1989, 1, 8)),
    (5, "令和", dt.date(2019, 5, 1)),
)


def to_wareki(d: dt.date) -> int:
    """A date as era code + YYMMDD (e.g. 昭和50年4月1日 -> 3500401)."""
    for code, _, start in reversed(ERAS):
        if d >= start:
            y = d.year - start.year + 1
            return int(f"{code}{y:02d}{d.month:02d}{d.day:02d}")
    raise ValueError("date before 明治")


# Impossible 和暦 values and what is wrong with each (answer-key detail).
IMPOSSIBLE_WAREKI = (
    (3640201, "era_overflow"),  # 昭和64年2月1日: 昭和 ended 64年1月7日
    (4310501, "era_overflow"),  # 平成31年5月1日: 平成 ended 31年4月30日
    (5010430, "before_era"),  # 令和元年4月30日: 令和 began 5月1日
    (3550230, "invalid_day"),  # 昭和55年2月30日
    (4050229, "invalid_day"),  # 平成5年2月29日 (1993 is a common year)
    (9999999, "placeholder"),
    (0, "placeholder"),
)

# 外字 codes of the city (IBM user-defined area 0x6941-0x7FFE) and what they stand for.
GAIJI_TABLE = (
    ("6941", "U+20BB7", "MJ000000", "𠮷 (つちよし)"),
    ("6942", "U+845B U+E0100", "", "葛 with IVS (Moji_Joho)"),
    ("6943", "U+8FBB U+E0101", "", "辻 (一点しんにょう) with IVS"),
    ("6944", "U+F0001", "", "MJ+ addition in the PUA (synthetic)"),
    ("6945", "U+9AD9", "", "髙 (はしごだか) where the code page lacks it"),
)
UNMAPPED_GAIJI_CODES = ("7A41", "7A42", "7B55", "7C60")  # codes the city's table does not hold


def gaiji_csv(encodings: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["encoding", "legacy_code", "unicode", "mj_name", "note"])
    for enc in encodings:
        for code, uni, mj, note in GAIJI_TABLE:
            w.writerow([enc, code, uni, mj, note])
    return buf.getvalue()


def _gaiji_reverse() -> dict[str, bytes]:
    rev = {}
    for code, uni, _, _ in GAIJI_TABLE:
        text = "".join(chr(int(u[2:], 16)) for u in uni.split())
        rev[text] = bytes.fromhex(code)
    return rev


def towns_csv(pop: Population) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["prefecture", "city", "ward", "town", "town_kana", "chome_max", "postal_code"])
    for t in pop.towns:
        w.writerow([C.PREFECTURE, C.CITY, t.ward, t.name, t.kana, t.chome_max, t.postal_code])
    return buf.getvalue()


@dataclass
class Seeded:
    domain: str
    file: str
    record: int  # record number in the file (0 = header)
    key: str  # the record's business key value(s), joined by '|'
    atena_no: str
    defect: str
    field: str
    detail: str


@dataclass
class FileResult:
    domain: str
    name: str
    data: bytes
    records: int  # data records (header and trailer excluded)
    sums: dict[str, int]
    seeded: list[Seeded] = field(default_factory=list)


def _text_units(text: str) -> list[str]:
    """Characters with their variation selectors attached (an IVS sequence is one unit)."""
    units: list[str] = []
    for ch in text:
        if units and (0xE0100 <= ord(ch) <= 0xE01EF or 0xFE00 <= ord(ch) <= 0xFE0F):
            units[-1] += ch
        else:
            units.append(ch)
    return units


class Encoder:
    """Text of one code page with the city's 外字 codes for characters the code page lacks."""

    def __init__(self, encoding: str):
        from ikou.moji.codepages import get_codepage

        self.cp = get_codepage(encoding)
        self.gaiji = _gaiji_reverse()
        self._cache: dict[str, bytes] = {}
        self._sbcs: dict[str, bytes | None] = {}

    def _dbcs_unit(self, u: str) -> bytes:
        b = self._cache.get(u)
        if b is None:
            if u in self.gaiji:
                b = self.gaiji[u]
            else:
                try:
                    b = self.cp.encode_dbcs(u)
                except ValueError:
                    b = self.gaiji["〓"] if "〓" in self.gaiji else self.cp.encode_dbcs("〓")
            self._cache[u] = b
        return b

    def dbcs(self, text: str) -> bytes:
        return b"".join(self._dbcs_unit(u) for u in _text_units(text))

    def sbcs(self, text: str) -> bytes:
        return self.cp.encode_sbcs(text)

    def mixed(self, text: str) -> bytes:
        out = bytearray()
        in_dbcs = False
        for u in _text_units(text):
            sb = self._sbcs.get(u, b"")
            if sb == b"":
                sb = None
                if len(u) == 1:
                    try:
                        sb = self.cp.encode_sbcs(u)
                    except ValueError:
                        sb = None
                self._sbcs[u] = sb
            if sb is not None:
                if in_dbcs:
                    out += self.cp.shift_in
                    in_dbcs = False
                out += sb
            else:
                if not in_dbcs:
                    out += self.cp.shift_out
                    in_dbcs = True
                out += self._dbcs_unit(u)
        if in_dbcs:
            out += self.cp.shift_in
        return bytes(out)

    def fit(self, data: bytes, size: int, kind: str) -> bytes:
        """Cut text bytes to a field without splitting a DBCS character or losing the SI."""
        if len(data) <= size:
            return data
        if kind == "dbcs":
            return data[: size - size % 2]
        if kind == "mixed":
            out = bytearray()
            in_dbcs = False
            i = 0
            while i < len(data):
                b = data[i]
                step = 2 if in_dbcs and b not in (self.cp.shift_in[0],) else 1
                need = len(out) + step + (1 if (in_dbcs or b == self.cp.shift_out[0]) else 0)
                if need > size:
                    break
                if b == self.cp.shift_out[0]:
                    in_dbcs = True
                elif in_dbcs and b == self.cp.shift_in[0]:
                    in_dbcs = False
                out += data[i : i + step]
                i += step
            if in_dbcs:
                out += self.cp.shift_in
            return bytes(out)
        return data[:size]


def _select(
    pop: Population, population: str, rate: float, rng: np.random.Generator
) -> list[C.Person]:
    snap = pop.snapshot
    res = pop.residents

    def age(p, lo, hi=200):
        return lo <= p.age(snap) < hi

    pools: dict[str, Callable[[], list[C.Person]]] = {
        "addressees": lambda: list(pop.people),
        "residents": lambda: res,
        "adults": lambda: [p for p in res if age(p, 18)],
        "children_6_15": lambda: [p for p in res if age(p, 6, 15)],
        "children_0_5": lambda: [p for p in res if age(p, 0, 6)],
        "elderly65": lambda: [p for p in res if age(p, 65)],
        "elderly75": lambda: [p for p in res if age(p, 75)],
        "property_owners": lambda: [p for p in pop.people if p.kind != "1" or age(p, 25)],
        "taxpayers": lambda: [p for p in res if age(p, 18, 85)] + pop.of_kind("2"),
        "corporations": lambda: pop.of_kind("3"),
        "nhi": lambda: [p for p in res if age(p, 0, 75)],
        "pension": lambda: [p for p in res if age(p, 20, 60)],
        "households": lambda: [p for p in res if p.relationship == "01"],
        "parents": lambda: [
            p
            for p in res
            if p.relationship == "01" and any(pop.people[c].age(snap) < 15 for c in p.children)
        ],
        "voters": lambda: [p for p in res if age(p, 18) and not p.foreign],
        "koseki_persons": lambda: [p for p in pop.people if p.koseki_kojin_id],
    }
    try:
        pool = pools[population]()
    except KeyError:
        raise ValueError(
            f"unknown synth population {population!r}; known: {', '.join(pools)}"
        ) from None
    if rate >= 1.0:
        return pool
    mask = rng.random(len(pool)) < rate
    return [p for p, m in zip(pool, mask) if m]


_AMOUNTS = {  # role -> (low, high) in yen (or m² for area)
    "income": (1_000_000, 12_000_000),
    "assessed_value": (3_000_000, 80_000_000),
    "premium": (20_000, 200_000),
    "monthly_amount": (5_000, 150_000),
    "flat_tax": (5_000, 5_000),
    "area": (30, 800),
}


class FileWriter:
    def __init__(
        self,
        registry: Registry,
        pop: Population,
        snapshot: dt.date,
        rng: np.random.Generator,
        rates: dict[str, float],
    ):
        from ikou.mainframe.copybook import parse_copybook

        self._parse = parse_copybook
        self.registry = registry
        self.pop = pop
        self.snapshot = snapshot
        self.rng = rng
        self.rates = rates
        self._keys: dict[tuple[str, str], int] = {}
        self._plans: dict[tuple[str, str], list] = {}

    def _wareki_value(self, p: C.Person | None, role: str) -> int:
        if role == "birth_wareki" or role == "birth_wareki_partial":
            d = p.birth if p is not None and p.birth else None
            if d is None:
                return 0
            v = to_wareki(d)
            if role == "birth_wareki_partial":
                r = self.rng.random()
                if r < 0.02:
                    return v - d.day  # 日不詳: day 00
                if r < 0.03:
                    return v - d.day - d.month * 100  # 月日不詳
            return v
        start = max(p.birth if p and p.birth else dt.date(1990, 1, 1), dt.date(1990, 1, 1))
        return to_wareki(
            start
            + dt.timedelta(days=int(self.rng.integers(0, max((self.snapshot - start).days, 1))))
        )

    def _ymd(self, p: C.Person | None) -> int:
        d = (
            p.registered
            if p is not None and p.registered
            else self.snapshot - dt.timedelta(days=int(self.rng.integers(1, 9000)))
        )
        return int(d.strftime("%Y%m%d"))

    def file(
        self,
        domain: Domain,
        lf: LegacyFile,
        people: list[C.Person],
        enc: Encoder,
        extra: list[tuple[C.Person, dict]] | None = None,
    ) -> FileResult:
        cb = self._parse(lf.copybook_path.read_text(encoding="utf-8"), source=lf.copybook)
        data_layout = cb.record(lf.record_types["D"]).with_kinds(lf.mixed_fields)
        hdr_layout = cb.record(lf.record_types["H"])
        trl_layout = cb.record(lf.record_types["T"])
        from ikou.mainframe.encode import encode_record
        from ikou_dev.synth.writer import RecordWriter

        writer = RecordWriter(data_layout, enc.cp)
        out = bytearray()
        out += encode_record(
            hdr_layout,
            {
                "REC-TYPE": "H",
                "HDR-FILE-ID": lf.name[:8],
                "HDR-SNAPSHOT": int(self.snapshot.strftime("%Y%m%d")),
                "HDR-SYSTEM": "IKOUSYN",
            },
            enc.cp,
        )
        sums = {t: 0 for t in lf.trailer.sums}
        seeded: list[Seeded] = []
        rows = [(p, {}) for p in people] + list(extra or [])
        count = 0
        for i, (p, overrides) in enumerate(rows, start=1):
            values, marks = self._values(domain, lf, data_layout, p, enc, overrides)
            raw = writer.write(values)
            key = "|".join(str(values.get(k, "")) for k in lf.business_keys)
            atena = str(values.get("ATENA-NO", ""))
            for defect, fname, detail in marks:
                seeded.append(Seeded(domain.id, lf.name, i, key, atena, defect, fname, detail))
            self._corrupt(lf, data_layout, raw, seeded, i, key, atena, domain.id)
            for tname, dname in lf.trailer.sums.items():
                sums[tname] += int(values.get(dname) or 0)
            out += raw
            count += 1
        trl = {"REC-TYPE": "T", "TRL-COUNT": count}
        trl.update(sums)
        out += encode_record(trl_layout, trl, enc.cp)
        return FileResult(domain.id, lf.name, bytes(out), count, sums, seeded)

    def _corrupt(self, lf, layout, raw: bytearray, seeded, i, key, atena, domain_id) -> bool:
        """Break the bytes of one numeric field of a record (never of a master other files refer to)."""
        rate = self.rates.get("corrupt_record", 0.0)
        if (
            rate <= 0
            or lf.fields_with_role("atena_no")
            or lf.fields_with_role("family_register_id")
        ):
            return False
        if self.rng.random() >= rate:
            return False
        # Never an amount the trailer totals: the mainframe's control totals cover every record,
        # and the extract can still total a quarantined record's readable amounts.
        candidates = [
            f
            for f in layout.data_fields
            if f.kind in ("packed", "zoned")
            and f.name not in lf.business_keys
            and f.name not in lf.fields_with_role("atena_ref")
            and f.name not in lf.trailer.sums.values()
        ]
        if not candidates:
            return False
        f = candidates[int(self.rng.integers(len(candidates)))]
        if f.kind == "packed":
            raw[f.offset] = (raw[f.offset] & 0x0F) | 0xA0  # 'A' is no decimal digit
            reason = "bad_packed_nibble"
        else:
            raw[f.offset] = 0x7B  # '#' in EBCDIC: not a zoned digit
            reason = "bad_zoned_digit"
        seeded.append(Seeded(domain_id, lf.name, i, key, atena, "corrupt_record", f.name, reason))
        return True

    def _next_key(self, domain: str, field: str, digits: int) -> int:
        k = (domain, field)
        if k not in self._keys:
            self._keys[k] = int(self.rng.integers(1, 10 ** (digits - 2)))
        self._keys[k] += int(self.rng.integers(1, 4))
        return self._keys[k]

    def _values(
        self, domain: Domain, lf: LegacyFile, layout, p: C.Person, enc: Encoder, overrides: dict
    ):
        rng, pop = self.rng, self.pop
        values: dict[str, object] = {"REC-TYPE": "D"}
        marks: list[tuple[str, str, str]] = []
        plan = self._plans.get((domain.id, lf.name))
        if plan is None:
            plan = self._plans[(domain.id, lf.name)] = [
                (fname, spec, layout.field(fname)) for fname, spec in lf.fields.items()
            ]
        for fname, spec, f in plan:
            role = spec.role
            if fname in overrides:
                values[fname] = overrides[fname]
                continue
            v: object
            if role == "atena_no":
                v = int(p.atena_no)
            elif role == "atena_ref":
                v = int(p.atena_no)
                if p.duplicates and rng.random() < 0.3:
                    v = int(p.duplicates[0])  # the other system knew the person under the duplicate
                if rng.random() < self.rates.get("orphan_reference", 0.0):
                    v = int(f"{int(rng.integers(1, 10**9)):010d}")
                    marks.append(("orphan_reference", fname, "no such addressee"))
            elif role == "guardian_ref" or role == "householder_ref":
                v = int(pop.people[p.head].atena_no) if p.head >= 0 else int(p.atena_no)
            elif role == "koseki_ref":
                v = p.koseki_kojin_id
            elif role == "key":
                v = self._next_key(domain.id, fname, f.digits or f.size)
            elif role == "family_register_id":
                v = p.koseki_id
            elif role == "addressee_kind":
                v = p.kind
            elif role in ("name", "head_name"):
                who = pop.people[p.koseki_head] if role == "head_name" and p.koseki_head >= 0 else p
                text = who.name
                if (
                    role == "name"
                    and p.kind != "3"
                    and rng.random() < self.rates.get("unmapped_gaiji", 0.0)
                ):
                    code = UNMAPPED_GAIJI_CODES[int(rng.integers(len(UNMAPPED_GAIJI_CODES)))]
                    units = _text_units(text)
                    pos = 0 if units[0] != "　" else 1
                    raw = b"".join(
                        bytes.fromhex(code) if j == pos else enc._dbcs_unit(u)
                        for j, u in enumerate(units)
                    )
                    marks.append(("unmapped_gaiji", fname, code))
                    v = self._fit_bytes(enc, raw, f, spec)
                else:
                    if who.gaiji:
                        marks.append(("mapped_gaiji", fname, "table"))
                    raw = (
                        enc.mixed(text)
                        if spec.mixed
                        else (enc.dbcs(text) if f.kind == "dbcs" else enc.sbcs(text))
                    )
                    v = self._fit_bytes(enc, raw, f, spec)
            elif role == "name_kana":
                v = C.to_halfwidth_kana(p.kana)[: f.size]
            elif role == "sex":
                v = p.sex
            elif role in ("birth_wareki", "birth_wareki_partial", "since_wareki"):
                v = self._wareki_value(p if p.kind != "3" else None, role)
                if role == "birth_wareki_partial" and v and str(v).endswith("00"):
                    marks.append(
                        (
                            "partial_date",
                            fname,
                            "month_day_unknown" if str(v).endswith("0000") else "day_unknown",
                        )
                    )
                if p.kind != "3" and rng.random() < self.rates.get("impossible_wareki", 0.0):
                    v, why = IMPOSSIBLE_WAREKI[int(rng.integers(len(IMPOSSIBLE_WAREKI)))]
                    marks.append(("impossible_wareki", fname, why))
            elif role in ("address", "location", "honseki"):
                if role == "honseki":
                    text = (
                        (
                            C.PREFECTURE
                            + C.CITY
                            + p.address.town.ward
                            + p.address.town.name
                            + C.fullwidth_digits(f"{p.address.chome}丁目{p.address.ban}番地")
                        )
                        if p.honseki_in_city and p.address.town
                        else C._OTHER_CITIES[p.idx % len(C._OTHER_CITIES)]
                        + C.fullwidth_digits(f"{p.idx % 50 + 1}番地")
                    )
                elif role == "location":
                    t = pop.towns[int(rng.integers(len(pop.towns)))]
                    text = (
                        C.CITY
                        + t.ward
                        + t.name
                        + C.fullwidth_digits(
                            f"{int(rng.integers(1, 900))}番{int(rng.integers(1, 30))}"
                        )
                    )
                else:
                    text = p.address.canonical()
                    if p.address.town is not None and rng.random() < self.rates.get(
                        "notation_variant", 0.0
                    ):
                        kind = int(rng.integers(5))
                        text = p.address.variant(kind)
                        marks.append(("notation_variant", fname, f"address_form_{kind}"))
                raw = enc.mixed(text) if spec.mixed else enc.dbcs(text)
                v = self._fit_bytes(enc, raw, f, spec)
            elif role == "postal_code":
                v = p.address.town.postal_code if p.address.town else "0009999"
            elif role == "phone":
                v = p.phone
            elif role == "my_number":
                v = p.my_number
                if p.kind == "1" and rng.random() < self.rates.get("bad_check_digit", 0.0):
                    v = v[:11] + str((int(v[11]) + 1 + int(rng.integers(8))) % 10)
                    marks.append(("bad_check_digit", fname, "my_number"))
            elif role == "corporate_number":
                v = p.my_number
            elif role == "juminhyo_code":
                v = p.juminhyo_code
            elif role == "pension_number":
                v = f"{int(rng.integers(1000, 9999))}{int(rng.integers(0, 10**6)):06d}"
            elif role in ("registered_date", "updated_date"):
                v = self._ymd(p)
            elif role == "optional_date":
                v = (
                    int(
                        (self.snapshot - dt.timedelta(days=int(rng.integers(1, 2000)))).strftime(
                            "%Y%m%d"
                        )
                    )
                    if rng.random() < 0.1
                    else 0
                )
            elif role == "household_no":
                v = p.household
            elif role in ("relationship",):
                v = (
                    p.relationship
                    if p.relationship in {x for vs in f.conditions.values() for x in vs}
                    else "99"
                )
            elif role == "resident_kind":
                v = "2" if p.foreign else "1"
            elif role == "code":
                codes = sorted({x for vs in f.conditions.values() for x in vs if x.strip()})
                v = codes[int(rng.integers(len(codes)))] if codes else ""
                if f.kind == "zoned":
                    v = int(v)
            elif role == "flags":
                v = "".join("1" if rng.random() < 0.3 else "0" for _ in range(f.size))
            elif role == "school_code":
                v = ("E" if p.age(self.snapshot) < 12 else "J") + f"{int(rng.integers(1, 60)):03d}"
            elif role == "facility_code":
                v = f"H{int(rng.integers(1, 400)):05d}"
            elif role == "district_code":
                v = f"{int(rng.integers(1, 120)):03d}"
            elif role == "grade":
                v = (
                    int(rng.integers(1, 10))
                    if f.digits == 2
                    else max(1, min(6, p.age(self.snapshot) - 5))
                )
            elif role == "count":
                v = int(rng.integers(1, 500))
            elif role == "child_count":
                v = max(1, sum(1 for c in p.children if pop.people[c].age(self.snapshot) < 15))
            elif role == "fiscal_year":
                v = self.snapshot.year if self.snapshot.month >= 4 else self.snapshot.year - 1
            elif role == "plate":
                v = self._fit_bytes(
                    enc,
                    enc.mixed(
                        f"架空 {'あいうえかきくけ'[int(rng.integers(8))]} {int(rng.integers(10, 99))}-{int(rng.integers(10, 99))}"
                    ),
                    f,
                    spec,
                )
            elif role in _AMOUNTS:
                lo, hi = _AMOUNTS[role]
                v = (
                    Decimal(int(rng.integers(lo * 100, hi * 100 + 1))) / 100
                    if f.scale
                    else int(rng.integers(lo, hi + 1))
                )
            elif role in ("tax_amount", "tax_amount_part"):
                v = None  # derived below
            else:
                raise ValueError(
                    f"{domain.id}/{lf.name}: no synth generator for role {role!r} (field {fname})"
                )
            values[fname] = v
        self._derive_amounts(lf, values)
        return values, marks

    def _derive_amounts(self, lf: LegacyFile, values: dict) -> None:
        """Amounts that follow from others (tax = 所得割 + 均等割; fixed-asset tax = 1.4 %)."""
        part = lf.fields_with_role("tax_amount_part")
        flat = lf.fields_with_role("flat_tax")
        income = lf.fields_with_role("income")
        assessed = lf.fields_with_role("assessed_value")
        for f in part:
            base = int(values[income[0]]) if income else int(self.rng.integers(100_000, 50_000_000))
            values[f] = base // 10
        for f in lf.fields_with_role("tax_amount"):
            if part:
                values[f] = int(values[part[0]]) + (int(values[flat[0]]) if flat else 0)
            elif assessed:
                values[f] = int(values[assessed[0]]) * 14 // 1000
            else:
                values[f] = int(self.rng.integers(2_000, 12_000))

    @staticmethod
    def _fit_bytes(enc: Encoder, raw: bytes, f, spec) -> bytes:
        kind = "mixed" if spec.mixed else f.kind
        return enc.fit(raw, f.size, kind)


def snapshot_manifest(domain: str, snapshot: str, files: list[dict]) -> dict:
    return {
        "zone": "landing",
        "domain": domain,
        "snapshot": snapshot,
        "files": files,
        "written_by": "ikou synth",
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def write_all(
    registry: Registry,
    pop: Population,
    seed: int,
    rates: dict[str, float],
    emit: Callable[[str, bytes], None],
    domains: list[str] | None = None,
) -> dict:
    """Write every domain's files through ``emit(relative_path, bytes)``; returns a summary.

    Emission order is the publication order: per domain the data files and copybooks first,
    the snapshot manifest (``_manifest.json``) last; the answer key and reference data after.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed + 1)
    snapshot = pop.snapshot
    snap = snapshot.isoformat()
    writer = FileWriter(registry, pop, snapshot, rng, rates)
    # 名寄せ duplicates: second 宛名 records of the same resident, in notation variants.
    dup_rows: list[dict] = []
    atena_extra: list[tuple[C.Person, dict]] = []
    used = {p.atena_no for p in pop.people}
    for p in pop.residents:
        if rng.random() >= rates.get("duplicate_addressee", 0.0):
            continue
        while True:
            dup_no = f"{int(rng.integers(1, 10**10)):010d}"
            if dup_no not in used:
                used.add(dup_no)
                break
        p.duplicates.append(dup_no)
        how = int(rng.integers(4))
        ov: dict[str, object] = {"ATENA-NO": int(dup_no)}
        if how == 0:  # an old address (moved since)
            other = pop.residents[int(rng.integers(len(pop.residents)))].address
            ov["JUSHO"] = ("old_address", other)
        elif how == 1:  # kana spelled differently (ｳ / ｵ long vowels, small kana)
            ov["SHIMEI-KANA"] = C.to_halfwidth_kana(
                p.kana.replace("ウ", "オ", 1).replace("ッ", "ツ", 1)
            )
        elif how == 2:  # address notation variant
            ov["JUSHO"] = ("variant", p.address)
        else:  # name with a space dropped / new-form kanji
            ov["SHIMEI"] = (
                "name",
                p.name.replace("　", "")
                .replace("髙", "高")
                .replace("齋", "斎")
                .replace("邊", "辺")
                .replace("澤", "沢")
                .replace("濱", "浜")
                .replace("廣", "広")
                .replace("櫻", "桜")
                .replace("﨑", "崎"),
            )
        atena_extra.append((p, ov))
        dup_rows.append(
            {
                "atena_no": dup_no,
                "duplicate_of": p.atena_no,
                "how": ["old_address", "kana", "address_variant", "name_form"][how],
            }
        )
    summary: dict[str, dict] = {}
    all_seeded: list[Seeded] = []
    encodings: set[str] = set()
    for domain in registry:
        if domains and domain.id not in domains:
            continue
        # Each domain draws from its own generator: a subset (``domains``) writes the same files
        # as a full run would.
        writer.rng = rng = np.random.default_rng([seed, zlib.crc32(domain.id.encode())])
        files_meta = []
        for lf in domain.legacy_files:
            enc = Encoder(lf.encoding)
            encodings.add(lf.encoding)
            people = _select(pop, lf.synth.population, lf.synth.rate, rng)
            extra = None
            if lf.fields_with_role("atena_no"):
                extra = [(p, _materialise(ov, enc, lf, writer, rng)) for p, ov in atena_extra]
            res = writer.file(domain, lf, people, enc, extra)
            all_seeded.extend(res.seeded)
            name = f"{lf.name}.dat"
            emit(f"{domain.id}/{snap}/{name}", res.data)
            emit(f"{domain.id}/{snap}/{lf.copybook}", lf.copybook_path.read_bytes())
            files_meta.append(
                {
                    "name": name,
                    "legacy_file": lf.name,
                    "dataset": lf.dataset,
                    "copybook": lf.copybook,
                    "encoding": lf.encoding,
                    "recfm": lf.recfm,
                    "lrecl": lf.lrecl,
                    "records": res.records,
                    "bytes": len(res.data),
                    "sha256": sha256(res.data),
                    "control_totals": {"TRL-COUNT": res.records, **res.sums},
                }
            )
            summary.setdefault(domain.id, {})[lf.name] = res.records
        emit(
            f"{domain.id}/{snap}/_manifest.json",
            dumps(snapshot_manifest(domain.id, snap, files_meta)),
        )
    emit(f"_reference/{snap}/gaiji.csv", gaiji_csv(sorted(encodings)).encode("utf-8"))
    emit(f"_reference/{snap}/towns.csv", towns_csv(pop).encode("utf-8"))
    defects = pa.table(
        {
            "domain": [s.domain for s in all_seeded],
            "file": [s.file for s in all_seeded],
            "record": pa.array([s.record for s in all_seeded], pa.int64()),
            "key": [s.key for s in all_seeded],
            "atena_no": [s.atena_no for s in all_seeded],
            "defect": [s.defect for s in all_seeded],
            "field": [s.field for s in all_seeded],
            "detail": [s.detail for s in all_seeded],
        }
    )
    dups = pa.table(
        {
            "atena_no": [r["atena_no"] for r in dup_rows],
            "duplicate_of": [r["duplicate_of"] for r in dup_rows],
            "how": [r["how"] for r in dup_rows],
        }
    )
    for name, table in (("defects.parquet", defects), ("duplicates.parquet", dups)):
        buf = io.BytesIO()
        pq.write_table(table, buf)
        emit(f"_answer_key/{snap}/{name}", buf.getvalue())
    counts: dict[str, int] = {}
    for s in all_seeded:
        counts[s.defect] = counts.get(s.defect, 0) + 1
    counts["duplicate_addressee"] = len(dup_rows)
    return {
        "snapshot": snap,
        "seed": seed,
        "residents": len(pop.residents),
        "addressees": len(pop.people) + len(dup_rows),
        "records": summary,
        "seeded": counts,
        "rates": rates,
    }


def _materialise(ov: dict, enc: Encoder, lf: LegacyFile, writer: FileWriter, rng) -> dict:
    """Turn a duplicate's overrides into field values of the 宛名 file."""
    from ikou.mainframe.copybook import parse_copybook

    layout = parse_copybook(
        lf.copybook_path.read_text(encoding="utf-8"), source=lf.copybook
    ).record(lf.record_types["D"])
    out: dict[str, object] = {}
    for k, v in ov.items():
        if isinstance(v, tuple):
            what, obj = v
            f = layout.field(k)
            if what == "old_address":
                text = obj.canonical()
            elif what == "variant":
                text = obj.variant(int(rng.integers(5)))
            else:
                text = obj
            raw = enc.mixed(text) if lf.fields[k].mixed else enc.dbcs(text)
            out[k] = enc.fit(raw, f.size, "mixed" if lf.fields[k].mixed else f.kind)
        else:
            out[k] = v
    return out
