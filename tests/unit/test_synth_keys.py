"""ikou_dev.synth.keys: business keys distinct by construction, with valid check digits; and the
city's files hold no accidental duplicate key at a size where the old generator made some."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ikou.domains import registry
from ikou.identifiers import (
    is_valid_corporate_number,
    is_valid_juminhyo_code,
    is_valid_my_number,
)
from ikou_dev.synth import keys
from ikou_dev.synth.builder import FileBuilder
from ikou_dev.synth.generate import DEFAULT_RATES
from ikou_dev.synth.population import build
from ikou_dev.synth.selection import draw_duplicates, select


def test_distinct_numbers_are_distinct_in_range_and_avoid_the_excluded():
    rng = np.random.default_rng(1)
    # a narrow range forces collisions in the raw draws: the result has none
    v = keys.distinct(rng, 100, 1100, 900)
    assert len(v) == 900 and len(set(v.tolist())) == 900
    assert v.min() >= 100 and v.max() < 1100
    excluded = np.arange(100, 600)
    w = keys.distinct(rng, 100, 1100, 400, exclude=excluded)
    assert len(set(w.tolist())) == 400 and not set(w.tolist()) & set(excluded.tolist())
    with pytest.raises(ValueError, match="cannot draw"):
        keys.distinct(rng, 0, 10, 11)


def test_distinct_is_deterministic_for_a_seed():
    a = keys.distinct(np.random.default_rng(7), 1, 10**10, 50_000)
    b = keys.distinct(np.random.default_rng(7), 1, 10**10, 50_000)
    c = keys.distinct(np.random.default_rng(8), 1, 10**10, 50_000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_check_digits_match_the_identifier_validators():
    rng = np.random.default_rng(3)
    for v in keys.my_numbers(rng, 2000).tolist():
        assert is_valid_my_number(f"{v:012d}"), v
    for v in keys.corporate_numbers(rng, 2000).tolist():
        assert is_valid_corporate_number(f"{v:013d}"), v
    for v in keys.juminhyo_codes(rng, 2000).tolist():
        assert is_valid_juminhyo_code(f"{v:011d}", rule="mod11-synthetic"), v
    for v in keys.pension_numbers(rng, 2000).tolist():
        assert 1000_000000 <= v <= 9999_999999
    # and a wrong digit is caught (the validators are not vacuous)
    v = int(keys.my_numbers(rng, 1)[0])
    assert not is_valid_my_number(f"{v - v % 10 + (v % 10 + 1) % 10:012d}")


def test_digits_of_numbers():
    d = keys.digits(np.array([0, 7, 1234567890, 9999999999]), 10)
    assert ["".join(map(str, r)) for r in d.tolist()] == [
        "0000000000",
        "0000000007",
        "1234567890",
        "9999999999",
    ]


def test_sequential_keys_increase_and_fit():
    v = keys.sequential(np.random.default_rng(1), 100_000, 8)
    assert np.all(np.diff(v) > 0) and v.max() < 10**8
    with pytest.raises(ValueError, match="do not fit"):
        keys.sequential(np.random.default_rng(1), 40_000_000, 8, "KOKI.HIHOKENSHA-NO")


def test_the_old_way_of_drawing_made_duplicates_the_new_one_does_not():
    """基礎年金番号 were 4 + 6 random digits: at 270,000 (the registry's city) some repeat."""
    n = 270_000
    rng = np.random.default_rng(5)
    old = rng.integers(1000, 9999, n) * 10**6 + rng.integers(0, 10**6, n)
    assert len(np.unique(old)) < n  # the old generator's birthday problem
    new = keys.pension_numbers(np.random.default_rng(5), n)
    assert len(np.unique(new)) == n


@pytest.fixture(scope="module")
def big_city():
    """A city of 300,000 residents: the old generator's random 住民票コード (10 random digits)
    repeat at this size (n²/2/9·10⁹ ≈ 5 expected)."""
    pop = build(300_000, 11, dt.date(2026, 11, 1))
    dups = draw_duplicates(pop, np.random.default_rng(12), DEFAULT_RATES["duplicate_addressee"])
    return pop, dups


@pytest.mark.slow
def test_no_accidental_duplicate_identifier_in_the_population(big_city):
    pop, dups = big_city
    atena = np.concatenate([pop.atena, dups.atena])
    assert len(np.unique(atena)) == len(atena)
    assert len(np.unique(pop.ident)) == len(pop.ident)
    jumin = pop.juminhyo[pop.juminhyo > 0]
    assert len(jumin) == pop.n_residents and len(np.unique(jumin)) == len(jumin)


@pytest.mark.slow
def test_no_accidental_duplicate_business_key_in_any_file(big_city):
    pop, dups = big_city
    checked = 0
    for d in registry():
        rng = np.random.default_rng(1)
        builder = FileBuilder(pop, rng, DEFAULT_RATES)
        for lf in d.legacy_files:
            src = select(pop, lf.synth.population, lf.synth.rate, rng)
            b = builder.build(d, lf, src, dups)
            values = np.stack([b.ints[k] for k in lf.business_keys], axis=1)
            assert len(np.unique(values, axis=0)) == b.rows, (d.id, lf.name)
            assert not [s for s in b.seeded if s[1] == "duplicate_key"]
            checked += b.rows
    assert checked > 1_000_000


@pytest.mark.slow
def test_a_duplicate_key_is_only_a_seeded_defect(big_city):
    pop, dups = big_city
    d = registry().get("kokumin_nenkin")
    lf = d.legacy_file("NENKIN")
    rng = np.random.default_rng(1)
    src = select(pop, lf.synth.population, lf.synth.rate, rng)
    b = FileBuilder(pop, rng, dict(DEFAULT_RATES, duplicate_key=0.01)).build(d, lf, src, dups)
    (key,) = lf.business_keys
    v = b.ints[key]
    seeded = [s for s in b.seeded if s[1] == "duplicate_key"]
    assert len(seeded) == 1
    rows, _, field, details = seeded[0]
    assert field == key and len(rows) > 10
    # every repeated value is a seeded row's, and each seeded row repeats the record before it
    values, counts = np.unique(v, return_counts=True)
    repeated = set(values[counts > 1].tolist())
    assert repeated == set(v[rows].tolist())
    assert np.array_equal(v[rows], v[rows - 1])
    assert details[0] == f"same key as record {rows[0]}"
