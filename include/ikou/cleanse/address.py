"""Addresses (住所): components, the city's town list, town-name variants.

After :func:`ikou.cleanse.rules.address_canonical` has put the numbering in one form
(``架空市中央区桜町１丁目２番３号　ビル``), :func:`parse_address` splits an address into
prefecture, city, ward, town, 丁目, 番地, 号 and building, and checks it against the city's town
list (``_reference/{snapshot}/towns.csv``: prefecture, city, ward, town, town_kana, chome_max,
postal_code). Town names are matched through a fold of the variants data entry produced over
decades — ヶ / ケ / が / ガ / ヵ and の / ノ / 之 — and :meth:`TownList.fold_town` writes the listed
name back (a value rule, ``address_town``, recorded in the ledger like every change).

Problems (findings, never fixed by guessing):

- ``address_unknown_town`` — an address of the city whose town is not in the list;
- ``address_ward_mismatch`` — a listed town written under another ward;
- ``address_chome_out_of_range`` — a 丁目 beyond the town's last one;
- ``address_unparseable`` — an address of the city whose block numbers cannot be read (e.g. an
  unmapped 外字 placeholder 〓 where a separator was).

Addresses outside the city (住登外者, other municipalities) are split as far as the prefecture
and the municipality and not checked against the list.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

_FOLD = str.maketrans({"ヶ": "ケ", "が": "ケ", "ガ": "ケ", "ヵ": "ケ", "の": "ノ", "之": "ノ"})
_TO_HALF = str.maketrans("０１２３４５６７８９", "0123456789")
_NUMBERING = re.compile(
    r"(?:(?P<chome>[0-9０-９]+)丁目)?(?:(?P<banchi>[0-9０-９]+)(?:番地|番))?(?:(?P<go>[0-9０-９]+)号?)?"
)
_PREF = re.compile(r"^(?P<pref>[^\s　]{1,4}?[都道府県])")
_MUNI = re.compile(r"^(?P<muni>[^\s　]+?[市町村])")

COMPONENTS = ("prefecture", "city", "ward", "town", "chome", "banchi", "go", "building")


def fold(text: str) -> str:
    """The town-name fold used for matching (same length as the text)."""
    return text.translate(_FOLD)


@dataclass(frozen=True)
class Town:
    prefecture: str
    city: str
    ward: str
    name: str
    kana: str = ""
    chome_max: int = 0
    postal_code: str = ""


@dataclass
class AddressParts:
    prefecture: str | None = None
    city: str | None = None
    ward: str | None = None
    town: str | None = None
    chome: int | None = None
    banchi: int | None = None
    go: int | None = None
    building: str | None = None
    in_city: bool = False
    problems: list[str] = field(default_factory=list)

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, c) for c in COMPONENTS)


class TownList:
    """The city's town list (towns.csv)."""

    def __init__(self, towns: list[Town]):
        if not towns:
            raise ValueError("a town list needs at least one town")
        self.towns = towns
        self.prefecture = towns[0].prefecture
        self.city = towns[0].city
        self.wards = sorted({t.ward for t in towns if t.ward}, key=len, reverse=True)
        self._by_fold: dict[str, list[Town]] = {}
        for t in towns:
            self._by_fold.setdefault(fold(t.name), []).append(t)
        self._folds = sorted(self._by_fold, key=len, reverse=True)
        self._by_first: dict[str, list[str]] = {}  # first character -> folded names, longest first
        for name in self._folds:
            self._by_first.setdefault(name[:1], []).append(name)

    @classmethod
    def parse(cls, text: str) -> "TownList":
        rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        need = {"prefecture", "city", "ward", "town"}
        if not rows.fieldnames or not need <= set(rows.fieldnames):
            raise ValueError(f"a town list needs the columns {sorted(need)}")
        towns = [
            Town(
                r["prefecture"].strip(),
                r["city"].strip(),
                r["ward"].strip(),
                r["town"].strip(),
                (r.get("town_kana") or "").strip(),
                int(r.get("chome_max") or 0),
                (r.get("postal_code") or "").strip(),
            )
            for r in rows
            if r.get("town")
        ]
        return cls(towns)

    @classmethod
    def load(cls, path) -> "TownList":
        from pathlib import Path

        return cls.parse(Path(path).read_text(encoding="utf-8"))

    def _town_at(self, text: str, ward: str | None) -> tuple[Town | None, int, list[Town]]:
        """The listed town whose (folded) name starts ``text``: (town in ``ward`` or None, length,
        all towns of that name)."""
        f = fold(text)
        for name in self._by_first.get(f[:1], ()):
            if f.startswith(name):
                cands = self._by_fold[name]
                in_ward = [t for t in cands if t.ward == ward] if ward else cands[:1]
                return (in_ward[0] if in_ward else None), len(name), cands
        return None, 0, []

    def parse_address(self, text: str) -> AddressParts:
        p = AddressParts()
        s = text.strip()
        if not s:
            return p
        if s.startswith(self.prefecture):
            p.prefecture, s = self.prefecture, s[len(self.prefecture) :]
            if not s.startswith(self.city):
                return self._outside(p, s)
        if s.startswith(self.city):
            p.city, s = self.city, s[len(self.city) :]
        ward = next((w for w in self.wards if s.startswith(w)), None)
        if p.city is None:
            if ward is None:
                return self._outside(p, s)
            p.city = self.city  # the ward names one of ours: the city was omitted
        p.in_city = True
        p.prefecture = p.prefecture or self.prefecture
        if ward:
            p.ward, s = ward, s[len(ward) :]
        town, n, cands = self._town_at(s, p.ward)
        if not cands:
            p.problems.append("address_unknown_town")
            return p
        if town is None:
            p.problems.append("address_ward_mismatch")
            town = cands[0]
        p.town, s = town.name, s[n:]
        m = _NUMBERING.match(s)
        if m:
            for k in ("chome", "banchi", "go"):
                if m.group(k):
                    setattr(p, k, int(m.group(k).translate(_TO_HALF)))
            s = s[m.end() :]
        rest = s.strip(" 　")
        if (p.chome is None and p.banchi is None and p.go is None) or (rest and s[:1] not in " 　"):
            p.problems.append("address_unparseable")
            p.chome = p.banchi = p.go = None  # numbers read from half an address would be guesses
            return p
        if rest:
            p.building = rest
        if p.chome is not None and town.chome_max and p.chome > town.chome_max:
            p.problems.append("address_chome_out_of_range")
        return p

    def _outside(self, p: AddressParts, s: str) -> AddressParts:
        if p.prefecture is None:
            m = _PREF.match(s)
            if m:
                p.prefecture, s = m.group("pref"), s[m.end() :]
        m = _MUNI.match(s)
        if m:
            p.city = m.group("muni")
        p.in_city = False
        return p

    def fold_town(self, text: str) -> str:
        """The address with its town written as listed (ヶ/ケ/が, の/ノ variants folded)."""
        s = text
        head = ""
        if s.startswith(self.prefecture):
            head, s = s[: len(self.prefecture)], s[len(self.prefecture) :]
        if s.startswith(self.city):
            head, s = head + s[: len(self.city)], s[len(self.city) :]
        elif head:
            return text  # another municipality of the prefecture
        ward = next((w for w in self.wards if s.startswith(w)), None)
        if ward is None:
            return text
        head, s = head + ward, s[len(ward) :]
        town, n, cands = self._town_at(s, ward)
        if not cands:
            return text
        listed = (town or cands[0]).name
        if s[:n] == listed:
            return text
        return head + listed + s[n:]
