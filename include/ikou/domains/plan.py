"""The migration plan (移行計画) as data: waves, phases, cutover windows and cutover order.

``refers_to`` (registry) and ``cuts_over_after`` (plan) are different relations: the first says
whose data a domain needs and orders the rehearsal runs; the second says which domains must be
live before a domain cuts over. A cycle in either, an unknown domain, a domain planned twice or
missing, or a cutover planned before one it must follow is rejected with the file and the entry.

``cutover`` says how a domain's cutover weekend loads (issue 12): ``full`` (the default: the
whole snapshot inside the window) or ``full_ahead_then_delta`` (the snapshot of
``full_load_date`` loaded in full ahead, the weekend applies only the difference since; the master
passes it as the domain run's ``base_snapshot``). ``change_rate_per_day`` (share of rows) is the
rate the timing model may assume when no two snapshots measure it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ikou.domains.files import RegistryError, describe, read_yaml
from ikou.domains.graph import find_cycle, topological_order

if TYPE_CHECKING:
    from ikou.domains.registry import Registry


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DomainPlan(_Strict):
    phase: Literal["preparation", "migration"]
    cutover_window_hours: float = Field(gt=0)
    cuts_over_after: list[str] = Field(default_factory=list)
    reconciliation_tolerance: float = Field(
        default=0.0, ge=0, le=1
    )  # share of rows allowed to differ
    cutover: Literal["full", "full_ahead_then_delta"] = "full"
    full_load_date: dt.date | None = None  # the snapshot loaded ahead (full_ahead_then_delta)
    change_rate_per_day: float | None = Field(default=None, ge=0, le=1)


class Wave(_Strict):
    id: int
    name_ja: str
    name_en: str
    target_date: dt.date
    domains: dict[str, DomainPlan]


class City(_Strict):
    name_ja: str
    name_en: str
    local_government_code: str
    #: the residents the registry's expected_records describe (projections scale from them)
    residents: int = Field(default=1_500_000, gt=0)


class RehearsalPolicy(_Strict):
    go_valid_days: int = Field(default=7, gt=0)
    #: the nightly rehearsal starts at 01:00 JST (the master's schedule) and must end by 06:00
    night_hours: float = Field(default=5.0, gt=0, le=24)


class PlanFile(_Strict):
    city: City
    rehearsal: RehearsalPolicy = RehearsalPolicy()
    waves: list[Wave] = Field(min_length=1)


class PlannedDomain(BaseModel):
    model_config = ConfigDict(frozen=True)
    domain: str
    wave: int
    target_date: dt.date
    phase: Literal["preparation", "migration"]
    cutover_window_hours: float
    cuts_over_after: tuple[str, ...]
    refers_to: tuple[str, ...]
    reconciliation_tolerance: float
    cutover: Literal["full", "full_ahead_then_delta"] = "full"
    full_load_date: dt.date | None = None
    change_rate_per_day: float | None = None

    def base_snapshot(self, snapshot: str) -> str | None:
        """The base snapshot of a run of ``snapshot`` (YYYY-MM-DD): the full load ahead's, when
        the domain cuts over by ``full_ahead_then_delta`` and it is earlier; else None (full)."""
        if self.cutover != "full_ahead_then_delta" or self.full_load_date is None:
            return None
        base = self.full_load_date.isoformat()
        return base if base < snapshot else None


class Plan:
    def __init__(self, source: PlanFile, entries: dict[str, PlannedDomain], path: Path):
        self.source = source
        self.entries = entries
        self.path = path

    @property
    def city(self) -> City:
        return self.source.city

    @property
    def waves(self) -> list[Wave]:
        return list(self.source.waves)

    def __getitem__(self, domain_id: str) -> PlannedDomain:
        try:
            return self.entries[domain_id]
        except KeyError:
            raise KeyError(f"domain {domain_id!r} is not in the plan {self.path}") from None

    def rehearsal_order(self, subset: list[str] | None = None) -> list[str]:
        """Domains ordered so that every domain runs after the ones whose data it refers to."""
        edges = {d: list(p.refers_to) for d, p in self.entries.items()}
        by_wave = sorted(self.entries, key=lambda d: (self.entries[d].wave, d))
        order = topological_order(edges, by_wave)
        if subset is not None:
            wanted = set(subset)
            order = [d for d in order if d in wanted]
        return order

    def cutover_order(self) -> list[str]:
        edges = {d: list(p.cuts_over_after) for d, p in self.entries.items()}
        return topological_order(
            edges, sorted(self.entries, key=lambda d: (self.entries[d].target_date, d))
        )


def load_plan(path: Path, registry: Registry) -> Plan:
    raw = read_yaml(path)
    try:
        source = PlanFile.model_validate(raw)
    except ValidationError as exc:
        raise RegistryError(f"{path}: {describe(exc)}") from None
    entries: dict[str, PlannedDomain] = {}
    wave_ids = [w.id for w in source.waves]
    if len(set(wave_ids)) != len(wave_ids):
        raise RegistryError(f"{path}: duplicate wave ids {wave_ids}")
    for wave in source.waves:
        for domain_id, dp in wave.domains.items():
            where = f"{path}: wave {wave.id}, entry {domain_id!r}"
            if domain_id not in registry:
                raise RegistryError(f"{where}: unknown domain (not in the registry)")
            if domain_id in entries:
                raise RegistryError(
                    f"{where}: planned twice (also in wave {entries[domain_id].wave})"
                )
            if dp.cutover == "full_ahead_then_delta":
                if dp.phase != "migration":
                    raise RegistryError(
                        f"{where}: cutover full_ahead_then_delta needs phase migration "
                        "(a preparation-phase domain loads nothing)"
                    )
                if dp.full_load_date is None or dp.full_load_date >= wave.target_date:
                    raise RegistryError(
                        f"{where}: cutover full_ahead_then_delta needs full_load_date, a date "
                        f"before the wave's target_date {wave.target_date}"
                    )
            elif dp.full_load_date is not None:
                raise RegistryError(
                    f"{where}: full_load_date is only for cutover full_ahead_then_delta"
                )
            for other in dp.cuts_over_after:
                if other not in registry:
                    raise RegistryError(f"{where}: cuts_over_after unknown domain {other!r}")
                if other == domain_id:
                    raise RegistryError(f"{where}: cuts over after itself")
            entries[domain_id] = PlannedDomain(
                domain=domain_id,
                wave=wave.id,
                target_date=wave.target_date,
                phase=dp.phase,
                cutover_window_hours=dp.cutover_window_hours,
                cuts_over_after=tuple(dp.cuts_over_after),
                refers_to=tuple(registry.get(domain_id).refers_to),
                reconciliation_tolerance=dp.reconciliation_tolerance,
                cutover=dp.cutover,
                full_load_date=dp.full_load_date,
                change_rate_per_day=dp.change_rate_per_day,
            )
    missing = [d for d in registry.ids if d not in entries]
    if missing:
        raise RegistryError(f"{path}: domains missing from the plan: {', '.join(missing)}")
    cycle = find_cycle({d: list(p.cuts_over_after) for d, p in entries.items()})
    if cycle:
        raise RegistryError(
            f"{path}: wave {entries[cycle[0]].wave}, entry {cycle[0]!r}: "
            f"cuts_over_after has a cycle: {' -> '.join(cycle)}"
        )
    for d, p in entries.items():
        for other in p.cuts_over_after:
            if entries[other].target_date > p.target_date:
                raise RegistryError(
                    f"{path}: wave {p.wave}, entry {d!r}: cutover planned {p.target_date} before "
                    f"{other!r} ({entries[other].target_date}), which it must follow"
                )
    return Plan(source, entries, path)
