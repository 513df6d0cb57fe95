"""名寄せ input contract: birth dates in every accepted form, and bad input as exit 2.

Regression: an integer YYYYMMDD ``birth_date`` (as the legacy files store it) was read as
nanoseconds since 1970, so a father and son of one name at one address came out ``auto_merge``
with score 1.000."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ikou.cleanse.dedupe import DedupeConfig, dedupe
from ikou.cleanse.dedupe_keys import birth_date_keys
from ikou.cli import main
from ikou.errors import BadArgument

NAME, KANA, ADDR = "見本　太郎", "ミホン　タロウ", "架空市中央区桜町１丁目２番３号"


def _family(birth: pa.Array) -> pa.Table:
    """Father and son (same name, kana, sex, address), plus the father's own second record."""
    n = len(birth)
    return pa.table(
        {
            "atena_id": pa.array([f"00000000{i + 1:02d}" for i in range(n)], pa.string()),
            "name": pa.array([NAME] * n, pa.string()),
            "name_kana": pa.array([KANA] * n, pa.string()),
            "birth_date": birth,
            "sex": pa.array(["1"] * n, pa.string()),
            "address": pa.array([ADDR] * n, pa.string()),
        }
    )


def _decisions(table: pa.Table) -> dict[str, str]:
    c = dedupe(table, DedupeConfig(population=20_000)).clusters.to_pydict()
    return dict(zip(c["atena_id"], c["decision"]))


def _clusters(table: pa.Table) -> dict[str, str]:
    c = dedupe(table, DedupeConfig(population=20_000)).clusters.to_pydict()
    return dict(zip(c["atena_id"], c["cluster_id"]))


@pytest.mark.parametrize(
    "birth",
    [
        pa.array([19500101, 19800101], pa.int64()),
        pa.array([19500101, 19800101], pa.int32()),
        pa.array(["19500101", "19800101"], pa.string()),
        pa.array(["1950-01-01", "1980-01-01"], pa.string()),
        pa.array([dt.date(1950, 1, 1), dt.date(1980, 1, 1)], pa.date32()),
        pa.array([dt.datetime(1950, 1, 1), dt.datetime(1980, 1, 1)], pa.timestamp("ns")),
    ],
    ids=["int64", "int32", "yyyymmdd-text", "iso-text", "date32", "timestamp"],
)
def test_father_and_son_are_never_auto_merged(birth):
    dec = _decisions(_family(birth))
    assert dec["0000000001"] != "auto_merge" and dec["0000000002"] != "auto_merge", dec


def test_the_same_person_twice_is_still_merged_with_integer_dates():
    dec = _decisions(_family(pa.array([19500101, 19500101], pa.int64())))
    assert dec == {"0000000001": "auto_merge", "0000000002": "auto_merge"}


@pytest.mark.parametrize("partial", [19500100, 19500000, "19500100", "19500000", None])
def test_unknown_day_or_month_never_auto_merges(partial):
    if isinstance(partial, str):
        birth = pa.array(["19500101", partial], pa.string())
    else:
        birth = pa.array([19500101, partial], pa.int64())
    dec = _decisions(_family(birth))
    assert "auto_merge" not in dec.values(), dec


def test_partial_dates_keep_their_year_for_blocking_only():
    from ikou.cleanse.dedupe_keys import features

    f = features(_family(pa.array(["19500115", "19500100"], pa.string())))
    assert f["birth_date"].iloc[0] == "19500115" and pd.isna(f["birth_date"].iloc[1])
    assert f["birth_year"].tolist() == [1950, 1950]


def test_birth_date_keys_accept_exactly_the_documented_forms():
    keys, years = birth_date_keys(
        pa.array(["1950-01-02", "19500102", " 19500102 ", "19501200", "19500000", None, ""]),
    )
    assert keys == ["19500102", "19500102", "19500102", None, None, None, None]
    assert years == [1950, 1950, 1950, 1950, 1950, None, None]
    k, _ = birth_date_keys(pa.array([19500102, None, 19500100], pa.int64()))
    assert k == ["19500102", None, None]
    k, _ = birth_date_keys(pd.Series([pd.Timestamp("1950-01-02"), pd.NaT]))
    assert k == ["19500102", None]


