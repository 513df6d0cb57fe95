"""ikou.cleanse.address: components, the town list, ヶ/ケ/が and の/ノ variants, problems."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.cleanse.address import TownList, fold
from ikou.cleanse.rules import address_canonical

TOWNS_CSV = """prefecture,city,ward,town,town_kana,chome_max,postal_code
架空県,架空市,中央区,桜町,サクラマチ,6,0001000
架空県,架空市,北区,松が丘,マツガオカ,3,0001006
架空県,架空市,東区,梅ケ丘,ウメガオカ,2,0001007
架空県,架空市,南区,竹ノ塚,タケノツカ,4,0001033
架空県,架空市,北区,日の出町,ヒノデマチ,5,0001036
架空県,架空市,西区,本町,ホンマチ,3,0001004
架空県,架空市,南区,本町,ホンマチ,2,0001099
"""


@pytest.fixture(scope="module")
def towns() -> TownList:
    return TownList.parse(TOWNS_CSV)


def test_components_of_a_canonical_address(towns):
    p = towns.parse_address("架空市中央区桜町６丁目４番４号　コーポ桜１０１号室")
    assert p.as_tuple() == ("架空県", "架空市", "中央区", "桜町", 6, 4, 4, "コーポ桜１０１号室")
    assert p.in_city and p.problems == []


@pytest.mark.parametrize(
    "written, listed",
    [
        ("架空市北区松ヶ丘１丁目２番３号", "松が丘"),
        ("架空市東区梅ヶ丘２丁目２番３号", "梅ケ丘"),
        ("架空市東区梅が丘２丁目２番３号", "梅ケ丘"),
        ("架空市南区竹の塚１丁目２番３号", "竹ノ塚"),
        ("架空市北区日ノ出町１丁目２番３号", "日の出町"),
        ("架空市北区松ガ丘１丁目２番３号", "松が丘"),
    ],
)
def test_town_variants_are_folded_to_the_listed_name(towns, written, listed):
    fixed = towns.fold_town(written)
    assert listed in fixed and fixed.replace(listed, "") == written.replace(
        written[5 : 5 + len(listed)], ""
    )
    assert towns.parse_address(fixed).town == listed
    assert towns.fold_town(fixed) == fixed  # idempotent


def test_same_town_name_in_two_wards_uses_the_ward(towns):
    assert towns.parse_address("架空市西区本町１丁目１番１号").ward == "西区"
    assert towns.parse_address("架空市南区本町２丁目１番１号").problems == []
    assert towns.parse_address("架空市南区本町３丁目１番１号").problems == [
        "address_chome_out_of_range"
    ]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("架空市中央区不明町１丁目２番３号", "address_unknown_town"),
        ("架空市北区桜町１丁目２番３号", "address_ward_mismatch"),  # 桜町 is in 中央区
        ("架空市中央区桜町９丁目１番１号", "address_chome_out_of_range"),
        ("架空市中央区桜町", "address_unparseable"),
        (
            "架空市南区竹ノ塚２〓５〓１９",
            "address_unparseable",
        ),  # an unmapped 外字 where a separator was
    ],
)
def test_problems(towns, text, problem):
    p = towns.parse_address(text)
    assert problem in p.problems
    if problem == "address_unparseable":
        assert (p.chome, p.banchi, p.go) == (
            None,
            None,
            None,
        )  # no numbers read from half an address


@pytest.mark.parametrize(
    "text, pref, city",
    [
        ("仮想県仮想市５丁目１８番１１号", "仮想県", "仮想市"),
        ("架空県東架空市１丁目２番３号", "架空県", "東架空市"),
        ("見本県見本市１２番地", "見本県", "見本市"),
        ("架空県西浜町３番地", "架空県", "西浜町"),
    ],
)
def test_addresses_outside_the_city_are_split_not_checked(towns, text, pref, city):
    p = towns.parse_address(text)
    assert not p.in_city and p.problems == [] and (p.prefecture, p.city) == (pref, city)
    assert towns.fold_town(text) == text


def test_ward_without_city_and_land_numbers(towns):
    p = towns.parse_address("中央区桜町１丁目２番３号")
    assert p.in_city and p.city == "架空市" and p.town == "桜町"
    loc = towns.parse_address("架空市中央区桜町１２３番４５")  # 地番 (a parcel number)
    assert (loc.chome, loc.banchi, loc.go, loc.problems) == (None, 123, 45, [])
    hon = towns.parse_address("架空市中央区桜町６丁目４番地")  # 本籍
    assert (hon.chome, hon.banchi, hon.go, hon.problems) == (6, 4, None, [])


def test_canonical_then_components_for_every_written_form(towns):
    for text in (
        "架空市北区松ヶ丘１-２-３",
        "北区松ヶ丘一丁目二番三号",
        "架空県架空市北区松ヶ丘１丁目２番地３",
        "架空市北区松ヶ丘一ノ二ノ三 ビル",
    ):
        c = towns.fold_town(address_canonical(text, city=towns.city, wards=tuple(towns.wards)))
        p = towns.parse_address(c)
        assert (p.town, p.chome, p.banchi, p.go) == ("松が丘", 1, 2, 3), text


def test_fold_keeps_length():
    assert fold("松ヶ丘竹の塚") == "松ケ丘竹ノ塚"
    assert len(fold("がのヶ")) == 3


@given(st.text(alphabet="架空県市中央北区桜町松が丘ヶケの日出１２３丁目番地号-〓 　", max_size=25))
@settings(max_examples=300, deadline=None)
def test_parse_and_fold_never_fail_and_fold_is_idempotent(towns, text):
    once = towns.fold_town(text)
    assert towns.fold_town(once) == once
    towns.parse_address(once)
