"""The GX project under ``great_expectations/gx/``, generated from the registry.

One source of truth: the registry's legacy files (copybooks with their 88-level code lists,
field roles, business keys), the versioned standard layouts (types, lengths, required items,
code lists), the addressee master and the plan. ``ikou gx generate`` (re)writes the suites,
validation definitions, checkpoints and ``great_expectations.yml``; ``ikou gx generate --check``
and a unit test regenerate in memory and fail if the committed project drifted. Ids are UUID5s
of the names, so generation is deterministic.

Names: one *validation unit* per (domain, table-or-file, gate): suite, validation definition and
checkpoint are all called ``{domain}.{unit}.{gate}``. Five gates per domain:

- ``gate_raw`` / ``gate_cleansed`` — per legacy file: columns, business keys, row count, lengths
  of the PIC, the copybook's 88-level code lists, check digits, 住民票コード, kana, 和暦 within
  its era, standard characters, no unmapped 外字; plus the stage's accounting (records balance,
  trailer control totals and the decode-error budget at gate_raw);
- ``gate_standard`` — per standard table: the layout's types, lengths, required items, code
  lists, dates, identifiers, characters, and references to the 宛名 master (plus accounting);
- ``gate_target`` — per target table, inside the database (GX SQL datasource): types, lengths,
  required items, keys, counts, code lists, dates, check digits — SQL, nothing is pulled;
- ``gate_reconciliation`` — mismatches, accounting, counts and the cutover window.

Every expectation carries a severity (GX's own field) and, where it makes sense, ``mostly``;
``meta.rule`` names its kind (see :data:`POLICY`) and ``meta.critical_in_modes`` the modes in
which a warning becomes critical. Stage outputs are validated as pandas dataframes (datasource
``ikou_stage``); the target tables inside the database (datasource ``ikou_target``).

Result format: ``BASIC`` with ``partial_unexpected_count: 0`` — counts and percentages, no
unexpected values, no samples (SUMMARY would store the same here, at a cost: see
RESULT_FORMAT). Aggregate expectations that store an observed value (min, max, mean …) are never
put on a column that holds personal data.
"""

from __future__ import annotations

import functools
import json
import uuid
from pathlib import Path

from ikou.domains import Domain, Registry

GATES = ("gate_raw", "gate_cleansed", "gate_standard", "gate_target", "gate_reconciliation")
STAGE_OF_GATE = {
    "gate_raw": "extract",
    "gate_cleansed": "cleanse",
    "gate_standard": "validate",
    "gate_target": "load",
    "gate_reconciliation": "rehearsal",
}
#: BASIC with no partial list: counts and percentages only (what GX then stores: element_count,
#: unexpected_count/percent, missing_count/percent and an empty partial_unexpected_list — the same
#: keys SUMMARY stores here, without SUMMARY's extra pass for the unexpected rows' index)
RESULT_FORMAT = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "include_unexpected_rows": False,
}
NS = uuid.UUID("5d3c8a52-6a0e-4c1e-9a43-1b0f8b7e2a11")
STAGE_DATASOURCE = "ikou_stage"
STAGE_ASSET = "stage_output"
TARGET_DATASOURCE = "ikou_target"
WHOLE = "whole"
LINEAGE = ("_file", "_record", "_offset")
DECODE_ERROR_BUDGET = 0.01  # share of a file's records that may go to quarantine at extract


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NS, "/".join(parts)))


def target_table_name(domain: str, table: str) -> str:
    """Name of a standard table in the target database (schema chosen by the connection)."""
    return f"{domain}__{table}"


def unit_name(domain: str, unit: str, gate: str) -> str:
    return f"{domain}.{unit}.{gate}"


