"""The synthetic city's column encoders write exactly what ikou.mainframe.encode writes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from ikou.domains import registry
from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.encode import encode_field, encode_record
from ikou_dev.synth import city as C
from ikou_dev.synth.builder import FileBuilder
from ikou_dev.synth.columns import Ascii, Packed, Zoned
from ikou_dev.synth.generate import DEFAULT_RATES, encode_rows
from ikou_dev.synth.legacy_text import Encoder
from ikou_dev.synth.population import build
from ikou_dev.synth.selection import draw_duplicates, select

SNAP = dt.date(2026, 11, 1)
RATES = dict(
    DEFAULT_RATES,
    impossible_wareki=0.2,
    unmapped_gaiji=0.2,
    bad_check_digit=0.2,
    notation_variant=0.2,
    duplicate_addressee=0.1,
)


@pytest.fixture(scope="module")
def population():
    pop = build(400, 3, SNAP)
    dups = draw_duplicates(pop, np.random.default_rng(4), RATES["duplicate_addressee"])
    return pop, dups


def _built(population, domain_id, file_name):
    pop, dups = population
    d = registry().get(domain_id)
    lf = d.legacy_file(file_name)
    rng = np.random.default_rng(1)
    src = select(pop, lf.synth.population, lf.synth.rate, rng)
    b = FileBuilder(pop, rng, RATES).build(d, lf, src, dups)
    return lf, b, encode_rows(b, 0, b.rows)


def _columns(b):
    """Every column, overlays unwrapped."""
    out = []
    for c in b.columns:
        while hasattr(c, "base"):
            c = c.base
        out.append(c)
    return out


@pytest.mark.parametrize(
    "domain_file", [(d.id, lf.name) for d in registry() for lf in d.legacy_files]
)
def test_numbers_and_codes_are_encoded_as_encode_field_encodes_them(population, domain_file):
    lf, b, rows = _built(population, *domain_file)
    assert rows.shape == (b.rows, lf.lrecl) and b.rows > 0
    corrupt = {int(r) for rs, _, _ in b.corrupt for r in rs}
    cp = b.enc.cp
    checked = 0
    for c in _columns(b):
        f = c.field
        for r in range(0, b.rows, max(1, b.rows // 40)):
            if r in corrupt:
                continue
            got = bytes(rows[r, f.offset : f.offset + f.size])
            if isinstance(c, (Zoned, Packed)):
                v = int(c.values[r])
                value = Decimal(v).scaleb(-f.scale) if f.scale else v
            elif isinstance(c, Ascii):
                value = bytes(c.text[r, : c.lengths[r]]).decode("ascii")
            else:
                continue
            assert got == encode_field(f, value, cp), (f.column, r)
            checked += 1
    assert checked > 0
    # the header and trailer layouts are not touched; data records start with the record type
    assert {bytes(rows[r, :1]) for r in range(b.rows)} == {
        encode_field(b.layout.field(lf.record_type_field), "D", cp)
    }


@pytest.mark.parametrize(
    "domain_file,field,text",
    [
        (("juki", "ATENA"), "SHIMEI", "name"),
        (("juki", "ATENA"), "SHIMEI-KANA", "kana"),
        (("juki", "ATENA"), "JUSHO", "address"),
        (("koseki", "KOSEKI"), "SHIMEI", "name"),
        (("koseki", "KOSEKI"), "HITTOSHA-SHIMEI", "head_name"),
        (("koseki_fuhyo", "FUHYO"), "JUSHO", "address"),
        (("juki", "JUKI"), "HONSEKI", "honseki"),
    ],
)
def test_joined_text_is_what_the_encoder_writes_for_the_whole_string(
    population, domain_file, field, text
):
    """Names, kana, addresses and 本籍 are joined from encoded parts: the same bytes as encoding
    the whole string and cutting it to the field (Encoder.fit), padded as encode_record pads."""
    pop, _ = population
    lf, b, rows = _built(population, *domain_file)
    d = registry().get(domain_file[0])
    layout = (
        parse_copybook(lf.copybook_path.read_text(encoding="utf-8"), lf.copybook)
        .record(lf.record_types["D"])
        .with_kinds(lf.mixed_fields)
    )
    f = layout.field(field)
    spec = lf.fields[field]
    enc = Encoder(lf.encoding)
    rng = np.random.default_rng(1)
    src = select(pop, lf.synth.population, lf.synth.rate, rng)
    seeded = {
        int(r)
        for rs, defect, fname, _ in b.seeded
        if fname == field and defect in ("notation_variant", "unmapped_gaiji")
        for r in rs
    }
    compared = 0
    for r, i in enumerate(src.tolist()):
        if r in seeded:
            continue
        if text == "name":
            s = pop.name(i)
        elif text == "head_name":
            s = pop.name(int(pop.koseki_head[i]))
        elif text == "kana":
            s = C.to_halfwidth_kana(pop.kana(i))[: f.size]
        elif text == "address":
            s = pop.address(i).canonical()
        else:
            a = pop.address(i)
            s = (
                C.PREFECTURE
                + C.CITY
                + a.town.ward
                + a.town.name
                + C.fullwidth_digits(f"{a.chome}丁目{a.ban}番地")
                if pop.honseki_in_city[i] and a.town is not None
                else C._OTHER_CITIES[i % len(C._OTHER_CITIES)]
                + C.fullwidth_digits(f"{i % 50 + 1}番地")
            )
        if f.kind == "alphanumeric" and not spec.mixed:
            value = s
        else:
            raw = enc.mixed(s) if spec.mixed else enc.dbcs(s)
            value = enc.fit(raw, f.size, "mixed" if spec.mixed else f.kind)
        expected = encode_record(layout, {field: value}, enc.cp)[f.offset : f.offset + f.size]
        assert bytes(rows[r, f.offset : f.offset + f.size]) == expected, (field, r)
        compared += 1
    assert compared > 20
    assert d.id == domain_file[0]


def test_encoders_refuse_what_does_not_fit():
    d = registry().get("kotei_shisanzei")
    lf = d.legacy_file("KOTEI")
    layout = parse_copybook(lf.copybook_path.read_text(encoding="utf-8"), lf.copybook).record(
        "KOTEI-DATA"
    )
    with pytest.raises(ValueError, match="ZEIGAKU"):
        Packed(layout.field("ZEIGAKU"), np.array([10**12]))
    with pytest.raises(ValueError, match="KAZEI-NO"):
        Zoned(layout.field("KAZEI-NO"), np.array([-1]))
    with pytest.raises(ValueError, match="KAZEI-NO"):
        Zoned(layout.field("KAZEI-NO"), np.array([10**12]))
