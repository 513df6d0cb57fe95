"""The domain registry: the 20 standardization domains as data, validated on load.

Each domain is one YAML file under ``data/domains/`` (id, names, group, spec version, the legacy
files its extract reads with their copybooks, business keys, expected record counts at the
city's real scale, the domains whose data it refers to). Its standard layout is versioned data
under ``data/layouts/<id>/<spec version>.yaml``. The migration plan (``data/plan.yaml``) is loaded
by :mod:`ikou.domains.plan`.

Every error names the file and the entry, so a typo in a registry file is found at DAG parse time
with a message an engineer can act on. Loading is cheap (a few YAML files): it runs when Airflow
parses the DAG files.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from ikou import rulebook
from ikou.domains.files import RegistryError, describe, read_yaml
from ikou.domains.graph import find_cycle
from ikou.domains.plan import load_plan
from ikou.identifiers import JUMINHYO_RULES
from ikou.moji.codepage_names import KNOWN_CODEPAGES

DATA_DIR = Path(__file__).with_name("data")

#: Field roles: what a legacy field means. Synth generates by role, cleanse picks its rules by
#: role, validate maps by role. A new role needs an entry in each of those three places.
ROLES = frozenset(
    {
        "atena_no",
        "atena_ref",
        "guardian_ref",
        "householder_ref",
        "koseki_ref",
        "key",
        "addressee_kind",
        "name",
        "head_name",
        "name_kana",
        "sex",
        "birth_wareki",
        "birth_wareki_partial",
        "since_wareki",
        "address",
        "honseki",
        "location",
        "postal_code",
        "phone",
        "my_number",
        "corporate_number",
        "juminhyo_code",
        "pension_number",
        "registered_date",
        "updated_date",
        "optional_date",
        "household_no",
        "relationship",
        "resident_kind",
        "code",
        "flags",
        "school_code",
        "facility_code",
        "district_code",
        "family_register_id",
        "grade",
        "count",
        "child_count",
        "fiscal_year",
        "plate",
        "area",
        "assessed_value",
        "tax_amount",
        "tax_amount_part",
        "flat_tax",
        "income",
        "premium",
        "monthly_amount",
    }
)

#: Roles whose values must exist in the addressee (宛名) master of the same snapshot.
ADDRESSEE_REFERENCE_ROLES = frozenset({"atena_ref", "guardian_ref", "householder_ref"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


BadFieldPolicy = Literal["quarantine", "null"]


def _one_of(value: str, known, what: str) -> str:
    """``value`` if it is in ``known``, else the one-line error naming what is allowed."""
    if value not in known:
        raise ValueError(f"unknown {what} {value!r} (known: {', '.join(known)})")
    return value


def _policy(v):
    """YAML ``bad_field: null`` loads as None: it means the policy "null"."""
    return "null" if v is None else v


class FieldSpec(_Strict):
    role: str
    mixed: bool = False  # PIC X text holding SO/SI-delimited DBCS runs
    sbcs: bool = False  # PIC X strictly single-byte (cp930/939/1390/1399 decode SO/SI otherwise)
    money: bool = False  # numeric field output as decimal even when integral
    bad_field: BadFieldPolicy | Literal[""] = ""  # "" = the file's decode.bad_field

    @field_validator("bad_field", mode="before")
    @classmethod
    def _bad_field(cls, v):
        return _policy(v)

    @field_validator("role")
    @classmethod
    def _known_role(cls, v: str) -> str:
        return _one_of(v, sorted(ROLES), "role")


class DecodeSpec(_Strict):
    """``legacy_files[].decode``: every option of ``ikou decode`` that is not already a key of
    the legacy file (encoding, recfm, lrecl, record types, trailer, mixed fields), by its long
    name with ``_`` for ``-`` (``--bad-field`` -> ``bad_field``; ``--float`` -> ``float``;
    ``--rdw`` -> ``rdw_endian``; the record-structure keys are those of
    ``ikou.mainframe.options.STRUCTURE_OPTIONS``).
    Unknown keys are refused. Field lists name copybook fields as NAME or GROUP.NAME."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # the copybook (issue 9 §3)
    copybook_format: Literal["auto", "fixed", "free"] = "auto"
    copybook_dirs: list[str] = Field(default_factory=list)  # relative to the copybooks folder
    nsymbol: Literal["dbcs", "national"] = "dbcs"
    decimal_comma: bool = False
    keep_filler: bool = False
    # fields
    variant: Literal["jis", "jdk"] = "jis"
    sbcs_fields: list[str] = Field(default_factory=list)
    money_fields: list[str] = Field(default_factory=list)
    float_format: Literal["ibm", "ieee", "ieee-le"] = Field("ibm", alias="float")
    trim: Literal["right", "both", "left", "none"] = "right"
    keep_padding: bool = False  # = trim none
    blank_numeric: Literal["quarantine", "null"] = "quarantine"
    bad_field: BadFieldPolicy = "quarantine"
    bad_fields: dict[str, BadFieldPolicy] = Field(default_factory=dict)  # NAME -> policy
    layout: str | None = None
    # record structure (issue 9 §2, §4: the reader's options)
    rdw_adjust: int = 0
    bdw_adjust: int = 0
    rdw_endian: Literal["big", "little"] = "big"  # --rdw
    record_length_field: str | None = None
    file_start_offset: int = Field(0, ge=0)
    file_end_offset: int = Field(0, ge=0)
    record_start_offset: int = Field(0, ge=0)
    record_end_offset: int = Field(0, ge=0)
    segment_parents: dict[str, str] = Field(default_factory=dict)  # CHILD layout -> PARENT
    segment_keys: dict[str, list[str]] = Field(default_factory=dict)  # PARENT -> key fields
    chunk_mb: float = Field(4.0, gt=0, le=1024)

    @field_validator("bad_field", mode="before")
    @classmethod
    def _bad_field(cls, v):
        return _policy(v)

    @field_validator("bad_fields", mode="before")
    @classmethod
    def _bad_fields(cls, v):
        return {k: _policy(x) for k, x in v.items()} if isinstance(v, dict) else v