class _Suite:
    def __init__(self, name: str):
        self.name = name
        self.expectations: list[dict] = []

    def add(
        self,
        type_: str,
        severity: str = "critical",
        *,
        critical_in: tuple[str, ...] = (),
        notes: str = "",
        policy: str = "",
        **kwargs,
    ) -> None:
        meta: dict = {}
        if policy:
            meta["rule"] = policy
        if critical_in:
            meta["critical_in_modes"] = list(critical_in)
        if notes:
            meta["notes"] = notes
        n = len(self.expectations)
        self.expectations.append(
            {
                "id": _id(self.name, str(n), type_),
                "type": type_,
                "kwargs": kwargs,
                "meta": meta,
                "severity": severity,
            }
        )

    def to_json(self) -> dict:
        return {
            "expectations": self.expectations,
            "id": _id("suite", self.name),
            "meta": {"generated_by": "ikou gx generate"},
            "name": self.name,
            "notes": None,
        }


#: Severity and threshold of each kind of rule (one policy, so the docs can explain it):
#:   structure  — columns, types, keys, required items, lengths, row counts, accounting: critical, all rows
#:   codes      — code lists (layout lists and the copybooks' 88-levels): critical; at gate_raw a
#:                systematic error only (mostly 0.9: the legacy data's stray codes are cleansing's
#:                worklist), at gate_cleansed 99 %, in the standard layout and the target all rows
#:   content    — check digits, 住民票コード format, kana-only, dates within their era: critical
#:                with mostly 0.9 — a garbled field (wrong code page, shifted layout) fails most
#:                rows and stops the run; single bad records pass as *counted* exceptions (the
#:                gate report lists them as warnings) and stay findings for the cleansing team
#:   charset    — text in the standard character set: a warning, critical in cutover at gate_standard
#:   gaiji      — no unmapped 外字: a warning, critical in cutover mode (every gate that sees text)
#:   references — every 宛名番号 exists in the addressee master: critical, all rows
#:   distribution — the share of each code of a field whose distribution the auditors follow (the
#:                宛名区分: residents, 住登外者, corporations), drawn as a chart on the validation
#:                page (GX's KL divergence against an even split over the code list, no
#:                threshold): a warning that never fails — information, not a check
POLICY = {
    "structure": {"severity": "critical"},
    "codes": {
        "gate_raw": {"severity": "critical", "mostly": 0.9},
        "gate_cleansed": {"severity": "critical", "mostly": 0.99},
        "default": {"severity": "critical"},
    },
    "content": {"severity": "critical", "mostly": 0.9},
    "charset": {
        "gate_standard": {"severity": "warning", "critical_in": ("cutover",)},
        "default": {"severity": "warning"},
    },
    "gaiji": {"severity": "warning", "critical_in": ("cutover",)},
    "references": {"severity": "critical"},
    "distribution": {"severity": "warning"},
}

TEXT_KINDS = ("alphanumeric", "dbcs", "mixed", "national")
#: Field roles whose text must be in the standard character set and free of unmapped 外字.
TEXT_ROLES = frozenset({"name", "head_name", "address", "honseki", "location"})
KANA_ROLES = frozenset({"name_kana"})
#: Code fields whose distribution over their code list is drawn on the validation page (policy
#: ``distribution``): shares of codes, never a value of a person.
DISTRIBUTION_ROLES = frozenset({"addressee_kind"})
ERA_CODE_ROLES = frozenset({"birth_wareki", "birth_wareki_partial", "since_wareki"})
YMD_ROLES = {
    "registered_date": False,
    "updated_date": False,
    "optional_date": True,
}  # role -> 0 allowed
SNAPSHOT = {"$PARAMETER": "snapshot"}


def _policy(kind: str, gate: str) -> dict:
    p = POLICY[kind]
    if "severity" not in p:  # per gate
        p = p.get(gate) or p["default"]
    out = {"severity": p["severity"]}
    if p.get("critical_in"):
        out["critical_in"] = tuple(p["critical_in"])
    if p.get("mostly") is not None:
        out["mostly"] = p["mostly"]
    return out


