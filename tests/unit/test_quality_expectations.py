"""Ikou's custom GX expectations on small frames (pandas) and in SQLite (the SQL path of gate_target).

Each expectation must count exactly the rows it should, honour ``mostly``, and store counts only:
a BASIC result with ``partial_unexpected_count: 0`` holds no value from the data.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pytest

import great_expectations as gx
from ikou.identifiers import corporate_number_check_digit, my_number_check_digit
from ikou.quality import expectations as E
from ikou.quality.suite_policy import RESULT_FORMAT


def _my_number(body: str) -> str:
    return body + str(my_number_check_digit(body))


def _corporate(body: str) -> str:
    return str(corporate_number_check_digit(body)) + body


GOOD_MN = _my_number("12345678901")
BAD_MN = GOOD_MN[:-1] + str((int(GOOD_MN[-1]) + 1) % 10)
CORP = _corporate("700110005901")


@pytest.fixture(scope="module")
def ctx():
    return gx.get_context(mode="ephemeral")


_n = [0]


def validate(ctx, frame: pd.DataFrame, *expectations, parameters: dict | None = None):
    _n[0] += 1
    name = f"t{_n[0]}"
    ds = ctx.data_sources.add_pandas(name)
    bd = ds.add_dataframe_asset("a").add_batch_definition_whole_dataframe("w")
    suite = ctx.suites.add(gx.ExpectationSuite(name))
    ids = [suite.add_expectation(e).id for e in expectations]
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=bd, suite=suite))
    res = vd.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters or {},
        result_format=RESULT_FORMAT,
    )
    res.results.sort(
        key=lambda r: ids.index(r.expectation_config.id)
    )  # GX groups results by column
    return res


def arrow_frame(**cols) -> pd.DataFrame:
    return pa.table(cols).to_pandas(types_mapper=pd.ArrowDtype)


def counts(result) -> list[tuple[bool, int | None]]:
    from ikou.quality.results import safe_exception

    out = []
    for r in result.results:
        assert not safe_exception(r.exception_info)["raised_exception"], r.exception_info
        out.append((bool(r.success), r.result.get("unexpected_count")))
    return out


def test_my_number_and_corporate_number(ctx):
    df = arrow_frame(n=[GOOD_MN, BAD_MN, None, CORP, "12345"])
    res = validate(
        ctx,
        df,
        E.ExpectColumnValuesToBeValidMyNumber(column="n"),
        E.ExpectColumnValuesToBeValidMyNumber(column="n", allow_corporate_number=True),
        E.ExpectColumnValuesToBeValidCorporateNumber(column="n"),
        E.ExpectColumnValuesToBeValidMyNumber(column="n", allow_corporate_number=True, mostly=0.5),
    )
    assert counts(res) == [(False, 3), (False, 2), (False, 3), (True, 2)]


def test_juminhyo_code_format(ctx):
    df = arrow_frame(c=["12345678901", "1234567890", "1234567890X", "１２３４５６７８９０１"])
    assert counts(validate(ctx, df, E.ExpectColumnValuesToBeValidJuminhyoCode(column="c"))) == [
        (False, 3)
    ]


def test_standard_charset_and_the_citys_gaiji_table(ctx):
    df = arrow_frame(
        t=["山田　太郎", "葛\U000e0100西", "髙橋", "ｶﾅ", "A\ue000B", "𠮷田", "中島〓治"]
    )
    res = validate(ctx, df, E.ExpectColumnValuesToBeInStandardCharset(column="t"))
    assert counts(res) == [
        (False, 2)
    ]  # a private-use character and 𠮷 (not in JIS X 0213); 〓 is the 外字 check's
    E.register_city_characters(["𠮷", "\ue000"])  # targets of the city's 外字 table
    try:
        assert counts(validate(ctx, df, E.ExpectColumnValuesToBeInStandardCharset(column="t"))) == [
            (True, 0)
        ]
        assert "city" in E.standard_charset()[0]
    finally:
        E.forget_city_characters()


def test_no_unmapped_gaiji(ctx):
    df = arrow_frame(t=["架空市中央区", "中島〓治", "私\ue123用", "ok", "\ufffd"])
    assert counts(validate(ctx, df, E.ExpectColumnValuesToHaveNoUnmappedGaiji(column="t"))) == [
        (False, 2)
    ]


def test_kana_widths(ctx):
    df = arrow_frame(k=["ナカジマ　オサム", "ﾅｶｼﾞﾏ ｵｻﾑ", "ヴァン・ゴッホ", "山田", "ﾔﾏﾀﾞ太郎"])
    res = validate(
        ctx,
        df,
        E.ExpectColumnValuesToBeKana(column="k", width="full"),
        E.ExpectColumnValuesToBeKana(column="k", width="half"),
        E.ExpectColumnValuesToBeKana(column="k", width="any"),
    )
    assert counts(res) == [(False, 3), (False, 4), (False, 2)]


def test_era_code_dates_within_their_era(ctx):
    # 3550317 昭和55年3月17日 ok; 3640108 昭和64年1月8日 does not exist; 4010800 平成元年8月 日不詳 (partial);
    # 5081301 no such month; 0 = no date (allowed for corporations); 5080101 令和8年1月1日 after the snapshot? no
    df = arrow_frame(w=[3550317, 3640108, 4010800, 5081301, 0, 5091001])
    res = validate(
        ctx,
        df,
        E.ExpectColumnValuesToBeWithinEraRange(
            column="w", form="era_code", allow_zero=True, latest={"$PARAMETER": "snapshot"}
        ),
        E.ExpectColumnValuesToBeWithinEraRange(column="w", form="era_code", allow_partial=False),
        parameters={"snapshot": "2026-10-01"},
    )
    # 5091001 = 令和9年10月1日 = 2027-10-01: after the snapshot
    assert counts(res) == [(False, 3), (False, 4)]


def test_ymd_and_date_forms(ctx):
    df = arrow_frame(
        y=[19890922, 18000101, 20260230, 0, 20261002],
        d=[
            dt.date(1989, 9, 22),
            dt.date(1800, 1, 1),
            None,
            dt.date(1868, 1, 25),
            dt.date(2026, 10, 2),
        ],
    )
    res = validate(
        ctx,
        df,
        E.ExpectColumnValuesToBeWithinEraRange(
            column="y", form="ymd", allow_zero=True, latest="2026-10-01"
        ),
        E.ExpectColumnValuesToBeWithinEraRange(
            column="d", form="date", latest={"$PARAMETER": "snapshot"}
        ),
        parameters={"snapshot": "2026-10-01"},
    )
    assert counts(res) == [(False, 3), (False, 2)]


def test_code_lists_text_and_zoned(ctx):
    df = arrow_frame(s=["1", "2", "", "9"], z=[1, 2, 3, 4])
    res = validate(
        ctx,
        df,
        E.ExpectColumnValuesToBeInCodeList(
            column="s", code_list="copybook t.cpy S 88", codes=["1", "2", ""]
        ),
        E.ExpectColumnValuesToBeInCodeList(
            column="z", code_list="copybook t.cpy Z 88", codes=["1", "2", "3"]
        ),
    )
    assert counts(res) == [(False, 1), (False, 1)]


def test_addressee_master_references(ctx):
    E.register_reference_set("juki__atena", "atena_no", pa.array(["0000000001", "0000000002"]))
    try:
        df = arrow_frame(a=["0000000001", "0000000002", "0000000003", None])
        res = validate(
            ctx,
            df,
            E.ExpectColumnValuesToExistInAddresseeMaster(column="a", reference_table="juki__atena"),
        )
        assert counts(res) == [(False, 1)]
        cfg = json.dumps(res.results[0].expectation_config.to_json_dict())
        assert "0000000001" not in cfg  # the configuration names the master, never its ids
    finally:
        E.forget_reference_sets()
    res = validate(
        ctx,
        df,
        E.ExpectColumnValuesToExistInAddresseeMaster(column="a", reference_table="juki__atena"),
    )
    from ikou.quality.results import safe_exception

    # an unregistered master is an error, not a pass
    assert safe_exception(res.results[0].exception_info)["raised_exception"]


def test_layout_types(ctx):
    df = arrow_frame(s=["a"], i=[1], n=pa.array([1], pa.decimal128(13, 0)), d=[dt.date(2000, 1, 1)])
    res = validate(
        ctx,
        df,
        E.ExpectColumnToHaveLayoutType(column="s", layout_type="string"),
        E.ExpectColumnToHaveLayoutType(column="i", layout_type="integer"),
        E.ExpectColumnToHaveLayoutType(column="n", layout_type="decimal", precision=13, scale=0),
        E.ExpectColumnToHaveLayoutType(column="n", layout_type="decimal", precision=11, scale=0),
        E.ExpectColumnToHaveLayoutType(column="d", layout_type="date"),
        E.ExpectColumnToHaveLayoutType(column="s", layout_type="date"),
        E.ExpectColumnToHaveLayoutType(column="missing", layout_type="date"),
    )
    assert [r.success for r in res.results] == [True, True, True, False, True, False, False]


def test_results_hold_counts_never_values(ctx):
    secret = "秘密　花子"
    df = arrow_frame(
        name=[secret, "〓", "x\ue000"], kana=["ﾋﾐﾂ", "ヒミツ", "秘密"], mn=[BAD_MN, "1", GOOD_MN]
    )
    res = validate(
        ctx,
        df,
        E.ExpectColumnValuesToHaveNoUnmappedGaiji(column="name"),
        E.ExpectColumnValuesToBeInStandardCharset(column="name"),
        E.ExpectColumnValuesToBeKana(column="kana"),
        E.ExpectColumnValuesToBeValidMyNumber(column="mn"),
        gx.expectations.ExpectColumnValuesToBeInSet(column="name", value_set=["none"]),
    )
    text = json.dumps(res.to_json_dict(), ensure_ascii=False, default=str)
    for value in (secret, "ﾋﾐﾂ", "秘密", BAD_MN, "x\ue000"):
        assert value not in text
    for r in res.results:
        assert r.result.get("partial_unexpected_list") in (None, [])


def test_sql_implementations_in_sqlite(tmp_path):
    """The SQL side (gate_target) evaluates inside the database: check digits, codes, dates, references."""
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 't.sqlite'}"
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.exec_driver_sql(
            "CREATE TABLE juki__atena (atena_no TEXT, kojin_no TEXT, kbn TEXT, d TEXT)"
        )
        c.exec_driver_sql("CREATE TABLE juki__jumin (atena_no TEXT)")
        c.exec_driver_sql(
            "INSERT INTO juki__atena VALUES (?,?,?,?)",
            [
                ("0000000001", GOOD_MN, "1", "1980-03-17"),
                ("0000000002", BAD_MN, "9", "1800-01-01"),
                ("0000000003", CORP, "3", "2030-01-01"),
                ("0000000004", None, None, None),
            ],
        )
        c.exec_driver_sql("INSERT INTO juki__jumin VALUES (?)", [("0000000001",), ("0000000009",)])
    ctx = gx.get_context(mode="ephemeral")
    ds = ctx.data_sources.add_sql("t", connection_string=url)
    out = {}
    for table, exps in {
        "juki__atena": [
            E.ExpectColumnValuesToBeValidMyNumber(column="kojin_no", allow_corporate_number=True),
            E.ExpectColumnValuesToBeValidMyNumber(column="kojin_no"),
            E.ExpectColumnValuesToBeInCodeList(column="kbn", code_list="l", codes=["1", "2", "3"]),
            E.ExpectColumnValuesToBeWithinEraRange(column="d", form="date", latest="2026-10-01"),
            E.ExpectColumnToHaveLayoutType(column="d", layout_type="date"),
        ],
        "juki__jumin": [
            E.ExpectColumnValuesToExistInAddresseeMaster(
                column="atena_no", reference_table="juki__atena"
            )
        ],
    }.items():
        bd = ds.add_table_asset(table, table_name=table).add_batch_definition_whole_table("w")
        suite = ctx.suites.add(gx.ExpectationSuite(table))
        ids = [suite.add_expectation(e).id for e in exps]
        vd = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=table, data=bd, suite=suite)
        )
        out[table] = vd.run(result_format=RESULT_FORMAT)
        out[table].results.sort(key=lambda r: ids.index(r.expectation_config.id))
    assert counts(out["juki__atena"])[:4] == [(False, 1), (False, 2), (False, 1), (False, 2)]
    assert out["juki__atena"].results[4].success  # SQLite keeps dates as ISO text: accepted there
    assert counts(out["juki__jumin"]) == [(False, 1)]


def test_plugin_module_of_the_gx_project_imports_the_expectations():
    from ikou.quality.gate import gx_root

    text = (gx_root() / "gx" / "plugins" / "ikou_expectations.py").read_text(encoding="utf-8")
    assert "ikou.quality.expectations" in text
