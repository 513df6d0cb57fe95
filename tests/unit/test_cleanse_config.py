"""Rules as configuration: defaults by role that every domain inherits, per-domain overrides in the
registry (``cleanse:`` of a domain YAML), validated on load."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pytest
import yaml
from pydantic import ValidationError

from ikou.cleanse import rules as R
from ikou.cleanse.config import CleanseContext
from ikou.cleanse.stage import cleanse_table
from ikou.domains import registry
from ikou.domains.files import RegistryError
from ikou.domains.registry import load_registry
from ikou.domains.schema import DATA_DIR, Domain
from ikou.findings import Findings

IDENTIFIER_CHECKS = {
    "my_number": "my_number_check_digit",
    "corporate_number": "corporate_number_check_digit",
    "juminhyo_code": "juminhyo_code_format",
    "postal_code": "postal_code_format",
    "phone": "phone_format",
}
TEXT_ROLES = {"name", "head_name", "name_kana", "address", "honseki", "location", "plate"}


def test_every_domain_field_gets_its_checks_by_role():
    seen = set()
    ctx = CleanseContext()
    for d in registry():
        dctx = ctx.for_domain(d)
        for lf in d.legacy_files:
            for fname, spec in lf.fields.items():
                cfg = dctx.rules_for(lf.name, fname, spec.role)
                if spec.role in IDENTIFIER_CHECKS:
                    assert IDENTIFIER_CHECKS[spec.role] in cfg["checks"], (d.id, lf.name, fname)
                    seen.add(spec.role)
                if spec.role in TEXT_ROLES:
                    assert "standard_chars" in cfg["checks"], (d.id, lf.name, fname)
                if spec.role in ("name", "head_name"):
                    assert cfg["rules"] == [], (d.id, fname)
                assert not R.unknown_names(cfg)
    assert seen == set(IDENTIFIER_CHECKS)


def _juki_dict() -> dict:
    d = registry().get("juki").model_dump(exclude={"layout"})
    return d


def test_a_domain_without_a_cleanse_section_inherits_the_defaults():
    raw = _juki_dict()
    raw.pop("cleanse")
    d = Domain.model_validate(raw)
    ctx = CleanseContext().for_domain(d)
    assert ctx.rules_for("ATENA", "SHIMEI-KANA", "name_kana") == R.rules_for("name_kana")
    assert ctx.juminhyo_rule == "format"
    assert d.cleanse.dedupe.auto_merge == 0.999


def test_overrides_fields_win_over_roles_win_over_defaults():
    raw = _juki_dict()
    raw["cleanse"] = {
        "roles": {"name_kana": {"rules": [], "checks": ["standard_chars"]}},
        "fields": {"ATENA.JUSHO": {"rules": ["address_canonical"], "checks": []}},
        "juminhyo_rule": "format",
        "vendor_variants": "off",
    }
    d = Domain.model_validate(raw)
    ctx = CleanseContext().for_domain(d)
    assert ctx.rules_for("ATENA", "SHIMEI-KANA", "name_kana") == {
        "rules": [],
        "checks": ["standard_chars"],
    }
    assert ctx.rules_for("ATENA", "JUSHO", "address") == {
        "rules": ["address_canonical"],
        "checks": [],
    }
    assert ctx.rules_for("JUKI", "HONSEKI", "honseki") == R.rules_for("honseki")
    assert ctx.charset.problems("～") == []  # vendor variants off
    # the stage follows the configuration: the kana stays half-width, the address is not split
    lf = d.legacy_file("ATENA")
    t = pa.table(
        {
            f: pa.array(
                [
                    "ｶｸｳ ﾀﾛｳ"
                    if f == "SHIMEI-KANA"
                    else ("中央区桜町1-2-3" if f == "JUSHO" else None)
                ],
                pa.string(),
            )
            for f in lf.fields
            if f not in ("ATENA-NO", "SEINENGAPPI", "TOROKU-YMD", "KOSHIN-YMD")
        }
    )
    t = t.append_column("ATENA-NO", pa.array([1], pa.int64()))
    res = cleanse_table(t, d, lf, Findings("juki", "x", "cleanse"), secret=b"s", context=ctx)
    assert res.table.column("SHIMEI-KANA").to_pylist() == ["ｶｸｳ ﾀﾛｳ"]
    assert res.table.column("JUSHO").to_pylist() == ["架空市中央区桜町１丁目２番３号"]
    assert "JUSHO__town" not in res.table.column_names


@pytest.mark.parametrize(
    "cleanse, message",
    [
        ({"roles": {"name": {"rules": ["nfkc"]}}}, "unknown rules"),
        ({"roles": {"name": {"checks": ["spellcheck"]}}}, "unknown checks"),
        ({"roles": {"no_such_role": {}}}, "unknown roles"),
        ({"juminhyo_rule": "mic-2002"}, "住民票コード"),
        ({"dedupe": {"auto_merge": 1.5}}, "less than 1"),
        ({"colour": "blue"}, "Extra inputs"),
    ],
)
def test_bad_configuration_is_rejected(cleanse, message):
    raw = _juki_dict()
    raw["cleanse"] = cleanse
    with pytest.raises(ValidationError, match=message):
        Domain.model_validate(raw)


def test_registry_file_with_a_bad_field_key_names_file_and_entry(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "domains" / "juki.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["cleanse"]["fields"] = {"ATENA.NO-SUCH-FIELD": {"rules": []}}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(
        RegistryError, match=r"juki.yaml: entry 'juki': cleanse.fields key 'ATENA.NO-SUCH-FIELD'"
    ):
        load_registry(data)
    doc["cleanse"]["fields"] = {"ATENA.SHIMEI": {"rules": [], "checks": ["standard_chars"]}}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert load_registry(data).get("juki").cleanse.fields["ATENA.SHIMEI"].checks == [
        "standard_chars"
    ]


def test_the_shipped_registry_configures_the_synthetic_juminhyo_rule():
    juki = registry().get("juki")
    assert juki.cleanse.juminhyo_rule == "mod11-synthetic"
    assert CleanseContext().for_domain(juki).check("juminhyo_code_format")("12345678901") in (
        [],
        [("juminhyo_code_format", "check failed; value not changed")],
    )
    others = [d for d in registry() if d.id != "juki"]
    assert all(d.cleanse.juminhyo_rule == "format" for d in others)