def _rule(s: "_Suite", kind: str, gate: str, type_: str, notes: str = "", **kwargs) -> None:
    pol = _policy(kind, gate)
    if "mostly" in pol and "mostly" not in kwargs:
        kwargs["mostly"] = pol["mostly"]
    s.add(
        type_,
        pol["severity"],
        critical_in=pol.get("critical_in", ()),
        notes=notes,
        policy=kind,
        **kwargs,
    )


def _columns_keys_count(
    s: _Suite, columns: list[str], keys: list[str], required: list[str]
) -> None:
    for c in columns:
        s.add("expect_column_to_exist", column=c, policy="structure")
    for c in required:
        s.add(
            "expect_column_values_to_not_be_null",
            column=c,
            policy="structure",
            notes="required item",
        )
    if len(keys) == 1:
        s.add(
            "expect_column_values_to_be_unique",
            column=keys[0],
            policy="structure",
            notes="business key",
        )
    elif keys:
        s.add(
            "expect_compound_columns_to_be_unique",
            column_list=list(keys),
            policy="structure",
            notes="business key",
        )
    s.add(
        "expect_table_row_count_to_equal",
        value={"$PARAMETER": "expected_rows"},
        policy="structure",
        notes="rows = the previous stage's accounting (records out)",
    )


def _accounting(s: _Suite, gate: str) -> None:
    s.add(
        "expect_column_values_to_be_in_set",
        column="balanced",
        value_set=[True],
        policy="structure",
        notes="records in = out + quarantined + merged (+ header and trailer at extract)",
    )
    if gate == "gate_raw":
        s.add(
            "expect_column_values_to_be_in_set",
            column="trailer_count_ok",
            value_set=[True],
            policy="structure",
            notes="the trailer's record count matches the records read",
        )
        s.add(
            "expect_column_values_to_be_in_set",
            column="trailer_sums_ok",
            value_set=[True],
            policy="structure",
            notes="the trailer's control totals match the decoded amounts",
        )
        s.add(
            "expect_column_values_to_be_between",
            column="quarantine_rate",
            min_value=0,
            max_value=DECODE_ERROR_BUDGET,
            policy="structure",
            notes=f"decode-error budget: at most {DECODE_ERROR_BUDGET:.0%} of a file's records quarantined",
        )
        s.add(
            "expect_column_values_to_be_between",
            "warning",
            critical_in=("cutover",),
            column="unmapped_gaiji",
            min_value=0,
            max_value=0,
            policy="gaiji",
            notes="unmapped 外字 remain (文字同定 worklist): critical in cutover mode",
        )
    if gate == "gate_standard":
        s.add(
            "expect_column_values_to_be_between",
            column="orphan_references",
            min_value=0,
            max_value=0,
            policy="references",
            notes="every 宛名番号 a record refers to exists in the addressee (宛名) master of the snapshot",
        )


@functools.lru_cache(maxsize=64)
def copybook_fields(copybook_path: str, layout: str) -> tuple:
    """(column, kind, size, conditions) of each data field of a legacy layout, from its copybook."""
    from ikou.mainframe.copybook import parse_copybook

    text = Path(copybook_path).read_text(encoding="utf-8")
    cb = parse_copybook(text, source=Path(copybook_path).name)
    out = []
    for f in cb.record(layout).fields:
        if f.filler or not f.column:
            continue
        out.append(
            (f.column, f.kind, f.size, tuple((k, tuple(v)) for k, v in f.conditions.items()))
        )
    return tuple(out)


def _code_values(values, kind: str) -> list[str]:
    """An 88-level's values as the decoder delivers them: text right-trimmed, numbers as digits."""
    out: list[str] = []
    for v in values:
        if isinstance(v, str):
            v = v.rstrip()
            if kind not in TEXT_KINDS:
                v = v.lstrip("0") or "0"
        else:
            v = str(v)
        if v not in out:
            out.append(v)
    return out


