"""Who is in a synthetic legacy file, and which residents get a second 宛名 record (名寄せ).

:func:`population_mask` reads a file's ``synth.population`` (residents, adults, taxpayers …) over
the people of the city; :func:`select` keeps each at the file's rate with draws keyed by person;
:func:`draw_duplicates` picks the residents with a second 宛名 record (:class:`Duplicates`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ikou_dev.synth.draws import Draws
from ikou_dev.synth.population import Population


def population_mask(pop: Population, population: str) -> np.ndarray:
    """Who a legacy file's ``synth.population`` is (a boolean mask over the people; never the
    dead)."""
    age = pop.ages()
    alive = ~pop.gone
    res = (pop.kind == 1) & alive
    masks = {
        "addressees": lambda: alive,
        "residents": lambda: res,
        "adults": lambda: res & (age >= 18),
        "children_6_15": lambda: res & (age >= 6) & (age < 15),
        "children_0_5": lambda: res & (age >= 0) & (age < 6),
        "elderly65": lambda: res & (age >= 65),
        "elderly75": lambda: res & (age >= 75),
        "property_owners": lambda: alive & ((pop.kind != 1) | (age >= 25)),
        "taxpayers": lambda: (res & (age >= 18) & (age < 85)) | (alive & (pop.kind == 2)),
        "corporations": lambda: alive & (pop.kind == 3),
        "nhi": lambda: res & (age >= 0) & (age < 75),
        "pension": lambda: res & (age >= 20) & (age < 60),
        "households": lambda: res & (pop.relationship == 1),
        "parents": lambda: res & (pop.relationship == 1) & (pop.children_under15 > 0),
        "voters": lambda: res & (age >= 18) & ~pop.foreign,
        "koseki_persons": lambda: alive & (pop.kojin_id > 0),
    }
    try:
        return masks[population]()
    except KeyError:
        raise ValueError(
            f"unknown synth population {population!r}; known: {', '.join(masks)}"
        ) from None


def select(pop: Population, population: str, rate: float, rng) -> np.ndarray:
    """The people (indices, in order) of a legacy file: its population, each kept at ``rate``
    (``rng``: keyed :class:`~ikou_dev.synth.draws.Draws`, so a person stays in or out of the file
    in every snapshot, or a numpy generator)."""
    pool = np.flatnonzero(population_mask(pop, population))
    if rate >= 1.0:
        return pool
    if isinstance(rng, Draws):
        return pool[rng.rows(pool).random(len(pool)) < rate]
    return pool[rng.random(len(pool)) < rate]


@dataclass
class Duplicates:
    """Second 宛名 records of residents (名寄せ): one row each, appended to the addressee master."""

    person: np.ndarray  # idx of the resident
    atena: np.ndarray  # the duplicate's 宛名番号
    how: np.ndarray  # 0 old_address, 1 kana, 2 address_variant, 3 name_form
    other: np.ndarray  # idx of the resident whose address an old_address duplicate holds

    HOW = ("old_address", "kana", "address_variant", "name_form")


def base_duplicates(pop: Population, seed: int, rates: dict[str, float]) -> Duplicates:
    """The 名寄せ duplicates of a city as :func:`write_all` draws them for its first snapshot."""
    return draw_duplicates(
        pop, np.random.default_rng(seed + 1), rates.get("duplicate_addressee", 0.0)
    )


def draw_duplicates(pop: Population, rng: np.random.Generator, rate: float) -> Duplicates:
    from ikou_dev.synth.keys import atena_numbers

    res = np.flatnonzero(pop.kind == 1)
    person = res[rng.random(len(res)) < rate]
    atena = atena_numbers(rng, len(person), exclude=pop.atena)
    how = rng.integers(0, 4, len(person))
    other = res[rng.integers(0, len(res), len(person))]
    pop.duplicate[person] = atena
    return Duplicates(person, atena, how, other)
