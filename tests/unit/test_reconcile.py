"""Reconciliation (ikou.rehearsal.reconcile) against an SQLite target with deliberately corrupted
rows: a changed value, a missing row, an extra row — each detected and listed by the keyed hash
of its business key, never by value; tolerances; aggregates; min / max kept out of reports."""

from __future__ import annotations

import json

import pytest

from ikou.domains import registry
from ikou.load import clean_load, write_csv
from ikou.load.target import Target
from ikou.rehearsal.reconcile import reconcile_table
from ikou.rehearsal.reconcile_values import key_hash
from ikou_dev.bench.load import synthetic_table

SECRET = b"unit-secret"
DOMAIN, TABLE = "kotei_shisanzei", "kotei_shisanzei"  # strings, integer, decimals, a code list


@pytest.fixture
def loaded(tmp_path):
    layout = registry().get(DOMAIN).layout.table(TABLE)
    data = synthetic_table(DOMAIN, TABLE, 300, seed=5)
    p = tmp_path / f"{TABLE}.csv"
    write_csv(data, p)
    target = Target(f"sqlite:///{tmp_path / 'target.sqlite'}", "ikou_rehearsal_unit")
    clean_load(target, DOMAIN, {TABLE: p})
    yield layout, data, target
    target.dispose()


def _exec(target: Target, sql: str) -> None:
    with target.engine().begin() as conn:
        conn.exec_driver_sql(sql)


def test_clean_target_reconciles(loaded):
    layout, data, target = loaded
    r = reconcile_table(DOMAIN, layout, data, target, SECRET)
    assert (r["missing"], r["extra"], r["changed"], r["mismatches"]) == (0, 0, 0, 0)
    assert r["counts_match"] and r["aggregates_match"] and r["rows_target"] == 300
    assert all(v["match"] for v in r["control_totals"].values()) and set(r["control_totals"]) == {
        "nendo",
        "menseki",
        "hyoka_gaku",
        "zeigaku",
    }


def test_changed_missing_and_extra_rows_are_listed_by_keyed_hash(loaded):
    layout, data, target = loaded
    keys = data.column("kazei_no").to_pylist()
    _exec(
        target,
        f"UPDATE kotei_shisanzei__kotei_shisanzei SET zeigaku = '999' WHERE kazei_no = '{keys[10]}'",
    )
    _exec(target, f"DELETE FROM kotei_shisanzei__kotei_shisanzei WHERE kazei_no = '{keys[20]}'")
    _exec(
        target,
        "INSERT INTO kotei_shisanzei__kotei_shisanzei (kazei_no, atena_no, nendo) "
        "VALUES ('999999999999', '0000000001', 2026)",
    )
    r = reconcile_table(DOMAIN, layout, data, target, SECRET)
    assert (r["changed"], r["missing"], r["extra"]) == (1, 1, 1)
    assert r["mismatches"] == r["mismatches_found"] == 3 and not r["within_tolerance"]
    kinds = r["mismatches_by_kind"]
    assert kinds["changed"] == [key_hash(DOMAIN, TABLE, [keys[10]], SECRET)]
    assert kinds["missing"] == [key_hash(DOMAIN, TABLE, [keys[20]], SECRET)]
    assert kinds["extra"] == [key_hash(DOMAIN, TABLE, ["999999999999"], SECRET)]
    assert sorted(r["mismatched_keys"]) == sorted(
        kinds["changed"] + kinds["missing"] + kinds["extra"]
    )
    assert r["counts_match"]  # 300 - 1 + 1: counts alone would not have seen it
    assert "zeigaku" in r["aggregate_mismatches"] and not r["control_totals"]["zeigaku"]["match"]
    # the keys themselves never appear in the result
    text = json.dumps(r, ensure_ascii=False)
    assert keys[10] not in text and keys[20] not in text and "999999999999" not in text


def test_key_hash_is_the_findings_record_key():
    from ikou.hashing import record_key

    assert key_hash("juki", "atena", ["0000000001"], SECRET) == record_key(
        "juki", "atena", ["0000000001"], SECRET
    )


def test_a_changed_null_is_detected(loaded):
    layout, data, target = loaded
    keys = data.column("kazei_no").to_pylist()
    shozai = data.column("shozai").to_pylist()
    i = next(i for i, v in enumerate(shozai) if v is not None)
    _exec(
        target,
        f"UPDATE kotei_shisanzei__kotei_shisanzei SET shozai = NULL WHERE kazei_no = '{keys[i]}'",
    )
    r = reconcile_table(DOMAIN, layout, data, target, SECRET)
    assert (
        r["changed"] == 1
        and r["aggregates"]["shozai"]["source"]["nulls"] + 1
        == r["aggregates"]["shozai"]["target"]["nulls"]
    )


