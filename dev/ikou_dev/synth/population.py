"""People of the synthetic city: households of residents, non-residents (住登外者), corporations.

Columnar: every attribute is a numpy array indexed by the person's number (residents first, then
non-residents, then corporations), drawn for all people at once — linear in the city's size.
Deterministic for a seed. Proportions follow a Japanese designated city: about 21 % aged 65+
(the households' model; a real designated city has 22-29 %), about 12 % under 15, about 2 %
foreign residents; the addressee master (宛名) also holds
non-residents (about 8 % of the residents: owners of property, former residents with taxes due)
and corporations (about 3 %). Identifiers are distinct by construction (:mod:`ikou_dev.synth.keys`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from ikou_dev.synth import city as C
from ikou_dev.synth import keys

KIND_RESIDENT, KIND_OUTSIDE, KIND_CORPORATION = 1, 2, 3
EPOCH = dt.date(1970, 1, 1)


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01 (the unit of the date columns)."""
    return (d - EPOCH).days


def ymd_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day of day numbers (vectorised integer arithmetic: H. Hinnant's
    ``civil_from_days``; numpy's datetime64 conversions are ten times slower)."""
    z = np.asarray(days, dtype=np.int64) + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def ages(birth: np.ndarray, on: dt.date) -> np.ndarray:
    """Age in whole years on ``on`` (-1 where there is no birth date: corporations)."""
    y, m, d = ymd_parts(np.where(birth == _NO_DATE, 0, birth))
    before = (on.month * 100 + on.day) < (m * 100 + d)
    return np.where(birth == _NO_DATE, -1, on.year - y - before)


_NO_DATE = np.iinfo(np.int32).min


@dataclass
class Vocab:
    """Strings of the city the people columns point into."""

    surnames: list[tuple[str, str]]  # (kanji, full-width kana)
    given: list[tuple[str, str]]  # female names first, then male names
    n_female: int
    corporations: list[tuple[str, str]]  # (name, kana)
    gaiji_surnames: frozenset[int]  # surname codes whose kanji need the city's 外字 table
    buildings: list[str]  # full building text (name + room)


@dataclass
class Population:
    snapshot: dt.date
    towns: list[C.Town]
    vocab: Vocab
    kind: np.ndarray  # uint8: 1 resident, 2 非居住 (住登外者), 3 corporation
    atena: np.ndarray  # int64 宛名番号
    surname: np.ndarray  # int32 code into vocab.surnames (-1: corporation)
    given: np.ndarray  # int32 code into vocab.given (-1: corporation)
    corp: np.ndarray  # int32 code into vocab.corporations (-1: a person)
    sex: np.ndarray  # uint8 1 / 2 (0: corporation, written " ")
    birth: np.ndarray  # int32 day number (_NO_DATE: corporation)
    town: np.ndarray  # int16 index into towns (-1: outside the city)
    outside: np.ndarray  # int8 index into city._OTHER_CITIES (-1: in the city)
    chome: np.ndarray  # int16
    ban: np.ndarray  # int16
    go: np.ndarray  # int16
    building: np.ndarray  # int16 index into vocab.buildings (-1: none)
    ident: np.ndarray  # int64 個人番号 (12 digits) or 法人番号 (13 digits, corporations)
    juminhyo: np.ndarray  # int64 住民票コード (0: not a resident)
    household: np.ndarray  # int32 (0: no household in the city)
    relationship: np.ndarray  # uint8 1..5 → "01".."05"
    head: np.ndarray  # int32 idx of the household head (own idx for heads and non-residents)
    foreign: np.ndarray  # bool
    honseki_in_city: np.ndarray  # bool
    koseki_id: np.ndarray  # int32 (0: no family register in the city)
    kojin_id: np.ndarray  # int32 個人 id in the family register (0: none)
    koseki_head: np.ndarray  # int32 idx of the 筆頭者 (-1: none)
    phone: np.ndarray  # int64 digits a*10^7 + b*10^4 + c ("0{a}-{b}-{c}"), 0: no phone
    registered: np.ndarray  # int32 day number
    gaiji: np.ndarray  # bool: the name holds a character of the city's 外字 table
    children_under15: np.ndarray  # int16 children under 15 in the household (heads only)
    duplicate: np.ndarray = field(default=None)  # int64 宛名番号 of a duplicate record (0: none)
    #: the snapshot of the city's first build: draws that look back in time start from it, so a
    #: later snapshot of the same city (``ikou_dev.synth.changes``) keeps them
    origin: dt.date | None = None
    #: bool: the person died (kept in the arrays: a person's index is its uid in every snapshot)
    gone: np.ndarray = field(default=None)
    #: bool: the person's records were corrected at the counter (no seeded field defects); None:
    #: no corrections (the base city)
    corrected: np.ndarray | None = None
    #: int32 day number of each person's last change (None: their registration day)
    updated: np.ndarray | None = None
    #: int32 本籍 in the city as town * 10000 + 丁目 * 100 + 番地 (-1: none): where the person
    #: lived when the city was first built (a move does not move the 本籍)
    honseki_at: np.ndarray = field(default=None)

    def __post_init__(self):
        if self.duplicate is None:
            self.duplicate = np.zeros(len(self.kind), dtype=np.int64)
        if self.origin is None:
            self.origin = self.snapshot
        if self.gone is None:
            self.gone = np.zeros(len(self.kind), dtype=bool)
        if self.honseki_at is None:
            self.honseki_at = np.where(
                self.town >= 0,
                self.town.astype(np.int32) * 10000 + self.chome * 100 + self.ban,
                -1,
            ).astype(np.int32)

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def n_residents(self) -> int:
        return int(np.count_nonzero((self.kind == KIND_RESIDENT) & ~self.gone))

    def ages(self) -> np.ndarray:
        """Age of everyone on the snapshot date (computed once)."""
        cached = getattr(self, "_ages", None)
        if cached is None or len(cached) != len(self.kind):
            cached = self._ages = ages(self.birth, self.snapshot)
        return cached

    # -- people as objects (slow, for small cities and tests) ------------------------------------
    @property
    def people(self) -> list[C.Person]:
        """Everyone as :class:`ikou_dev.synth.city.Person` (a Python object each: small cities only)."""
        n = len(self)
        kids: dict[int, list[int]] = {}
        for i in np.flatnonzero(self.relationship == 4).tolist():
            kids.setdefault(int(self.head[i]), []).append(i)
        out = []
        for i in range(n):
            k = int(self.kind[i])
            width = 13 if k == KIND_CORPORATION else 12
            b = int(self.birth[i])
            ph = int(self.phone[i])
            out.append(
                C.Person(
                    idx=i,
                    kind=str(k),
                    atena_no=f"{int(self.atena[i]):010d}",
                    name=self.name(i),
                    kana=self.kana(i),
                    sex={1: "1", 2: "2"}.get(int(self.sex[i]), " "),
                    birth=None if b == _NO_DATE else EPOCH + dt.timedelta(days=b),
                    address=self.address(i),
                    my_number=f"{int(self.ident[i]):0{width}d}",
                    juminhyo_code=f"{int(self.juminhyo[i]):011d}" if self.juminhyo[i] else "",
                    household=int(self.household[i]),
                    relationship=f"{int(self.relationship[i]):02d}",
                    head=int(self.head[i]),
                    foreign=bool(self.foreign[i]),
                    honseki_in_city=bool(self.honseki_in_city[i]),
                    koseki_id=int(self.koseki_id[i]),
                    koseki_kojin_id=int(self.kojin_id[i]),
                    koseki_head=int(self.koseki_head[i]),
                    phone=f"0{ph // 10**7}-{ph // 10**4 % 1000}-{ph % 10**4}" if ph else "",
                    registered=EPOCH + dt.timedelta(days=int(self.registered[i])),
                    duplicates=[f"{int(self.duplicate[i]):010d}"] if self.duplicate[i] else [],
                    children=kids.get(i, []) if k == KIND_RESIDENT else [],
                    gaiji=bool(self.gaiji[i]),
                )
            )
        return out

    def of_kind(self, kind: str) -> list[C.Person]:
        return [p for p in self.people if p.kind == kind]

    @property
    def residents(self) -> list[C.Person]:
        return self.of_kind("1")

    # -- single people as text (for the few rows written in a variant form) --------------------
    def address(self, i: int) -> C.Address:
        t = int(self.town[i])
        b = int(self.building[i])
        return C.Address(
            self.towns[t] if t >= 0 else None,
            int(self.chome[i]),
            int(self.ban[i]),
            int(self.go[i]),
            self.vocab.buildings[b] if b >= 0 else "",
            outside=C._OTHER_CITIES[int(self.outside[i])] if t < 0 else "",
        )

    def name(self, i: int) -> str:
        if self.corp[i] >= 0:
            return self.vocab.corporations[int(self.corp[i])][0]
        return f"{self.vocab.surnames[int(self.surname[i])][0]}　{self.vocab.given[int(self.given[i])][0]}"

    def kana(self, i: int) -> str:
        if self.corp[i] >= 0:
            return self.vocab.corporations[int(self.corp[i])][1]
        return f"{self.vocab.surnames[int(self.surname[i])][1]}　{self.vocab.given[int(self.given[i])][1]}"


def _vocab() -> Vocab:
    surnames, female, male = C._faker_lists()
    gaiji = list(C.GAIJI_SURNAMES)
    all_surnames = list(surnames) + list(C._VARIANT_SURNAMES) + gaiji
    corps = []
    for i, stem in enumerate(C._CORP_STEMS):
        for trade, trade_kana in C._CORP_TRADES:
            for kind, _kind_kana, pos in C._CORP_KINDS:
                name = f"{kind}{stem}{trade}" if pos == "prefix" else f"{stem}{trade}{kind}"
                corps.append((name, f"{C._CORP_STEM_KANA[i]}{trade_kana}"))
    buildings = [
        b + C.fullwidth_digits(f"{x}0{y}号室")
        for b in C._BUILDINGS
        for x in range(1, 9)
        for y in range(1, 9)
    ]
    return Vocab(
        surnames=all_surnames,
        given=list(female) + list(male),
        n_female=len(female),
        corporations=corps,
        gaiji_surnames=frozenset(range(len(all_surnames) - len(gaiji), len(all_surnames))),
        buildings=buildings,
    )


def _surnames(rng, n: int, vocab: Vocab) -> np.ndarray:
    """Surname codes: common names, and exact shares (a stratified draw, not a coin per family)
    of old / variant forms (4 %) and of names that need the city's 外字 table (0.4 %)."""
    n_plain = len(vocab.surnames) - len(C._VARIANT_SURNAMES) - len(C.GAIJI_SURNAMES)
    code = rng.integers(0, n_plain, n)
    n_gaiji = int(n * 0.004 + rng.random())  # stochastic rounding
    n_variant = int(n * 0.04 + rng.random())
    at = rng.permutation(n)[: n_gaiji + n_variant]
    code[at[n_gaiji:]] = n_plain + rng.integers(0, len(C._VARIANT_SURNAMES), len(at) - n_gaiji)
    code[at[:n_gaiji]] = (
        n_plain + len(C._VARIANT_SURNAMES) + rng.integers(0, len(C.GAIJI_SURNAMES), n_gaiji)
    )
    return code.astype(np.int32)


def given_names(rng, sex: np.ndarray, vocab: Vocab) -> np.ndarray:
    n_male = len(vocab.given) - vocab.n_female
    female = rng.integers(0, vocab.n_female, len(sex))
    male = vocab.n_female + rng.integers(0, n_male, len(sex))
    return np.where(sex == 1, male, female).astype(np.int32)


def _distinct_given_in_households(rng, given, hh, sex, vocab: Vocab) -> None:
    """No two members of a household share a given name (a family does not name a child after
    a living parent or sibling): later members with a taken name draw again (in place)."""
    pos = np.arange(len(given))
    for _ in range(8):
        order = np.lexsort((pos, given, hh))
        g, h = given[order], hh[order]
        again = np.zeros(len(given), bool)
        again[1:] = (g[1:] == g[:-1]) & (h[1:] == h[:-1])
        if not again.any():
            return
        who = order[again]
        given[who] = given_names(rng, sex[who], vocab)


def _birth_for_age(rng, snapshot: dt.date, age: np.ndarray) -> np.ndarray:
    """A birth day number for each age: the age's anniversary minus 1-364 days."""
    top = int(age.max()) + 1 if len(age) else 1
    anniv = np.array(
        [
            day_number(
                snapshot.replace(year=snapshot.year - a)
                if not (snapshot.month == 2 and snapshot.day == 29)
                else dt.date(snapshot.year - a, 2, 28)
            )
            for a in range(top)
        ],
        dtype=np.int64,
    )
    return (anniv[age] - rng.integers(1, 365, len(age))).astype(np.int32)


def address_in_city(rng, n: int, towns: list[C.Town], n_buildings: int):
    town = rng.integers(0, len(towns), n).astype(np.int16)
    chome_max = np.array([t.chome_max for t in towns])
    chome = (1 + np.floor(rng.random(n) * chome_max[town])).astype(np.int16)
    ban = rng.integers(1, 40, n).astype(np.int16)
    go = rng.integers(1, 30, n).astype(np.int16)
    building = np.where(rng.random(n) < 0.25, rng.integers(0, n_buildings, n), -1).astype(np.int16)
    return town, chome, ban, go, building


def _phones(rng, n: int, share: float) -> np.ndarray:
    a = rng.integers(10, 99, n)
    b = rng.integers(100, 999, n)
    c = rng.integers(1000, 9999, n)
    has = rng.random(n) < share
    return np.where(has, a * 10**7 + b * 10**4 + c, 0).astype(np.int64)


def _registered(rng, birth: np.ndarray, snapshot: dt.date, floor: dt.date) -> np.ndarray:
    start = np.maximum(np.where(birth == _NO_DATE, 0, birth), day_number(floor)).astype(np.int64)
    span = np.maximum(day_number(snapshot) - start, 1)
    return (start + np.floor(rng.random(len(start)) * span).astype(np.int64)).astype(np.int32)


def build(residents: int, seed: int, snapshot: dt.date) -> Population:
    """The city of ``residents`` residents (exactly), its non-residents and corporations."""
    rng = np.random.default_rng(seed)
    towns = C.towns()
    vocab = _vocab()
    nb = len(vocab.buildings)

    # -- households: drawn in one go (a few more than needed), cut at exactly ``residents``
    h = max(16, int(residents / 2.0) + 64)
    while True:
        head_age = np.clip(rng.normal(55, 17, h), 19, 99).astype(np.int64)
        spouse = (head_age > 22) & (rng.random(h) < 0.55)
        kids = np.where((head_age >= 24) & (head_age <= 62), rng.poisson(0.9, h), 0)
        parent = (head_age >= 35) & (head_age <= 60) & (rng.random(h) < 0.05)
        size = 1 + spouse + kids + parent
        if size.sum() >= residents:
            break
        h *= 2  # (deterministic: the same seed takes the same path)
    head_sex = np.where(rng.random(h) < 0.62, 1, 2)
    sur = _surnames(rng, h, vocab)
    town, chome, ban, go, building = address_in_city(rng, h, towns, nb)
    foreign = rng.random(h) < 0.02
    honseki = ~foreign & (rng.random(h) < 0.7)
    sp_age_delta = rng.integers(-5, 6, h)
    # member slots: head, spouse, children, parent (in that order within the household)
    hh = np.repeat(np.arange(h), size)
    first = np.cumsum(size) - size
    pos = np.arange(len(hh)) - first[hh]
    keep = np.searchsorted(np.cumsum(size), residents, side="left")  # the last household
    n_members = residents
    hh, pos = hh[:n_members], pos[:n_members]
    n_house = int(keep) + 1
    is_head = pos == 0
    is_spouse = spouse[hh] & (pos == 1)
    kid_lo = 1 + spouse[hh]
    is_kid = (pos >= kid_lo) & (pos < kid_lo + kids[hh])
    n = n_members
    h_age, h_sex = head_age[hh], head_sex[hh]
    kid_sex = np.where(rng.random(n) < 0.51, 1, 2)
    kid_age = np.clip(h_age - rng.integers(24, 40, n), 0, 30)
    sex = np.select([is_head, is_spouse, is_kid], [h_sex, 3 - h_sex, kid_sex], 2)
    age = np.select(
        [is_head, is_spouse, is_kid],
        [h_age, np.clip(h_age + sp_age_delta[hh], 19, 99), kid_age],
        np.minimum(h_age + 28, 99),
    )
    rel = np.select([is_head, is_spouse, is_kid], [1, np.where(sex == 2, 2, 3), 4], 5).astype(
        np.uint8
    )
    head_idx = first[hh].astype(np.int64)
    res_children = np.bincount(hh, weights=(is_kid & (age < 15)), minlength=n_house)

    # -- non-residents (住登外者) and corporations
    n_out = max(1, int(n * 0.08))
    n_corp = max(1, int(n * 0.03))
    out_sex = np.where(rng.random(n_out) < 0.5, 1, 2)
    out_age = np.clip(rng.normal(55, 15, n_out), 20, 95).astype(np.int64)
    out_sur = _surnames(rng, n_out, vocab)
    out_where = rng.integers(0, len(C._OTHER_CITIES), n_out).astype(np.int8)
    out_chome = rng.integers(1, 6, n_out).astype(np.int16)
    out_ban = rng.integers(1, 40, n_out).astype(np.int16)
    out_go = rng.integers(1, 30, n_out).astype(np.int16)
    out_honseki = rng.random(n_out) < 0.4
    corp = rng.integers(0, len(vocab.corporations), n_corp).astype(np.int32)
    c_town, c_chome, c_ban, c_go, c_building = address_in_city(rng, n_corp, towns, nb)

    total = n + n_out + n_corp
    people_sex = np.concatenate([sex, out_sex]).astype(np.uint8)
    people_age = np.concatenate([age, out_age])
    birth = _birth_for_age(rng, snapshot, people_age)
    given = given_names(rng, people_sex, vocab)
    _distinct_given_in_households(rng, given[:n], hh, people_sex[:n], vocab)
    surname = np.concatenate([sur[hh], out_sur])
    kind = np.concatenate([np.full(n, 1), np.full(n_out, 2), np.full(n_corp, 3)]).astype(np.uint8)
    idx = np.arange(total, dtype=np.int64)
    head = np.concatenate([head_idx, idx[n : n + n_out], idx[n + n_out :]]).astype(np.int32)
    honseki_all = np.concatenate([honseki[hh], out_honseki, np.zeros(n_corp, bool)])
    foreign_all = np.concatenate([foreign[hh], np.zeros(n_out + n_corp, bool)])
    births = np.concatenate([birth, np.full(n_corp, _NO_DATE, dtype=np.int32)])
    registered = np.concatenate(
        [
            _registered(rng, birth, snapshot, dt.date(1970, 1, 1)),
            _registered(rng, np.full(n_corp, _NO_DATE), snapshot, dt.date(1975, 1, 1)),
        ]
    )
    ident = np.concatenate([keys.my_numbers(rng, n + n_out), keys.corporate_numbers(rng, n_corp)])
    juminhyo = np.concatenate([keys.juminhyo_codes(rng, n), np.zeros(n_out + n_corp, np.int64)])
    phone = np.concatenate([_phones(rng, n + n_out, 0.6), _phones(rng, n_corp, 1.0)])
    atena = keys.atena_numbers(rng, total)

    # -- family registers (戸籍): one per household whose 本籍 is in the city, head = 筆頭者
    q = (kind != 3) & honseki_all & ~foreign_all
    kh = np.where(q, head, -1)
    heads_q = kh[q]
    uniq, first_seen = np.unique(heads_q, return_index=True)
    order = np.argsort(first_seen, kind="stable")
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(1, len(uniq) + 1)
    koseki_id = np.zeros(total, dtype=np.int32)
    koseki_id[q] = rank[np.searchsorted(uniq, heads_q)]
    kojin_id = np.zeros(total, dtype=np.int32)
    kojin_id[q] = np.arange(1, int(q.sum()) + 1)
    children = np.zeros(total, dtype=np.int16)
    children[first[:n_house]] = res_children.astype(np.int16)

    return Population(
        snapshot=snapshot,
        towns=towns,
        vocab=vocab,
        kind=kind,
        atena=atena,
        surname=np.concatenate([surname, np.full(n_corp, -1)]).astype(np.int32),
        given=np.concatenate([given, np.full(n_corp, -1)]).astype(np.int32),
        corp=np.concatenate([np.full(n + n_out, -1), corp]).astype(np.int32),
        sex=np.concatenate([people_sex, np.zeros(n_corp, np.uint8)]),
        birth=births,
        town=np.concatenate([town[hh], np.full(n_out, -1), c_town]).astype(np.int16),
        outside=np.concatenate([np.full(n, -1), out_where, np.full(n_corp, -1)]).astype(np.int8),
        chome=np.concatenate([chome[hh], out_chome, c_chome]).astype(np.int16),
        ban=np.concatenate([ban[hh], out_ban, c_ban]).astype(np.int16),
        go=np.concatenate([go[hh], out_go, c_go]).astype(np.int16),
        building=np.concatenate([building[hh], np.full(n_out, -1), c_building]).astype(np.int16),
        ident=ident,
        juminhyo=juminhyo,
        household=np.concatenate([hh + 1, np.zeros(n_out + n_corp, np.int64)]).astype(np.int32),
        relationship=np.concatenate([rel, np.ones(n_out + n_corp, np.uint8)]),
        head=head,
        foreign=foreign_all,
        honseki_in_city=honseki_all,
        koseki_id=koseki_id,
        kojin_id=kojin_id,
        koseki_head=np.where(q, head, -1).astype(np.int32),
        phone=phone,
        registered=registered,
        gaiji=np.concatenate(
            [np.isin(surname, list(vocab.gaiji_surnames)), np.zeros(n_corp, bool)]
        ),
        children_under15=children,
    )
