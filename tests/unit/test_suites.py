"""The GX project is generated from the registry: it must not drift, and it must say what the
issue asks of each gate (five per domain, layout rules, 88-level code lists, references, severities)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ikou.domains import registry
from ikou.domains.mapping import addressee_references
from ikou.quality.gate import gx_root
from ikou.quality.suite_policy import GATES, POLICY, target_table_name
from ikou.quality.suite_rules import copybook_fields, domain_suites
from ikou.quality.suites import project_files

GX = gx_root() / "gx"


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return project_files(registry())


@pytest.fixture(scope="module")
def suites() -> dict[str, dict]:
    reg = registry()
    out = {}
    for d in reg:
        for name, s in domain_suites(d, reg.plan[d.id].phase, reg).items():
            out[name] = s.to_json()
    return out


def test_committed_project_does_not_drift(files):
    stale = [
        rel
        for rel, text in files.items()
        if not (GX / rel).exists() or (GX / rel).read_text(encoding="utf-8") != text
    ]
    assert not stale, (
        f"{len(stale)} generated GX files differ from the registry (run `make gx`), e.g. {stale[:5]}"
    )
    generated = {
        p.relative_to(GX).as_posix()
        for sub in ("expectations", "validation_definitions", "checkpoints")
        for p in (GX / sub).rglob("*.json")
    }
    assert generated <= set(files), (
        f"stale files not generated any more: {sorted(generated - set(files))[:5]}"
    )


def test_cli_check_is_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ikou.cli", "gx", "generate", "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_layout_change_shows_as_drift(tmp_path):
    """Change a layout's code list in a copy of the registry: the generated suite changes with it."""
    import shutil

    from ikou.domains.registry import load_registry
    from ikou.domains.schema import DATA_DIR

    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    layout = data / "layouts" / "juki" / "2.1.yaml"
    text = layout.read_text(encoding="utf-8")
    assert "codes: ['01', '02', '03', '04', '05', '99']" in text
    layout.write_text(
        text.replace(
            "codes: ['01', '02', '03', '04', '05', '99']",
            "codes: ['01', '02', '03', '04', '05', '06', '99']",
        ),
        encoding="utf-8",
    )
    changed = project_files(load_registry(data))
    rel = "expectations/juki/jumin/gate_standard.json"
    assert changed[rel] != (GX / rel).read_text(encoding="utf-8")
    assert '"06"' in changed[rel]


def test_five_gates_per_domain(suites):
    for d in registry():
        gates = {name.split(".")[2] for name in suites if name.startswith(d.id + ".")}
        assert gates == set(GATES), d.id
        for t in d.layout.tables:
            assert (
                f"{d.id}.{t.name}.gate_standard" in suites
                and f"{d.id}.{t.name}.gate_target" in suites
            )
        for lf in d.legacy_files:
            assert (
                f"{d.id}.{lf.name}.gate_raw" in suites
                and f"{d.id}.{lf.name}.gate_cleansed" in suites
            )


def _exps(suite: dict, type_: str, column: str | None = None) -> list[dict]:
    return [
        e
        for e in suite["expectations"]
        if e["type"] == type_ and (column is None or e["kwargs"].get("column") == column)
    ]


def test_layout_rules_in_gate_standard_and_gate_target(suites):
    for d in registry():
        for t in d.layout.tables:
            for gate in ("gate_standard", "gate_target"):
                s = suites[f"{d.id}.{t.name}.{gate}"]
                for c in t.columns:
                    (typ,) = _exps(s, "expect_column_to_have_layout_type", c.name)
                    assert typ["kwargs"]["layout_type"] == c.type
                    if c.type in ("string", "code"):
                        (ln,) = _exps(s, "expect_column_value_lengths_to_be_between", c.name)
                        assert ln["kwargs"]["max_value"] == c.length
                    if c.codes:
                        (cl,) = _exps(s, "expect_column_values_to_be_in_code_list", c.name)
                        assert cl["kwargs"]["codes"] == [str(x) for x in c.codes]
                        assert (
                            d.layout.spec_version in cl["kwargs"]["code_list"]
                        )  # the versioned list
                        assert "mostly" not in cl["kwargs"] and cl["severity"] == "critical"
                    if c.required:
                        assert _exps(s, "expect_column_values_to_not_be_null", c.name)
                    if c.type == "date":
                        (dr,) = _exps(s, "expect_column_values_to_be_within_era_range", c.name)
                        assert dr["kwargs"]["latest"] == {"$PARAMETER": "snapshot"}