def test_tolerance_from_the_plan_share(loaded):
    layout, data, target = loaded
    keys = data.column("kazei_no").to_pylist()
    _exec(
        target,
        f"DELETE FROM kotei_shisanzei__kotei_shisanzei WHERE kazei_no IN ('{keys[1]}', '{keys[2]}')",
    )
    r = reconcile_table(DOMAIN, layout, data, target, SECRET, tolerance=0.01)  # 3 of 300 allowed
    assert (
        r["allowed"] == 3
        and r["mismatches_found"] == 2
        and r["mismatches"] == 0
        and r["within_tolerance"]
    )
    assert r["counts_match"] and len(r["mismatches_by_kind"]["missing"]) == 2  # still listed
    r = reconcile_table(DOMAIN, layout, data, target, SECRET, tolerance=0.005)  # 1 of 300
    assert r["mismatches"] == 2 and not r["within_tolerance"] and not r["counts_match"]


def test_min_max_are_hashed_except_code_lists(loaded):
    layout, data, target = loaded
    r = reconcile_table(DOMAIN, layout, data, target, SECRET)
    aggs = r["aggregates"]
    assert aggs["chimoku"]["source"]["min"] in layout.column("chimoku").codes  # a code: plain
    for col in ("kazei_no", "shozai", "zeigaku", "nendo"):
        for k in ("min", "max"):
            v = aggs[col]["source"][k]
            assert v is None or v.startswith("hmac:"), (col, k, v)
    assert aggs["zeigaku"]["source"]["sum"] == aggs["zeigaku"]["target"]["sum"]


def test_missing_target_table(tmp_path):
    layout = registry().get(DOMAIN).layout.table(TABLE)
    data = synthetic_table(DOMAIN, TABLE, 5)
    target = Target(f"sqlite:///{tmp_path / 'empty.sqlite'}", "ikou_rehearsal_none")
    r = reconcile_table(DOMAIN, layout, data, target, SECRET)
    assert r["missing"] == 5 and r["mismatches"] == 5 and r["error"] == "target table missing"


def test_decimal_and_date_aggregates_match_across_representations(tmp_path):
    """Parquet decimals against SQLite TEXT (no exact decimal there): the canonical forms agree."""
    from decimal import Decimal

    import pyarrow as pa

    from ikou.domains.mapping import arrow_type

    layout = registry().get(DOMAIN).layout.table(TABLE)
    cols = {c.name: c for c in layout.columns}
    data = pa.table(
        {
            "kazei_no": pa.array(["000000000001", "000000000002"]),
            "atena_no": pa.array(["0000000001", "0000000002"]),
            "nendo": pa.array([2026, None], pa.int64()),
            "shozai": pa.array(["架空市本町1丁目", None]),
            "chimoku": pa.array(["01", "09"]),
            "menseki": pa.array([Decimal("12.50"), Decimal("0.05")], arrow_type(cols["menseki"])),
            "hyoka_gaku": pa.array([Decimal("1000000"), None], arrow_type(cols["hyoka_gaku"])),
            "zeigaku": pa.array([Decimal("14000"), Decimal("0")], arrow_type(cols["zeigaku"])),
        }
    )
    p = tmp_path / "k.csv"
    write_csv(data, p)
    target = Target(f"sqlite:///{tmp_path / 't.sqlite'}", "ikou")
    clean_load(target, DOMAIN, {TABLE: p})
    r = reconcile_table(DOMAIN, layout, data, target, SECRET)
    assert r["mismatches"] == 0, r
    assert r["control_totals"]["menseki"] == {"source": "12.55", "target": "12.55", "match": True}


