"""ikou.domains: the shipped registry of the 20 domains, and the errors a broken registry raises.

All data here is the shipped registry (synthetic layouts) or a copy of it under tmp_path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ikou.domains import Domain, LegacyFile, RegistryError, load_registry, registry
from ikou.domains.schema import ADDRESSEE_REFERENCE_ROLES, DATA_DIR, ROLES
from ikou.mainframe.copybook import parse_copybook

# The domain brief's table: id -> 分野.
BRIEF = {
    "juki": "住民基本台帳",
    "inkan": "印鑑登録",
    "shugaku": "就学",
    "kotei_shisanzei": "固定資産税",
    "kojin_juminzei": "個人住民税",
    "hojin_juminzei": "法人住民税",
    "kei_jidoshazei": "軽自動車税",
    "kaigo": "介護保険",
    "shogaisha": "障害者福祉",
    "kokuho": "国民健康保険",
    "koki_korei": "後期高齢者医療",
    "kokumin_nenkin": "国民年金",
    "seikatsu_hogo": "生活保護",
    "kenko_kanri": "健康管理",
    "jido_teate": "児童手当",
    "jido_fuyo_teate": "児童扶養手当",
    "kodomo_kosodate": "子ども・子育て支援",
    "senkyo": "選挙人名簿管理",
    "koseki": "戸籍",
    "koseki_fuhyo": "戸籍の附票",
}


@pytest.fixture(scope="module")
def reg():
    return load_registry()


@pytest.fixture(scope="module")
def copybooks(reg):
    """(domain id, legacy file name) -> parsed copybook of the shipped registry."""
    out = {}
    for d in reg:
        for lf in d.legacy_files:
            out[(d.id, lf.name)] = parse_copybook(
                lf.copybook_path.read_text(encoding="utf-8"), source=lf.copybook
            )
    return out


def _legacy_files(reg):
    return [(d, lf) for d in reg for lf in d.legacy_files]


# ----------------------------------------------------------------------------- shipped registry


def test_exactly_the_twenty_domains_of_the_brief(reg):
    assert len(reg) == 20
    assert set(reg.ids) == set(BRIEF)
    for domain_id, name_ja in BRIEF.items():
        d = reg.get(domain_id)
        assert isinstance(d, Domain)
        assert d.id == domain_id
        assert d.name_ja == name_ja
        assert d.name_en and d.name_en.isascii()
        assert d.dag_id == f"migrate_{domain_id}"
        assert name_ja in d.display_name and d.name_en in d.display_name


def test_names_are_japanese(reg):
    for d in reg:
        assert any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in d.name_ja), d.id


def test_ids_are_in_file_name_order_and_lookup_errors_name_the_domain(reg):
    assert reg.ids == sorted(reg.ids)
    assert "juki" in reg and "nosuch" not in reg
    with pytest.raises(KeyError, match="nosuch"):
        reg.get("nosuch")


def test_registry_is_loaded_once():
    assert registry() is registry()
    assert registry().ids == load_registry().ids


def test_every_domain_has_files_keys_counts_and_a_spec(reg):
    for d in reg:
        assert d.legacy_files, d.id
        assert d.spec.version and d.spec.published, d.id
        assert d.expected_records == sum(lf.expected_records for lf in d.legacy_files) > 0
        assert d.business_keys == {lf.name: list(lf.business_keys) for lf in d.legacy_files}
        assert (
            d.layout is not None
            and d.layout.domain == d.id
            and d.layout.spec_version == d.spec.version
        )
        for lf in d.legacy_files:
            assert isinstance(lf, LegacyFile)
            assert d.legacy_file(lf.name) is lf
            assert lf.copybook_path.is_file()
            assert lf.copybook_path.parent == DATA_DIR / "copybooks"
            assert {"H", "D", "T"} <= set(lf.record_types), (d.id, lf.name)
            assert lf.data_layout == lf.record_types["D"]
            for spec in lf.fields.values():
                assert spec.role in ROLES
        with pytest.raises(KeyError):
            d.legacy_file("NO-SUCH-FILE")


def test_expected_counts_are_at_the_scale_of_a_designated_city(reg):
    atena = reg.get("juki").legacy_file("ATENA").expected_records
    jumin = reg.get("juki").legacy_file("JUKI").expected_records
    assert jumin >= 700_000  # a designated city has at least ~700k residents
    assert atena > jumin  # the addressee master also holds non-residents and corporations
    for d in reg:
        if d.id != "juki":
            assert d.expected_records <= atena, d.id


def test_every_copybook_parses_and_its_data_layout_is_the_lrecl(reg, copybooks):
    for d, lf in _legacy_files(reg):
        cb = copybooks[(d.id, lf.name)]
        data = cb.record(lf.data_layout)
        assert data.size == lf.lrecl, (d.id, lf.name, data.size, lf.lrecl)
        assert cb.lrecl == lf.lrecl, (d.id, lf.name)


def test_record_type_layouts_exist(reg, copybooks):
    for d, lf in _legacy_files(reg):
        cb = copybooks[(d.id, lf.name)]
        for code, layout_name in lf.record_types.items():
            layout = cb.record(layout_name)  # raises KeyError when missing
            assert layout.size == lf.lrecl, (d.id, lf.name, code)
            assert lf.record_type_field in layout, (d.id, lf.name, code)
            assert layout.field(lf.record_type_field).size == 1


def test_every_registry_field_and_key_is_in_the_copybook_data_layout(reg, copybooks):
    for d, lf in _legacy_files(reg):
        data = copybooks[(d.id, lf.name)].record(lf.data_layout)
        for name in lf.fields:
            assert name in data, (d.id, lf.name, name)
        for key in lf.business_keys:
            assert key in lf.fields and key in data, (d.id, lf.name, key)
        # mixed (SO/SI) fields must be PIC X text: declaring them must not fail
        data.with_kinds(lf.mixed_fields)
        for name in lf.mixed_fields:
            assert data.field(name).kind == "alphanumeric", (d.id, lf.name, name)


def test_trailer_fields_exist(reg, copybooks):
    for d, lf in _legacy_files(reg):
        cb = copybooks[(d.id, lf.name)]
        trailer = cb.record(lf.record_types["T"])
        assert lf.trailer.count_field in trailer, (d.id, lf.name)
        assert trailer.field(lf.trailer.count_field).kind in ("zoned", "packed", "binary")
        data = cb.record(lf.data_layout)
        for tfield, dfield in lf.trailer.sums.items():
            assert tfield in trailer and dfield in data and dfield in lf.fields, (
                d.id,
                lf.name,
                tfield,
            )


def test_standard_layout_columns_read_existing_fields(reg):
    for d in reg:
        assert d.layout.tables, d.id
        sources = {t.source for t in d.layout.tables}
        assert sources <= {lf.name for lf in d.legacy_files}
        for table in d.layout.tables:
            lf = d.legacy_file(table.source)
            assert table.column_names, (d.id, table.name)
            assert len(set(table.column_names)) == len(table.column_names), (d.id, table.name)
            for col in table.columns:
                assert col.source in lf.fields, (d.id, table.name, col.name)
                assert col.label_ja
                if col.type in ("string", "code"):
                    assert col.length and col.length > 0
            for key in table.business_keys:
                assert key in table.column_names
            assert d.layout.table(table.name) is table
            assert table.column(table.column_names[0]).name == table.column_names[0]
        with pytest.raises(KeyError):
            d.layout.table("no_such_table")


def test_the_addressee_master_is_juki_atena(reg):
    assert reg.addressee_master() == ("juki", "atena")
    atena = reg.get("juki").legacy_file("ATENA")
    assert atena.fields_with_role("atena_no") == ["ATENA-NO"]
    assert atena.business_keys == ["ATENA-NO"]
    # only the master holds the atena_no role
    holders = [(d.id, lf.name) for d, lf in _legacy_files(reg) if lf.fields_with_role("atena_no")]
    assert holders == [("juki", "ATENA")]


def test_refers_to_follows_the_brief(reg):
    assert reg.get("juki").refers_to == []
    assert set(reg.get("koseki_fuhyo").refers_to) >= {"koseki", "juki"}
    # income data of the individual resident tax sets premiums and income limits
    for d in ("kokuho", "kaigo", "koki_korei", "jido_teate", "kodomo_kosodate"):
        assert "kojin_juminzei" in reg.get(d).refers_to, d
    for d in reg:
        assert d.id not in d.refers_to
        assert len(set(d.refers_to)) == len(d.refers_to)
        for ref in d.refers_to:
            assert ref in reg


def test_domains_with_addressee_references_refer_to_juki(reg):
    for d, lf in _legacy_files(reg):
        if d.id != "juki" and lf.fields_with_role(*ADDRESSEE_REFERENCE_ROLES):
            assert "juki" in d.refers_to, (d.id, lf.name)


def test_no_personal_identifier_is_a_business_key(reg):
    for d, lf in _legacy_files(reg):
        for key in lf.business_keys:
            assert lf.fields[key].role not in ("my_number", "juminhyo_code"), (d.id, lf.name, key)


def test_an_env_folder_is_honoured(tmp_path, monkeypatch):
    data = _copy(tmp_path)
    monkeypatch.setenv("IKOU_REGISTRY_DIR", str(data))
    reg = load_registry()
    assert reg.data_dir == data
    # copybooks are read from the registry folder that was loaded, not from the package
    assert (
        reg.get("juki").legacy_file("ATENA").copybook_path == data / "copybooks" / "juki_atena.cpy"
    )


# ----------------------------------------------------------------------------- broken copies


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "data"
    shutil.copytree(DATA_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _edit(path: Path, fn) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_a_copy_loads_like_the_original(tmp_path):
    data = _copy(tmp_path)
    reg = load_registry(data)
    assert reg.ids == load_registry().ids
    assert reg.data_dir == data


def test_a_dumped_and_reloaded_domain_file_is_unchanged(tmp_path):
    data = _copy(tmp_path)
    _edit(data / "domains" / "inkan.yaml", lambda raw: None)
    assert (
        load_registry(data).get("inkan").model_dump() == load_registry().get("inkan").model_dump()
    )


def _raises(data: Path, *needles: str) -> str:
    with pytest.raises(RegistryError) as exc:
        load_registry(data)
    msg = str(exc.value)
    for n in needles:
        assert n in msg, (n, msg)
    return msg


def test_unknown_top_level_field(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "colour: red\n", encoding="utf-8")
    msg = _raises(data, str(path), "'inkan'", "colour", "unknown field")
    assert isinstance(RegistryError(msg), ValueError)


def test_unknown_field_inside_a_legacy_file(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "kaigo.yaml"
    _edit(path, lambda raw: raw["legacy_files"][0].update(blocksize=27920))
    _raises(data, str(path), "'kaigo'", "legacy_files.0.blocksize", "unknown field")


def test_unknown_role(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    _edit(
        path,
        lambda raw: raw["legacy_files"][0]["fields"]["ATENA-NO"].update(role="favourite_colour"),
    )
    _raises(data, str(path), "'inkan'", "favourite_colour")


def test_missing_required_field(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "senkyo.yaml"
    _edit(path, lambda raw: raw.pop("name_ja"))
    _raises(data, str(path), "'senkyo'", "name_ja")


def test_duplicate_id_in_a_second_file(tmp_path):
    data = _copy(tmp_path)
    second = data / "domains" / "inkan2.yaml"
    shutil.copyfile(data / "domains" / "inkan.yaml", second)
    _raises(data, str(second), "'inkan'", "file name", "'inkan2'")


def test_id_must_match_the_file_name(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "shugaku.yaml"
    _edit(path, lambda raw: raw.update(id="gakurei"))
    _raises(data, str(path), "'gakurei'", "'shugaku'")


def test_invalid_id(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "Bad-Id.yaml"
    shutil.copyfile(data / "domains" / "inkan.yaml", path)
    _edit(path, lambda raw: raw.update(id="Bad-Id"))
    _raises(data, str(path), "'Bad-Id'", "id")


def test_refers_to_a_missing_domain(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    _edit(path, lambda raw: raw["refers_to"].append("nosuch"))
    _raises(data, str(path), "'inkan'", "'nosuch'", "refers_to")


def test_refers_to_itself(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    _edit(path, lambda raw: raw["refers_to"].append("inkan"))
    _raises(data, str(path), "'inkan'", "itself")


def test_refers_to_cycle(tmp_path):
    data = _copy(tmp_path)
    _edit(data / "domains" / "juki.yaml", lambda raw: raw.update(refers_to=["senkyo"]))
    msg = _raises(data, "cycle", "juki", "senkyo")
    # the message names a file of the cycle and its entry
    assert (
        str(data / "domains" / "juki.yaml") in msg or str(data / "domains" / "senkyo.yaml") in msg
    )
    assert "entry 'juki'" in msg or "entry 'senkyo'" in msg


def test_longer_refers_to_cycle(tmp_path):
    data = _copy(tmp_path)
    _edit(data / "domains" / "juki.yaml", lambda raw: raw.update(refers_to=["jido_teate"]))
    # jido_teate -> kojin_juminzei -> juki -> jido_teate (or jido_teate -> juki directly)
    msg = _raises(data, "cycle", "juki", "jido_teate", "entry ")
    assert ".yaml" in msg


def test_missing_copybook(tmp_path):
    data = _copy(tmp_path)
    (data / "copybooks" / "inkan_inkan.cpy").unlink()
    _raises(
        data,
        str(data / "domains" / "inkan.yaml"),
        "'inkan'",
        "'INKAN'",
        "inkan_inkan.cpy",
        "not found",
    )


def test_business_key_not_a_field(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    _edit(path, lambda raw: raw["legacy_files"][0].update(business_keys=["NO-SUCH-KEY"]))
    _raises(data, str(path), "'inkan'", "'INKAN'", "NO-SUCH-KEY")


def test_trailer_sum_of_unknown_field(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    _edit(path, lambda raw: raw["legacy_files"][0]["trailer"].update(sums={"TRL-TOTAL": "NO-SUCH"}))
    _raises(data, str(path), "'inkan'", "NO-SUCH")


def test_record_types_need_a_data_layout(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    _edit(path, lambda raw: raw["legacy_files"][0]["record_types"].pop("D"))
    _raises(data, str(path), "'inkan'", "'D'")


def test_duplicate_legacy_file_names(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    _edit(path, lambda raw: raw["legacy_files"].append(dict(raw["legacy_files"][0])))
    _raises(data, str(path), "'inkan'", "duplicate")


def test_layout_column_reads_an_unknown_field(tmp_path):
    data = _copy(tmp_path)
    layout = data / "layouts" / "inkan" / "1.0.yaml"
    _edit(layout, lambda raw: raw["tables"][0]["columns"][1].update(source="NO-SUCH-FIELD"))
    _raises(data, str(layout), "'inkan'", "'atena_no'", "NO-SUCH-FIELD")


def test_layout_for_the_spec_version_is_missing(tmp_path):
    data = _copy(tmp_path)
    (data / "layouts" / "inkan" / "1.0.yaml").unlink()
    _raises(data, str(data / "layouts" / "inkan" / "1.0.yaml"), "'inkan'", "not found")


def test_layout_table_source_is_not_a_legacy_file(tmp_path):
    data = _copy(tmp_path)
    layout = data / "layouts" / "inkan" / "1.0.yaml"
    _edit(layout, lambda raw: raw["tables"][0].update(source="NOFILE"))
    _raises(data, str(layout), "'inkan'", "NOFILE")


def test_layout_text_column_needs_a_length(tmp_path):
    data = _copy(tmp_path)
    layout = data / "layouts" / "inkan" / "1.0.yaml"
    _edit(layout, lambda raw: raw["tables"][0]["columns"][0].pop("length"))
    _raises(data, str(layout), "'inkan'", "length")


def test_layout_of_another_domain(tmp_path):
    data = _copy(tmp_path)
    layout = data / "layouts" / "inkan" / "1.0.yaml"
    _edit(layout, lambda raw: raw.update(domain="juki"))
    _raises(data, str(layout), "'inkan'", "'juki'")


def test_invalid_yaml(tmp_path):
    data = _copy(tmp_path)
    path = data / "domains" / "inkan.yaml"
    path.write_text("id: inkan\nname_ja: [unclosed\n", encoding="utf-8")
    _raises(data, str(path), "YAML")


def test_empty_folder(tmp_path):
    (tmp_path / "domains").mkdir()
    _raises(tmp_path, "no domain files")
