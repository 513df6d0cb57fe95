"""ikou.cleanse.rules (value rules, checks, configuration by role) and ikou.cleanse.stage.cleanse_table.

Every value here is invented (架空市, fictitious names, identifiers built from check-digit rules).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.cleanse import rules as R
from ikou.cleanse.stage import LEDGER_SCHEMA, VALUES_SCHEMA, cleanse_table
from ikou.domains import registry
from ikou.findings import Findings
from ikou.hashing import keyed_hash, record_key

CANONICAL = "架空市中央区桜町６丁目４番４号"

# ----------------------------------------------------------------------------- address_canonical


@pytest.mark.parametrize(
    "text",
    [
        "架空市中央区桜町6丁目4番4号",
        "架空市中央区桜町6-4-4",
        "架空市中央区桜町六ノ四ノ四",
        "架空市中央区桜町六丁目四番地四",
        "架空市中央区桜町6丁目4番地4",
        "架空市中央区桜町６丁目４番４号",
        "架空市中央区桜町６－４－４",
        "架空市中央区桜町6‐4‐4",  # U+2010 hyphen
        "架空市中央区桜町6−4−4",  # U+2212 minus
        "架空市中央区桜町6―4―4",  # U+2015 horizontal bar
        "架空市中央区桜町6ー4ー4",  # long vowel mark typed as a hyphen
        "架空市中央区桜町6ｰ4ｰ4",  # half-width long vowel mark
        "架空市中央区桜町6の4の4",
        "架空市中央区桜町六丁目四番四号",
        "架空市中央区桜町6丁目4-4",
        "架空市中央区桜町6-4-4号",
        "中央区桜町6-4-4",  # the city omitted
        "架空県架空市中央区桜町6-4-4",  # the prefecture written
        "架空県架空市中央区桜町６丁目４番地４",
        "  架空市中央区桜町6-4-4 ",
    ],
)
def test_address_variants_share_one_canonical_form(text):
    assert R.address_canonical(text) == CANONICAL


def test_address_building_is_kept_with_one_full_width_space():
    assert (
        R.address_canonical("架空市中央区桜町6-4-4 コーポ架空101") == CANONICAL + "　コーポ架空101"
    )
    assert (
        R.address_canonical("架空市中央区桜町6-4-4　コーポ架空101") == CANONICAL + "　コーポ架空101"
    )
    assert R.address_canonical("架空市中央区桜町6-4-4 コーポ 架空") == CANONICAL + "　コーポ　架空"


def test_address_numbers_with_several_digits_and_kanji_units():
    assert (
        R.address_canonical("架空市北区緑町十六丁目二十番百五号")
        == "架空市北区緑町１６丁目２０番１０５号"
    )
    assert R.address_canonical("架空市北区緑町一六ノ二ノ三") == "架空市北区緑町１６丁目２番３号"
    assert R.address_canonical("南区旭町12-345-6") == "架空市南区旭町１２丁目３４５番６号"


@pytest.mark.parametrize(
    "text",
    [
        "どこか遠くの町",
        "架空市中央区桜町",
        "架空市中央区桜町6丁目4番",
        "架空市中央区桜町6-4",
        "仮想県仮想市本町",
        "ABC",
        "架空市中央区桜町番地なし",
        "見本県見本市12番地",
    ],
)
def test_address_unrecognised_text_is_unchanged(text):
    assert R.address_canonical(text) == text


def test_address_other_city_is_not_given_our_city_name():
    assert R.address_canonical("仮想県仮想市中央区本町1-2-3").startswith("仮想県仮想市中央区本町")
    assert not R.address_canonical("仮想県仮想市中央区本町1-2-3").startswith("架空市")


def test_kanji_to_int():
    assert R.kanji_to_int("一") == 1
    assert R.kanji_to_int("十") == 10
    assert R.kanji_to_int("十二") == 12
    assert R.kanji_to_int("二十") == 20
    assert R.kanji_to_int("百五") == 105
    assert R.kanji_to_int("千二百三十四") == 1234
    assert R.kanji_to_int("一二三") == 123
    assert R.kanji_to_int("〇") == 0
    assert R.kanji_to_int("") is None
    assert R.kanji_to_int("一x") is None


_KANJI_DIGITS = "〇一二三四五六七八九"


def _kanji(n: int) -> str:
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else _KANJI_DIGITS[tens] + "十")) + (
        _KANJI_DIGITS[ones] if ones else ""
    )


def _fw(s: str) -> str:
    return s.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


number_style = st.sampled_from(["ascii", "fullwidth", "kanji"])
sep1 = st.sampled_from(["丁目", "-", "－", "‐", "―", "−", "ー", "ｰ", "の", "ノ"])
sep2 = st.sampled_from(["番地", "番", "-", "－", "‐", "―", "−", "ー", "の", "ノ"])


@given(
    st.integers(1, 99),
    st.integers(1, 99),
    st.integers(1, 99),
    number_style,
    sep1,
    sep2,
    st.booleans(),
    st.sampled_from(["架空市中央区桜町", "中央区桜町", "架空県架空市中央区桜町"]),
    st.sampled_from(["", " コーポ架空", "　コーポ架空"]),
)
@settings(max_examples=300, deadline=None)
def test_every_written_form_of_one_address_is_the_same(
    chome, ban, go, style, s1, s2, with_go, head, building
):
    def num(n):
        return {"ascii": str(n), "fullwidth": _fw(str(n)), "kanji": _kanji(n)}[style]

    text = f"{head}{num(chome)}{s1}{num(ban)}{s2}{num(go)}{'号' if with_go else ''}{building}"
    expected = (
        "架空市中央区桜町" + _fw(f"{chome}丁目{ban}番{go}号") + ("　コーポ架空" if building else "")
    )
    assert R.address_canonical(text) == expected


_ADDRESS_ALPHABET = "0123456789０１２３４５６７８９〇一二三四五六七八九十百千丁目番地号のノ-－‐―−ｰー 　町区市架空県中央南北コーポ桜"


@given(st.text(alphabet=_ADDRESS_ALPHABET, max_size=30))
@settings(max_examples=1500, deadline=None)
def test_address_canonical_is_idempotent(text):
    once = R.address_canonical(text)
    assert R.address_canonical(once) == once


@given(st.text(max_size=20))
@settings(max_examples=500, deadline=None)
def test_address_canonical_is_idempotent_on_any_text(text):
    once = R.address_canonical(text)
    assert R.address_canonical(once) == once


# ----------------------------------------------------------------------------- kana and widths


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ｱｲｳｴｵ", "アイウエオ"),
        ("ｶﾞｷﾞｸﾞｹﾞｺﾞ", "ガギグゲゴ"),
        ("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ", "パピプペポ"),
        ("ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ", "バビブベボ"),
        ("ｳﾞｧ", "ヴァ"),
        ("ｯｬｭｮｧ", "ッャュョァ"),
        ("ｶｸｳ ﾀﾛｳ", "カクウ　タロウ"),
        ("ｶｸｳ   ﾀﾛｳ", "カクウ　タロウ"),
        ("ｶｸｳ　 ﾀﾛｳ", "カクウ　タロウ"),
        (" ﾐﾎﾝ ", "ミホン"),
        ("ｰ", "ー"),
        ("かくう　たろう", "カクウ　タロウ"),
        ("ゔ", "ヴ"),
        ("カクウ　タロウ", "カクウ　タロウ"),
        ("ﾐﾎﾝ･ﾊﾅｺ", "ミホン・ハナコ"),
    ],
)
def test_kana_fullwidth(text, expected):
    assert R.kana_fullwidth(text) == expected


_HALF_KANA = "".join(chr(c) for c in range(0xFF66, 0xFF9F + 1)) + " 　ぁあいうゔがぱー"


@given(st.text(alphabet=_HALF_KANA, max_size=20))
@settings(max_examples=500, deadline=None)
def test_kana_fullwidth_is_idempotent_and_leaves_no_half_width_kana(text):
    once = R.kana_fullwidth(text)
    assert R.kana_fullwidth(once) == once
    assert not any(0xFF61 <= ord(c) <= 0xFF9F for c in once)
    assert not any("ぁ" <= c <= "ゖ" for c in once)
    assert " " not in once and "　　" not in once


@given(st.text(max_size=15))
@settings(max_examples=300, deadline=None)
def test_kana_fullwidth_is_idempotent_on_any_text(text):
    once = R.kana_fullwidth(text)
    assert R.kana_fullwidth(once) == once


def test_to_halfwidth_ascii_and_postal():
    assert R.to_halfwidth_ascii("０３－１２３４－５６７８") == "03-1234-5678"
    assert R.to_halfwidth_ascii("ＡＢＣ１２３") == "ABC123"
    assert R.to_halfwidth_ascii("１　２") == "1 2"
    assert R.to_halfwidth_ascii("ｶﾅ漢字") == "ｶﾅ漢字"  # only ASCII forms
    assert R.postal_halfwidth("１２３－４５６７") == "1234567"
    assert R.postal_halfwidth("123-4567") == "1234567"


@given(st.text(max_size=20))
@settings(max_examples=300, deadline=None)
def test_value_rules_are_projections(text):
    for rule in R.VALUE_RULES.values():
        once = rule(text)
        assert rule(once) == once


# ----------------------------------------------------------------------------- configuration by role


NAMES = [
    "髙橋　一郎",
    "齋藤　花子",
    "\ufa30見本",
    "辻\U000e0101本　試験",
    "ﾃｽﾄ　ﾀﾛｳ",
    "見本　１郎",
    "架空 太郎 ",
    "山﨑　例",
]


def test_names_get_no_rule_by_default():
    for role in ("name", "head_name"):
        cfg = R.rules_for(role)
        assert cfg["rules"] == []
    for role, cfg in R.DEFAULT_RULES.items():
        for rule in cfg["rules"]:
            assert rule in R.KNOWN_RULES, (role, rule)
        for check in cfg["checks"]:
            assert check in R.KNOWN_CHECKS, (role, check)
        assert not R.unknown_names(cfg)


def test_every_name_field_of_the_registry_gets_no_rule():
    seen = 0
    for d in registry():
        for lf in d.legacy_files:
            for fname in lf.fields_with_role("name", "head_name"):
                assert R.rules_for(lf.fields[fname].role)["rules"] == [], (d.id, lf.name, fname)
                seen += 1
    assert seen >= 2


def test_rules_for_overrides_and_unknown_roles():
    assert R.rules_for("name_kana") == {
        "rules": ["kana_fullwidth"],
        "checks": ["standard_chars", "kana_chars"],
    }
    override = {"name_kana": {"rules": [], "checks": []}}
    assert R.rules_for("name_kana", override) == {"rules": [], "checks": []}
    assert R.rules_for("address", override) == R.DEFAULT_RULES["address"]
    assert R.rules_for("no_such_role") == {"rules": [], "checks": []}


def test_date_roles():
    assert R.DATE_ROLES["birth_wareki"] == "wareki"
    assert R.DATE_ROLES["registered_date"] == "ymd"


# ----------------------------------------------------------------------------- the cleanse stage


SECRET = "unit-test-secret-not-for-production"


@pytest.fixture
def juki(monkeypatch):
    monkeypatch.setenv("IKOU_HMAC_SECRET", SECRET)
    d = registry().get("juki")
    return d, d.legacy_file("ATENA")


# (ATENA-NO, KBN, SHIMEI, SHIMEI-KANA, SEIBETSU, SEINENGAPPI, JUSHO, YUBIN-NO, DENWA-NO, KOJIN-NO, TOROKU, KOSHIN)
ROWS = [
    (
        9000000001,
        "1",
        NAMES[0],
        "ｶｸｳ ｲﾁﾛｳ",
        "1",
        3500401,
        "中央区桜町6-4-4",
        "1234567",
        "0312345678",
        "983205673214",
        20200101,
        20240102,
    ),
    (
        9000000002,
        "1",
        NAMES[1],
        "カクウ　ハナコ",
        "２",
        3640201,
        "架空市中央区桜町６丁目４番４号",
        "１２３－４５６７",
        "０３－１２３４－５６７８",
        "983205673215",
        20200230,
        20240102,
    ),
    (
        9000000003,
        "2",
        NAMES[2],
        "ﾐﾎﾝ ｼﾞﾛｳ",
        "1",
        3550230,
        "架空市北区緑町十六丁目二十番百五号",
        "000-1234",
        "090-1234-5678",
        "",
        99999999,
        0,
    ),
    (
        9000000004,
        "1",
        NAMES[3],
        "ｼｹﾝ ﾐｷ",
        "2",
        3500300,
        "どこか遠くの町",
        None,
        None,
        None,
        20200101,
        20240102,
    ),
    (
        9000000005,
        "1",
        NAMES[4],
        "ﾃｽﾄ ﾀﾛｳ",
        "1",
        3500000,
        "架空市南区旭町1-2-3 コーポ架空101",
        "0001234",
        "03-1234-5678",
        "983205673214",
        20200101,
        20240102,
    ),
    (
        9000000006,
        "3",
        "架空商事株式会社",
        "ｶｸｳｼｮｳｼﾞ",
        " ",
        0,
        "架空市西区本町1-1-1",
        "0001234",
        "0312345678",
        "7123456789012",
        20200101,
        20240102,
    ),
    (
        9000000007,
        "1",
        NAMES[5],
        "ﾐﾎﾝ ｲﾁﾛｳ",
        "1",
        9999999,
        "架空市東区旭町7の8の9",
        "0001234",
        "0312345678",
        "983205673214",
        20200101,
        20240102,
    ),
    (
        9000000008,
        "1",
        NAMES[6],
        "ｶｸｳ ﾀﾛｳ",
        "1",
        0,
        "架空市東区旭町7の8の9",
        "0001234",
        "0312345678",
        "983205673214",
        20200101,
        20240102,
    ),
    (
        9000000009,
        "1",
        NAMES[7],
        "ﾚｲ",
        "2",
        4310501,
        "架空市東区旭町7の8の9",
        "12345",
        "0312345678",
        "983205673214",
        20200101,
        20240102,
    ),
    (9000000010, "2", NAMES[0], None, None, None, None, None, None, None, None, None),
]
COLUMNS = [
    "ATENA-NO",
    "ATENA-KBN",
    "SHIMEI",
    "SHIMEI-KANA",
    "SEIBETSU",
    "SEINENGAPPI",
    "JUSHO",
    "YUBIN-NO",
    "DENWA-NO",
    "KOJIN-NO",
    "TOROKU-YMD",
    "KOSHIN-YMD",
]
INT_COLUMNS = {"ATENA-NO", "SEINENGAPPI", "TOROKU-YMD", "KOSHIN-YMD"}


def _table() -> pa.Table:
    cols = {}
    for i, name in enumerate(COLUMNS):
        cols[name] = pa.array(
            [r[i] for r in ROWS], pa.int64() if name in INT_COLUMNS else pa.string()
        )
    cols["_record"] = pa.array(range(1, len(ROWS) + 1), pa.int64())
    return pa.table(cols)


def _run(juki, table=None, secret=None):
    d, lf = juki
    findings = Findings("juki", "unit-run", "cleanse")
    res = cleanse_table(table if table is not None else _table(), d, lf, findings, secret=secret)
    return res, findings


def test_the_test_table_matches_the_registry(juki):
    _, lf = juki
    assert set(COLUMNS) == set(lf.fields)


def test_cleansed_values(juki):
    res, _ = _run(juki)
    t = res.table
    assert t.column("JUSHO").to_pylist()[:3] == [
        CANONICAL,
        CANONICAL,
        "架空市北区緑町１６丁目２０番１０５号",
    ]
    assert t.column("JUSHO").to_pylist()[3] == "どこか遠くの町"
    assert t.column("JUSHO").to_pylist()[4] == "架空市南区旭町１丁目２番３号　コーポ架空101"
    assert t.column("SHIMEI-KANA").to_pylist()[:3] == [
        "カクウ　イチロウ",
        "カクウ　ハナコ",
        "ミホン　ジロウ",
    ]
    assert t.column("SEIBETSU").to_pylist()[1] == "2"
    assert t.column("YUBIN-NO").to_pylist()[:3] == ["1234567", "1234567", "0001234"]
    assert t.column("DENWA-NO").to_pylist()[1] == "03-1234-5678"
    assert t.column("ATENA-NO").to_pylist() == [r[0] for r in ROWS]
    assert t.num_rows == len(ROWS)


def test_names_are_never_touched(juki):
    src = _table()
    res, _ = _run(juki, src)
    assert res.table.column("SHIMEI").to_pylist() == src.column("SHIMEI").to_pylist()
    # byte for byte: old forms, compatibility ideographs, IVS, half-width kana and spaces kept
    for before, after in zip(
        src.column("SHIMEI").to_pylist(), res.table.column("SHIMEI").to_pylist()
    ):
        assert before.encode("utf-8") == after.encode("utf-8")
    assert "SHIMEI" not in res.ledger.column("field").to_pylist()


def test_dates_impossible_wareki_is_null_and_a_finding(juki):
    res, findings = _run(juki)
    t = res.table
    dates = t.column("SEINENGAPPI__date").to_pylist()
    precision = t.column("SEINENGAPPI__precision").to_pylist()
    partial = t.column("SEINENGAPPI__partial").to_pylist()
    assert dates[0] == dt.date(1975, 4, 1) and precision[0] == "day"
    for i in (1, 2, 6, 8):  # 昭和64年2月1日, 昭和55年2月30日, 9999999, 平成31年5月1日
        assert dates[i] is None and precision[i] is None and partial[i] is None, i
    assert (dates[3], precision[3], partial[3]) == (None, "month", "1975-03")
    assert (dates[4], precision[4], partial[4]) == (None, "year", "1975")
    rules = findings.summary()
    assert rules["date_outside_era:SEINENGAPPI"] == 2
    assert rules["date_impossible_date:SEINENGAPPI"] == 1
    # 9999999 and 0 of a person are placeholders; a corporation's 0 (no birth date) is not a finding
    assert rules["date_placeholder:SEINENGAPPI"] == 2
    assert not any("partial" in k for k in rules)


def test_ymd_dates(juki):
    res, findings = _run(juki)
    t = res.table
    toroku = t.column("TOROKU-YMD__date").to_pylist()
    assert toroku[0] == dt.date(2020, 1, 1)
    assert toroku[1] is None and toroku[2] is None
    assert t.column("TOROKU-YMD__precision").to_pylist()[:3] == ["day", None, None]
    rules = findings.summary()
    assert rules["date_impossible_date:TOROKU-YMD"] == 1
    assert rules["date_placeholder:TOROKU-YMD"] == 1
    assert t.schema.field("TOROKU-YMD__date").type == pa.date32()


def test_checks_report_and_change_nothing(juki):
    src = _table()
    res, findings = _run(juki, src)
    rules = findings.summary()
    assert rules["my_number_check_digit:KOJIN-NO"] == 1  # the row with a wrong check digit
    assert rules["postal_code_format:YUBIN-NO"] == 1  # "12345": too short, reported, kept
    assert "phone_format:DENWA-NO" not in rules
    assert res.table.column("KOJIN-NO").to_pylist() == src.column("KOJIN-NO").to_pylist()
    assert res.table.column("YUBIN-NO").to_pylist()[8] == "12345"
    for f in findings.items:
        if f.rule in ("my_number_check_digit", "postal_code_format"):
            assert f.severity == "warning" and "not changed" in f.detail


def test_findings_hold_keyed_hashes_and_no_values(juki):
    _, findings = _run(juki)
    raw_keys = {str(r[0]) for r in ROWS}
    values = {str(v) for r in ROWS for v in r if v not in (None, "", 0)}
    expected_keys = {record_key("juki", "ATENA", [r[0]], secret=SECRET.encode()) for r in ROWS}
    assert len(findings) > 0
    for f in findings.rows():
        assert f["record_key"] in expected_keys
        for field in ("record_key", "detail", "field", "rule"):
            assert f[field] not in raw_keys
            for v in values:
                if len(v) >= 4:
                    assert v not in f[field], (field, f)


def test_ledger_records_each_change_with_keyed_hashes(juki):
    res, _ = _run(juki)
    ledger, values = res.ledger, res.ledger_values
    assert ledger.schema == LEDGER_SCHEMA and values.schema == VALUES_SCHEMA
    assert ledger.num_rows == values.num_rows > 0
    assert sum(res.changes.values()) == ledger.num_rows
    secret = SECRET.encode()
    by_record = {i + 1: r for i, r in enumerate(ROWS)}
    for lrow, vrow in zip(ledger.to_pylist(), values.to_pylist()):
        assert lrow["field"] == vrow["field"] and lrow["rule"] == vrow["rule"]
        assert lrow["record_key"] == vrow["record_key"]
        atena = by_record[vrow["_record"]][0]
        assert lrow["record_key"] == record_key("juki", "ATENA", [atena], secret=secret)
        assert lrow["before_hash"] == keyed_hash(
            vrow["before"], purpose="ledger-value", secret=secret
        )
        assert lrow["after_hash"] == keyed_hash(
            vrow["after"], purpose="ledger-value", secret=secret
        )
        assert lrow["before_hash"] != lrow["after_hash"]
        assert vrow["before"] != vrow["after"]
        original = by_record[vrow["_record"]][COLUMNS.index(vrow["field"])]
        assert vrow["before"] == original
    # the changes we expect, counted per rule and field
    assert res.changes["address_canonical.JUSHO"] == 7  # rows 2 and 4 were canonical / unrecognised
    assert res.changes["kana_fullwidth.SHIMEI-KANA"] == 8
    assert res.changes["halfwidth_ascii.SEIBETSU"] == 1
    assert res.changes["postal_halfwidth.YUBIN-NO"] == 2
    assert res.changes["halfwidth_ascii.DENWA-NO"] == 1


def test_no_raw_value_in_the_ledger_table(juki):
    res, _ = _run(juki)
    cells = [str(v) for row in res.ledger.to_pylist() for v in row.values()]
    raw = {str(v) for r in ROWS for v in r if v not in (None, "")}
    raw |= {v for row in res.ledger_values.to_pylist() for v in (row["before"], row["after"])}
    for cell in cells:
        assert cell not in raw
        for v in raw:
            if len(v) >= 3:
                assert v not in cell, (v, cell)
    assert "before" not in res.ledger.column_names and "after" not in res.ledger.column_names
    assert "_record" not in res.ledger.column_names


def test_keyed_hashes_depend_on_the_secret(juki):
    a, _ = _run(juki)
    b, _ = _run(juki, secret=b"another-secret")
    assert a.ledger.column("field").to_pylist() == b.ledger.column("field").to_pylist()
    assert set(a.ledger.column("record_key").to_pylist()).isdisjoint(
        b.ledger.column("record_key").to_pylist()
    )
    assert set(a.ledger.column("before_hash").to_pylist()).isdisjoint(
        b.ledger.column("before_hash").to_pylist()
    )


def test_no_secret_fails_instead_of_hashing_plainly(juki, monkeypatch):
    from ikou.config import ConfigError

    monkeypatch.delenv("IKOU_HMAC_SECRET")
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_IKOU_HMAC", raising=False)
    with pytest.raises(ConfigError):
        _run(juki)


def test_cleansing_is_idempotent(juki):
    first, _ = _run(juki)
    second, findings2 = _run(juki, first.table)
    assert second.ledger.num_rows == 0
    assert second.ledger_values.num_rows == 0
    assert second.changes == {}
    assert second.table.equals(first.table)
    assert second.table.column_names == first.table.column_names
    # the same problems are still reported (never silently forgotten), none is created
    _, findings1 = _run(juki)
    assert findings2.summary() == findings1.summary()


def test_cleansing_without_record_column(juki):
    t = _table().drop_columns(["_record"])
    res, _ = _run(juki, t)
    with_record, _ = _run(juki)
    # without a _record column the row index stands in for the record number
    assert [
        r - 1 for r in with_record.ledger_values.column("_record").to_pylist()
    ] == res.ledger_values.column("_record").to_pylist()
    assert res.ledger.equals(with_record.ledger)


def test_empty_table(juki):
    t = _table().slice(0, 0)
    res, findings = _run(juki, t)
    assert res.table.num_rows == 0 and res.ledger.num_rows == 0 and len(findings) == 0
    assert "SEINENGAPPI__date" in res.table.column_names
