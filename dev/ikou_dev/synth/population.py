"""People of the synthetic city: households of residents, non-residents (住登外者), corporations.

Deterministic for a seed. Proportions follow a Japanese designated city: about 29 % aged 65+,
about 11 % under 15, about 2 % foreign residents; the addressee master (宛名) also holds
non-residents (about 8 % of the residents: owners of property, former residents with taxes due)
and corporations (about 3 %).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ikou.identifiers import (
    corporate_number_check_digit,
    juminhyo_synthetic_check_digit,
    my_number_check_digit,
)
from ikou_dev.synth import city as C


@dataclass
class Population:
    people: list[C.Person]  # residents, non-residents, corporations (index = Person.idx)
    snapshot: dt.date
    towns: list[C.Town]

    def of_kind(self, kind: str) -> list[C.Person]:
        return [p for p in self.people if p.kind == kind]

    @property
    def residents(self) -> list[C.Person]:
        return self.of_kind("1")


def _date_between(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.date:
    span = (end - start).days
    return start + dt.timedelta(days=int(rng.integers(0, max(span, 1))))


def _birth_for_age(rng, snapshot: dt.date, age: int) -> dt.date:
    end = (
        snapshot.replace(year=snapshot.year - age)
        if not (snapshot.month == 2 and snapshot.day == 29)
        else dt.date(snapshot.year - age, 2, 28)
    )
    return end - dt.timedelta(days=int(rng.integers(1, 365)))


def _digits(rng, n: int) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, n))


def _my_number(rng) -> str:
    body = str(int(rng.integers(1, 10))) + _digits(rng, 10)
    return body + str(my_number_check_digit(body))


def _corporate_number(rng) -> str:
    body = str(int(rng.integers(1, 10))) + _digits(rng, 11)
    return str(corporate_number_check_digit(body)) + body


def _juminhyo(rng) -> str:
    body = str(int(rng.integers(1, 10))) + _digits(rng, 9)
    return body + str(juminhyo_synthetic_check_digit(body))


def _phone(rng) -> str:
    return f"0{int(rng.integers(10, 99))}-{int(rng.integers(100, 999))}-{int(rng.integers(1000, 9999))}"


def build(residents: int, seed: int, snapshot: dt.date) -> Population:
    rng = np.random.default_rng(seed)
    towns = C.towns()
    surnames, female, male = C._faker_lists()
    variant_share = 0.04
    gaiji_share = 0.004
    people: list[C.Person] = []
    used_atena: set[str] = set()

    def new_atena() -> str:
        while True:
            a = f"{int(rng.integers(1, 10**10)):010d}"
            if a not in used_atena:
                used_atena.add(a)
                return a

    def surname():
        r = rng.random()
        if r < gaiji_share:
            k, kana = C.GAIJI_SURNAMES[int(rng.integers(len(C.GAIJI_SURNAMES)))]
            return k, kana, True
        if r < gaiji_share + variant_share:
            k, kana = C._VARIANT_SURNAMES[int(rng.integers(len(C._VARIANT_SURNAMES)))]
            return k, kana, False
        k, kana = surnames[int(rng.integers(len(surnames)))]
        return k, kana, False

    def given(sex: str):
        pool = male if sex == "1" else female
        return pool[int(rng.integers(len(pool)))]

    def address_in_city() -> C.Address:
        t = towns[int(rng.integers(len(towns)))]
        bld = (
            C._BUILDINGS[int(rng.integers(len(C._BUILDINGS)))]
            + C.fullwidth_digits(f"{int(rng.integers(1, 9))}0{int(rng.integers(1, 9))}号室")
            if rng.random() < 0.25
            else ""
        )
        return C.Address(
            t,
            int(rng.integers(1, t.chome_max + 1)),
            int(rng.integers(1, 40)),
            int(rng.integers(1, 30)),
            bld,
        )

    def person(kind, sur, sex, age, addr, household, rel, head) -> C.Person:
        gk, gkana = given(sex)
        sk, skana, has_gaiji = sur
        birth = _birth_for_age(rng, snapshot, age)
        p = C.Person(
            idx=len(people),
            kind=kind,
            atena_no=new_atena(),
            name=f"{sk}　{gk}",
            kana=f"{skana}　{gkana}",
            sex=sex,
            birth=birth,
            address=addr,
            my_number=_my_number(rng),
            juminhyo_code=_juminhyo(rng) if kind == "1" else "",
            household=household,
            relationship=rel,
            head=head if head >= 0 else len(people),
            phone=_phone(rng) if rng.random() < 0.6 else "",
            registered=_date_between(rng, max(birth, dt.date(1970, 1, 1)), snapshot),
            gaiji=has_gaiji,
        )
        people.append(p)
        return p

    # Residents, household by household.
    household = 0
    while len(people) < residents:  # only residents exist so far
        household += 1
        addr = address_in_city()
        head_age = int(np.clip(rng.normal(55, 17), 19, 99))
        head_sex = "1" if rng.random() < 0.62 else "2"
        sur = surname()
        head = person("1", sur, head_sex, head_age, addr, household, "01", -1)
        head.foreign = rng.random() < 0.02
        head.honseki_in_city = not head.foreign and rng.random() < 0.7
        members = [head]
        if head_age > 22 and rng.random() < 0.55:
            sp_sex = "2" if head_sex == "1" else "1"
            sp_age = int(np.clip(head_age + rng.integers(-5, 6), 19, 99))
            members.append(
                person(
                    "1",
                    sur,
                    sp_sex,
                    sp_age,
                    addr,
                    household,
                    "02" if sp_sex == "2" else "03",
                    head.idx,
                )
            )
        if 24 <= head_age <= 62:
            for _ in range(int(rng.poisson(0.9))):
                age = int(np.clip(head_age - rng.integers(24, 40), 0, 30))
                child = person(
                    "1",
                    sur,
                    "1" if rng.random() < 0.51 else "2",
                    age,
                    addr,
                    household,
                    "04",
                    head.idx,
                )
                head.children.append(child.idx)
                members.append(child)
        if 35 <= head_age <= 60 and rng.random() < 0.05:
            members.append(
                person("1", sur, "2", min(head_age + 28, 99), addr, household, "05", head.idx)
            )
        for m in members[1:]:
            m.foreign = head.foreign
            m.honseki_in_city = head.honseki_in_city
    n_res = len(people)
    # 住登外者: people outside the city with a relation to it (property, former residents).
    for _ in range(max(1, int(n_res * 0.08))):
        outside = C.Address(
            None,
            int(rng.integers(1, 6)),
            int(rng.integers(1, 40)),
            int(rng.integers(1, 30)),
            outside=C._OTHER_CITIES[int(rng.integers(len(C._OTHER_CITIES)))],
        )
        p = person(
            "2",
            surname(),
            "1" if rng.random() < 0.5 else "2",
            int(np.clip(rng.normal(55, 15), 20, 95)),
            outside,
            0,
            "01",
            -1,
        )
        p.honseki_in_city = rng.random() < 0.4
    # Corporations.
    for _ in range(max(1, int(n_res * 0.03))):
        i = int(rng.integers(len(C._CORP_STEMS)))
        stem, stem_kana = C._CORP_STEMS[i], C._CORP_STEM_KANA[i]
        trade, trade_kana = C._CORP_TRADES[int(rng.integers(len(C._CORP_TRADES)))]
        kind, kind_kana, pos = C._CORP_KINDS[int(rng.integers(len(C._CORP_KINDS)))]
        name = f"{kind}{stem}{trade}" if pos == "prefix" else f"{stem}{trade}{kind}"
        kana = f"{stem_kana}{trade_kana}"
        p = C.Person(
            idx=len(people),
            kind="3",
            atena_no=new_atena(),
            name=name,
            kana=kana,
            sex=" ",
            birth=None,
            address=address_in_city(),
            my_number=_corporate_number(rng),
            phone=_phone(rng),
            registered=_date_between(rng, dt.date(1975, 1, 1), snapshot),
        )
        people.append(p)
    # Family registers (戸籍): one per household whose 本籍 is in the city, head = 筆頭者.
    koseki_id = 0
    kojin_id = 0
    for p in people:
        if p.kind == "3" or not p.honseki_in_city or p.foreign:
            continue
        head = people[p.head] if p.kind == "1" else p
        if head.koseki_id == 0:
            koseki_id += 1
            head.koseki_id = koseki_id
        p.koseki_id = head.koseki_id
        p.koseki_head = head.idx
        kojin_id += 1
        p.koseki_kojin_id = kojin_id
    return Population(people, snapshot, towns)
