"""The difference of two validated snapshots (ikou.load.delta): inserts, updates with the
columns that changed, and deletes per business key; row order does not matter; what a report may
see holds counts and column names only; the delta set's rows and manifest."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tests_support import DELTA_DOMAIN, delta_scenario, snapshot_pair

from ikou.domains import registry
from ikou.errors import ControlMismatch
from ikou.load.delta import (
    DeltaError,
    delta_rows,
    diff_table,
    read_delta_set,
    summary,
)

SECRET = b"unit-secret"


def _layout(table: str):
    return registry().get(DELTA_DOMAIN).layout.table(table)


def _expected(base: pa.Table, new: pa.Table, key: str) -> tuple[set, set, dict]:
    """The difference computed the slow, obvious way (values compared in Python)."""
    b = {r[key]: r for r in base.to_pylist()}
    n = {r[key]: r for r in new.to_pylist()}
    updates: dict[str, set] = {}
    for k in b.keys() & n.keys():
        cols = {c for c in b[k] if b[k][c] != n[k][c]}
        if cols:
            updates[k] = cols
    return n.keys() - b.keys(), b.keys() - n.keys(), updates


@pytest.mark.parametrize("table", ["atena", "jumin"])
def test_the_diff_matches_a_row_by_row_comparison(table):
    base, new = snapshot_pair(600)
    b, n = base[table], new[table]
    d = diff_table(DELTA_DOMAIN, _layout(table), b, n, SECRET)
    ins, dels, upd = _expected(b, n, "atena_no")
    keys_new = n.column("atena_no").to_pylist()
    keys_base = b.column("atena_no").to_pylist()
    assert {keys_new[i] for i in d.inserts} == ins and len(ins) == 20
    assert {keys_base[i] for i in d.deletes} == dels and len(dels) == 13  # every 48th
    assert {keys_new[i] for i in d.updates} == set(upd) and upd
    per_col = {c: sum(c in cols for cols in upd.values()) for c in n.column_names}
    assert d.changed_columns == {c: v for c, v in per_col.items() if c != "atena_no"}
    s = d.summary()
    assert (s["inserts"], s["deletes"], s["updates"]) == (len(ins), len(dels), len(upd))
    assert s["unchanged"] == n.num_rows - len(ins) - len(upd)


def test_row_order_and_the_secret_do_not_change_the_difference():
    base, new = snapshot_pair(300)
    b, n = base["atena"], new["atena"]
    d1 = diff_table(DELTA_DOMAIN, _layout("atena"), b, n, SECRET)
    shuffled = n.take(pa.array(list(range(n.num_rows))[::-1]))
    d2 = diff_table(DELTA_DOMAIN, _layout("atena"), b, shuffled, b"another secret")
    assert d1.summary() == d2.summary()
    same = diff_table(DELTA_DOMAIN, _layout("atena"), b, b.take(pa.array([2, 0, 1])), SECRET)
    assert same.summary()["updates"] == 0 and same.summary()["deletes"] == b.num_rows - 3


def test_a_null_is_not_an_empty_value_and_types_compare_by_value():
    b, _ = snapshot_pair(50)
    t = b["atena"]
    i = t.column_names.index("shimei")
    nulled = t.set_column(i, "shimei", pa.nulls(t.num_rows, pa.string()))
    d = diff_table(DELTA_DOMAIN, _layout("atena"), t, nulled, SECRET)
    was_null = t.column("shimei").null_count
    assert d.changed_columns["shimei"] == t.num_rows - was_null
    # the same values in another chunking are the same values
    rechunked = pa.concat_tables([t.slice(0, 10), t.slice(10)])
    assert (
        diff_table(DELTA_DOMAIN, _layout("atena"), t, rechunked, SECRET).summary()["updates"] == 0
    )


def test_duplicate_keys_and_another_layout_are_refused():
    base, _ = snapshot_pair(20)
    t = base["atena"]
    twice = pa.concat_tables([t, t.slice(0, 1)])
    with pytest.raises(DeltaError, match="more than once"):
        diff_table(DELTA_DOMAIN, _layout("atena"), t, twice, SECRET)
    with pytest.raises(DeltaError, match="columns differ"):
        diff_table(DELTA_DOMAIN, _layout("atena"), t, t.drop_columns(["shimei"]), SECRET)


def test_delta_rows_carry_whole_rows_for_i_and_u_and_keys_only_for_d():
    base, new = snapshot_pair(200)
    lay = _layout("atena")
    d = diff_table(DELTA_DOMAIN, lay, base["atena"], new["atena"], SECRET)
    rows = delta_rows(lay, base["atena"], new["atena"], d)
    assert rows.column_names == ["_op"] + [c.name for c in lay.columns]
    ops = rows.column("_op").to_pylist()
    assert ops == sorted(ops, key="IUD".index)
    gone = rows.filter(pc.equal(rows.column("_op"), "D"))
    assert gone.num_rows == len(d.deletes)
    for c in lay.columns:
        if c.name != "atena_no":
            assert gone.column(c.name).null_count == gone.num_rows
    assert gone.column("atena_no").null_count == 0


def test_the_delta_set_and_its_report_summary(tmp_path):
    sc = delta_scenario(tmp_path, 300)
    m = sc["manifest"]
    assert (m["kind"], m["base_sha256"], m["result_sha256"]) == (
        "delta",
        sc["base_sha"],
        sc["new_sha"],
    )
    assert [e["file"] for e in m["tables"]] == ["atena.delta.csv", "jumin.delta.csv"]
    e = m["tables"][0]
    assert e["rows"] == sum(e["ops"].values()) and e["rows_result"] == sc["new"]["atena"].num_rows
    head = sc["delta_csvs"]["atena"].read_bytes().split(b"\r\n")[0]
    assert head.startswith(b'"_op","atena_no",')
    # the report's view: counts and column names, no value of any row
    text = json.dumps(summary(m), ensure_ascii=False)
    for value in sc["new"]["atena"].column("shimei").to_pylist()[:50]:
        if value:
            assert value not in text
    assert set(summary(m)["tables"][0]["changed_columns"]) <= {
        c.name for c in _layout("atena").columns
    }
    # a file that is not the published one is refused
    sc["delta_csvs"]["jumin"].write_bytes(b'"_op"\r\n')
    with pytest.raises(ControlMismatch, match="sha256"):
        read_delta_set(sc["folder"])


def test_a_composite_business_key():
    from types import SimpleNamespace

    def col(name: str, type_: str) -> SimpleNamespace:
        return SimpleNamespace(name=name, type=type_, length=None, precision=None, scale=None)

    lay = SimpleNamespace(
        name="t",
        business_keys=["nendo", "no"],
        columns=[col("nendo", "integer"), col("no", "string"), col("val", "string")],
    )
    base = pa.table({"nendo": [2025, 2025, 2026], "no": ["1", "2", "1"], "val": ["a", "b", "c"]})
    new = pa.table({"nendo": [2026, 2025, 2026], "no": ["1", "1", "2"], "val": ["c", "x", "d"]})
    d = diff_table("x", lay, base, new, SECRET)
    assert (d.inserts.tolist(), d.updates.tolist(), d.deletes.tolist()) == ([2], [1], [1])
    assert d.changed_columns == {"val": 1}
    rows = delta_rows(lay, base, new, d)
    assert rows.to_pylist() == [
        {"_op": "I", "nendo": 2026, "no": "2", "val": "d"},
        {"_op": "U", "nendo": 2025, "no": "1", "val": "x"},
        {"_op": "D", "nendo": 2025, "no": "2", "val": None},
    ]
