"""The domain registry: the 20 standardization domains as data, validated on load.

Each domain is one YAML file under ``data/domains/`` (id, names, group, spec version, the legacy
files its extract reads with their copybooks, business keys, expected record counts at the
city's real scale, the domains whose data it refers to). Its standard layout is versioned data
under ``data/layouts/<id>/<spec version>.yaml``. The migration plan (``data/plan.yaml``) is loaded
by :mod:`ikou.domains.plan`.

Every error names the file and the entry, so a typo in a registry file is found at DAG parse time
with a message an engineer can act on. Loading is cheap (a few YAML files): it runs when Airflow
parses the DAG files.

What the files may say is :mod:`ikou.domains.schema` (strict pydantic models); this module reads
them, checks what spans files (layouts, references, the plan) and caches the result.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import ValidationError

from ikou.domains.files import RegistryError, describe, read_yaml
from ikou.domains.graph import dependent_generations, find_cycle
from ikou.domains.plan import load_plan
from ikou.domains.schema import DATA_DIR, Domain, StandardLayout


def load_domain_file(path: Path, data_dir: Path) -> Domain:
    raw = read_yaml(path)
    entry = raw.get("id", path.stem) if isinstance(raw, dict) else path.stem
    if not isinstance(raw, dict):
        raise RegistryError(f"{path}: entry {entry!r}: expected a mapping")
    try:
        domain = Domain.model_validate(raw)
    except ValidationError as exc:
        raise RegistryError(f"{path}: entry {entry!r}: {describe(exc)}") from None
    if domain.id != path.stem:
        raise RegistryError(
            f"{path}: entry {domain.id!r}: id must match the file name {path.stem!r}"
        )
    for lf in domain.legacy_files:
        lf._data_dir = data_dir  # copybooks are read from the registry folder, not the package's
        where = f"{path}: entry {domain.id!r}, legacy file {lf.name!r}"
        if not (data_dir / "copybooks" / lf.copybook).is_file():
            raise RegistryError(
                f"{where}: copybook {lf.copybook!r} not found in {data_dir / 'copybooks'}"
            )
        for key in lf.business_keys:
            if key not in lf.fields:
                raise RegistryError(f"{where}: business key {key!r} is not one of its fields")
        for trailer_field, data_field in lf.trailer.sums.items():
            if data_field not in lf.fields:
                raise RegistryError(
                    f"{where}: trailer sum {trailer_field!r} totals unknown field {data_field!r}"
                )
        if "D" not in lf.record_types:
            raise RegistryError(f"{where}: record_types needs a data layout under 'D'")
    for key in domain.cleanse.fields:
        fname, _, field = key.partition(".")
        if (
            not field
            or fname not in {lf.name for lf in domain.legacy_files}
            or field not in domain.legacy_file(fname).fields
        ):
            raise RegistryError(
                f"{path}: entry {domain.id!r}: cleanse.fields key {key!r} is not FILE.FIELD of the domain"
            )
    names = [lf.name for lf in domain.legacy_files]
    if len(set(names)) != len(names):
        raise RegistryError(f"{path}: entry {domain.id!r}: duplicate legacy file names {names}")
    layout_path = data_dir / "layouts" / domain.id / f"{domain.spec.version}.yaml"
    layout = load_layout(layout_path, domain)
    check_linkage(path, domain, layout, data_dir)
    return domain.model_copy(update={"layout": layout})


def check_linkage(path: Path, domain: Domain, layout: StandardLayout, data_dir: Path) -> None:
    """An enabled ``linkage`` names a copybook in the registry folder, a dataset, header and
    trailer layouts, and a record type (with its layout) for every standard table; 'H' and 'T'
    are the header's and the trailer's."""
    link = domain.linkage
    link._data_dir = data_dir
    if not link.enabled:
        return
    where = f"{path}: entry {domain.id!r}, linkage"
    if not link.copybook or not (data_dir / "copybooks" / link.copybook).is_file():
        raise RegistryError(
            f"{where}: copybook {link.copybook!r} not found in {data_dir / 'copybooks'}"
        )
    if not link.dataset:
        raise RegistryError(f"{where}: needs a dataset (the file name the mainframe reads)")
    if not link.header or not link.trailer:
        raise RegistryError(f"{where}: needs header and trailer layouts")
    names = {t.name for t in layout.tables}
    if set(link.tables) != names:
        raise RegistryError(
            f"{where}: tables {sorted(link.tables)} must be the standard tables {sorted(names)}"
        )
    for table, rt in link.tables.items():
        if rt in ("H", "T") or rt not in link.record_types:
            raise RegistryError(
                f"{where}: table {table!r}: record type {rt!r} needs a layout in record_types "
                "(H and T are the header's and trailer's)"
            )


def load_layout(path: Path, domain: Domain) -> StandardLayout:
    if not path.is_file():
        raise RegistryError(
            f"{path}: entry {domain.id!r}: standard layout for spec {domain.spec.version} not found"
        )
    raw = read_yaml(path)
    try:
        layout = StandardLayout.model_validate(raw)
    except ValidationError as exc:
        raise RegistryError(f"{path}: entry {domain.id!r}: {describe(exc)}") from None
    if layout.domain != domain.id or layout.spec_version != domain.spec.version:
        raise RegistryError(
            f"{path}: entry {domain.id!r}: layout says domain {layout.domain!r} spec {layout.spec_version!r}"
        )
    for table in layout.tables:
        where = f"{path}: entry {domain.id!r}, table {table.name!r}"
        try:
            lf = domain.legacy_file(table.source)
        except KeyError:
            raise RegistryError(
                f"{where}: source {table.source!r} is not a legacy file of the domain"
            ) from None
        for col in table.columns:
            if col.source not in lf.fields:
                raise RegistryError(
                    f"{where}: column {col.name!r} reads unknown field {col.source!r}"
                )
            if col.type in ("string", "code") and not col.length:
                raise RegistryError(f"{where}: column {col.name!r} needs a length")
            if col.type == "decimal" and (col.precision is None or col.scale is None):
                raise RegistryError(f"{where}: column {col.name!r} needs precision and scale")
        for key in table.business_keys:
            if key not in table.column_names:
                raise RegistryError(f"{where}: business key {key!r} is not a column")
    return layout


class Registry:
    """All domains, in file-name order, plus the migration plan."""

    def __init__(self, domains: dict[str, Domain], data_dir: Path):
        self.domains = domains
        self.data_dir = data_dir

    def __iter__(self):
        return iter(self.domains.values())

    def __len__(self) -> int:
        return len(self.domains)

    def __contains__(self, domain_id: str) -> bool:
        return domain_id in self.domains

    def get(self, domain_id: str) -> Domain:
        try:
            return self.domains[domain_id]
        except KeyError:
            raise KeyError(
                f"unknown domain {domain_id!r}; known: {', '.join(self.domains)}"
            ) from None

    @property
    def ids(self) -> list[str]:
        return list(self.domains)

    @functools.cached_property
    def plan(self):
        return load_plan(self.data_dir / "plan.yaml", self)

    @functools.cached_property
    def _referring_generations(self) -> dict[str, int]:
        return dependent_generations({d.id: d.refers_to for d in self})

    def referring_generations(self, domain_id: str) -> int:
        """How many generations of domains wait for ``domain_id``'s validated data: 0 when no
        domain refers to it, 1 when only domains nothing refers to do (個人住民税), 2 for
        住民基本台帳 (個人住民税 refers to it, and 介護保険 to both)."""
        self.get(domain_id)  # an unknown id: the registry's KeyError
        return self._referring_generations[domain_id]

    def addressee_master(self) -> tuple[str, str]:
        """(domain, table) of the addressee (宛名) master that references are checked against."""
        for d in self:
            for lf in d.legacy_files:
                if lf.fields_with_role("atena_no"):
                    for t in d.layout.tables:
                        if t.source == lf.name:
                            return d.id, t.name
        raise RegistryError("no domain holds the addressee master (a field with role atena_no)")


def load_registry(data_dir: Path | str | None = None) -> Registry:
    data_dir = Path(data_dir or os.environ.get("IKOU_REGISTRY_DIR") or DATA_DIR)
    domains: dict[str, Domain] = {}
    files = sorted((data_dir / "domains").glob("*.yaml"))
    if not files:
        raise RegistryError(f"{data_dir / 'domains'}: no domain files")
    for path in files:
        d = load_domain_file(path, data_dir)
        if d.id in domains:
            raise RegistryError(f"{path}: entry {d.id!r}: duplicate domain id")
        domains[d.id] = d
    for d in domains.values():
        for ref in d.refers_to:
            if ref not in domains:
                raise RegistryError(
                    f"{data_dir / 'domains' / (d.id + '.yaml')}: entry {d.id!r}: refers_to unknown domain {ref!r}"
                )
            if ref == d.id:
                raise RegistryError(
                    f"{data_dir / 'domains' / (d.id + '.yaml')}: entry {d.id!r}: refers to itself"
                )
    cycle = find_cycle({d.id: d.refers_to for d in domains.values()})
    if cycle:
        raise RegistryError(
            f"{data_dir / 'domains' / (cycle[0] + '.yaml')}: entry {cycle[0]!r}: "
            f"refers_to has a cycle: {' -> '.join(cycle)}"
        )
    return Registry(domains, data_dir)


@functools.lru_cache(maxsize=4)
def _cached(data_dir: str) -> Registry:
    return load_registry(data_dir)


def registry() -> Registry:
    """The registry shipped with the package (or under $IKOU_REGISTRY_DIR), loaded once."""
    return _cached(str(os.environ.get("IKOU_REGISTRY_DIR") or DATA_DIR))
