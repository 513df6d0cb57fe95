"""The partition function of a partitioned load (stable, every row in exactly one partition, a
person's rows together), how many partitions, and the per-partition accounting of the swap."""

from __future__ import annotations

import csv

import pytest
from tests_support import load_partitions

from ikou.domains import registry
from ikou.errors import BadArgument
from ikou.load.partitions import key_columns, partition_count, partition_of, split_table
from ikou.load.staging import StagingError, check_staged
from ikou_dev.bench.load import synthetic_table

SECRET = b"partition-secret"


def _keys(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        i = header.index("atena_no")
        return [row[i] for row in reader]


def test_partition_of_is_a_stable_function_of_the_key():
    keys = [f"{i:010d}" for i in range(5_000)]
    a = partition_of("juki", keys, 4, SECRET)
    assert a.tolist() == partition_of("juki", keys, 4, SECRET).tolist()
    # one key at a time (another batch size) gives the same partitions
    assert [int(partition_of("juki", [k], 4, SECRET)[0]) for k in keys[:200]] == a[:200].tolist()
    assert set(a.tolist()) == {0, 1, 2, 3}
    counts = [int((a == i).sum()) for i in range(4)]
    assert min(counts) > 5_000 / 4 * 0.8  # sequential numbers spread evenly
    # keyed: another secret splits differently (the split is no function of the number alone)
    assert a.tolist() != partition_of("juki", keys, 4, b"other").tolist()
    # composite keys: the columns joined, tuples accepted; a null key has a partition too
    assert partition_of("juki", [("1", "2"), None], 3, SECRET).tolist() == [
        int(partition_of("juki", ["1\x1e2"], 3, SECRET)[0]),
        int(partition_of("juki", [""], 3, SECRET)[0]),
    ]


def test_split_covers_every_row_exactly_once_and_keeps_a_person_together(tmp_path):
    tables = {
        t.name: synthetic_table("juki", t.name, 3_000, seed=5)
        for t in registry().get("juki").layout.tables
    }
    plan, csvs = load_partitions(tmp_path, tables, 3)
    for name, table in tables.items():
        parts = [_keys(csvs[i][name]) for i in range(3)]
        assert [len(p) for p in parts] == [p.rows[name] for p in plan]
        everything = [k for p in parts for k in p]
        assert sorted(everything) == sorted(table.column("atena_no").to_pylist())
        assert len(set(everything)) == len(everything)  # exactly once
        assert all(parts)  # no partition empty at 1,000 rows each on average
    # the same 宛名番号 lands in the same partition in every table of the domain
    for i in range(3):
        assert set(_keys(csvs[i]["atena"])) == set(_keys(csvs[i]["jumin"]))
    # the split again gives byte-identical files (a retried load_plan writes the same parts)
    again, _ = load_partitions(tmp_path / "again", tables, 3)
    assert [p.sha256 for p in again] == [p.sha256 for p in plan]


def test_split_of_an_empty_partition_writes_a_header(tmp_path):
    lay = registry().get("juki").layout.table("atena")
    table = synthetic_table("juki", "atena", 1, seed=1)
    import pyarrow.parquet as pq

    pq.write_table(table, tmp_path / "a.parquet")
    outs = [tmp_path / f"p{i}.csv" for i in range(4)]
    counts = split_table("juki", lay, tmp_path / "a.parquet", 4, outs)
    assert sorted(counts) == [0, 0, 0, 1]
    for out in outs:
        assert out.read_bytes().split(b"\r\n")[0].startswith(b'"atena_no"')


def test_key_columns_are_the_atena_no_else_the_business_key():
    reg = registry()
    assert key_columns(reg.get("juki").layout.table("atena")) == ("atena_no",)
    for d in reg:
        for t in d.layout.tables:
            cols = key_columns(t)
            assert cols and set(cols) <= {c.name for c in t.columns}


def test_partition_count_from_the_rows_or_the_environment():
    assert partition_count(20_000, env={}) == 1  # a small city: the single-task load
    assert partition_count(500_000, env={}) == 1
    assert partition_count(1_000_000, env={}) == 2
    assert partition_count(3_800_000, env={}) == 8
    assert partition_count(50_000_000, env={}) == 16  # at most
    assert partition_count(0, env={}) == 1
    assert partition_count(10, env={"IKOU_LOAD_PARTITIONS": "4"}) == 4
    for bad in ("0", "x", "-2", "999"):
        with pytest.raises(BadArgument, match="IKOU_LOAD_PARTITIONS"):
            partition_count(10, env={"IKOU_LOAD_PARTITIONS": bad})


def test_check_staged_accounts_per_partition_and_in_total():
    planned = {
        0: {"atena": (3, "a0"), "jumin": (2, "j0")},
        1: {"atena": (4, "a1"), "jumin": (5, "j1")},
    }
    assert check_staged("juki", planned, planned) == {"atena": 7, "jumin": 7}
    with pytest.raises(StagingError, match=r"partition\(s\) 2/2 not staged"):
        check_staged("juki", planned, {0: planned[0]})
    with pytest.raises(StagingError, match="not in the plan"):
        check_staged("juki", planned, {**planned, 2: planned[0]})
    with pytest.raises(StagingError, match="staged 3 rows, planned 4"):
        check_staged("juki", planned, {**planned, 1: {**planned[1], "atena": (3, "a1")}})
    with pytest.raises(StagingError, match="another plan"):
        check_staged("juki", planned, {**planned, 0: {**planned[0], "jumin": (2, "zz")}})
    with pytest.raises(StagingError, match="staged tables"):
        check_staged("juki", planned, {**planned, 0: {"atena": (3, "a0")}})


def test_the_hand_off_csv_streamed_from_parquet_is_the_same_bytes(tmp_path, monkeypatch):
    """build_handoff streams each table from its Parquet file (memory: one batch)."""
    import pyarrow.parquet as pq

    import ikou.load as handoff

    monkeypatch.setattr(handoff, "PARQUET_BATCH", 700)  # several batches and row groups
    table = synthetic_table("juki", "atena", 2_500, seed=3)
    pq.write_table(table, tmp_path / "atena.parquet", row_group_size=1_000)
    handoff.write_csv(table, tmp_path / "whole.csv", bom=True)
    handoff.write_csv(tmp_path / "atena.parquet", tmp_path / "streamed.csv", bom=True)
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "streamed.csv").read_bytes()