def test_88_level_code_lists_in_raw_and_cleansed(suites):
    seen = 0
    for d in registry():
        for lf in d.legacy_files:
            for column, _kind, _size, conditions in copybook_fields(
                str(lf.copybook_path), lf.data_layout
            ):
                if not conditions or column not in lf.fields:
                    continue
                for gate in ("gate_raw", "gate_cleansed"):
                    (cl,) = _exps(
                        suites[f"{d.id}.{lf.name}.{gate}"],
                        "expect_column_values_to_be_in_code_list",
                        column,
                    )
                    assert (
                        "88" in cl["kwargs"]["code_list"]
                        and lf.copybook in cl["kwargs"]["code_list"]
                    )
                    seen += 1
    assert seen > 20
    sex = _exps(
        suites["juki.ATENA.gate_raw"], "expect_column_values_to_be_in_code_list", "SEIBETSU"
    )[0]
    assert sex["kwargs"]["codes"] == ["1", "2", ""]  # VALUE ' ' is delivered right-trimmed


def test_references_to_the_addressee_master(suites):
    reg = registry()
    master_domain, master_table = reg.addressee_master()
    n = 0
    for d in reg:
        for t in d.layout.tables:
            for col in addressee_references(d, t):
                (ri,) = _exps(
                    suites[f"{d.id}.{t.name}.gate_standard"],
                    "expect_column_values_to_exist_in_addressee_master",
                    col,
                )
                assert ri["kwargs"]["reference_table"] == target_table_name(
                    master_domain, master_table
                )
                assert ri["severity"] == "critical" and "mostly" not in ri["kwargs"]
                n += 1
    assert n >= 15  # tax, insurance and welfare domains refer to 宛名


def test_identifier_kana_date_and_character_rules(suites):
    atena = suites["juki.ATENA.gate_raw"]
    assert _exps(atena, "expect_column_values_to_be_valid_my_number", "KOJIN-NO")[0]["kwargs"][
        "allow_corporate_number"
    ]
    assert (
        _exps(atena, "expect_column_values_to_be_kana", "SHIMEI-KANA")[0]["kwargs"]["width"]
        == "any"
    )
    assert (
        _exps(suites["juki.ATENA.gate_cleansed"], "expect_column_values_to_be_kana", "SHIMEI-KANA")[
            0
        ]["kwargs"]["width"]
        == "full"
    )
    era = _exps(atena, "expect_column_values_to_be_within_era_range", "SEINENGAPPI")[0]
    assert (
        era["kwargs"]["form"] == "era_code" and era["kwargs"]["allow_zero"]
    )  # corporations have no birth date
    assert _exps(
        suites["juki.JUKI.gate_raw"],
        "expect_column_values_to_be_valid_juminhyo_code",
        "JUMINHYO-CD",
    )
    for name in ("juki.ATENA.gate_raw", "juki.atena.gate_standard"):
        col = "SHIMEI" if "ATENA" in name else "shimei"
        (gaiji,) = _exps(suites[name], "expect_column_values_to_have_no_unmapped_gaiji", col)
        assert gaiji["severity"] == "warning" and gaiji["meta"]["critical_in_modes"] == ["cutover"]
        assert _exps(suites[name], "expect_column_values_to_be_in_standard_charset", col)


def test_accounting_and_reconciliation(suites):
    raw = {e["kwargs"].get("column") for e in suites["juki.accounting.gate_raw"]["expectations"]}
    assert {
        "balanced",
        "trailer_count_ok",
        "trailer_sums_ok",
        "quarantine_rate",
        "unmapped_gaiji",
    } <= raw
    rec = suites["juki.reconciliation.gate_reconciliation"]
    cols = {e["kwargs"].get("column"): e for e in rec["expectations"]}
    assert {"balanced", "mismatches", "counts_match", "within_window"} <= set(cols)
    assert cols["within_window"]["meta"]["critical_in_modes"] == ["cutover"]
    assert "orphan_references" in {
        e["kwargs"].get("column") for e in suites["juki.accounting.gate_standard"]["expectations"]
    }


def test_every_expectation_has_a_severity_and_a_rule(suites):
    for name, s in suites.items():
        for e in s["expectations"]:
            assert e["severity"] in ("critical", "warning"), (name, e)
            assert e["meta"].get("rule") in POLICY, (name, e)
            if "mostly" in e["kwargs"]:
                assert 0 < e["kwargs"]["mostly"] <= 1


def test_gx_loads_every_committed_suite_with_ikou_expectations():
    """Every suite of the committed project deserialises (unknown types or bad kwargs would fail)."""
    import great_expectations as gx
    import ikou.quality.expectations  # noqa: F401 - registers the classes

    n = 0
    for p in sorted((GX / "expectations").rglob("*.json")):
        suite = gx.ExpectationSuite(**json.loads(p.read_text(encoding="utf-8")))
        assert suite.expectations, p
        n += 1
    assert n == len([1 for d in registry() for _ in domain_suites(d, "migration", registry())])


def test_checkpoints_store_counts_only(files):
    for rel, text in files.items():
        if rel.startswith("checkpoints/"):
            rf = json.loads(text)["result_format"]
            assert (
                rf["result_format"] in ("BASIC", "SUMMARY") and rf["partial_unexpected_count"] == 0
            )
            assert rf["include_unexpected_rows"] is False
    assert Path(GX / "great_expectations.yml").exists()
