"""The registry's schema: what a domain file (``data/domains/<id>.yaml``) and a standard layout
(``data/layouts/<id>/<spec version>.yaml``) may say, as strict pydantic models -- field roles,
decode options, legacy files, tables and columns, cleanse and dedupe settings. Unknown keys are
refused; every value is checked against the primitives it names (code pages, 住民票コード rules,
cleansing rules). :mod:`ikou.domains.registry` reads the files into these models."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from ikou import rulebook
from ikou.domains.files import RegistryError
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


class _CopybookFile(_Strict):
    """A fixed-format file described by a copybook of the registry folder, in a known code page:
    the legacy files and the linkage file (their ``copybook`` and ``encoding`` fields)."""

    _data_dir: Path | None = PrivateAttr(default=None)  # the registry folder it was loaded from

    @field_validator("encoding", check_fields=False)
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        return _one_of(v, KNOWN_CODEPAGES, "encoding")

    @property
    def copybook_path(self) -> Path:
        return (self._data_dir or DATA_DIR) / "copybooks" / self.copybook  # type: ignore[attr-defined]


class LegacyFile(_CopybookFile):
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


class LinkageSpec(_CopybookFile):
    """``linkage``: the interim data linkage (データ連携) back to the mainframe while the domain is
    live on the standard system and others still read it there (``ikou link``). One fixed-length
    EBCDIC file of change records: a header, one data layout per standard table (its record-type
    value under ``tables``), each with the 異動区分 field ``op_field`` (I / U / D) and the legacy
    fields of the table's source file by their names, and a trailer with control totals."""

    enabled: bool = False
    copybook: str = ""
    dataset: str = ""
    encoding: str = "cp930"
    lrecl: int = Field(default=1, gt=0)
    record_type_field: str = "REC-TYPE"
    op_field: str = "IDO-KBN"
    header: str = ""  # layout of the header record (record type H)
    trailer: str = ""  # layout of the trailer record (record type T)
    tables: dict[str, str] = Field(default_factory=dict)  # standard table -> record-type value
    record_types: dict[str, str] = Field(default_factory=dict)  # record-type value -> layout


class Domain(_Strict):
    id: str
    name_ja: str
    name_en: str
    group: str
    spec: SpecVersion
    refers_to: list[str] = Field(default_factory=list)
    legacy_files: list[LegacyFile] = Field(min_length=1)
    cleanse: CleanseSpec = Field(default_factory=CleanseSpec)  # optional per-domain cleansing rules
    linkage: LinkageSpec = Field(default_factory=LinkageSpec)  # データ連携 back to the mainframe
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
    def link_dag_id(self) -> str:
        return f"link_{self.id}"

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