def _legacy_rules(s: _Suite, gate: str, domain: Domain, lf) -> None:
    """Content rules of a legacy file's raw / cleansed output, from its copybook and field roles."""
    has_kind = bool(lf.fields_with_role("addressee_kind"))
    for column, kind, size, conditions in copybook_fields(str(lf.copybook_path), lf.data_layout):
        spec = lf.fields.get(column)
        if spec is None:
            continue
        role = spec.role
        if kind in TEXT_KINDS:
            s.add(
                "expect_column_value_lengths_to_be_between",
                column=column,
                min_value=0,
                max_value=size,
                policy="structure",
                notes=f"PIC of {size} bytes: at most {size} characters",
            )
        if conditions:
            values: list[str] = []
            for _, vals in conditions:
                values += _code_values(vals, kind)
            names = ", ".join(name for name, _ in conditions)
            _rule(
                s,
                "codes",
                gate,
                "expect_column_values_to_be_in_code_list",
                column=column,
                code_list=f"copybook {lf.copybook} {column} (88: {names})",
                codes=values,
                notes="code values of the copybook's 88-level condition names",
            )
            if role in DISTRIBUTION_ROLES and values:
                n = len(values)
                _rule(
                    s,
                    "distribution",
                    gate,
                    "expect_column_kl_divergence_to_be_less_than",
                    column=column,
                    partition_object={
                        "values": values,
                        "weights": [1 / n] * (n - 1) + [1 - (n - 1) / n],
                    },
                    threshold=None,
                    notes=f"distribution of {column} over its code list ({names}), drawn "
                    "for the auditors: no threshold",
                )
        if role == "my_number":
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_valid_my_number",
                column=column,
                allow_corporate_number=has_kind,
                notes="個人番号 check digit" + (" (法人番号 for corporations)" if has_kind else ""),
            )
        elif role == "corporate_number":
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_valid_corporate_number",
                column=column,
                notes="法人番号 check digit",
            )
        elif role == "juminhyo_code":
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_valid_juminhyo_code",
                column=column,
                rule="format",
                notes="住民票コード: 11 digits",
            )
        elif role in KANA_ROLES:
            width = "any" if gate == "gate_raw" else "full"
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_kana",
                column=column,
                width=width,
                notes="kana only"
                + (
                    " (half-width as the mainframe holds it)"
                    if gate == "gate_raw"
                    else " (full-width after cleansing)"
                ),
            )
        elif role in ERA_CODE_ROLES:
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_within_era_range",
                column=column,
                form="era_code",
                allow_partial=True,
                allow_zero=has_kind and role == "birth_wareki",
                latest=SNAPSHOT,
                notes="和暦 (era code + YYMMDD) names a day inside its era, not after the snapshot"
                + (
                    "; 0 = corporation without a birth date"
                    if has_kind and role == "birth_wareki"
                    else ""
                ),
            )
        elif role in YMD_ROLES:
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_within_era_range",
                column=column,
                form="ymd",
                allow_zero=YMD_ROLES[role],
                latest=SNAPSHOT,
                notes="YYYYMMDD: a real day from 明治 to the snapshot",
            )
        if role in TEXT_ROLES or (kind in ("dbcs", "mixed") and role not in KANA_ROLES):
            _rule(
                s,
                "charset",
                gate,
                "expect_column_values_to_be_in_standard_charset",
                column=column,
                notes="text only in the standard character set",
            )
        if kind in ("dbcs", "mixed") or role in TEXT_ROLES:
            _rule(
                s,
                "gaiji",
                gate,
                "expect_column_values_to_have_no_unmapped_gaiji",
                column=column,
                notes="no unmapped 外字 (〓 placeholder): critical in cutover mode",
            )


