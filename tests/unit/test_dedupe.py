"""ikou.cleanse.dedupe (名寄せ with splink + DuckDB) and ``ikou dedupe``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ikou.cleanse.dedupe import OUTPUT_COLUMNS, DedupeConfig, dedupe, evaluate
from ikou.cleanse.dedupe_keys import INPUT_COLUMNS, kana_key, name_key

RATES = {
    "duplicate_addressee": 0.05,
    "impossible_wareki": 0.02,
    "bad_check_digit": 0.02,
    "unmapped_gaiji": 0.02,
}


def _records(rows: list[tuple]) -> pa.Table:
    cols = list(zip(*rows))
    return pa.table(
        {
            "atena_id": pa.array(cols[0], pa.string()),
            "name": pa.array(cols[1], pa.string()),
            "name_kana": pa.array(cols[2], pa.string()),
            "birth_date": pa.array(cols[3], pa.date32()),
            "sex": pa.array(cols[4], pa.string()),
            "address": pa.array(cols[5], pa.string()),
        }
    )


def test_comparison_keys_fold_for_matching_only():
    assert name_key("髙橋　一郎") == name_key("高橋一郎") == "高橋一郎"
    for old, new in (
        ("齋藤", "斎藤"),
        ("渡邊", "渡辺"),
        ("澤田", "沢田"),
        ("濱田", "浜田"),
        ("山﨑", "山崎"),
        ("辻\U000e0101本", "辻本"),
        ("\ufa30", "\u4fae"),
    ):
        assert name_key(old) == name_key(new), old
    assert name_key("佐藤") != name_key("加藤")
    assert kana_key("ｺﾝﾄﾞｳ ﾕｳｺ") == kana_key("コンドオ　ユウコ") == kana_key("コンドー ユーコ")
    assert kana_key("ｻｲﾄｯ") == kana_key("サイトツ")
    assert name_key(None) is None and kana_key("") is None


def _small_city() -> pa.Table:
    d = dt.date
    rows = [
        # the same person: old / new kanji forms, a space dropped, kana written differently
        (
            "0000000101",
            "髙橋　一郎",
            "ﾀｶﾊｼ ｲﾁﾛｳ",
            d(1960, 5, 1),
            "1",
            "架空市中央区桜町１丁目２番３号",
        ),
        (
            "0000000102",
            "高橋一郎",
            "タカハシ　イチロウ",
            d(1960, 5, 1),
            "1",
            "架空市中央区桜町1-2-3",
        ),
        (
            "0000000201",
            "齋藤　花子",
            "サイトウ　ハナコ",
            d(1972, 3, 9),
            "2",
            "架空市北区緑町２丁目１番１号",
        ),
        (
            "0000000202",
            "斎藤　花子",
            "サイトオ　ハナコ",
            d(1972, 3, 9),
            "2",
            "北区緑町二丁目一番一号",
        ),
        # mother and daughter of one name at one address: different people
        (
            "0000000301",
            "岡田　舞",
            "オカダ　マイ",
            d(1958, 2, 25),
            "2",
            "架空市南区弥生町１丁目３５番３号",
        ),
        (
            "0000000302",
            "岡田　舞",
            "オカダ　マイ",
            d(1986, 5, 6),
            "2",
            "架空市南区弥生町１丁目３５番３号",
        ),
        # unrelated people
        (
            "0000000401",
            "見本　次郎",
            "ミホン　ジロウ",
            d(1990, 1, 1),
            "1",
            "架空市東区旭町３丁目１番１号",
        ),
        ("0000000501", "例示　三郎", "レイジ　サブロウ", None, "1", None),
    ]
    return _records(rows)


def test_dedupe_small_city():
    res = dedupe(
        _small_city(), DedupeConfig(population=20_000)
    )  # a part of a city of 20,000 records
    t = res.clusters
    assert t.column_names == list(OUTPUT_COLUMNS)
    assert (
        t.column("atena_id").to_pylist() == _small_city().column("atena_id").to_pylist()
    )  # input order, once
    dec = dict(zip(t.column("atena_id").to_pylist(), t.column("decision").to_pylist()))
    cid = dict(zip(t.column("atena_id").to_pylist(), t.column("cluster_id").to_pylist()))
    assert (
        dec["0000000101"] == dec["0000000102"] == "auto_merge" and cid["0000000102"] == "0000000101"
    )
    assert (
        dec["0000000201"] == dec["0000000202"] == "auto_merge" and cid["0000000202"] == "0000000201"
    )
    assert (
        dec["0000000301"] == dec["0000000302"] == "distinct" and cid["0000000302"] == "0000000302"
    )
    assert dec["0000000401"] == dec["0000000501"] == "distinct"
    scores = dict(zip(t.column("atena_id").to_pylist(), t.column("match_score").to_pylist()))
    assert scores["0000000101"] >= 0.999 and scores["0000000501"] == 0.0
    assert all(0.0 <= s <= 1.0 for s in scores.values())


def test_namesakes_at_different_addresses_go_to_review_never_auto():
    d = dt.date
    rows = [
        (
            "0000000001",
            "架空　太郎",
            "カクウ　タロウ",
            d(1970, 1, 1),
            "1",
            "架空市中央区桜町１丁目１番１号",
        ),
        (
            "0000000002",
            "架空　太郎",
            "カクウ　タロウ",
            d(1970, 1, 1),
            "1",
            "架空市西区本町３丁目９番９号",
        ),
    ]
    rows += [
        (
            f"{i:010d}",
            f"見本　{i}郎",
            "ミホン",
            d(1950, 1, 1) + dt.timedelta(days=i),
            "2",
            "架空市北区緑町１丁目１番１号",
        )
        for i in range(10, 60)
    ]
    res = dedupe(_records(rows), DedupeConfig(review=0.05, population=20_000))
    dec = dict(
        zip(
            res.clusters.column("atena_id").to_pylist(), res.clusters.column("decision").to_pylist()
        )
    )
    assert dec["0000000001"] == dec["0000000002"] == "review"


def test_input_is_validated():
    t = _small_city()
    with pytest.raises(ValueError, match="lacks columns"):
        dedupe(t.drop_columns(["address"]))
    dup = pa.concat_tables([t, t.slice(0, 1)])
    with pytest.raises(ValueError, match="unique"):
        dedupe(dup)
    with pytest.raises(ValueError, match="thresholds"):
        DedupeConfig(auto_merge=0.5, review=0.9)
    one = dedupe(t.slice(0, 1)).clusters
    assert one.to_pylist() == [
        {
            "atena_id": "0000000101",
            "cluster_id": "0000000101",
            "match_score": 0.0,
            "decision": "distinct",
        }
    ]


def test_evaluate_counts_pairs():
    clusters = {
        "atena_id": ["a", "b", "c", "d", "e"],
        "cluster_id": ["a", "a", "c", "c", "e"],
        "decision": ["auto_merge", "auto_merge", "review", "review", "distinct"],
        "match_score": [1, 1, 0.6, 0.6, 0],
    }
    q = evaluate(clusters, [("b", "a"), ("e", "d")])
    assert (q["true_pairs"], q["found_pairs"], q["auto_pairs"], q["auto_true_pairs"]) == (
        2,
        1,
        1,
        1,
    )
    assert q["recall"] == 0.5 and q["auto_precision"] == 1.0 and q["review_pairs"] == 1


@pytest.fixture(scope="module")
def city_records():
    from ikou_dev.bench.cleanse import SNAPSHOT, build_city
    from ikou_dev.bench.dedupe import city_input

    c = build_city(3000, seed=31, snapshot=SNAPSHOT, domains=("juki", "koseki"), rates=RATES)
    out = Path(c["folder"])
    records, truth = city_input(3000, 31, out=out)
    dups = pq.read_table(
        out / "landing" / "_answer_key" / SNAPSHOT / "duplicates.parquet"
    ).to_pylist()
    return records, truth, dups


def test_duplicates_are_found_at_the_rates_the_goals_say(city_records):
    from ikou.domains import registry

    records, truth, dups = city_records
    spec = registry().get("juki").cleanse.dedupe
    res = dedupe(records, DedupeConfig(auto_merge=spec.auto_merge, review=spec.review))
    q = evaluate(res.clusters, truth)
    assert q["true_pairs"] >= 100
    assert q["auto_precision"] >= 0.99, q
    assert q["recall"] >= 0.95, q
    assert q["auto_recall"] >= 0.6, q
    # every way the synthetic city made a duplicate is found, old / new kanji forms included (a
    # moved person whose birth date was seeded impossible — null — shares only name and kana with
    # the original: no blocking rule pairs them, by design)
    cid = dict(
        zip(
            res.clusters.column("atena_id").to_pylist(),
            res.clusters.column("cluster_id").to_pylist(),
        )
    )
    born = dict(
        zip(records.column("atena_id").to_pylist(), records.column("birth_date").to_pylist())
    )
    for how in ("old_address", "kana", "address_variant", "name_form"):
        pairs = [
            (d["atena_no"], d["duplicate_of"])
            for d in dups
            if d["how"] == how and born[d["atena_no"]] and born[d["duplicate_of"]]
        ]
        found = sum(1 for a, b in pairs if cid[a] == cid[b])
        assert pairs and found / len(pairs) >= 0.9, (how, found, len(pairs))
    # moved people are never merged automatically (a namesake looks the same)
    dec = dict(
        zip(
            res.clusters.column("atena_id").to_pylist(), res.clusters.column("decision").to_pylist()
        )
    )
    moved = [d["atena_no"] for d in dups if d["how"] == "old_address"]
    assert all(dec[a] != "auto_merge" for a in moved)


def test_ikou_dedupe_command(tmp_path, city_records):
    from ikou.cli import main

    records, truth, _ = city_records
    src = tmp_path / "in.parquet"
    pq.write_table(records.select(list(INPUT_COLUMNS)), src)
    out = tmp_path / "out" / "clusters.parquet"
    assert (
        main(["dedupe", str(src), "-o", str(out), "--save-model", str(tmp_path / "model.json")])
        == 0
    )
    t = pq.read_table(out)
    assert t.column_names == list(OUTPUT_COLUMNS)
    assert t.column("atena_id").to_pylist() == records.column("atena_id").to_pylist()
    assert set(t.column("decision").to_pylist()) <= {"auto_merge", "review", "distinct"}
    assert (tmp_path / "model.json").exists()
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".part")]


def test_blocking_pairs_typos_and_partial_dates_but_not_every_birthday_twin():
    """The blocking rules (dedupe_model.blocking_rules): a namesake born the same year is a
    candidate when month or day agrees or one date is partial; a stranger born the same day is
    not (birth date and sex alone made blocks that grew with the city: quadratic)."""
    from ikou.cleanse.dedupe_model import load_model

    same = ("山田太郎", "ヤマダタロウ", "1", "東京都中央区銀座一丁目1番1号")
    rows = [
        ("0000000001", *same[:2], "19500312", *same[2:]),
        ("0000000002", *same[:2], "19500300", "1", "大阪府大阪市北区梅田一丁目1番1号"),  # 日不詳
        ("0000000003", *same[:2], "19500313", "1", "京都府京都市下京区四条通1番"),  # day off
        ("0000000004", *same[:2], "19500412", "1", "福岡県福岡市中央区天神一丁目1番"),  # month
        ("0000000005", *same[:2], "19501225", "1", "札幌市中央区北一条西1丁目"),  # namesake
        ("0000000006", "鈴木花子", "スズキハナコ", "19500312", "1", "沖縄県那覇市泉崎一丁目1番"),
    ]
    cols = list(zip(*rows))
    records = pa.table({c: pa.array(v, pa.string()) for c, v in zip(INPUT_COLUMNS, cols)})
    model = load_model()
    # a saved model's own rules do not matter: the code's rules block
    model["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": 'l."sex" = r."sex"', "sql_dialect": "duckdb"}
    ]
    res = dedupe(records, DedupeConfig(keep_pairs_above=0.0))
    pairs = {tuple(sorted(p)) for p in zip(res.pairs["unique_id_l"], res.pairs["unique_id_r"])}
    assert ("0000000001", "0000000002") in pairs  # partial date: the year and the names
    assert ("0000000001", "0000000003") in pairs and ("0000000001", "0000000004") in pairs
    assert ("0000000002", "0000000005") in pairs  # a partial date pairs every namesake of its year
    assert ("0000000001", "0000000005") not in pairs  # month and day both differ
    assert ("0000000001", "0000000006") not in pairs  # born the same day: nothing else shared
    from ikou.cleanse.dedupe_keys import features
    from ikou.cleanse.dedupe_model import make_linker

    linker = make_linker(features(records), model)
    got = {
        tuple(sorted(p))
        for p in linker.inference.predict()
        .as_pandas_dataframe()[["unique_id_l", "unique_id_r"]]
        .astype(str)
        .itertuples(index=False)
    }
    assert got == pairs


def test_feature_table_is_arrow_with_the_keys_of_the_records():
    """The comparison keys as Arrow columns (DuckDB scans them in place), one per record, a
    missing name or kana giving no combined key; ``features`` is the same as pandas."""
    from ikou.cleanse.dedupe_keys import feature_table, features

    d = dt.date
    records = _records(
        [
            (
                "0000000001",
                "髙橋　一郎",
                "ﾀｶﾊｼ ｲﾁﾛｳ",
                d(1950, 1, 2),
                "1",
                "架空市中央区桜町１丁目２番３号",
            ),
            ("0000000002", None, "タカハシ", None, "3", None),
            ("0000000003", "高橋一郎", "", d(1960, 3, 4), " 2 ", "架空市中央区桜町1-2-3"),
        ]
    )
    t = feature_table(records)
    assert t.schema.field("birth_year").type == pa.int64()
    assert {t.schema.field(c).type for c in t.column_names if c != "birth_year"} == {pa.string()}
    assert t.column("unique_id").to_pylist() == ["0000000001", "0000000002", "0000000003"]
    assert t.column("name_fold").to_pylist() == ["高橋一郎", None, "高橋一郎"]
    assert t.column("name_kana_key").to_pylist() == [
        f"高橋一郎|{kana_key('ﾀｶﾊｼ ｲﾁﾛｳ')}",
        None,
        None,
    ]
    assert t.column("birth_date").to_pylist() == ["19500102", None, "19600304"]
    assert t.column("birth_year").to_pylist() == [1950, None, 1960]
    assert t.column("sex").to_pylist() == ["1", None, "2"]
    numbers = t.column("addr_numbers").to_pylist()
    assert numbers[0] == numbers[2] and numbers[0] is not None and numbers[1] is None
    assert features(records).equals(t.to_pandas())


def test_duckdb_runs_under_the_memory_limit_given_and_spills_to_the_folder_given(tmp_path):
    """make_linker's DuckDB connection has the memory limit and the temp folder asked for (a
    task's DuckDB otherwise grows to 80 % of the machine before it would spill)."""
    from ikou.cleanse.dedupe_keys import feature_table
    from ikou.cleanse.dedupe_model import load_model, make_linker

    d = dt.date
    records = _records(
        [
            ("0000000001", "山田太郎", "ヤマダタロウ", d(1950, 1, 2), "1", "架空市中央区桜町1-2-3"),
            ("0000000002", "山田太郎", "ヤマダタロウ", d(1950, 1, 2), "1", "架空市中央区桜町1-2-3"),
        ]
    )
    linker = make_linker(
        feature_table(records), load_model(), memory_limit="100MB", temp_directory=tmp_path
    )
    con = linker.inference.predict().db_api.duckdb_con
    setting = "select current_setting('memory_limit'), current_setting('temp_directory')"
    assert con.execute(setting).fetchall()[0] == ("95.3 MiB", str(tmp_path))