@pytest.mark.parametrize(
    "values,row",
    [
        (pa.array(["1950-01-02", "1950/01/02"]), 2),
        (pa.array(["19500230", "19500101"]), 1),  # 30 February
        (pa.array(["1950-13-01"]), 1),
        (pa.array([19501301], pa.int64()), 1),
        (pa.array([1950010], pa.int64()), 1),  # seven digits
        (pa.array([-19500101], pa.int64()), 1),
        (pa.array([19500001], pa.int64()), 1),  # a day without a month
        (pa.array(["S25.01.02"]), 1),  # wareki is the cleanse stage's job, not dedupe's
        (pa.array([dt.datetime(1950, 1, 2, 12, 0)], pa.timestamp("us")), 1),  # not midnight
        (pa.array([19500101.5], pa.float64()), 1),
        (pa.array([True]), None),  # a type that is no date at all
    ],
)
def test_anything_else_is_bad_argument_naming_column_and_row(values, row):
    with pytest.raises(BadArgument) as exc:
        birth_date_keys(values)
    msg = exc.value.message
    assert msg.startswith("birth_date: ")
    assert (f"row {row} " in msg) if row else "type bool" in msg
    for v in values.to_pylist():  # the value itself is personal data: never in the message
        if v not in (None, True) and str(v) not in ("1", "0"):
            assert str(v) not in msg


def _write(tmp_path, table, name="in.parquet"):
    p = tmp_path / name
    pq.write_table(table, p)
    return p


def _run(argv, capsys):
    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.err


def test_cli_father_and_son_with_integer_dates(tmp_path, capsys):
    p = _write(tmp_path, _family(pa.array([19500101, 19800101], pa.int64())))
    out = tmp_path / "out.parquet"
    code, err = _run(["dedupe", str(p), "-o", str(out)], capsys)
    assert code == 0, err
    assert "auto_merge" not in pq.read_table(out).column("decision").to_pylist()


@pytest.mark.parametrize(
    "mutate,fragment,code",
    [
        (lambda t: t.drop_columns(["address"]), "lacks columns ['address']", 2),
        (
            lambda t: t.set_column(3, "birth_date", pa.array(["x", "1950-01-01"])),
            "birth_date: row 1",
            2,
        ),
        (lambda t: pa.concat_tables([t, t.slice(0, 1)]), "atena_id must be unique", 2),
        (
            lambda t: t.set_column(0, "atena_id", pa.array([None, "1"], pa.string())),
            "atena_id: row 1",
            2,
        ),
        (lambda t: t.set_column(1, "name", pa.array([1, 2], pa.int64())), "name: type int64", 2),
        (lambda t: t.set_column(4, "sex", pa.array([1.0, 2.0])), "sex: type double", 2),
    ],
    ids=["missing-column", "bad-date", "duplicate-id", "null-id", "name-type", "sex-type"],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, mutate, fragment, code):
    p = _write(tmp_path, mutate(_family(pa.array([19500101, 19800101], pa.int64()))))
    out = tmp_path / "out.parquet"
    got, err = _run(["dedupe", str(p), "-o", str(out)], capsys)
    assert (got, len(err.strip().splitlines())) == (code, 1), err
    assert fragment in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--review", "0"], "--review"),
        (["--review", "0.9", "--auto-merge", "0.5"], "--review"),
        (["--review", "0.5", "--auto-merge", "0.5"], "--review"),
        (["--auto-merge", "1.5"], "--auto-merge"),
        (["--auto-merge", "nan"], "--auto-merge"),
        (["--max-auto-cluster", "0"], "--max-auto-cluster"),
        (["--duplicate-rate", "1"], "--duplicate-rate"),
        (["--population", "0"], "--population"),
    ],
)
def test_cli_thresholds(tmp_path, capsys, args, fragment):
    p = _write(tmp_path, _family(pa.array([19500101, 19800101], pa.int64())))
    code, err = _run(["dedupe", str(p), "-o", str(tmp_path / "o.parquet"), *args], capsys)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err


def test_auto_merge_of_exactly_one_is_allowed(tmp_path, capsys):
    p = _write(tmp_path, _family(pa.array([19500101, 19800101], pa.int64())))
    code, err = _run(
        ["dedupe", str(p), "-o", str(tmp_path / "o.parquet"), "--auto-merge", "1"], capsys
    )
    assert code == 0, err


def test_cli_unreadable_input(tmp_path, capsys):
    bad = tmp_path / "not.parquet"
    bad.write_bytes(b"this is not parquet")
    code, err = _run(["dedupe", str(bad), "-o", str(tmp_path / "o.parquet")], capsys)
    assert code == 4 and "not a readable Parquet file" in err, err
    code, err = _run(["dedupe", str(tmp_path / "nope.parquet"), "-o", "o.parquet"], capsys)
    assert code == 4 and "no such file" in err, err
    p = _write(tmp_path, _family(pa.array([19500101, 19800101], pa.int64())))
    code, err = _run(["dedupe", str(p), "-o", str(p)], capsys)
    assert code == 2 and "-o" in err, err
