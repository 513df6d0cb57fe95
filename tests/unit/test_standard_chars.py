"""ikou.moji.standard: the standard character repertoire (JIS X 0208/0213 + host code pages, IVS,
the city's 外字 targets) and its checks — which report code points and never change text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.moji.standard import (
    PLACEHOLDER,
    StandardCharset,
    codepoint,
    repertoire,
    standard_charset,
    units,
)

GAIJI_CSV = """encoding,legacy_code,unicode,mj_name,note
cp930,6941,U+20BB7,MJ000000,つちよし
cp930,6944,U+F0001,,MJ+ addition in the PUA
cp930,6946,U+9DD7 U+E0102,,an IVS sequence as a target
"""


def test_repertoire_covers_jis_x_0208_0213_and_the_host_code_pages():
    cps, seqs = repertoire()
    for ch in (
        "あア亜腕熙　ー〜ＡＡａ１ｱ" + "俱剝𠀋" + "髙﨑"
    ):  # 0208, 0213 (incl. plane 2), IBM extended
        assert ord(ch) in cps, f"U+{ord(ch):04X}"
    assert "\u304b\u309a" in seqs  # か゚: a JIS X 0213 character that is a Unicode sequence
    assert 14_000 < len(cps) < 20_000
    for outside in (
        "𠮷",
        "\U000f0001",
        "\x01",
        "\U0001f600",
    ):  # not in JIS X 0213 / PUA / control / emoji
        assert ord(outside) not in cps


@pytest.mark.parametrize(
    "text",
    [
        "髙橋　一郎",
        "齋藤　花子",
        "渡邊",
        "山﨑",
        "ｶｸｳ ﾀﾛｳ",
        "カクウ　タロウ",
        "架空市中央区桜町６丁目４番４号　コーポ桜１０１号室",
        "0312345678",
        "か\u309a",
        "\ufa30見本",
        "〜",
    ],
)
def test_standard_text_has_no_problems(text):
    assert standard_charset().problems(text) == []
    assert text in standard_charset()


def test_outside_characters_are_reported_with_their_code_point():
    cs = standard_charset()
    assert cs.problems("𠮷田") == [("nonstandard_char", "U+20BB7")]
    assert cs.problems("見本\U000f0001") == [("nonstandard_char", "U+F0001")]
    assert cs.problems("a\x01b") == [("nonstandard_char", "U+0001")]
    assert cs.problems("〓田") == [("gaiji_placeholder", "U+3013")]


def test_ivs_on_an_ideograph_is_accepted_and_elsewhere_not():
    cs = standard_charset()
    assert (
        cs.problems("葛\U000e0100西") == []
    )  # registered-IVS assumption: any VS17..VS256 on a kanji
    assert cs.problems("辻\U000e0101本") == []
    assert cs.problems("A\U000e0100") == [("nonstandard_char", "U+E0100")]
    assert cs.problems("𠮷\U000e0100") == [
        ("nonstandard_char", "U+20BB7"),
        ("nonstandard_char", "U+E0100"),
    ]
    strict = StandardCharset(ivd=["葛\U000e0100"])  # with a registered-sequence list: exactly those
    assert strict.problems("葛\U000e0100") == []
    assert strict.problems("辻\U000e0101") != []


def test_the_city_gaiji_table_extends_the_set(tmp_path):
    path = tmp_path / "gaiji.csv"
    path.write_text(GAIJI_CSV, encoding="utf-8")
    cs = StandardCharset.for_gaiji_table(path)
    assert cs.problems("𠮷田") == [] and cs.problems("\U000f0001") == []
    assert cs.problems("\u9dd7\U000e0102") == []
    assert standard_charset().problems("𠮷田") != []  # the default set is not changed


def test_vendor_variants_follow_jis_and_are_configurable():
    cs = standard_charset()
    for jdk, jis in (
        (0xFF5E, 0x301C),
        (0x2015, 0x2014),
        (0x2225, 0x2016),
        (0xFFE4, 0x00A6),
        (0xFF0D, 0x2212),
    ):
        assert cs.problems(chr(jdk)) == [("vendor_variant", f"U+{jdk:04X}")]
        assert cs.problems(chr(jis)) == []
    assert StandardCharset(vendor_variants="off").problems("～") == []
    with pytest.raises(ValueError):
        StandardCharset(vendor_variants="jdk")


def test_units_and_codepoint():
    assert units("葛\U000e0100西") == ["葛\U000e0100", "西"]
    assert units("か\u309aき") == ["か\u309a", "き"]
    assert codepoint("葛\U000e0100") == "U+845B U+E0100"
    assert PLACEHOLDER == 0x3013


@given(st.text(max_size=20))
@settings(max_examples=400, deadline=None)
def test_problems_never_carry_text_and_the_fast_path_agrees(text):
    cs = standard_charset()
    probs = cs.problems(text)
    for kind, detail in probs:
        assert kind in (
            "nonstandard_char",
            "nonstandard_sequence",
            "gaiji_placeholder",
            "vendor_variant",
        )
        assert all(part.startswith("U+") for part in detail.split())
    slow_ok = all(
        cs._unit_ok(u)
        and not (
            len(u) == 1
            and (ord(u) == PLACEHOLDER or ord(u) in (0xFF5E, 0x2015, 0x2225, 0xFFE4, 0xFF0D))
        )
        for u in units(text)
    )
    assert (probs == []) == slow_ok