class TrailerSpec(_Strict):
    count_field: str
    sums: dict[str, str] = Field(default_factory=dict)  # trailer field -> data field it totals


class SynthSpec(_Strict):
    population: str
    rate: float = Field(gt=0, le=1)


class LegacyFile(_Strict):
    name: str
    dataset: str
    copybook: str
    encoding: str  # one of ikou.moji.codepage_names.KNOWN_CODEPAGES
    recfm: Literal["F", "FB", "V", "VB", "VS", "VBS", "LF", "CRLF"] = "FB"
    lrecl: int = Field(gt=0)
    record_type_field: str
    record_types: dict[str, str]  # value of the record-type field -> layout (group) name
    business_keys: list[str] = Field(min_length=1)
    trailer: TrailerSpec
    expected_records: int = Field(ge=0)
    synth: SynthSpec
    fields: dict[str, FieldSpec]
    decode: DecodeSpec = Field(default_factory=DecodeSpec)
    _data_dir: Path | None = PrivateAttr(default=None)  # the registry folder it was loaded from

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        return _one_of(v, KNOWN_CODEPAGES, "encoding")

    @property
    def copybook_path(self) -> Path:
        return (self._data_dir or DATA_DIR) / "copybooks" / self.copybook

    @property
    def data_layout(self) -> str:
        return self.record_types["D"]

    @functools.cached_property
    def _by_role(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for n, f in self.fields.items():
            out.setdefault(f.role, []).append(n)
        return out

    def fields_with_role(self, *roles: str) -> list[str]:
        if len(roles) == 1:
            return list(self._by_role.get(roles[0], ()))
        return [n for n, f in self.fields.items() if f.role in roles]

    @property
    def mixed_fields(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.mixed]

    @property
    def sbcs_fields(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.sbcs] + list(self.decode.sbcs_fields)

    @property
    def money_fields(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.money] + list(self.decode.money_fields)

    @property
    def bad_fields(self) -> dict[str, str]:
        """Per-field bad-field policies: ``decode.bad_fields`` and each field's ``bad_field``."""
        out = dict(self.decode.bad_fields)
        out.update({n: f.bad_field for n, f in self.fields.items() if f.bad_field})
        return out

    @property
    def copybook_dirs(self) -> list[Path]:
        base = self.copybook_path.parent
        return [base / d for d in self.decode.copybook_dirs]


class SpecVersion(_Strict):
    version: str
    published: str


class Column(_Strict):
    name: str
    label_ja: str
    type: Literal["string", "code", "integer", "decimal", "date"]
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    codes: list[str] | None = None
    source: str
    transform: Literal["wareki", "wareki_precision", "wareki_partial", "ymd"] | None = None
    required: bool = False


class Table(_Strict):
    name: str
    label_ja: str
    source: str  # legacy file name
    business_keys: list[str] = Field(min_length=1)
    columns: list[Column]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


class StandardLayout(_Strict):
    domain: str
    spec_version: str
    layout_version: int
    tables: list[Table]

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)


