"""The columns of one synthetic legacy file, built from the population (every role vectorised).

:class:`FileBuilder` turns a legacy file's registry entry (its copybook fields and their
``synth`` roles) into :class:`Built`: one column object per field that writes its bytes into a
chunk of records, the integer values of keys and amounts, and the seeded defects with the rows
they touched (the answer key). Writing the records is :mod:`ikou_dev.synth.generate`'s part.

Over 500 lines on purpose: ``FileBuilder._field`` is one dispatch over the registry's column
roles (names, addresses, dates, keys, references, amounts …), each branch a few lines that share
the builder's encoders and defect marks; split by role, every part would take the whole builder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ikou.domains import Domain, LegacyFile
from ikou_dev.synth import city as C
from ikou_dev.synth.columns import (
    Ascii,
    Packed,
    Parts,
    Vocab,
    Zoned,
    ascii_digits,
    ascii_strings,
    vocab_table,
)
from ikou_dev.synth.draws import Draws
from ikou_dev.synth.legacy_text import (
    IMPOSSIBLE_WAREKI,
    UNMAPPED_GAIJI_CODES,
    Encoder,
    wareki_days,
    ymd_days,
)
from ikou_dev.synth.population import Population
from ikou_dev.synth.selection import Duplicates

_AMOUNTS = {  # role -> (low, high) in yen (or m² for area)
    "income": (1_000_000, 12_000_000),
    "assessed_value": (3_000_000, 80_000_000),
    "premium": (20_000, 200_000),
    "monthly_amount": (5_000, 150_000),
    "flat_tax": (5_000, 5_000),
    "area": (30, 800),
}

#: Roles whose field is a business key a gate checks unique and a seeded ``duplicate_key`` may
#: repeat (宛名番号 is never repeated: every other file refers to it).
DUPLICABLE_KEY_ROLES = frozenset({"key", "pension_number"})
#: uid of a duplicate 宛名 row: its person's uid + this (a row's draws are keyed by its uid)
DUPLICATE_UID = 1 << 40
_NEW_FORMS = str.maketrans(
    {"髙": "高", "齋": "斎", "邊": "辺", "澤": "沢", "濱": "浜", "廣": "広", "櫻": "桜", "﨑": "崎"}
)


@dataclass
class Built:
    """One legacy file, as columns: what ``write_file`` encodes, and its answer-key rows."""

    lf: LegacyFile
    layout: object
    enc: Encoder
    template: np.ndarray
    rows: int
    columns: list
    ints: dict  # field -> integer values (keys, amounts, references)
    texts: dict  # field -> digit-string width (fields holding numbers as text)
    seeded: list  # (rows, defect, field, detail: str | list[str])
    corrupt: list  # (rows, offset, kind)
    sums: dict
    lut: np.ndarray | None = None  # ASCII → the file's SBCS bytes
    uids: np.ndarray | None = None  # each row's uid: its person (+ DUPLICATE_UID: a duplicate)


class FileBuilder:
    """Builds the columns of one legacy file from the population (every role vectorised)."""

    def __init__(self, pop: Population, rng, rates: dict[str, float]):
        self.pop = pop
        self.draws = Draws.of(rng)  # keyed: a row draws the same numbers in every snapshot
        self.rng = None
        self.rates = rates
        self.snapshot = pop.snapshot
        self._ages = pop.ages()

    # -- text helpers --------------------------------------------------------------------------
    def _mode(self, f, spec) -> str:
        if spec.mixed:
            return "mixed"
        return {"dbcs": "dbcs", "mixed": "mixed"}.get(f.kind, "sbcs")

    def _encode(self, enc: Encoder, text: str, f, spec) -> bytes:
        mode = self._mode(f, spec)
        raw = (
            enc.mixed(text)
            if mode == "mixed"
            else (enc.dbcs(text) if mode == "dbcs" else enc.sbcs(text))
        )
        return enc.fit(raw, f.size, "mixed" if mode == "mixed" else f.kind)

    def _pad(self, enc: Encoder, f, spec) -> bytes:
        if self._mode(f, spec) == "dbcs" and f.kind == "dbcs":
            return enc.cp.dbcs_space.to_bytes(2, "big")
        return bytes([enc.cp.sbcs_space])

    def _strings(self, b: Built, f, spec, strings: list[str], rows=None) -> Vocab:
        """Text given as Python strings (one encoding per distinct string)."""
        uniq: dict[str, int] = {}
        codes = np.fromiter(
            (uniq.setdefault(s, len(uniq)) for s in strings), np.int64, len(strings)
        )
        values = [self._encode(b.enc, s, f, spec) for s in uniq]
        table = vocab_table(values, f, b.template, self._pad(b.enc, f, spec))
        return Vocab(f, table, codes, rows)

    def _raw_vocab(self, b: Built, f, spec, values: list[bytes], codes, rows=None) -> Vocab:
        table = vocab_table(values, f, b.template, self._pad(b.enc, f, spec))
        return Vocab(f, table, codes, rows)

    def _parts(self, b: Built, f, spec, parts: list[tuple[list[str], np.ndarray]]) -> Parts:
        """Text joined from parts of small tables (each part's values must be pure DBCS in a DBCS
        or mixed field)."""
        enc = b.enc
        mode = self._mode(f, spec)
        encoded = []
        for values, codes in parts:
            if mode == "sbcs":
                encoded.append(([enc.sbcs(v) for v in values], codes))
                continue
            vals = []
            for v in values:
                raw = enc.dbcs(v)
                if mode == "mixed" and enc.mixed(v) != enc.cp.shift_out + raw + enc.cp.shift_in:
                    raise ValueError(f"field {f.column}: part {v!r} is not pure DBCS")
                vals.append(raw)
            encoded.append((vals, codes))
        return Parts(
            f,
            mode,
            encoded,
            b.template,
            self._pad(enc, f, spec),
            (enc.cp.shift_out, enc.cp.shift_in),
        )

    def _ascii(self, b: Built, f, text: np.ndarray, lengths: np.ndarray) -> Ascii:
        return Ascii(f, b.lut, b.enc.cp.sbcs_space, text, lengths)

    def _ascii_codes(self, b: Built, f, vocab: list[str], codes: np.ndarray) -> Ascii:
        t, lens = ascii_strings(vocab)
        return self._ascii(b, f, t[codes], lens[codes])

    def _number(self, b: Built, f, values: np.ndarray):
        if f.kind == "zoned":
            return Zoned(f, values)
        if f.kind == "packed":
            return Packed(f, values)
        t, w = ascii_digits(values, len(str(int(values.max()))) if len(values) else 1)
        return self._ascii(b, f, t, w)

    # -- addresses -----------------------------------------------------------------------------
    def _address_parts(self, src: np.ndarray):
        pop = self.pop
        towns = [C.CITY + t.ward + t.name for t in pop.towns] + list(C._OTHER_CITIES)
        head = np.where(pop.town[src] >= 0, pop.town[src], len(pop.towns) + pop.outside[src])
        fw = C.fullwidth_digits
        chome = [fw(f"{i}丁目") for i in range(10)]
        ban = [fw(f"{i}番") for i in range(100)]
        go = [fw(f"{i}号") for i in range(100)]
        bld = ["　" + x for x in pop.vocab.buildings]
        return [
            (towns, head),
            (chome, pop.chome[src]),
            (ban, pop.ban[src]),
            (go, pop.go[src]),
            (bld, np.where(pop.town[src] >= 0, pop.building[src], -1)),
        ]

    # -- the file ------------------------------------------------------------------------------
    def build(
        self, domain: Domain, lf: LegacyFile, src: np.ndarray, dups: Duplicates | None
    ) -> Built:
        from ikou.mainframe.copybook import parse_copybook
        from ikou.mainframe.encode import encode_record
        from ikou_dev.synth.columns import sbcs_lut

        cb = parse_copybook(lf.copybook_path.read_text(encoding="utf-8"), source=lf.copybook)
        layout = cb.record(lf.record_types["D"]).with_kinds(lf.mixed_fields)
        enc = Encoder(lf.encoding)
        template = np.frombuffer(encode_record(layout, {}, enc.cp), dtype=np.uint8)
        extra = dups if (dups is not None and lf.fields_with_role("atena_no")) else None
        rows_src = np.concatenate([src, extra.person]) if extra is not None else src
        n = len(rows_src)
        uids = src if extra is None else np.concatenate([src, extra.person + DUPLICATE_UID])
        self.file_draws = self.draws.stream(domain.id, lf.name)
        self.rng = self.file_draws.rows(uids)
        b = Built(lf, layout, enc, template, n, [], {}, {}, [], [], {})
        b.uids = uids
        b.lut = sbcs_lut(enc.cp)
        rt = layout.field(lf.record_type_field)
        b.columns.append(self._ascii_codes(b, rt, ["D"], np.zeros(n, np.int64)))
        first_extra = len(src)
        self._extra = extra
        self._first_extra = first_extra
        for fname, spec in lf.fields.items():
            f = layout.field(fname)
            self._field(b, domain, lf, f, fname, spec, rows_src)
        self._derive_amounts(b, layout)
        self._duplicate_keys(b)
        self._corrupt(b)
        for tname, dname in lf.trailer.sums.items():
            b.sums[tname] = int(b.ints[dname].sum()) if dname in b.ints else 0
        return b

    def _mark(self, b: Built, rows, defect: str, fname: str, detail) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows):
            b.seeded.append((rows, defect, fname, detail))

    def _field(self, b: Built, domain, lf, f, fname, spec, src) -> None:
        pop, rng, rates = self.pop, self.rng, self.rates
        role = spec.role
        n = len(src)
        extra, fx = self._extra, self._first_extra
        age = self._ages[src]
        col = None
        if role == "atena_no":
            v = pop.atena[src].copy()
            if extra is not None:
                v[fx:] = extra.atena
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "atena_ref":
            v = pop.atena[src].copy()
            dup = pop.duplicate[src]
            use = (dup > 0) & (rng.random(n) < 0.3)  # the other system knew the duplicate
            v[use] = dup[use]
            orphan = np.flatnonzero(rng.random(n) < rates.get("orphan_reference", 0.0))
            if len(orphan):
                from ikou_dev.synth.keys import atena_numbers

                exclude = np.concatenate([pop.atena, pop.duplicate[pop.duplicate > 0]])
                gen = self.file_draws.stream(fname).generator()
                v[orphan] = atena_numbers(gen, len(orphan), exclude=exclude)
                self._mark(b, orphan, "orphan_reference", fname, "no such addressee")
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role in ("guardian_ref", "householder_ref"):
            v = pop.atena[pop.head[src]]
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "koseki_ref":
            v = pop.kojin_id[src].astype(np.int64)
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role in ("key", "pension_number") and extra is not None:
            raise ValueError(f"{lf.name}.{fname}: a file's own number beside 宛名 duplicates")
        elif role == "key":
            from ikou_dev.synth.keys import stable_sequential

            v = stable_sequential(
                self.file_draws.stream(fname).key,
                src,
                len(pop),
                f.digits or f.size,
                f"{lf.name}.{fname}",
            )
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "pension_number":
            from ikou_dev.synth.keys import stable_pension_numbers

            v = stable_pension_numbers(self.file_draws.stream(fname).key, src)
            b.ints[fname] = v
            b.texts[fname] = 10
            t, w = ascii_digits(v, 10)
            col = self._ascii(b, f, t, w)
        elif role == "family_register_id":
            v = pop.koseki_id[src].astype(np.int64)
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "addressee_kind":
            col = self._ascii_codes(b, f, ["", "1", "2", "3"], pop.kind[src].astype(np.int64))
        elif role in ("name", "head_name"):
            who = src
            if role == "head_name":
                kh = pop.koseki_head[src]
                who = np.where(kh >= 0, kh, src)
            person = pop.corp[who] < 0
            sur = np.where(person, pop.surname[who], -1)
            parts = [
                ([s for s, _ in pop.vocab.surnames], sur),
                (["　"], np.where(person, 0, -1)),
                ([g for g, _ in pop.vocab.given], np.where(person, pop.given[who], -1)),
                ([c for c, _ in pop.vocab.corporations], np.where(person, -1, pop.corp[who])),
            ]
            col = self._parts(b, f, spec, parts)
            overridden = np.zeros(n, bool)
            if extra is not None and fname == "SHIMEI":  # name_form duplicates: another spelling
                rows = fx + np.flatnonzero(extra.how == 3)
                overridden[rows] = True
                texts = [
                    pop.name(int(src[r])).replace("　", "").translate(_NEW_FORMS) for r in rows
                ]
                col = _Overlay(col, self._strings(b, f, spec, texts, rows))
            if role == "name":
                hit = (
                    (pop.kind[src] != 3)
                    & ~overridden
                    & (rng.random(n) < rates.get("unmapped_gaiji", 0.0))
                )
                if pop.corrected is not None:
                    hit &= ~pop.corrected[src]
                rows = np.flatnonzero(hit)
                which_all = rng.integers(0, len(UNMAPPED_GAIJI_CODES), n)
                if len(rows):
                    which = which_all[rows]
                    codes = [UNMAPPED_GAIJI_CODES[i] for i in which]
                    at = f.offset + (1 if self._mode(f, spec) == "mixed" else 0)
                    col = _Overlay(col, _Bytes(rows, at, [bytes.fromhex(c) for c in codes]))
                    self._mark(b, rows, "unmapped_gaiji", fname, codes)
                mapped = pop.gaiji[who] & ~hit & ~overridden
            else:
                mapped = pop.gaiji[who]
            self._mark(b, np.flatnonzero(mapped), "mapped_gaiji", fname, "table")
        elif role == "name_kana":
            person = pop.corp[src] < 0
            hw = C.to_halfwidth_kana
            parts = [
                ([hw(k) for _, k in pop.vocab.surnames], np.where(person, pop.surname[src], -1)),
                ([" "], np.where(person, 0, -1)),
                ([hw(k) for _, k in pop.vocab.given], np.where(person, pop.given[src], -1)),
                (
                    [hw(k) for _, k in pop.vocab.corporations],
                    np.where(person, -1, pop.corp[src]),
                ),
            ]
            col = self._parts(b, f, spec, parts)
            if extra is not None:  # kana duplicates: spelled differently
                rows = fx + np.flatnonzero(extra.how == 1)
                texts = [
                    hw(pop.kana(int(src[r])).replace("ウ", "オ", 1).replace("ッ", "ツ", 1))[
                        : f.size
                    ]
                    for r in rows
                ]
                col = _Overlay(col, self._strings(b, f, spec, texts, rows))
        elif role == "sex":
            col = self._ascii_codes(b, f, [" ", "1", "2"], pop.sex[src].astype(np.int64))
        elif role in ("birth_wareki", "birth_wareki_partial", "since_wareki"):
            is_corp = pop.kind[src] == 3
            if role == "since_wareki":
                floor = (dt.date(1990, 1, 1) - dt.date(1970, 1, 1)).days
                start = np.where(is_corp, floor, np.maximum(pop.birth[src].astype(np.int64), floor))
                span = np.maximum((pop.origin - dt.date(1970, 1, 1)).days - start, 1)
                v = wareki_days(start + np.floor(rng.random(n) * span).astype(np.int64))
            else:
                v = np.where(is_corp, 0, wareki_days(np.where(is_corp, 0, pop.birth[src])))
                if role == "birth_wareki_partial":
                    from ikou_dev.synth.population import ymd_parts

                    _, m, d = ymd_parts(np.where(is_corp, 0, pop.birth[src]))
                    r = rng.random(n)
                    day_unknown = ~is_corp & (r < 0.02)
                    md_unknown = ~is_corp & (r >= 0.02) & (r < 0.03)
                    v = np.where(day_unknown, v - d, np.where(md_unknown, v - d - m * 100, v))
                    self._mark(b, np.flatnonzero(day_unknown), "partial_date", fname, "day_unknown")
                    self._mark(
                        b, np.flatnonzero(md_unknown), "partial_date", fname, "month_day_unknown"
                    )
            bad = np.flatnonzero(~is_corp & (rng.random(n) < rates.get("impossible_wareki", 0.0)))
            bad = bad[~pop.corrected[src[bad]]] if pop.corrected is not None else bad
            which_all = rng.integers(0, len(IMPOSSIBLE_WAREKI), n)
            if len(bad):
                which = which_all[bad]
                v[bad] = [IMPOSSIBLE_WAREKI[i][0] for i in which]
                self._mark(
                    b, bad, "impossible_wareki", fname, [IMPOSSIBLE_WAREKI[i][1] for i in which]
                )
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "address":
            asrc = src.copy()
            variant_kind = np.full(n, -1)
            if extra is not None and fname == "JUSHO":
                how = extra.how
                asrc[fx:][how == 0] = extra.other[how == 0]  # an old address: another's
                variant_kind[fx:][how == 2] = rng.integers(0, 5, n)[fx:][how == 2]
            protected = variant_kind >= 0
            if extra is not None and fname == "JUSHO":
                protected[fx:] |= extra.how == 0
            seeded = (
                (pop.town[asrc] >= 0)
                & ~protected
                & (rng.random(n) < rates.get("notation_variant", 0.0))
            )
            if pop.corrected is not None:
                seeded &= ~pop.corrected[asrc]
            rows = np.flatnonzero(seeded)
            kinds = rng.integers(0, 5, n)[rows]
            variant_kind[rows] = kinds
            self._mark(b, rows, "notation_variant", fname, [f"address_form_{k}" for k in kinds])
            col = self._parts(b, f, spec, self._address_parts(asrc))
            vrows = np.flatnonzero(variant_kind >= 0)
            if len(vrows):
                texts = [pop.address(int(asrc[r])).variant(int(variant_kind[r])) for r in vrows]
                col = _Overlay(col, self._strings(b, f, spec, texts, vrows))
        elif role == "honseki":
            at = pop.honseki_at[src].astype(np.int64)
            in_city = pop.honseki_in_city[src] & (at >= 0)
            fw = C.fullwidth_digits
            heads = [C.PREFECTURE + C.CITY + t.ward + t.name for t in pop.towns] + list(
                C._OTHER_CITIES
            )
            head = np.where(in_city, at // 10000, len(pop.towns) + src % len(C._OTHER_CITIES))
            banchi = [fw(f"{i}番地") for i in range(100)]
            parts = [
                (heads, head),
                ([fw(f"{i}丁目") for i in range(10)], np.where(in_city, at // 100 % 100, -1)),
                (banchi, np.where(in_city, at % 100, src % 50 + 1)),
            ]
            col = self._parts(b, f, spec, parts)
        elif role == "location":
            fw = C.fullwidth_digits
            towns = [C.CITY + t.ward + t.name for t in pop.towns]
            parts = [
                (towns, rng.integers(0, len(towns), n)),
                ([fw(f"{i}番") for i in range(900)], rng.integers(1, 900, n)),
                ([fw(str(i)) for i in range(30)], rng.integers(1, 30, n)),
            ]
            col = self._parts(b, f, spec, parts)
        elif role == "postal_code":
            vocab = [t.postal_code for t in pop.towns] + ["0009999"]
            t = pop.town[src].astype(np.int64)
            col = self._ascii_codes(b, f, vocab, np.where(t >= 0, t, len(pop.towns)))
        elif role == "phone":
            ph = pop.phone[src]
            a, rest = np.divmod(ph, 10**7)
            m, last = np.divmod(rest, 10**4)
            text = np.full((n, 12), 0x20, dtype=np.uint8)
            text[:, 0] = 0x30
            text[:, 1:3] = ascii_digits(a, 2)[0]
            text[:, 3] = 0x2D
            text[:, 4:7] = ascii_digits(m, 3)[0]
            text[:, 7] = 0x2D
            text[:, 8:12] = ascii_digits(last, 4)[0]
            col = self._ascii(b, f, text, np.where(ph > 0, 12, 0))
        elif role in ("my_number", "corporate_number"):
            v = pop.ident[src].copy()
            width = np.where(pop.kind[src] == 3, 13, 12)
            if role == "my_number":
                bad = np.flatnonzero(
                    (pop.kind[src] == 1) & (rng.random(n) < rates.get("bad_check_digit", 0.0))
                )
                if pop.corrected is not None:
                    bad = bad[~pop.corrected[src[bad]]]
                shift = rng.integers(0, 8, n)
                if len(bad):
                    last = v[bad] % 10
                    v[bad] = v[bad] - last + (last + 1 + shift[bad]) % 10
                    self._mark(b, bad, "bad_check_digit", fname, "my_number")
            t, w = ascii_digits(v, width)
            col = self._ascii(b, f, t, w)
        elif role == "juminhyo_code":
            v = pop.juminhyo[src]
            t, w = ascii_digits(v, np.where(v > 0, 11, 0))
            col = self._ascii(b, f, t, w)
        elif role in ("registered_date", "updated_date"):
            days = pop.updated if (role == "updated_date" and pop.updated is not None) else None
            v = ymd_days((pop.registered if days is None else days)[src])
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "optional_date":
            snap = (pop.origin - dt.date(1970, 1, 1)).days
            back = rng.integers(1, 2000, n)
            v = np.where(rng.random(n) < 0.1, ymd_days(snap - back), 0)
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "household_no":
            v = pop.household[src].astype(np.int64)
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "relationship":
            allowed = {x for vs in f.conditions.values() for x in vs}
            vocab = [f"{i:02d}" if f"{i:02d}" in allowed else "99" for i in range(6)]
            col = self._ascii_codes(b, f, vocab, pop.relationship[src].astype(np.int64))
        elif role == "resident_kind":
            col = self._ascii_codes(b, f, ["1", "2"], pop.foreign[src].astype(np.int64))
        elif role == "code":
            codes = sorted({x for vs in f.conditions.values() for x in vs if x.strip()})
            pick = rng.integers(0, max(len(codes), 1), n)
            if f.kind in ("zoned", "packed"):
                v = np.array([int(c) for c in codes], dtype=np.int64)[pick]
                b.ints[fname] = v
                col = self._number(b, f, v)
            else:
                col = self._ascii_codes(b, f, codes or [""], pick)
        elif role == "flags":
            bits = (rng.random((n, f.size)) < 0.3).astype(np.uint8) + 0x30
            col = self._ascii(b, f, bits, np.full(n, f.size))
        elif role == "school_code":
            text = np.empty((n, 4), dtype=np.uint8)
            text[:, 0] = np.where(age < 12, ord("E"), ord("J"))
            text[:, 1:] = ascii_digits(rng.integers(1, 60, n), 3)[0]
            col = self._ascii(b, f, text, np.full(n, 4))
        elif role == "facility_code":
            text = np.empty((n, 6), dtype=np.uint8)
            text[:, 0] = ord("H")
            text[:, 1:] = ascii_digits(rng.integers(1, 400, n), 5)[0]
            col = self._ascii(b, f, text, np.full(n, 6))
        elif role == "district_code":
            t, w = ascii_digits(rng.integers(1, 120, n), 3)
            col = self._ascii(b, f, t, w)
        elif role == "grade":
            if f.digits == 2:
                v = rng.integers(1, 10, n)
            else:
                v = np.clip(age - 5, 1, 6)
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "count":
            v = rng.integers(1, 500, n)
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "child_count":
            v = np.maximum(1, pop.children_under15[src].astype(np.int64))
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "fiscal_year":
            s = self.snapshot
            v = np.full(n, s.year if s.month >= 4 else s.year - 1, dtype=np.int64)
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role == "plate":
            # "架空 あ 12-34": an encoded head per kana, then the SBCS digits (no cut: it fits)
            heads = [b.enc.mixed(f"架空 {k} ") for k in "あいうえかきくけ"]
            digits = [b.enc.sbcs(f"{i}") for i in range(100)]
            dash = [b.enc.sbcs("-")]
            if max(len(h) for h in heads) + 5 > f.size:
                raise ValueError(f"field {f.column}: a plate number does not fit")
            parts = [
                (heads, rng.integers(0, 8, n)),
                (digits, rng.integers(10, 99, n)),
                (dash, np.zeros(n, np.int64)),
                (digits, rng.integers(10, 99, n)),
            ]
            col = Parts(f, "sbcs", parts, b.template, bytes([b.enc.cp.sbcs_space]))
        elif role in _AMOUNTS:
            lo, hi = _AMOUNTS[role]
            scale = 10**f.scale
            v = rng.integers(lo * scale, hi * scale + 1, n)
            b.ints[fname] = v
            col = self._number(b, f, v)
        elif role in ("tax_amount", "tax_amount_part"):
            return  # derived below
        else:
            raise ValueError(
                f"{domain.id}/{lf.name}: no synth generator for role {role!r} (field {fname})"
            )
        b.columns.append(col)

    def _derive_amounts(self, b: Built, layout) -> None:
        """Amounts that follow from others (tax = 所得割 + 均等割; fixed-asset tax = 1.4 %)."""
        lf, n, rng = b.lf, b.rows, self.rng
        part = lf.fields_with_role("tax_amount_part")
        flat = lf.fields_with_role("flat_tax")
        income = lf.fields_with_role("income")
        assessed = lf.fields_with_role("assessed_value")
        for fname in part:
            base = b.ints[income[0]] if income else rng.integers(100_000, 50_000_000, n)
            b.ints[fname] = base // 10
            b.columns.append(self._number(b, layout.field(fname), b.ints[fname]))
        for fname in lf.fields_with_role("tax_amount"):
            if part:
                v = b.ints[part[0]] + (b.ints[flat[0]] if flat else 0)
            elif assessed:
                v = b.ints[assessed[0]] * 14 // 1000
            else:
                v = rng.integers(2_000, 12_000, n)
            b.ints[fname] = v
            b.columns.append(self._number(b, layout.field(fname), v))

    def _duplicate_keys(self, b: Built) -> None:
        """Seeded ``duplicate_key``: a record repeats the business key of the record before it."""
        rate = self.rates.get("duplicate_key", 0.0)
        lf = b.lf
        if rate <= 0 or len(lf.business_keys) != 1 or b.rows < 2:
            return
        fname = lf.business_keys[0]
        if lf.fields[fname].role not in DUPLICABLE_KEY_ROLES:
            return
        hit = self.rng.random(b.rows) < rate
        hit[0] = False
        hit[1:] &= ~hit[:-1]  # never the copy of a copy
        rows = np.flatnonzero(hit)
        if not len(rows):
            return
        v = b.ints[fname]
        v[rows] = v[rows - 1]
        f = b.layout.field(fname)
        for i, c in enumerate(b.columns):
            if c.field is not None and c.field.name == f.name:
                if lf.fields[fname].role == "pension_number":
                    t, w = ascii_digits(v, 10)
                    b.columns[i] = self._ascii(b, f, t, w)
                else:
                    b.columns[i] = self._number(b, f, v)
        self._mark(b, rows, "duplicate_key", fname, [f"same key as record {r}" for r in rows])

    def _corrupt(self, b: Built) -> None:
        """Break the bytes of one numeric field of a record (never of a master other files refer to)."""
        lf, layout = b.lf, b.layout
        rate = self.rates.get("corrupt_record", 0.0)
        if (
            rate <= 0
            or lf.fields_with_role("atena_no")
            or lf.fields_with_role("family_register_id")
        ):
            return
        hit = np.flatnonzero(self.rng.random(b.rows) < rate)
        pick = self.rng.integers(0, 1 << 20, b.rows)
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
        if not candidates or not len(hit):
            return
        which = pick[hit] % len(candidates)
        for k, f in enumerate(candidates):
            rows = hit[which == k]
            if not len(rows):
                continue
            reason = "bad_packed_nibble" if f.kind == "packed" else "bad_zoned_digit"
            b.corrupt.append((rows, f.offset, f.kind))
            self._mark(b, rows, "corrupt_record", f.name, reason)


class _Overlay:
    """A column, then another column's rows written over it."""

    def __init__(self, base, top):
        self.base, self.top, self.field = base, top, base.field

    def put(self, out, start, stop):
        self.base.put(out, start, stop)
        self.top.put(out, start, stop)


class _Bytes:
    """Raw bytes written at an offset of some rows (a seeded 外字 code)."""

    def __init__(self, rows: np.ndarray, offset: int, values: list[bytes]):
        self.rows, self.offset, self.field = rows, offset, None
        self.values = np.array([list(v) for v in values], dtype=np.uint8)

    def put(self, out, start, stop):
        lo, hi = np.searchsorted(self.rows, [start, stop])
        if hi > lo:
            w = self.values.shape[1]
            out[self.rows[lo:hi] - start, self.offset : self.offset + w] = self.values[lo:hi]
