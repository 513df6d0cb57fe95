"""The building blocks of Ikou's GX suites: the gates and names (``{domain}.{unit}.{gate}``,
UUID5 ids), the severity policy of each kind of rule (:data:`POLICY`), the suite builder, and the
rules every unit shares (columns, keys, row count, accounting). :mod:`ikou.quality.suite_rules`
builds each unit's suite from them; :mod:`ikou.quality.suites` describes the whole and writes
the project."""

from __future__ import annotations

import uuid

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


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(NS, "/".join(parts)))


def target_table_name(domain: str, table: str) -> str:
    """Name of a standard table in the target database (schema chosen by the connection)."""
    return f"{domain}__{table}"


def unit_name(domain: str, unit: str, gate: str) -> str:
    return f"{domain}.{unit}.{gate}"


class SuiteBuilder:
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
                "id": stable_id(self.name, str(n), type_),
                "type": type_,
                "kwargs": kwargs,
                "meta": meta,
                "severity": severity,
            }
        )

    def all_true(self, column: str, notes: str, severity: str = "critical", **how) -> None:
        """Every value of ``column`` is True (a flag of the stage's accounting)."""
        self.add(
            "expect_column_values_to_be_in_set",
            severity,
            column=column,
            value_set=[True],
            notes=notes,
            **{"policy": "structure", **how},
        )

    def at_most(
        self, column: str, max_value, notes: str, severity: str = "critical", **how
    ) -> None:
        """Every value of ``column`` is between 0 and ``max_value``."""
        self.add(
            "expect_column_values_to_be_between",
            severity,
            column=column,
            min_value=0,
            max_value=max_value,
            notes=notes,
            **{"policy": "structure", **how},
        )

    def to_json(self) -> dict:
        return {
            "expectations": self.expectations,
            "id": stable_id("suite", self.name),
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


def rule_policy(kind: str, gate: str) -> dict:
    p = POLICY[kind]
    if "severity" not in p:  # per gate
        p = p.get(gate) or p["default"]
    out = {"severity": p["severity"]}
    if p.get("critical_in"):
        out["critical_in"] = tuple(p["critical_in"])
    if p.get("mostly") is not None:
        out["mostly"] = p["mostly"]
    return out


def add_rule(
    s: "SuiteBuilder", kind: str, gate: str, type_: str, notes: str = "", **kwargs
) -> None:
    pol = rule_policy(kind, gate)
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


def add_columns_keys_count(
    s: SuiteBuilder, columns: list[str], keys: list[str], required: list[str]
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


def add_accounting(s: SuiteBuilder, gate: str) -> None:
    s.all_true(
        "balanced", "records in = out + quarantined + merged (+ header and trailer at extract)"
    )
    if gate == "gate_raw":
        s.all_true("trailer_count_ok", "the trailer's record count matches the records read")
        s.all_true("trailer_sums_ok", "the trailer's control totals match the decoded amounts")
        s.at_most(
            "quarantine_rate",
            DECODE_ERROR_BUDGET,
            f"decode-error budget: at most {DECODE_ERROR_BUDGET:.0%} of a file's records quarantined",
        )
        s.at_most(
            "unmapped_gaiji",
            0,
            "unmapped 外字 remain (文字同定 worklist): critical in cutover mode",
            "warning",
            critical_in=("cutover",),
            policy="gaiji",
        )
    if gate == "gate_standard":
        s.at_most(
            "orphan_references",
            0,
            "every 宛名番号 a record refers to exists in the addressee (宛名) master of the snapshot",
            policy="references",
        )