def _standard_rules(s: _Suite, gate: str, domain: Domain, t, registry: Registry | None) -> None:
    """Layout rules of a standard table (types, lengths, code lists, dates, identifiers, references)."""
    from ikou.domains.mapping import addressee_references

    lf = domain.legacy_file(t.source)
    has_kind = bool(lf.fields_with_role("addressee_kind"))
    in_db = gate == "gate_target"
    version = (
        f"layout {domain.id} spec {domain.layout.spec_version} v{domain.layout.layout_version}"
    )
    for c in t.columns:
        role = lf.fields[c.source].role
        kw = {"precision": c.precision, "scale": c.scale} if c.type == "decimal" else {}
        s.add(
            "expect_column_to_have_layout_type",
            column=c.name,
            layout_type=c.type,
            policy="structure",
            notes=f"{c.label_ja}: {c.type}" + (f"({c.precision},{c.scale})" if kw else ""),
            **kw,
        )
        if c.type in ("string", "code") and c.length:
            s.add(
                "expect_column_value_lengths_to_be_between",
                column=c.name,
                min_value=0,
                max_value=c.length,
                policy="structure",
                notes=f"{c.label_ja}: at most {c.length} characters",
            )
        if c.type == "code" and c.codes:
            _rule(
                s,
                "codes",
                gate,
                "expect_column_values_to_be_in_code_list",
                column=c.name,
                code_list=f"{version} {t.name}.{c.name}",
                codes=[str(x) for x in c.codes],
                notes=f"code list of {c.label_ja}",
            )
        if c.type == "date":
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_within_era_range",
                column=c.name,
                form="date",
                latest=SNAPSHOT,
                notes=f"{c.label_ja}: from 明治 (1868-01-25) to the snapshot",
            )
        if c.transform:
            continue
        if role == "my_number":
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_valid_my_number",
                column=c.name,
                allow_corporate_number=has_kind,
                notes=f"{c.label_ja}: check digit",
            )
        elif role == "corporate_number":
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_valid_corporate_number",
                column=c.name,
                notes=f"{c.label_ja}: check digit",
            )
        elif role == "juminhyo_code":
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_valid_juminhyo_code",
                column=c.name,
                rule="format",
                notes=f"{c.label_ja}: 11 digits",
            )
        if in_db:
            continue  # character checks run on the validated output (the same rows, reconciled)
        if role in KANA_ROLES:
            _rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_kana",
                column=c.name,
                width="full",
                notes=f"{c.label_ja}: full-width kana only",
            )
        if role in TEXT_ROLES:
            _rule(
                s,
                "charset",
                gate,
                "expect_column_values_to_be_in_standard_charset",
                column=c.name,
                notes=f"{c.label_ja}: standard character set",
            )
            _rule(
                s,
                "gaiji",
                gate,
                "expect_column_values_to_have_no_unmapped_gaiji",
                column=c.name,
                notes=f"{c.label_ja}: no unmapped 外字",
            )
    if registry is None:
        return
    master_domain, master_table = registry.addressee_master()
    for col in addressee_references(domain, t):
        if in_db and domain.id != master_domain:
            # rehearsal loads go to per-run schemas: the master is only beside its own domain's tables
            continue
        _rule(
            s,
            "references",
            gate,
            "expect_column_values_to_exist_in_addressee_master",
            column=col,
            reference_table=target_table_name(master_domain, master_table),
            reference_column="atena_no",
            notes="宛名番号 exists in the addressee (宛名) master of the snapshot",
        )


