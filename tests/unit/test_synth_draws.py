"""Keyed draws, person-stable keys and the change model of the synthetic city (pure functions)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ikou_dev.synth import keys
from ikou_dev.synth.changes import KIND, SHARES, apply_changes, quotas
from ikou_dev.synth.draws import Draws
from ikou_dev.synth.generate import DEFAULT_RATES
from ikou_dev.synth.population import KIND_OUTSIDE, KIND_RESIDENT, build
from ikou_dev.synth.selection import base_duplicates


def test_a_row_draws_the_same_whoever_else_is_drawn():
    d = Draws(7).stream("juki", "ATENA")
    a = d.rows(np.array([5, 9, 2])).random(3)
    b = d.rows(np.array([2, 5])).random(2)
    assert a[0] == b[1] and a[2] == b[0]
    again = d.rows(np.array([5, 9, 2]))
    assert np.array_equal(again.random(3), a)
    assert not np.array_equal(again.random(3), a)  # the next call: another sub-stream
    assert not np.array_equal(Draws(8).stream("juki", "ATENA").rows([5, 9, 2]).random(3), a)


def test_keyed_draws_are_uniform_and_in_range():
    r = Draws(1).rows(np.arange(200_000))
    u = r.random(200_000)
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.005
    v = r.integers(3, 10, 200_000)
    assert v.min() == 3 and v.max() == 9
    counts = np.bincount(v - 3)
    assert counts.min() > 0.95 * 200_000 / 7
    flags = r.random((200_000, 4))
    assert flags.shape == (200_000, 4) and abs(flags.mean() - 0.5) < 0.005
    with pytest.raises(ValueError):
        r.random(5)  # one value per row


def test_stable_sequential_keys_follow_the_uid():
    total = 10_000
    every = keys.stable_sequential(42, np.arange(total), total, 8)
    assert (np.diff(every) >= 1).all() and (np.diff(every) <= 3).all()
    some = np.array([3, 17, 9000])
    assert np.array_equal(keys.stable_sequential(42, some, total + 500, 8), every[some])
    with pytest.raises(ValueError, match="do not fit"):
        keys.stable_sequential(42, some, 40_000_000, 8, "KOKI.HIHOKENSHA-NO")


def test_stable_pension_numbers_are_distinct_ten_digit_numbers():
    v = keys.stable_pension_numbers(5, np.arange(300_000))
    assert len(np.unique(v)) == len(v)
    assert v.min() >= 10**9 and v.max() < 10**10
    assert np.array_equal(keys.stable_pension_numbers(5, np.array([7, 299_999])), v[[7, 299_999]])


def test_quotas_split_residents_times_rate_times_months():
    q = quotas(100_000, 0.015, 2)
    assert sum(q.values()) == pytest.approx(3000, abs=len(SHARES))
    assert q["move_in_city"] > q["death"] > 0


def test_apply_changes_keeps_every_person_at_their_index():
    snap = dt.date(2026, 11, 1)
    pop = build(3000, 9, snap)
    dups = base_duplicates(pop, 9, DEFAULT_RATES)
    ch = apply_changes(pop, dups, 9, dt.date(2027, 1, 1), 0.02, 2, pop.atena[:100])
    p, n = ch.pop, len(pop)
    assert len(p) > n and np.array_equal(p.atena[:n], pop.atena)  # appended, never removed
    assert len(np.unique(np.concatenate([p.atena, ch.dups.atena]))) == len(p) + len(ch.dups.atena)
    res = p.juminhyo[p.juminhyo > 0]
    assert len(np.unique(res)) == len(res)
    dead = p.gone
    assert dead.sum() and (ch.why[dead] == KIND["death"]).all()
    assert not np.isin(ch.dups.person, np.flatnonzero(dead)).any()
    out = (pop.kind == KIND_RESIDENT) & (p.kind[:n] == KIND_OUTSIDE)
    assert out.sum() and (p.juminhyo[:n][out] == 0).all() and (p.town[:n][out] == -1).all()
    born = ch.why[n:] == KIND["birth"]
    assert born.sum() and (p.birth[n:][born] > (snap - dt.date(1970, 1, 1)).days).all()
    assert p.n_residents == pytest.approx(pop.n_residents, rel=0.05)
    assert ch.new_dup.sum() == quotas(pop.n_residents, 0.02, 2)["duplicate"]
    again = apply_changes(pop, dups, 9, dt.date(2027, 1, 1), 0.02, 2, pop.atena[:100])
    assert np.array_equal(again.why, ch.why) and np.array_equal(again.pop.atena, p.atena)
    with pytest.raises(ValueError):
        apply_changes(pop, dups, 9, snap, 0.02, 1, pop.atena[:0])