class CleanseRuleSet(_Strict):
    """Which value rules and checks a field gets (names from :mod:`ikou.rulebook`)."""

    rules: list[str] = Field(default_factory=list)
    checks: list[str] = Field(default_factory=list)

    @field_validator("rules", "checks")
    @classmethod
    def _known(cls, v: list[str], info) -> list[str]:
        known = rulebook.KNOWN_RULES if info.field_name == "rules" else rulebook.KNOWN_CHECKS
        bad = [x for x in v if x not in known]
        if bad:
            raise ValueError(f"unknown {info.field_name} {bad} (known: {', '.join(sorted(known))})")
        return v


class DedupeSpec(_Strict):
    """名寄せ of the addressee master: thresholds on the match probability (ikou.cleanse.dedupe)."""

    enabled: bool = True
    auto_merge: float = Field(default=0.999, gt=0, lt=1)
    review: float = Field(default=0.2, gt=0, lt=1)
    max_auto_cluster: int = Field(default=3, ge=2)


class CleanseSpec(_Strict):
    """Per-domain cleansing configuration; everything omitted is inherited from
    ``ikou.cleanse.rules.DEFAULT_RULES`` (by field role) and the defaults below."""

    roles: dict[str, CleanseRuleSet] = Field(
        default_factory=dict
    )  # role -> rule set (replaces the default)
    fields: dict[str, CleanseRuleSet] = Field(
        default_factory=dict
    )  # "FILE.FIELD" -> rule set (wins over roles)
    juminhyo_rule: str = "format"  # ikou.identifiers.JUMINHYO_RULES
    vendor_variants: Literal["jis", "off"] = "jis"  # report JDK-side code points (U+FF5E …) or not
    dedupe: DedupeSpec = Field(default_factory=DedupeSpec)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, v: dict) -> dict:
        bad = [r for r in v if r not in ROLES]
        if bad:
            raise ValueError(f"unknown roles {bad}")
        return v

    @field_validator("juminhyo_rule")
    @classmethod
    def _known_juminhyo_rule(cls, v: str) -> str:
        if v not in JUMINHYO_RULES:
            raise ValueError(
                f"unknown 住民票コード rule {v!r} (known: {', '.join(JUMINHYO_RULES)})"
            )
        return v


class Domain(_Strict):
    id: str
    name_ja: str
    name_en: str
    group: str
    spec: SpecVersion
    refers_to: list[str] = Field(default_factory=list)
    legacy_files: list[LegacyFile] = Field(min_length=1)
    cleanse: CleanseSpec = Field(default_factory=CleanseSpec)  # optional per-domain cleansing rules
    layout: StandardLayout | None = None  # attached by the loader

    @field_validator("id")
    @classmethod
    def _id_is_identifier(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", v):
            raise ValueError("id must be lower-case letters, digits and underscores")
        return v

    def legacy_file(self, name: str) -> LegacyFile:
        for f in self.legacy_files:
            if f.name == name:
                return f
        raise KeyError(f"{self.id} has no legacy file {name!r}")

    @property
    def dag_id(self) -> str:
        return f"migrate_{self.id}"

    @property
    def expected_records(self) -> int:
        return sum(f.expected_records for f in self.legacy_files)

    @property
    def business_keys(self) -> dict[str, list[str]]:
        return {f.name: list(f.business_keys) for f in self.legacy_files}

    @property
    def standard(self) -> StandardLayout:
        """The standard layout the loader attached (every domain of a loaded registry has one)."""
        if self.layout is None:
            raise RegistryError(f"domain {self.id}: its standard layout is not loaded")
        return self.layout

    @property
    def display_name(self) -> str:
        return f"{self.name_ja} ({self.name_en})"


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
    return domain.model_copy(update={"layout": layout})


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