def domain_suites(
    domain: Domain, plan_phase: str, registry: Registry | None = None
) -> dict[str, _Suite]:
    suites: dict[str, _Suite] = {}
    d = domain.id
    for lf in domain.legacy_files:
        data_cols = list(lf.fields)
        for gate in ("gate_raw", "gate_cleansed"):
            s = _Suite(unit_name(d, lf.name, gate))
            _columns_keys_count(
                s, data_cols + list(LINEAGE), list(lf.business_keys), list(lf.business_keys)
            )
            _legacy_rules(s, gate, domain, lf)
            suites[s.name] = s
    for gate in ("gate_raw", "gate_cleansed", "gate_standard"):
        s = _Suite(unit_name(d, "accounting", gate))
        _accounting(s, gate)
        suites[s.name] = s
    for t in domain.layout.tables:
        required = [c.name for c in t.columns if c.required]
        for gate in ("gate_standard", "gate_target"):
            s = _Suite(unit_name(d, t.name, gate))
            _columns_keys_count(s, t.column_names, list(t.business_keys), required)
            _standard_rules(s, gate, domain, t, registry)
            suites[s.name] = s
    s = _Suite(unit_name(d, "reconciliation", "gate_reconciliation"))
    s.add(
        "expect_column_values_to_be_in_set",
        column="balanced",
        value_set=[True],
        policy="structure",
        notes="legacy records in = loaded + quarantined + merged",
    )
    s.add(
        "expect_column_values_to_be_between",
        column="mismatches",
        min_value=0,
        max_value=0,
        policy="structure",
        notes="keyed-hash and aggregate comparison between validated output and target",
    )
    s.add(
        "expect_column_values_to_be_in_set",
        column="counts_match",
        value_set=[True],
        policy="structure",
        notes="row counts of validated output and target agree",
    )
    s.add(
        "expect_column_values_to_be_in_set",
        "warning",
        critical_in=("cutover",),
        column="within_window",
        value_set=[True],
        policy="structure",
        notes="the run, projected to the city's real volumes, fits the cutover window (critical in cutover)",
    )
    suites[s.name] = s
    return suites


def _datasources(registry: Registry) -> dict:
    target_assets = {}
    for d in registry:
        for t in d.layout.tables:
            name = target_table_name(d.id, t.name)
            target_assets[name] = {
                "type": "table",
                "id": _id("asset", TARGET_DATASOURCE, name),
                "batch_metadata": {},
                "batch_definitions": {
                    WHOLE: {"id": _id("bd", TARGET_DATASOURCE, name), "partitioner": None}
                },
                "table_name": name,
                "schema_name": None,
            }
    return {
        STAGE_DATASOURCE: {
            "type": "pandas",
            "id": _id("ds", STAGE_DATASOURCE),
            "assets": {
                STAGE_ASSET: {
                    "type": "dataframe",
                    "id": _id("asset", STAGE_DATASOURCE, STAGE_ASSET),
                    "batch_metadata": {},
                    "batch_definitions": {
                        WHOLE: {"id": _id("bd", STAGE_DATASOURCE, STAGE_ASSET), "partitioner": None}
                    },
                }
            },
        },
        TARGET_DATASOURCE: {
            "type": "sql",
            "id": _id("ds", TARGET_DATASOURCE),
            "assets": target_assets,
            # The gate sets IKOU_GX_TARGET_URL: the target database with the live schema on its
            # search path (PostgreSQL) — GX does not substitute variables in schema_name.
            "connection_string": "${IKOU_GX_TARGET_URL}",
        },
    }


GX_YML_HEAD = """\
# Ikou's Great Expectations project. GENERATED by `ikou gx generate` from the registry
# (include/ikou/domains/data): edit the registry or include/ikou/quality/suites.py, not this file.
# Suites, validation definitions and checkpoints live beside it as JSON; validation results and
# Data Docs are published to the reports bucket (no personal data: BASIC results, counts only).
"""


