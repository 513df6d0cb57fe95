"""The synthetic city's fast record writer writes exactly what ikou.mainframe.encode writes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from ikou.domains import registry
from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.encode import encode_record
from ikou_dev.synth.generate import DEFAULT_RATES, Encoder, FileWriter
from ikou_dev.synth.population import build
from ikou_dev.synth.writer import RecordWriter

SNAP = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def population():
    return build(200, 3, SNAP)


@pytest.mark.parametrize(
    "domain_file", [(d.id, lf.name) for d in registry() for lf in d.legacy_files]
)
def test_writer_matches_encode_record(population, domain_file):
    domain_id, file_name = domain_file
    d = registry().get(domain_id)
    lf = d.legacy_file(file_name)
    rates = dict(DEFAULT_RATES, impossible_wareki=0.2, unmapped_gaiji=0.2, bad_check_digit=0.2)
    fw = FileWriter(registry(), population, SNAP, np.random.default_rng(1), rates)
    enc = Encoder(lf.encoding)
    layout = (
        parse_copybook(lf.copybook_path.read_text(encoding="utf-8"), lf.copybook)
        .record(lf.record_types["D"])
        .with_kinds(lf.mixed_fields)
    )
    writer = RecordWriter(layout, enc.cp)
    people = [p for p in population.people if p.kind == "1"][:40] + [
        p for p in population.people if p.kind != "1"
    ][:5]
    for p in people:
        values, _ = fw._values(d, lf, layout, p, enc, {})
        assert bytes(writer.write(values)) == encode_record(layout, values, enc.cp)


def test_writer_refuses_what_does_not_fit(population):
    d = registry().get("kotei_shisanzei")
    lf = d.legacy_file("KOTEI")
    enc = Encoder(lf.encoding)
    layout = parse_copybook(lf.copybook_path.read_text(encoding="utf-8"), lf.copybook).record(
        "KOTEI-DATA"
    )
    writer = RecordWriter(layout, enc.cp)
    with pytest.raises(ValueError, match="ZEIGAKU"):
        writer.write({"ZEIGAKU": 10**12})
    with pytest.raises(ValueError, match="MENSEKI"):
        writer.write({"MENSEKI": Decimal("1.234")})  # more decimals than the PICTURE has
    with pytest.raises(ValueError, match="KAZEI-NO"):
        writer.write({"KAZEI-NO": -1})