def test_the_delta_digest_of_the_validated_side_is_the_fold_of_every_row_hash():
    """source_digest folds the rows in batches of bytes (numpy sums the hashes' first 8 bytes
    modulo 2**64): the same fold as a row-by-row sum of the keyed row hashes the target side
    computes (SQLite streams them), across batch boundaries, with nulls and non-ASCII text."""
    import hashlib

    import pyarrow as pa

    from ikou.rehearsal.reconcile_delta import source_digest

    layout = registry().get(DOMAIN).layout.table(TABLE)
    data = synthetic_table(DOMAIN, TABLE, 100_003, seed=9)  # two batches of 100,000 rows
    first = layout.columns[1].name
    values = data.column(first).to_pylist()
    values[:3] = [None, "山田　太郎", ""]
    data = data.set_column(1, first, pa.array(values, data.schema.field(first).type))
    key = "k" * 64

    def text(v) -> str:
        return "" if v is None else f"v{v}"

    def row_hash(row: dict) -> int:
        t = "\x1f".join(text(row[c.name]) for c in layout.columns)
        digest = hashlib.sha256(f"{key}\x1f{t}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    sample = data.slice(0, 5).to_pylist()
    total, _ = source_digest(layout, data.slice(0, 5), key, {})
    assert total % (1 << 64) == sum(row_hash(r) for r in sample) % (1 << 64)
    total, _ = source_digest(layout, data, key, {})
    rows = data.to_pylist()
    assert total % (1 << 64) == sum(row_hash(r) for r in rows) % (1 << 64)


def test_dates_codes_nulls_and_repeated_keys_reconcile_in_batches(tmp_path):
    """The validated side's canonical texts come from Arrow (dates as ISO text), the target's from
    the streamed values (SQLite: text): a clean load of 住民基本台帳's addressees reconciles with
    nulls, non-ASCII and separator characters in the values; a business key given twice in the
    validated output is counted once as a duplicate, wherever its rows fall in the batches."""
    import pyarrow as pa

    layout = registry().get("juki").standard.table("atena")
    data = synthetic_table("juki", "atena", 150_000, seed=3)
    names = data.column_names
    for name, values in (
        ("shimei", [None, "山田　太郎", "a\x1eb"]),
        ("denwa_no", [None, "03\x1f1234", None]),
    ):
        col = data.column(name).to_pylist()
        col[:3] = values
        data = data.set_column(names.index(name), name, pa.array(col, data.schema.field(name).type))
    p = tmp_path / "atena.csv"
    write_csv(data, p)
    target = Target(f"sqlite:///{tmp_path / 't.sqlite'}", "ikou_rehearsal_unit")
    clean_load(target, "juki", {"atena": p})
    try:
        r = reconcile_table("juki", layout, data, target, SECRET)
        assert (r["rows_target"], r["mismatches"], r["duplicate_keys"]) == (150_000, 0, 0), r
        assert r["aggregates_match"], r["aggregate_mismatches"]
        # the first row again at the end (another batch): a duplicate key, nothing else
        doubled = pa.concat_tables([data, data.slice(0, 1)])
        r = reconcile_table("juki", layout, doubled, target, SECRET)
        assert (r["duplicate_keys"], r["missing"], r["extra"], r["changed"]) == (1, 0, 0, 0), r
    finally:
        target.dispose()


@pytest.mark.parametrize(
    "kind,arr",
    [
        ("string", ["佐藤", None, "", "ａ"]),
        ("code", ["01", None, "1"]),
        ("date", ["2024-02-29", None, "1989-01-08"]),
        ("integer", [0, None, -12, 10**12]),
        ("decimal", ["1.5", None, "-0.25", "100"]),
    ],
)
def test_canonical_texts_are_the_converter_s_texts_in_every_arrow_form(kind, arr):
    """The Arrow form of the canonical text (one batch at a time) cannot drift from the value by
    value form both sides of a reconciliation use (dictionary, large strings, dates, numbers)."""
    import datetime as dt
    from decimal import Decimal

    import pyarrow as pa

    from ikou.domains.schema import Column
    from ikou.rehearsal.reconcile_values import canonical_converter, canonical_texts

    col = Column(
        name="c", label_ja="列", type=kind, source="C", scale=2 if kind == "decimal" else None
    )
    if kind == "date":
        values = [None if v is None else dt.date.fromisoformat(v) for v in arr]
        forms = [pa.array(values, pa.date32())]
    elif kind == "decimal":
        values = [None if v is None else Decimal(v) for v in arr]
        forms = [pa.array(values, pa.decimal128(18, 2)), pa.array(values, pa.decimal128(18, 4))]
    elif kind == "integer":
        values = arr
        forms = [pa.array(values, pa.int64())]
    else:
        values = arr
        forms = [
            pa.array(values, pa.string()),
            pa.array(values, pa.large_string()),
            pa.array(values, pa.string()).dictionary_encode(),
        ]
    conv = canonical_converter(col)
    expected = [conv(v) for v in values]
    for form in forms:
        got = canonical_texts(col, form)
        assert got.type == pa.string()
        assert got.to_pylist() == expected
