"""The GX project under ``great_expectations/gx/``, generated from the registry.

One source of truth: the registry's legacy layouts, standard layouts and plan. ``ikou gx
generate`` (re)writes the suites, validation definitions, checkpoints and the datasource section
of ``great_expectations.yml``; a test regenerates into a temporary folder and fails if the
committed project drifted. Ids are UUID5s of the names, so generation is deterministic.

Names: one *validation unit* per (domain, table-or-file, gate): suite, validation definition and
checkpoint are all called ``{domain}.{unit}.{gate}``. Stage outputs are validated as pandas
dataframes (datasource ``ikou_stage``); the target tables inside the database
(datasource ``ikou_target``, one table asset per standard table); the accounting and
reconciliation figures of a stage (no personal data) as small dataframes.

Result format: ``SUMMARY`` with ``partial_unexpected_count: 0`` — counts and percentages, no
unexpected values, no samples. Aggregate expectations that store an observed value (min, max,
mean …) are never put on a column that holds personal data.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from ikou.domains import Domain, Registry

GATES = ("gate_raw", "gate_cleansed", "gate_standard", "gate_target", "gate_reconciliation")
STAGE_OF_GATE = {"gate_raw": "extract", "gate_cleansed": "cleanse", "gate_standard": "validate",
                 "gate_target": "load", "gate_reconciliation": "rehearsal"}
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0, "include_unexpected_rows": False}
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

    def add(self, type_: str, severity: str = "critical", *, critical_in: tuple[str, ...] = (),
            notes: str = "", **kwargs) -> None:
        meta: dict = {}
        if critical_in:
            meta["critical_in_modes"] = list(critical_in)
        if notes:
            meta["notes"] = notes
        n = len(self.expectations)
        self.expectations.append({"id": _id(self.name, str(n), type_), "type": type_, "kwargs": kwargs,
                                  "meta": meta, "severity": severity})

    def to_json(self) -> dict:
        return {"expectations": self.expectations, "id": _id("suite", self.name),
                "meta": {"generated_by": "ikou gx generate"}, "name": self.name, "notes": None}


def _columns_keys_count(s: _Suite, columns: list[str], keys: list[str], required: list[str]) -> None:
    for c in columns:
        s.add("expect_column_to_exist", column=c)
    for c in required:
        s.add("expect_column_values_to_not_be_null", column=c)
    if len(keys) == 1:
        s.add("expect_column_values_to_be_unique", column=keys[0])
    elif keys:
        s.add("expect_compound_columns_to_be_unique", column_list=list(keys))
    s.add("expect_table_row_count_to_equal", value={"$PARAMETER": "expected_rows"},
          notes="rows = the previous stage's accounting (records out)")


def _accounting(s: _Suite, gate: str) -> None:
    s.add("expect_column_values_to_be_in_set", column="balanced", value_set=[True],
          notes="records in = out + quarantined + merged (+ header and trailer at extract)")
    if gate == "gate_raw":
        s.add("expect_column_values_to_be_in_set", column="trailer_count_ok", value_set=[True],
              notes="the trailer's record count matches the records read")
        s.add("expect_column_values_to_be_in_set", column="trailer_sums_ok", value_set=[True],
              notes="the trailer's control totals match the decoded amounts")
        s.add("expect_column_values_to_be_between", column="quarantine_rate", min_value=0,
              max_value=DECODE_ERROR_BUDGET, notes="decode-error budget")
        s.add("expect_column_values_to_be_between", "warning", critical_in=("cutover",), column="unmapped_gaiji",
              min_value=0, max_value=0, notes="unmapped 外字 remain (文字同定 worklist): critical in cutover mode")
    if gate == "gate_standard":
        s.add("expect_column_values_to_be_between", column="orphan_references", min_value=0, max_value=0,
              notes="every 宛名番号 a record refers to exists in the addressee (宛名) master of the snapshot")


def domain_suites(domain: Domain, plan_phase: str) -> dict[str, _Suite]:
    suites: dict[str, _Suite] = {}
    d = domain.id
    for lf in domain.legacy_files:
        data_cols = list(lf.fields)
        for gate in ("gate_raw", "gate_cleansed"):
            s = _Suite(unit_name(d, lf.name, gate))
            _columns_keys_count(s, data_cols + list(LINEAGE), list(lf.business_keys), list(lf.business_keys))
            suites[s.name] = s
    for gate in ("gate_raw", "gate_cleansed", "gate_standard"):
        s = _Suite(unit_name(d, "accounting", gate))
        _accounting(s, gate)
        suites[s.name] = s
    for t in domain.layout.tables:
        required = [c.name for c in t.columns if c.required]
        s = _Suite(unit_name(d, t.name, "gate_standard"))
        _columns_keys_count(s, t.column_names, list(t.business_keys), required)
        for c in t.columns:
            if c.type == "code" and c.codes:
                s.add("expect_column_values_to_be_in_set", column=c.name, value_set=list(c.codes),
                      notes=f"code list of {c.label_ja}")
            if c.type == "string" and c.length:
                s.add("expect_column_value_lengths_to_be_between", column=c.name, min_value=0, max_value=c.length,
                      notes=f"{c.label_ja}: at most {c.length} characters")
        suites[s.name] = s
        s = _Suite(unit_name(d, t.name, "gate_target"))
        _columns_keys_count(s, t.column_names, list(t.business_keys), required)
        suites[s.name] = s
    s = _Suite(unit_name(d, "reconciliation", "gate_reconciliation"))
    s.add("expect_column_values_to_be_in_set", column="balanced", value_set=[True],
          notes="legacy records in = loaded + quarantined + merged")
    s.add("expect_column_values_to_be_between", column="mismatches", min_value=0, max_value=0,
          notes="keyed-hash and aggregate comparison between validated output and target")
    s.add("expect_column_values_to_be_in_set", column="counts_match", value_set=[True])
    suites[s.name] = s
    return suites


def _datasources(registry: Registry) -> dict:
    target_assets = {}
    for d in registry:
        for t in d.layout.tables:
            name = target_table_name(d.id, t.name)
            target_assets[name] = {
                "type": "table", "id": _id("asset", TARGET_DATASOURCE, name), "batch_metadata": {},
                "batch_definitions": {WHOLE: {"id": _id("bd", TARGET_DATASOURCE, name), "partitioner": None}},
                "table_name": name, "schema_name": None,
            }
    return {
        STAGE_DATASOURCE: {
            "type": "pandas", "id": _id("ds", STAGE_DATASOURCE),
            "assets": {STAGE_ASSET: {"type": "dataframe", "id": _id("asset", STAGE_DATASOURCE, STAGE_ASSET),
                                     "batch_metadata": {},
                                     "batch_definitions": {WHOLE: {"id": _id("bd", STAGE_DATASOURCE, STAGE_ASSET),
                                                                   "partitioner": None}}}},
        },
        TARGET_DATASOURCE: {
            "type": "sql", "id": _id("ds", TARGET_DATASOURCE), "assets": target_assets,
            # The gate sets IKOU_GX_TARGET_URL: the target database with the live schema on its
            # search path (PostgreSQL) — GX does not substitute variables in schema_name.
            "connection_string": "${IKOU_GX_TARGET_URL}",
        },
    }


GX_YML_HEAD = """\
# Ikou's Great Expectations project. GENERATED by `ikou gx generate` from the registry
# (include/ikou/domains/data): edit the registry or include/ikou/quality/suites.py, not this file.
# Suites, validation definitions and checkpoints live beside it as JSON; validation results and
# Data Docs are published to the reports bucket (no personal data: SUMMARY results, no values).
"""


def gx_config(registry: Registry) -> dict:
    # GX Core 1.x has no S3 store backends: results and Data Docs are written to local folders
    # chosen per process by the gate (IKOU_GX_RESULTS_DIR, IKOU_GX_DOCS_DIR) and published to the
    # reports bucket by Ikou itself (ikou.quality.gate / ikou.quality.docs).
    local = lambda variable: {  # noqa: E731
        "class_name": "TupleFilesystemStoreBackend", "base_directory": "${" + variable + "}",
    }
    return {
        "config_version": 4.0,
        "config_variables_file_path": "uncommitted/config_variables.yml",
        "plugins_directory": "plugins/",
        "stores": {
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": {
                "class_name": "TupleFilesystemStoreBackend", "base_directory": "expectations/"}},
            "validation_results_store": {"class_name": "ValidationResultsStore", "store_backend": local("IKOU_GX_RESULTS_DIR")},
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": {
                "class_name": "TupleFilesystemStoreBackend", "suppress_store_backend_id": True,
                "base_directory": "checkpoints/"}},
            "validation_definition_store": {"class_name": "ValidationDefinitionStore", "store_backend": {
                "class_name": "TupleFilesystemStoreBackend", "base_directory": "validation_definitions/"}},
        },
        "expectations_store_name": "expectations_store",
        "validation_results_store_name": "validation_results_store",
        "checkpoint_store_name": "checkpoint_store",
        "data_docs_sites": {
            "ikou_docs": {"class_name": "SiteBuilder", "show_how_to_buttons": False,
                          "store_backend": local("IKOU_GX_DOCS_DIR"),
                          "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}},
        },
        "fluent_datasources": _datasources(registry),
        "progress_bars": {"globally": False, "metric_calculations": False},
        "analytics_enabled": False,
        "data_context_id": _id("context", "ikou"),
    }


def _validation_definition(name: str, target: bool, asset: str) -> dict:
    ds = TARGET_DATASOURCE if target else STAGE_DATASOURCE
    return {
        "data": {"asset": {"id": _id("asset", ds, asset), "name": asset},
                 "batch_definition": {"id": _id("bd", ds, asset), "name": WHOLE},
                 "datasource": {"id": _id("ds", ds), "name": ds}},
        "id": _id("vd", name), "name": name, "suite": {"id": _id("suite", name), "name": name},
    }


def _checkpoint(name: str) -> dict:
    return {"actions": [], "id": _id("cp", name), "name": name, "result_format": RESULT_FORMAT,
            "validation_definitions": [{"id": _id("vd", name), "name": name}]}


def project_files(registry: Registry) -> dict[str, str]:
    """Every generated file of the GX project: relative path -> text."""
    import yaml

    files: dict[str, str] = {}
    for d in registry:
        phase = registry.plan[d.id].phase
        for name, suite in domain_suites(d, phase).items():
            domain, unit, gate = name.split(".")
            files[f"expectations/{domain}/{unit}/{gate}.json"] = json.dumps(suite.to_json(), ensure_ascii=False,
                                                                           indent=2) + "\n"
            target = gate == "gate_target"
            asset = target_table_name(domain, unit) if target else STAGE_ASSET
            files[f"validation_definitions/{name}.json"] = json.dumps(_validation_definition(name, target, asset),
                                                                      indent=2) + "\n"
            files[f"checkpoints/{name}.json"] = json.dumps(_checkpoint(name), indent=2) + "\n"
    files["great_expectations.yml"] = GX_YML_HEAD + yaml.safe_dump(gx_config(registry), sort_keys=False,
                                                                   allow_unicode=True, width=110)
    return files


def write_project(root: Path, registry: Registry) -> list[str]:
    """(Re)write the generated files under ``root`` (the ``gx`` folder); stale ones are removed."""
    files = project_files(registry)
    for sub in ("expectations", "validation_definitions", "checkpoints"):
        base = root / sub
        if base.exists():
            for p in base.rglob("*.json"):
                rel = str(p.relative_to(root))
                if rel not in files:
                    p.unlink()
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
    return sorted(files)
