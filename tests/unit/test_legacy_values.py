"""The reverse mapping (standard row → legacy record values, ikou.mainframe.legacy_values) and its
round trip: standard → legacy (the linkage file of ``ikou link``) → ``ikou decode`` → cleanse and
mapping gives the same rows -- for the validated synthetic city (seeded defects excluded, the
answer key says which) and, with hypothesis, for random records."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests_support import decode_linkage, standard_rows

from ikou.cleanse.rules import kana_fullwidth
from ikou.domains import registry
from ikou.domains.mapping import arrow_type
from ikou.load.linkage import encode_changes
from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.legacy_values import (
    LegacyText,
    NoLegacyCode,
    NoLegacyValue,
    ReverseMapping,
    gaiji_codes,
    kana_halfwidth,
    partial_wareki,
    to_wareki,
)
from ikou.moji.gaiji import GaijiTable
from ikou.wareki import COMMON_SCHEME, PartialDate, parse_wareki

SNAPSHOT = "2026-05-01"
DAY = dt.date(2026, 5, 1)
GAIJI = "encoding,legacy_code,unicode,mj_name,note\ncp930,6941,U+20BB7,,\ncp930,6945,U+9AD9,,\n"


@pytest.mark.parametrize(
    "d,code",
    [
        (dt.date(1975, 4, 1), 3500401),
        (dt.date(1989, 1, 7), 3640107),  # 昭和 ends
        (dt.date(1989, 1, 8), 4010108),  # 平成元年
        (dt.date(2019, 4, 30), 4310430),
        (dt.date(2019, 5, 1), 5010501),  # 令和元年
        (dt.date(1912, 7, 30), 2010730),  # 大正元年
    ],
)
def test_to_wareki_is_the_inverse_of_the_decode_paths_parse(d, code):
    assert to_wareki(d) == code
    assert parse_wareki(f"{code:07d}", COMMON_SCHEME) == d


def test_partial_dates_write_day_or_month_and_day_zero():
    assert partial_wareki(1975, 4) == 3500400
    assert partial_wareki(1975, None) == 3500000
    with pytest.raises(PartialDate) as exc:
        parse_wareki(f"{partial_wareki(1975, 4):07d}", COMMON_SCHEME)
    assert (exc.value.year, exc.value.month) == (1975, 4)


def test_kana_halfwidth_is_the_inverse_of_the_cleanse_rule():
    katakana = "".join(chr(c) for c in range(ord("ァ"), ord("ヴ") + 1)) + "ー"
    kept = [k for k in katakana if kana_fullwidth(kana_halfwidth(k)) == k]
    # every katakana the half-width set holds comes back (ヰ ヱ ヮ ヵ ヶ have no half-width form)
    assert set(katakana) - set(kept) <= set("ヰヱヮヵヶ")
    assert kana_halfwidth("ガッコウ　タロウ") == "ｶﾞｯｺｳ ﾀﾛｳ"
    assert kana_fullwidth(kana_halfwidth("ガッコウ　タロウ")) == "ガッコウ　タロウ"


def test_gaiji_in_reverse_and_characters_without_a_code():
    table = GaijiTable.parse(GAIJI)
    strict = LegacyText("cp930", gaiji_codes(table, "cp930"))
    assert strict.dbcs("𠮷田") == bytes.fromhex("6941") + strict.cp.encode_dbcs("田")
    with pytest.raises(NoLegacyCode) as exc:
        strict.dbcs("\U0002a6b2")  # in neither the code page nor the city's table
    assert exc.value.reason == "no_legacy_code" and "\U0002a6b2" not in str(exc.value)
    lenient = LegacyText("cp930", gaiji_codes(table, "cp930"), substitute="〓")
    assert lenient.dbcs("\U0002a6b2") == lenient.cp.encode_dbcs("〓")


def _mapping(domain: str, table: str) -> ReverseMapping:
    d = registry().get(domain)
    cb = parse_copybook(d.linkage.copybook_path.read_text(encoding="utf-8"))
    layout = cb.record(d.linkage.record_types[d.linkage.tables[table]])
    return ReverseMapping(d, d.layout.table(table), layout, LegacyText("cp930"))


def test_reverse_mapping_of_a_row():
    row = {
        "atena_no": "0000000042", "atena_kbn": "1", "shimei": "山田　太郎",
        "shimei_kana": "ヤマダ　タロウ", "seibetsu": "1", "seinengappi": dt.date(1975, 4, 1),
        "seinengappi_precision": "day", "jusho": "架空市中央区本町１丁目２番３号",
        "yubin_no": "1000001", "denwa_no": None, "kojin_no": None,
        "toroku_ymd": dt.date(2001, 2, 3), "koshin_ymd": None,
    }  # fmt: skip
    v = _mapping("juki", "atena").values(row)
    assert v["ATENA-NO"] == 42 and v["SEINENGAPPI"] == 3500401 and v["TOROKU-YMD"] == 20010203
    assert v["KOSHIN-YMD"] == 0 and v["DENWA-NO"] is None
    cp = LegacyText("cp930").cp
    assert v["SHIMEI-KANA"] == cp.encode_sbcs("ﾔﾏﾀﾞ ﾀﾛｳ")
    assert v["SHIMEI"] == cp.encode_dbcs("山田　太郎")
    # a partial date the standard row lost the year of has no legacy form
    with pytest.raises(NoLegacyValue) as exc:
        _mapping("juki", "atena").values(
            {**row, "seinengappi": None, "seinengappi_precision": "month"}
        )
    assert (exc.value.field, exc.value.reason) == ("SEINENGAPPI", "partial_date_without_year")


# -- the round trip --------------------------------------------------------------------------------


def _changes(domain: str, rows_by_table: dict[str, list[dict]], op: str = "I") -> dict:
    d = registry().get(domain)
    out = {}
    for t in d.layout.tables:
        rows = rows_by_table.get(t.name, [])
        cols = {"_op": pa.array([op] * len(rows), pa.string())}
        for c in t.columns:
            cols[c.name] = pa.array([r[c.name] for r in rows], arrow_type(c))
        out[t.name] = pa.table(cols)
    return out


def _round_trip(domain, rows_by_table, folder, gaiji_csv=None):
    data, counts, held = encode_changes(
        domain, _changes(domain, rows_by_table), DAY, DAY,
        GaijiTable.load(gaiji_csv) if gaiji_csv else None, b"t",
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "link.dat").write_bytes(data)
    return decode_linkage(domain, folder / "link.dat", folder / "decoded", gaiji_csv), held


def _key(domain: str, table: str):
    keys = registry().get(domain).layout.table(table).business_keys
    return lambda r: tuple(r[k] for k in keys)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from ikou_dev.synth import synthesize

    out = tmp_path_factory.mktemp("city")
    synthesize(300, 11, SNAPSHOT, str(out), domains=["juki", "inkan"])
    return out


def _validated(city, domain: str, folder) -> dict[str, list[dict]]:
    """The city's legacy files through ``ikou decode --domain`` and the pipeline's mapping, seeded
    defects excluded (mapped 外字 kept: they are what the reverse 外字 table is for)."""
    from ikou.cli import main

    d = registry().get(domain)
    key = pq.read_table(city / "_answer_key" / SNAPSHOT / "defects.parquet").to_pylist()
    gaiji = city / "_reference" / SNAPSHOT / "gaiji.csv"
    out = {}
    folder.mkdir(parents=True, exist_ok=True)
    for t in d.layout.tables:
        lf = d.legacy_file(t.source)
        dat = city / domain / SNAPSHOT / f"{lf.name}.dat"
        target = folder / f"{lf.name}.parquet"
        args = ["decode", "--domain", domain, "--file", lf.dataset, str(dat), "-o", str(target)]
        assert main([*args, "--gaiji", str(gaiji)]) == 0
        bad = {r["key"] for r in key if r["file"] == lf.name and r["defect"] != "mapped_gaiji"}
        rows = standard_rows(domain, t.name, pq.read_table(target))
        k = _key(domain, t.name)
        out[t.name] = [
            r for r in rows if "".join(k(r)).lstrip("0") not in {b.lstrip("0") for b in bad}
        ]
    return out


@pytest.mark.parametrize("domain", ["juki", "inkan"])
def test_the_validated_city_round_trips_exactly(city, tmp_path, domain):
    rows = _validated(city, domain, tmp_path / "validated")
    back, held = _round_trip(
        domain, rows, tmp_path / "link", city / "_reference" / SNAPSHOT / "gaiji.csv"
    )
    assert held == []
    for table, expected in rows.items():
        assert len(expected) > 20
        k = _key(domain, table)
        got = sorted(back[table], key=k)
        assert [r.pop("_op") for r in got] == ["I"] * len(expected)
        assert got == sorted(expected, key=k)
    if domain == "juki":  # the city's mapped 外字 went out through the table in reverse
        assert any(
            "𠮷" in (r["shimei"] or "") or "髙" in (r["shimei"] or "") for r in rows["atena"]
        )


_KANJI = "山田太郎花子鈴木佐藤高橋中村伊藤渡辺一二三本町東西南北𠮷髙"
_KANA = (
    "アイウエオカガキギサザシジタダチッツテデトナニヌネノハバパマミムメモヤユヨラリルレロワヲンー"
)
_DATES = st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31))


def _text(alphabet: str, size: int):
    return st.text(alphabet, min_size=1, max_size=size).filter(lambda s: s.strip("　") == s)


_INKAN = st.fixed_dictionaries(
    {
        "inkan_toroku_no": st.integers(1, 99_999_999).map(lambda n: f"{n:08d}"),
        "atena_no": st.integers(1, 9_999_999_999).map(lambda n: f"{n:010d}"),
        "toroku_ymd": _DATES | st.none(),
        "toroku_jotai": st.sampled_from(["1", "2"]) | st.none(),
        "haishi_ymd": _DATES | st.none(),
    }
)
_ATENA = st.fixed_dictionaries(
    {
        "atena_no": st.integers(1, 9_999_999_999).map(lambda n: f"{n:010d}"),
        "atena_kbn": st.sampled_from(["1", "2", "3"]),
        "shimei": _text(_KANJI, 12),
        "shimei_kana": _text(_KANA, 20),
        "seibetsu": st.sampled_from(["1", "2"]),
        "seinengappi": _DATES,
        "yubin_no": st.integers(0, 9_999_999).map(lambda n: f"{n:07d}"),
        "toroku_ymd": _DATES,
        "koshin_ymd": _DATES | st.none(),
    }
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(inkan=st.lists(_INKAN, min_size=1, max_size=6, unique_by=lambda r: r["inkan_toroku_no"]),
       atena=st.lists(_ATENA, min_size=1, max_size=6, unique_by=lambda r: r["atena_no"]))  # fmt: skip
def test_random_records_round_trip(tmp_path_factory, inkan, atena):
    gaiji = tmp_path_factory.mktemp("gaiji") / "gaiji.csv"
    gaiji.write_text(GAIJI, encoding="utf-8")
    back, held = _round_trip("inkan", {"inkan": inkan}, tmp_path_factory.mktemp("inkan"))
    assert held == [] and [r.pop("_op") for r in back["inkan"]] == ["I"] * len(inkan)
    assert back["inkan"] == inkan
    atena = [
        {**r, "seinengappi_precision": "day", "jusho": None, "denwa_no": None, "kojin_no": None}
        for r in atena
    ]
    back, held = _round_trip("juki", {"atena": atena}, tmp_path_factory.mktemp("juki"), gaiji)
    assert held == [] and [r.pop("_op") for r in back["atena"]] == ["I"] * len(atena)
    assert back["atena"] == atena
