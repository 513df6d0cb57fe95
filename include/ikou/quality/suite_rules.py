"""What each validation unit checks: the suite of a legacy file (from its copybook's fields and
88-levels and the registry's field roles), of a standard table (from its versioned layout), of
the accounting and of the reconciliation -- :func:`domain_suites`, with the policy and builder
of :mod:`ikou.quality.suite_policy`. The whole is described in :mod:`ikou.quality.suites`."""

from __future__ import annotations

import functools
from pathlib import Path

from ikou.domains import Domain, Registry
from ikou.quality.suite_policy import (
    DISTRIBUTION_ROLES,
    ERA_CODE_ROLES,
    KANA_ROLES,
    LINEAGE,
    SNAPSHOT,
    TEXT_KINDS,
    TEXT_ROLES,
    YMD_ROLES,
    SuiteBuilder,
    add_accounting,
    add_columns_keys_count,
    add_rule,
    target_table_name,
    unit_name,
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


def code_values(values, kind: str) -> list[str]:
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


def legacy_rules(s: SuiteBuilder, gate: str, domain: Domain, lf) -> None:
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
                values += code_values(vals, kind)
            names = ", ".join(name for name, _ in conditions)
            add_rule(
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
                add_rule(
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
            add_rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_valid_my_number",
                column=column,
                allow_corporate_number=has_kind,
                notes="個人番号 check digit" + (" (法人番号 for corporations)" if has_kind else ""),
            )
        elif role == "corporate_number":
            add_rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_valid_corporate_number",
                column=column,
                notes="法人番号 check digit",
            )
        elif role == "juminhyo_code":
            add_rule(
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
            add_rule(
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
            add_rule(
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
            add_rule(
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
            add_rule(
                s,
                "charset",
                gate,
                "expect_column_values_to_be_in_standard_charset",
                column=column,
                notes="text only in the standard character set",
            )
        if kind in ("dbcs", "mixed") or role in TEXT_ROLES:
            add_rule(
                s,
                "gaiji",
                gate,
                "expect_column_values_to_have_no_unmapped_gaiji",
                column=column,
                notes="no unmapped 外字 (〓 placeholder): critical in cutover mode",
            )


def standard_rules(
    s: SuiteBuilder, gate: str, domain: Domain, t, registry: Registry | None
) -> None:
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
            add_rule(
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
            add_rule(
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
            add_rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_valid_my_number",
                column=c.name,
                allow_corporate_number=has_kind,
                notes=f"{c.label_ja}: check digit",
            )
        elif role == "corporate_number":
            add_rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_valid_corporate_number",
                column=c.name,
                notes=f"{c.label_ja}: check digit",
            )
        elif role == "juminhyo_code":
            add_rule(
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
            add_rule(
                s,
                "content",
                gate,
                "expect_column_values_to_be_kana",
                column=c.name,
                width="full",
                notes=f"{c.label_ja}: full-width kana only",
            )
        if role in TEXT_ROLES:
            add_rule(
                s,
                "charset",
                gate,
                "expect_column_values_to_be_in_standard_charset",
                column=c.name,
                notes=f"{c.label_ja}: standard character set",
            )
            add_rule(
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
        add_rule(
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
) -> dict[str, SuiteBuilder]:
    suites: dict[str, SuiteBuilder] = {}
    d = domain.id
    for lf in domain.legacy_files:
        data_cols = list(lf.fields)
        for gate in ("gate_raw", "gate_cleansed"):
            s = SuiteBuilder(unit_name(d, lf.name, gate))
            add_columns_keys_count(
                s, data_cols + list(LINEAGE), list(lf.business_keys), list(lf.business_keys)
            )
            legacy_rules(s, gate, domain, lf)
            suites[s.name] = s
    for gate in ("gate_raw", "gate_cleansed", "gate_standard"):
        s = SuiteBuilder(unit_name(d, "accounting", gate))
        add_accounting(s, gate)
        suites[s.name] = s
    for t in domain.layout.tables:
        required = [c.name for c in t.columns if c.required]
        for gate in ("gate_standard", "gate_target"):
            s = SuiteBuilder(unit_name(d, t.name, gate))
            add_columns_keys_count(s, t.column_names, list(t.business_keys), required)
            standard_rules(s, gate, domain, t, registry)
            suites[s.name] = s
    s = SuiteBuilder(unit_name(d, "reconciliation", "gate_reconciliation"))
    s.all_true("balanced", "legacy records in = loaded + quarantined + merged")
    s.at_most(
        "mismatches", 0, "keyed-hash and aggregate comparison between validated output and target"
    )
    s.all_true("counts_match", "row counts of validated output and target agree")
    s.all_true(
        "within_window",
        "the run, projected to the city's real volumes, fits the cutover window (critical in cutover)",
        "warning",
        critical_in=("cutover",),
    )
    suites[s.name] = s
    return suites