def gx_config(registry: Registry) -> dict:
    # GX Core 1.x has no S3 store backends: results and Data Docs are written to local folders
    # chosen per process by the gate (IKOU_GX_RESULTS_DIR, IKOU_GX_DOCS_DIR) and published to the
    # reports bucket by Ikou itself (ikou.quality.gate / ikou.quality.docs).
    local = lambda variable: {  # noqa: E731
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": "${" + variable + "}",
    }
    return {
        "config_version": 4.0,
        "config_variables_file_path": "uncommitted/config_variables.yml",
        "plugins_directory": "plugins/",
        "stores": {
            "expectations_store": {
                "class_name": "ExpectationsStore",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": "expectations/",
                },
            },
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": local("IKOU_GX_RESULTS_DIR"),
            },
            "checkpoint_store": {
                "class_name": "CheckpointStore",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "suppress_store_backend_id": True,
                    "base_directory": "checkpoints/",
                },
            },
            "validation_definition_store": {
                "class_name": "ValidationDefinitionStore",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": "validation_definitions/",
                },
            },
        },
        "expectations_store_name": "expectations_store",
        "validation_results_store_name": "validation_results_store",
        "checkpoint_store_name": "checkpoint_store",
        "data_docs_sites": {
            "ikou_docs": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": local("IKOU_GX_DOCS_DIR"),
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        },
        "fluent_datasources": _datasources(registry),
        "progress_bars": {"globally": False, "metric_calculations": False},
        "analytics_enabled": False,
        "data_context_id": _id("context", "ikou"),
    }


def _validation_definition(name: str, target: bool, asset: str) -> dict:
    ds = TARGET_DATASOURCE if target else STAGE_DATASOURCE
    return {
        "data": {
            "asset": {"id": _id("asset", ds, asset), "name": asset},
            "batch_definition": {"id": _id("bd", ds, asset), "name": WHOLE},
            "datasource": {"id": _id("ds", ds), "name": ds},
        },
        "id": _id("vd", name),
        "name": name,
        "suite": {"id": _id("suite", name), "name": name},
    }


def _checkpoint(name: str) -> dict:
    return {
        "actions": [],
        "id": _id("cp", name),
        "name": name,
        "result_format": RESULT_FORMAT,
        "validation_definitions": [{"id": _id("vd", name), "name": name}],
    }


PLUGIN_MODULE = '''"""Ikou's custom expectations for this GX project (GENERATED by `ikou gx generate`).

GX puts this folder on sys.path; ``import ikou_expectations`` before loading the suites outside
Ikou (Ikou's own gate imports ``ikou.quality.expectations`` itself).
"""

from ikou.quality.expectations import *  # noqa: F401,F403 - defining the classes registers them
'''


def project_files(registry: Registry) -> dict[str, str]:
    """Every generated file of the GX project: relative path -> text."""
    import yaml

    files: dict[str, str] = {}
    for d in registry:
        phase = registry.plan[d.id].phase
        for name, suite in domain_suites(d, phase, registry).items():
            domain, unit, gate = name.split(".")
            files[f"expectations/{domain}/{unit}/{gate}.json"] = (
                json.dumps(suite.to_json(), ensure_ascii=False, indent=2) + "\n"
            )
            target = gate == "gate_target"
            asset = target_table_name(domain, unit) if target else STAGE_ASSET
            files[f"validation_definitions/{name}.json"] = (
                json.dumps(_validation_definition(name, target, asset), indent=2) + "\n"
            )
            files[f"checkpoints/{name}.json"] = json.dumps(_checkpoint(name), indent=2) + "\n"
    files["plugins/ikou_expectations.py"] = PLUGIN_MODULE
    files["great_expectations.yml"] = GX_YML_HEAD + yaml.safe_dump(
        gx_config(registry), sort_keys=False, allow_unicode=True, width=110
    )
    return files


def write_project(root: Path, registry: Registry) -> list[str]:
    """(Re)write the generated files under ``root`` (the ``gx`` folder); stale ones are removed."""
    files = project_files(registry)
    for sub in ("expectations", "validation_definitions", "checkpoints", "plugins"):
        base = root / sub
        if base.exists():
            for p in [*base.rglob("*.json"), *base.rglob("*.py")]:
                rel = str(p.relative_to(root))
                if rel not in files:
                    p.unlink()
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
    return sorted(files)
