"""What happens to the synthetic city's people between two snapshots (``ikou synth --changes-from``).

:func:`apply_changes` takes the people of a snapshot and returns the people of a later one: moves
within the city (転居) and out of it (転出, the person stays in the 宛名 master as a 住登外者),
arrivals (転入, whole households), births, deaths, marriages (婚姻: a new household, the bride
takes the groom's surname and joins his family register), a re-numbered 町丁目 (住居表示変更: new
番 for everyone in it), corrections at the counter (訂正: seeded defects of the base fixed),
names corrected to their 外字 form (new 外字) and new 名寄せ duplicates.

Columnar and linear in the city's size (numpy; households found with one sort). A person keeps
their index (the dead are flagged, never removed; newcomers are appended), so every legacy file
built from the changed people with the same generator differs from the base only where the
people changed (:mod:`ikou_dev.synth.draws`). Deterministic for (seed, snapshot, rate, months).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np

from ikou_dev.synth import city as C
from ikou_dev.synth import keys
from ikou_dev.synth.population import (
    KIND_OUTSIDE,
    KIND_RESIDENT,
    Population,
    address_in_city,
    ages,
    build,
    day_number,
    given_names,
)

#: Change kinds (the answer key's ``kind``); 0 = unchanged. ``derived``: a record that changes
#: without a change of its own person (an age limit crossed on the new date, the fiscal year, a
#: household member's or a linked person's change).
KINDS = (
    "derived",
    "move_in_city",
    "move_out",
    "arrival",
    "birth",
    "death",
    "marriage",
    "renumbering",
    "correction",
    "gaiji",
    "duplicate",
)
KIND = {k: i for i, k in enumerate(KINDS)}
#: Share of the month's changed residents per kind (a designated city's monthly 異動 mix, roughly).
SHARES = {
    "move_in_city": 0.30,
    "move_out": 0.12,
    "arrival": 0.12,
    "birth": 0.08,
    "death": 0.08,
    "marriage": 0.08,
    "renumbering": 0.08,
    "correction": 0.06,
    "gaiji": 0.02,
    "duplicate": 0.06,
}
#: Seeded defects a correction at the counter fixes (per field; a corrected person has none).
CORRECTABLE = ("impossible_wareki", "bad_check_digit", "unmapped_gaiji", "notation_variant")
RENUMBER_BAN = 50  # 住居表示変更: 番 n < 50 becomes n + 50, n >= 50 becomes n - 49 (base: 1-39)


@dataclass
class Changed:
    """The people of the later snapshot and why each one changed (``why``: index into KINDS)."""

    pop: Population
    dups: object  # generate.Duplicates of the later snapshot
    why: np.ndarray  # int8 per person (0: no change of their own)
    new_dup: np.ndarray  # bool per row of ``dups``: drawn in this step
    counts: dict[str, int]


def quotas(residents: int, rate: float, months: int) -> dict[str, int]:
    """Changed residents per kind: residents × rate × months split by :data:`SHARES`."""
    total = residents * rate * months
    return {k: int(round(total * s)) for k, s in SHARES.items()}


class _Step:
    """The mutable people of one step and the bookkeeping of who changed."""

    def __init__(self, pop: Population, snapshot: dt.date, rng: np.random.Generator):
        arrays = {
            f.name: getattr(pop, f.name).copy()
            for f in dataclasses.fields(pop)
            if isinstance(getattr(pop, f.name), np.ndarray)
        }
        n = len(pop)
        arrays["corrected"] = (
            pop.corrected.copy() if pop.corrected is not None else np.zeros(n, bool)
        )
        arrays["updated"] = pop.updated.copy() if pop.updated is not None else pop.registered.copy()
        self.p = dataclasses.replace(pop, snapshot=snapshot, origin=pop.origin, **arrays)
        self.rng = rng
        self.first_day = day_number(pop.snapshot) + 1
        self.last_day = day_number(snapshot)
        self.why = np.zeros(n, np.int8)
        self.taken = np.zeros(n, bool)
        self.age = ages(pop.birth, snapshot)

    def days(self, k: int) -> np.ndarray:
        return self.rng.integers(self.first_day, self.last_day + 1, k).astype(np.int32)

    def mark(self, idx: np.ndarray, kind: str, taken: bool = True, touch: bool = True) -> None:
        """Why these people changed (the first reason stays); ``touch``: their record changed on
        a day of the period (its 更新日)."""
        idx = np.asarray(idx, dtype=np.int64)
        fresh = idx[self.why[idx] == 0]
        self.why[fresh] = KIND[kind]
        days = self.days(len(idx))
        if touch:
            self.p.updated[idx] = days
        if taken:
            self.taken[idx] = True

    def residents(self) -> np.ndarray:
        p = self.p
        return (p.kind[: len(self.why)] == KIND_RESIDENT) & ~p.gone[: len(self.why)]

    def households(self, eligible: np.ndarray, quota: int) -> np.ndarray:
        """Whole households (every living member eligible) until ``quota`` people; members."""
        if quota <= 0:
            return np.zeros(0, np.int64)
        p = self.p
        res = self.residents()
        idx = np.flatnonzero(res & (p.household[: len(res)] > 0))
        order = np.argsort(p.household[idx], kind="stable")
        idx = idx[order]
        _, start, size = np.unique(p.household[idx], return_index=True, return_counts=True)
        if not len(start):
            return np.zeros(0, np.int64)
        bad = np.add.reduceat((~eligible[idx] | self.taken[idx]).astype(np.int64), start) > 0
        cand = np.flatnonzero(~bad)
        self.rng.shuffle(cand)
        cum = np.cumsum(size[cand])
        k = int(np.searchsorted(cum, quota)) + 1
        chosen = np.zeros(len(start), bool)
        chosen[cand[:k]] = True
        return idx[np.repeat(chosen, size)]

    def people(self, eligible: np.ndarray, quota: int, weight: np.ndarray | None = None):
        """``quota`` eligible people not yet changed (weighted: Efraimidis-Spirakis keys)."""
        cand = np.flatnonzero(eligible & ~self.taken)
        k = min(max(quota, 0), len(cand))
        if k == 0:
            return np.zeros(0, np.int64)
        u = self.rng.random(len(cand))
        score = u if weight is None else np.log(np.maximum(u, 1e-300)) / weight[cand]
        return np.sort(cand[np.argpartition(-score, k - 1)[:k]])


def _renumber(s: _Step, quota: int) -> None:
    """住居表示変更: the 町丁目 whose population is nearest the quota gets new 番."""
    p = s.p
    here = ~p.gone & (p.town >= 0) & (p.kind != KIND_OUTSIDE)
    if quota <= 0 or not here.any():
        return
    block = p.town.astype(np.int64) * 100 + p.chome
    ids, counts = np.unique(block[here], return_counts=True)
    pick = ids[int(np.argmin(np.abs(counts - quota)))]
    who = np.flatnonzero(here & (block == pick))
    ban = p.ban[who]
    p.ban[who] = np.where(ban < RENUMBER_BAN, ban + RENUMBER_BAN, ban - RENUMBER_BAN + 1)
    s.mark(who, "renumbering")


def _deaths(s: _Step, quota: int) -> None:
    p = s.p
    res = s.residents()
    size = np.bincount(p.household[res], minlength=int(p.household.max()) + 1)
    alone = size[p.household] <= 1
    eligible = res & ((p.relationship != 1) | alone)
    weight = np.exp((np.clip(s.age, 0, 110) - 80) / 8.0)
    who = s.people(eligible, quota, weight)
    p.gone[who] = True
    s.mark(who, "death")
    child = who[s.age[who] < 15]
    heads = p.head[child]
    np.subtract.at(p.children_under15, heads, 1)
    p.children_under15[heads] = np.maximum(p.children_under15[heads], 0)
    s.mark(heads, "death", taken=False)


def _move_out(s: _Step, quota: int) -> None:
    p = s.p
    who = s.households(s.residents(), quota)
    k = len(who)
    p.kind[who] = KIND_OUTSIDE
    p.town[who] = -1
    p.outside[who] = s.rng.integers(0, len(C._OTHER_CITIES), k)
    p.chome[who] = s.rng.integers(1, 6, k)
    p.ban[who] = s.rng.integers(1, 40, k)
    p.go[who] = s.rng.integers(1, 30, k)
    p.building[who] = -1
    p.juminhyo[who] = 0  # (their 続柄 and family register stay as they were)
    s.mark(who, "move_out")


def _move_in_city(s: _Step, quota: int) -> None:
    p = s.p
    who = s.households(s.residents(), quota)
    if not len(who):
        return
    _, first, inverse = np.unique(p.household[who], return_index=True, return_inverse=True)
    town, chome, ban, go, bld = address_in_city(s.rng, len(first), p.towns, len(p.vocab.buildings))
    p.town[who], p.chome[who], p.ban[who] = town[inverse], chome[inverse], ban[inverse]
    p.go[who], p.building[who] = go[inverse], bld[inverse]
    s.mark(who, "move_in_city")


def _marriages(s: _Step, quota: int) -> None:
    p = s.p
    res = s.residents()
    single = res & (p.relationship == 4) & (s.age >= 22) & (s.age <= 45)
    grooms = s.people(single & (p.sex == 1), quota // 2)
    brides = s.people(single & (p.sex == 2), quota // 2)
    k = min(len(grooms), len(brides))
    grooms, brides = grooms[:k], s.rng.permutation(brides)[:k]
    ok = p.household[grooms] != p.household[brides]
    grooms, brides = grooms[ok], brides[ok]
    k = len(grooms)
    if not k:
        return
    new_hh = int(p.household.max()) + 1 + np.arange(k)
    town, chome, ban, go, bld = address_in_city(s.rng, k, p.towns, len(p.vocab.buildings))
    for who in (grooms, brides):
        p.household[who] = new_hh
        p.town[who], p.chome[who], p.ban[who], p.go[who], p.building[who] = (
            town,
            chome,
            ban,
            go,
            bld,
        )
        p.head[who] = grooms
    p.relationship[grooms] = 1
    p.relationship[brides] = 2
    p.children_under15[grooms] = 0
    p.surname[brides] = p.surname[grooms]  # the name change
    p.gaiji[brides] = p.gaiji[grooms]
    p.foreign[brides] = p.foreign[grooms]
    # the couple's family register: a new 戸籍 in the city when the groom's 本籍 is here
    city = p.koseki_id[grooms] > 0
    g, b = grooms[city], brides[city]
    new_koseki = int(p.koseki_id.max()) + 1 + np.arange(len(g))
    p.koseki_id[g] = new_koseki
    p.koseki_id[b] = new_koseki
    p.koseki_head[g] = g
    p.koseki_head[b] = g
    p.honseki_in_city[b] = True
    p.honseki_at[b] = p.honseki_at[g]
    no_id = b[p.kojin_id[b] == 0]
    p.kojin_id[no_id] = int(p.kojin_id.max()) + 1 + np.arange(len(no_id))
    gone = brides[~city]  # the groom's 本籍 is elsewhere: the bride leaves the city's registers
    p.koseki_id[gone] = 0
    p.kojin_id[gone] = 0
    p.koseki_head[gone] = -1
    p.honseki_in_city[gone] = p.honseki_in_city[grooms[~city]]
    s.mark(np.concatenate([grooms, brides]), "marriage")


def _corrections(s: _Step, quota: int, defect_atena: np.ndarray) -> None:
    p = s.p
    had = np.isin(p.atena, np.asarray(defect_atena, dtype=np.int64)) & ~p.gone
    who = s.people(had, quota)
    p.corrected[who] = True
    s.mark(who, "correction")


def _gaiji(s: _Step, quota: int) -> None:
    """Names corrected to their registered 外字 form (吉田 → 𠮷田 …): whole households."""
    p = s.p
    plain = {k: i for i, (k, _) in enumerate(p.vocab.surnames)}
    table = np.full(len(p.vocab.surnames), -1, np.int64)
    for gaiji_name, _ in C.GAIJI_SURNAMES:
        base = "".join(ch for ch in gaiji_name if not 0xE0100 <= ord(ch) <= 0xE01EF)
        base = base.replace("𠮷", "吉")
        if base in plain:
            table[plain[base]] = plain[gaiji_name]
    eligible = np.zeros(len(p.kind), bool)
    res = s.residents()
    eligible[: len(res)] = res & (table[np.maximum(p.surname[: len(res)], 0)] >= 0)
    eligible &= p.surname >= 0
    who = s.households(eligible, quota)
    if not len(who):
        return
    p.surname[who] = table[p.surname[who]]
    p.gaiji[who] = True
    s.mark(who, "gaiji")


def _append(p: Population, add: dict[str, np.ndarray]) -> Population:
    arrays = {}
    for f in dataclasses.fields(p):
        cur = getattr(p, f.name)
        if isinstance(cur, np.ndarray):
            arrays[f.name] = np.concatenate([cur, add[f.name].astype(cur.dtype)])
    return dataclasses.replace(p, **arrays)


def _births(s: _Step, quota: int) -> dict[str, np.ndarray]:
    p = s.p
    res = s.residents()
    mothers = s.people(
        res & (p.sex == 2) & np.isin(p.relationship, (1, 2)) & (s.age >= 20) & (s.age <= 44),
        quota,
    )
    k = len(mothers)
    sex = np.where(s.rng.random(k) < 0.51, 1, 2).astype(np.uint8)
    born = s.days(k)
    heads = p.head[mothers]
    np.add.at(p.children_under15, heads, 1)
    s.mark(heads, "birth", taken=False)
    s.mark(mothers, "birth", taken=False)
    koseki = p.koseki_id[mothers]
    return {
        "kind": np.full(k, KIND_RESIDENT),
        "surname": p.surname[heads],
        "given": given_names(s.rng, sex, p.vocab),
        "corp": np.full(k, -1),
        "sex": sex,
        "birth": born,
        "town": p.town[mothers],
        "outside": np.full(k, -1),
        "chome": p.chome[mothers],
        "ban": p.ban[mothers],
        "go": p.go[mothers],
        "building": p.building[mothers],
        "household": p.household[mothers],
        "relationship": np.full(k, 4),
        "head": heads,
        "foreign": p.foreign[mothers],
        "honseki_in_city": p.honseki_in_city[mothers],
        "honseki_at": p.honseki_at[mothers],
        "koseki_id": koseki,
        "koseki_head": np.where(koseki > 0, p.koseki_head[mothers], -1),
        "phone": np.zeros(k),
        "registered": born,
        "gaiji": p.gaiji[heads],
        "children_under15": np.zeros(k),
        "has_koseki": koseki > 0,
    }


def _arrivals(s: _Step, quota: int, seed: int, n: int) -> dict[str, np.ndarray]:
    """Whole households from elsewhere: a small city of ``quota`` residents, built and moved in
    (``n``: the index of the first of them)."""
    p = s.p
    if quota <= 0:
        return {}
    mini = build(quota, seed, p.snapshot)
    r = np.flatnonzero(mini.kind == KIND_RESIDENT)
    hh0 = int(p.household.max())
    k0 = int(p.koseki_id.max())
    has = mini.koseki_id[r] > 0
    return {
        "kind": mini.kind[r],
        "surname": mini.surname[r],
        "given": mini.given[r],
        "corp": mini.corp[r],
        "sex": mini.sex[r],
        "birth": mini.birth[r],
        "town": mini.town[r],
        "outside": mini.outside[r],
        "chome": mini.chome[r],
        "ban": mini.ban[r],
        "go": mini.go[r],
        "building": mini.building[r],
        "household": mini.household[r] + hh0,
        "relationship": mini.relationship[r],
        "head": mini.head[r] + n,
        "foreign": mini.foreign[r],
        "honseki_in_city": mini.honseki_in_city[r],
        "honseki_at": mini.honseki_at[r],
        "koseki_id": np.where(has, mini.koseki_id[r] + k0, 0),
        "koseki_head": np.where(has, mini.koseki_head[r] + n, -1),
        "phone": mini.phone[r],
        "registered": s.days(len(r)),
        "gaiji": mini.gaiji[r],
        "children_under15": mini.children_under15[r],
        "has_koseki": has,
    }


def _newcomers(s: _Step, parts: list[dict], dup_atena: np.ndarray) -> tuple[Population, int]:
    """Append babies and arrivals with new, distinct numbers (宛名番号, 個人番号, 住民票コード)."""
    p = s.p
    parts = [x for x in parts if x and len(x["kind"])]
    if not parts:
        return p, 0
    add = {k: np.concatenate([x[k] for x in parts]) for k in parts[0]}
    k = len(add["kind"])
    rng = s.rng
    person = p.corp < 0
    add["atena"] = keys.atena_numbers(rng, k, exclude=np.concatenate([p.atena, dup_atena]))
    bodies = keys.distinct(rng, 10**10, 10**11, k, exclude=p.ident[person] // 10)
    add["ident"] = bodies * 10 + keys.my_number_check(bodies)
    jb = keys.distinct(rng, 10**9, 10**10, k, exclude=p.juminhyo[p.juminhyo > 0] // 10)
    add["juminhyo"] = jb * 10 + keys.juminhyo_check(jb)
    has = add.pop("has_koseki")
    add["kojin_id"] = np.where(has, int(p.kojin_id.max()) + 1 + np.cumsum(has) - 1, 0)
    add["duplicate"] = np.zeros(k)
    add["gone"] = np.zeros(k, bool)
    add["corrected"] = np.zeros(k, bool)
    add["updated"] = add["registered"]
    return _append(p, add), k


def apply_changes(
    pop: Population,
    dups,
    seed: int,
    snapshot: dt.date,
    rate: float,
    months: int,
    defect_atena: np.ndarray,
) -> Changed:
    """The people of ``snapshot`` after ``months`` × ``rate`` of changes to ``pop``.

    ``dups``: the base's 名寄せ duplicates (:class:`ikou_dev.synth.selection.Duplicates`);
    ``defect_atena``: 宛名番号 of people with seeded field defects in the base (corrections pick
    among them)."""
    from ikou_dev.synth.selection import Duplicates

    if snapshot <= pop.snapshot:
        raise ValueError("the new snapshot must be later than the base")
    rng = np.random.default_rng([seed, int(snapshot.strftime("%Y%m%d")), 0x1D0])
    s = _Step(pop, snapshot, rng)
    q = quotas(pop.n_residents, rate, months)
    _renumber(s, q["renumbering"])
    _deaths(s, q["death"])
    _move_out(s, q["move_out"])
    _move_in_city(s, q["move_in_city"])
    _marriages(s, q["marriage"])
    _corrections(s, q["correction"], defect_atena)
    _gaiji(s, q["gaiji"])
    # new 名寄せ duplicates of people not changed otherwise
    res = s.residents()
    has_dup = np.zeros(len(res), bool)
    has_dup[dups.person] = True
    dup_people = s.people(res & ~has_dup, q["duplicate"])
    s.mark(dup_people, "duplicate", touch=False)
    babies = _births(s, q["birth"])
    n_before = len(s.p.kind)
    n_babies = len(babies["kind"])
    arrivals = _arrivals(s, q["arrival"], int(rng.integers(0, 2**31)), n_before + n_babies)
    p, added = _newcomers(s, [babies, arrivals], dups.atena)
    why = np.concatenate(
        [
            s.why,
            np.full(n_babies, KIND["birth"], np.int8),
            np.full(added - n_babies, KIND["arrival"], np.int8),
        ]
    )
    # duplicates: the base's (not of the dead) and the new ones
    keep = ~p.gone[dups.person]
    k = len(dup_people)
    new_atena = keys.atena_numbers(rng, k, exclude=np.concatenate([p.atena, dups.atena]))
    alive_res = np.flatnonzero((p.kind == KIND_RESIDENT) & ~p.gone)
    new = Duplicates(
        person=np.concatenate([dups.person[keep], dup_people]),
        atena=np.concatenate([dups.atena[keep], new_atena]),
        how=np.concatenate([dups.how[keep], rng.integers(0, 4, k)]),
        other=np.concatenate([dups.other[keep], alive_res[rng.integers(0, len(alive_res), k)]]),
    )
    new_dup = np.concatenate([np.zeros(int(keep.sum()), bool), np.ones(k, bool)])
    counts = {name: int((why == i).sum()) for i, name in enumerate(KINDS) if i}
    return Changed(p, new, why, new_dup, counts)
