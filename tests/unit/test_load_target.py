"""The target load on SQLite (the embedded default): DDL from the layouts, one transaction per
load, loading twice gives identical tables, a load failing midway leaves the previous state,
rehearsal schemas are per run and swept. (PostgreSQL: tests/integration/test_load_postgres.py.)"""

from __future__ import annotations

import sqlite3

import pytest

from ikou.domains import registry
from ikou.load import clean_load, load_target, rehearsal_schemas, sweep_rehearsal_schemas, write_csv
from ikou.load.target import LIVE_SCHEMA, Target, ddl, rehearsal_schema, schema_for
from ikou.rehearsal.reconcile import table_digest
from ikou_dev.bench.load import synthetic_table

DOMAIN = "juki"


@pytest.fixture
def csvs(tmp_path):
    out = {}
    for t in registry().get(DOMAIN).layout.tables:
        p = tmp_path / f"{t.name}.csv"
        write_csv(synthetic_table(DOMAIN, t.name, 500, seed=1), p)
        out[t.name] = p
    return out


def _digests(target: Target) -> dict[str, str]:
    return {t.name: table_digest(target, DOMAIN, t) for t in registry().get(DOMAIN).layout.tables}


def test_ddl_from_the_layout():
    lay = registry().get("kotei_shisanzei").layout
    pg = ddl("kotei_shisanzei", lay, "postgresql")
    assert 'CREATE TABLE "ikou"."kotei_shisanzei__kotei_shisanzei"' in pg
    assert '"kazei_no" VARCHAR(12) NOT NULL' in pg and '"menseki" NUMERIC(9,2)' in pg
    assert '"nendo" BIGINT' in pg and 'PRIMARY KEY ("kazei_no")' in pg
    assert "COMMENT ON COLUMN" in pg and "課税番号" in pg
    lite = ddl("kotei_shisanzei", lay, "sqlite")
    assert '"menseki" TEXT' in lite and '"nendo" INTEGER' in lite


def test_schema_names():
    assert schema_for("cutover", "r1") == LIVE_SCHEMA
    s = schema_for("rehearsal", "manual__2026-11-28T01:00:00+00:00")
    assert s == rehearsal_schema("manual__2026-11-28T01:00:00+00:00") and s.startswith(
        "ikou_rehearsal_"
    )
    assert len(s) == len("ikou_rehearsal_") + 12 and s != rehearsal_schema("another run")


def test_loading_twice_gives_identical_tables(tmp_path, csvs):
    target = Target(f"sqlite:///{tmp_path / 'target.sqlite'}", "ikou_rehearsal_twice")
    first = clean_load(target, DOMAIN, csvs)
    d1 = _digests(target)
    second = clean_load(target, DOMAIN, csvs)
    assert first == second == {"atena": 500, "jumin": 500}
    assert _digests(target) == d1
    names = target.tables()
    assert names == ["juki__atena", "juki__jumin"]  # no staging table left, no duplicates


def test_a_load_failing_midway_leaves_the_previous_state(tmp_path, csvs):
    target = Target(f"sqlite:///{tmp_path / 'target.sqlite'}", "ikou_rehearsal_fail")
    clean_load(target, DOMAIN, csvs)
    before = _digests(target)
    # a second version whose jumin.csv breaks after 300 rows (atena is already swapped by then)
    bad = tmp_path / "bad"
    bad.mkdir()
    new = {}
    for t in registry().get(DOMAIN).layout.tables:
        p = bad / f"{t.name}.csv"
        write_csv(synthetic_table(DOMAIN, t.name, 500, seed=2), p)
        new[t.name] = p
    lines = new["jumin"].read_bytes().split(b"\r\n")
    lines[300] = b'"0000000300","only two fields"'
    new["jumin"].write_bytes(b"\r\n".join(lines))
    with pytest.raises(ValueError, match="fields"):
        clean_load(target, DOMAIN, new)
    assert _digests(target) == before  # atena rolled back too: all or nothing
    assert target.tables() == ["juki__atena", "juki__jumin"]


def test_rehearsal_loads_go_to_their_own_schema_and_leftovers_are_swept(
    tmp_path, csvs, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    a = Target(url, rehearsal_schema("run-a"))
    load_target(
        a,
        DOMAIN,
        csvs,
        run_id="run-a",
        snapshot="2026-10-01",
        manifest_sha256="a" * 64,
        mode="rehearsal",
    )
    other = Target(url, rehearsal_schema("run-other-domain"))
    p = tmp_path / "inkan.csv"
    write_csv(synthetic_table("inkan", "inkan", 20), p)
    load_target(
        other,
        "inkan",
        {"inkan": p},
        run_id="run-other-domain",
        snapshot="2026-10-01",
        manifest_sha256="c" * 64,
        mode="rehearsal",
    )
    assert set(rehearsal_schemas(a)) == {a.schema, other.schema}
    b = Target(url, rehearsal_schema("run-b"))
    load_target(
        b,
        DOMAIN,
        csvs,
        run_id="run-b",
        snapshot="2026-10-01",
        manifest_sha256="b" * 64,
        mode="rehearsal",
    )
    # run-a never reached its rollback (say it stopped at gate_target): run-b's load swept it
    assert set(rehearsal_schemas(a)) == {b.schema, other.schema}
    assert not a.sqlite_path.exists()
    assert sweep_rehearsal_schemas(b, DOMAIN, keep=b.schema) == []
    from ikou.load.control import Control

    log = Control(url).loads_of(DOMAIN)
    assert [(r["run_id"], r["target_schema"], r["rows"], bool(r["dropped_at"])) for r in log] == [
        ("run-a", a.schema, 1000, True),
        ("run-b", b.schema, 1000, False),
    ]


def test_sqlite_load_is_one_transaction(tmp_path, csvs):
    """While a load runs, another connection sees the old state (BEGIN IMMEDIATE … COMMIT)."""
    target = Target(f"sqlite:///{tmp_path / 'target.sqlite'}", "ikou")
    seen = {}

    def after(cur, dialect, rows):
        other = sqlite3.connect(str(target.sqlite_path))
        seen["tables"] = [
            r[0] for r in other.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        other.close()

    target._load_sqlite(DOMAIN, registry().get(DOMAIN).layout, csvs, None, after)
    assert seen["tables"] == []  # nothing visible before COMMIT
    assert target.tables() == ["juki__atena", "juki__jumin"]
