"""The files the bad-input cases refer to as ``{data}/NAME`` (built once per session).

Every value is synthetic. Each builder returns the bytes or table of one file; ``build(folder)``
writes them all and returns the folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

NAME, KANA, ADDR = "見本　太郎", "ミホン　タロウ", "架空市中央区桜町１丁目２番３号"


def family(birth: pa.Array, ids=("0000000001", "0000000002")) -> pa.Table:
    """Father and son: the same name, kana, sex and address; only the birth date differs."""
    n = len(birth)
    return pa.table(
        {
            "atena_id": pa.array(list(ids)[:n], pa.string()),
            "name": pa.array([NAME] * n, pa.string()),
            "name_kana": pa.array([KANA] * n, pa.string()),
            "birth_date": birth,
            "sex": pa.array(["1"] * n, pa.string()),
            "address": pa.array([ADDR] * n, pa.string()),
        }
    )


def _tables() -> dict[str, pa.Table]:
    base = family(pa.array([19500101, 19800101], pa.int64()))
    return {
        "family_int.parquet": base,
        "family_int32.parquet": family(pa.array([19500101, 19800101], pa.int32())),
        "family_text.parquet": family(pa.array(["19500101", "19800101"])),
        "family_iso.parquet": family(pa.array(["1950-01-01", "1980-01-01"])),
        "family_date.parquet": family(
            pa.array([dt.date(1950, 1, 1), dt.date(1980, 1, 1)], pa.date32())
        ),
        "family_ts.parquet": family(
            pa.array([dt.datetime(1950, 1, 1), dt.datetime(1980, 1, 1)], pa.timestamp("ns"))
        ),
        "family_day_unknown.parquet": family(pa.array([19500101, 19500100], pa.int64())),
        "family_month_unknown.parquet": family(pa.array(["19500101", "19500000"])),
        "family_null_date.parquet": family(pa.array([19500101, None], pa.int64())),
        "same_person_int.parquet": family(pa.array([19500101, 19500101], pa.int64())),
        "slash_date.parquet": family(pa.array(["1950-01-01", "1950/01/01"])),
        "feb30.parquet": family(pa.array(["19500230", "19800101"])),
        "month13.parquet": family(pa.array([19501301, 19800101], pa.int64())),
        "seven_digits.parquet": family(pa.array([1950010, 19800101], pa.int64())),
        "day_without_month.parquet": family(pa.array(["19500015", "19800101"])),
        "wareki_text.parquet": family(pa.array(["S25.01.01", "S55.01.01"])),
        "noon.parquet": family(
            pa.array([dt.datetime(1950, 1, 1, 12), dt.datetime(1980, 1, 1)], pa.timestamp("us"))
        ),
        "fraction.parquet": family(pa.array([19500101.5, 19800101.0])),
        "bool_date.parquet": family(pa.array([True, False])),
        "no_address.parquet": base.drop_columns(["address"]),
        "no_birth_date.parquet": base.drop_columns(["birth_date"]),
        "dup_ids.parquet": family(pa.array([19500101, 19800101]), ids=("1", "1")),
        "null_id.parquet": base.set_column(0, "atena_id", pa.array([None, "2"], pa.string())),
        "empty_id.parquet": base.set_column(0, "atena_id", pa.array(["1", " "], pa.string())),
        "int_ids.parquet": base.set_column(0, "atena_id", pa.array([1, 2], pa.int64())),
        "name_int.parquet": base.set_column(1, "name", pa.array([1, 2], pa.int64())),
        "sex_float.parquet": base.set_column(4, "sex", pa.array([1.0, 1.0])),
        "empty.parquet": base.slice(0, 0),
    }


def build(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in _tables().items():
        pq.write_table(table, folder / name)
    (folder / "garbage.parquet").write_bytes(b"this is not a parquet file\n")
    (folder / "a_folder").mkdir(exist_ok=True)
    (folder / "bad_model.json").write_text("{not json", encoding="utf-8")
    (folder / "not_a_model.json").write_text('{"x": 1}', encoding="utf-8")
    (folder / "decisions_bad.csv").write_text("cluster,decision\nc1,maybe\n", encoding="utf-8")
    (folder / "decisions_empty.csv").write_text("", encoding="utf-8")
    (folder / "decisions_latin1.csv").write_bytes("cluster,decision\nc1,\xe9\n".encode("latin-1"))
    (folder / "decisions_ok.csv").write_text(
        "cluster,decision,reviewer,reason,time\n0000000001,distinct,審査担当,父と子,"
        "2026-10-01T10:00:00+09:00\n",
        encoding="utf-8",
    )
    (folder / "decisions_garbage.parquet").write_bytes(b"PAR1 not really")
    (folder / "broken.cpy").write_text(
        "       01  REC.\n           05  A  PIC X(.\n", encoding="utf-8"
    )
    (folder / "ok.cpy").write_text(
        "       01  REC.\n           05  A  PIC X(4).\n", encoding="utf-8"
    )
    (folder / "four.dat").write_bytes(b"\xc1\xc2\xc3\xc4" * 3)
    return folder
