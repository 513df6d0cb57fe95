"""A delta applied on the machine's PostgreSQL: after a full load of the base, the delta makes
the tables equal a full load of the new snapshot (rows, digests, and the delta reconciliation's
digest computed inside the database); re-applying is an ``already_applied`` no-op; a target at
another snapshot is refused; a delta load killed mid-COPY of its second table leaves the base
and a retry completes. (SQLite: tests/unit/test_load_delta_sqlite.py.)"""

from __future__ import annotations

import json

import pytest
from tests_support import (
    DELTA_DOMAIN,
    apply_scenario,
    delta_scenario,
    kill_while_reading,
    load_snapshot,
)

from ikou.domains import registry
from ikou.load import clean_load
from ikou.load.control import Control
from ikou.load.delta_apply import ALREADY_APPLIED, APPLIED, DeltaRefused
from ikou.load.target import STAGING_SCHEMA, Target, rehearsal_schema
from ikou.rehearsal.reconcile import table_digest
from ikou.rehearsal.reconcile_delta import reconcile_delta_table

pytestmark = [pytest.mark.integration]

ROWS = 3_000
SECRET = b"pg-delta"
REFERENCE = "ikou_delta_reference"  # not a rehearsal schema: no load sweeps it


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    return delta_scenario(tmp_path_factory.mktemp("pgdelta"), ROWS)


@pytest.fixture(scope="module")
def reference(pg_url, scenario):
    """A full load of the new snapshot."""
    ref = Target(pg_url, REFERENCE)
    clean_load(ref, DELTA_DOMAIN, scenario["new_csvs"])
    yield ref
    with ref.engine().begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{REFERENCE}" CASCADE')
    ref.dispose()


@pytest.fixture
def pg(pg_url, monkeypatch):
    monkeypatch.setenv("IKOU_TARGET_DB_URL", pg_url)
    return pg_url


def _digests(target: Target) -> dict[str, str]:
    lay = registry().get(DELTA_DOMAIN).layout
    return {t.name: table_digest(target, DELTA_DOMAIN, t) for t in lay.tables}


def _rows(target: Target, table: str) -> list[tuple]:
    with target.engine().connect() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                f'SELECT * FROM "{target.schema}"."juki__{table}" ORDER BY atena_no'
            )
        ]


def _load(url: str, scenario, run_id: str, which: str = "base", sha: str = "") -> Target:
    target = Target(url, rehearsal_schema(run_id))
    load_snapshot(target, scenario, run_id, which, sha)
    return target


def _logged(url: str, schema: str) -> list[str]:
    return [
        r["manifest_sha256"]
        for r in Control(url).loads_of(DELTA_DOMAIN)
        if r["target_schema"] == schema
    ]


def test_a_delta_gives_what_a_full_load_of_the_new_snapshot_gives(pg, scenario, reference):
    target = _load(pg, scenario, "pg-delta")
    assert _digests(target) != _digests(reference)
    out = apply_scenario(target, scenario, "pg-delta")
    assert out["status"] == APPLIED
    assert out["rows"] == {t: scenario["new"][t].num_rows for t in ("atena", "jumin")}
    assert _digests(target) == _digests(reference)
    for table in ("atena", "jumin"):
        assert _rows(target, table) == _rows(reference, table)
    assert _logged(pg, target.schema) == [scenario["base_sha"], scenario["new_sha"]]
    assert target.sibling(STAGING_SCHEMA).tables() == []
    for t in registry().get(DELTA_DOMAIN).layout.tables:
        rec = reconcile_delta_table(
            DELTA_DOMAIN, t, scenario["new"][t.name], target, SECRET, scenario["delta_csvs"][t.name]
        )
        assert rec["mismatches"] == 0, rec
        assert rec["digest_match"] and rec["counts_match"] and rec["aggregates_match"]
        assert rec["changed_keys"] > 0 and rec["changed_mismatches"] == 0
    again = apply_scenario(target, scenario, "pg-delta-again")
    assert again["status"] == ALREADY_APPLIED
    assert _digests(target) == _digests(reference)
    assert _logged(pg, target.schema) == [scenario["base_sha"], scenario["new_sha"]]
    # a changed row is found by the in-database digest, and by key when the delta touched it
    new = scenario["new"]["atena"]
    inserted = new.column("atena_no")[-1].as_py()
    with target.engine().begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE \"{target.schema}\".juki__atena SET shimei = 'X' WHERE atena_no = %s",
            (inserted,),
        )
    lay = registry().get(DELTA_DOMAIN).layout.table("atena")
    rec = reconcile_delta_table(
        DELTA_DOMAIN, lay, new, target, SECRET, scenario["delta_csvs"]["atena"]
    )
    assert not rec["digest_match"] and rec["changed_mismatches"] == 1
    assert inserted not in json.dumps(rec)
    target.drop_schema()
    target.dispose()


def test_a_target_at_another_snapshot_is_refused(pg, scenario):
    target = _load(pg, scenario, "pg-other", which="new", sha="9" * 64)
    before = _digests(target)
    with pytest.raises(DeltaRefused, match=r"holds 999999999999 .*applies to") as exc:
        apply_scenario(target, scenario, "pg-other")
    assert exc.value.exit_code == 1 and "\n" not in str(exc.value)
    assert _digests(target) == before
    empty = Target(pg, rehearsal_schema("pg-nothing"))
    with pytest.raises(DeltaRefused, match="holds nothing"):
        apply_scenario(empty, scenario, "pg-nothing")
    # a base whose schema was rolled back (dropped_at in the log) is no base any more
    rolled = _load(pg, scenario, "pg-rolled")
    Control(pg).log_dropped(domain=DELTA_DOMAIN, schema=rolled.schema)
    with pytest.raises(DeltaRefused, match="holds nothing"):
        apply_scenario(rolled, scenario, "pg-rolled")
    rolled.drop_schema()
    rolled.dispose()
    target.drop_schema()
    target.dispose()


CHILD = """
import json, sys
from pathlib import Path
from ikou.load.delta_apply import apply_delta
from ikou.load.target import Target
url, schema, manifest, csvs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
apply_delta(Target(url, schema), "juki", manifest, {k: Path(v) for k, v in csvs.items()},
            run_id="pg-killed", mode="rehearsal")
"""


def _open_delta_transactions(target: Target) -> int:
    with target.engine().connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state <> 'idle' AND query LIKE 'COPY %%juki__jumin__delta%%'"
            ).scalar()
        )


def test_a_delta_killed_midway_leaves_the_base_and_a_retry_completes(pg, scenario, reference):
    import time

    target = _load(pg, scenario, "pg-killed")
    before = _digests(target)
    logged = _logged(pg, target.schema)
    fifo = scenario["folder"].parent / "jumin.delta.fifo"
    csvs = {"atena": str(scenario["delta_csvs"]["atena"]), "jumin": str(fifo)}

    def stuck() -> None:
        # the child is in the COPY of jumin's delta, atena's applied in its open transaction
        deadline = time.monotonic() + 30
        while _open_delta_transactions(target) == 0:
            assert time.monotonic() < deadline, "the delta's COPY did not start"
            time.sleep(0.05)
        assert _digests(target) == before

    kill_while_reading(
        CHILD,
        [pg, target.schema, json.dumps(scenario["manifest"]), json.dumps(csvs)],
        fifo,
        scenario["delta_csvs"]["jumin"].read_bytes(),
        then=stuck,
    )
    deadline = time.monotonic() + 30
    while _open_delta_transactions(target):  # the server notices the dead client, rolls back
        assert time.monotonic() < deadline, "the killed delta is still running"
        time.sleep(0.1)
    assert _digests(target) == before
    assert target.sibling(STAGING_SCHEMA).tables() == []
    assert _logged(pg, target.schema) == logged
    out = apply_scenario(target, scenario, "pg-killed")  # the retry
    assert out["status"] == APPLIED
    assert _digests(target) == _digests(reference)
    target.drop_schema()
    target.dispose()


def _scoped_gate(target: Target, scenario, run_id: str) -> dict:
    """gate_target after the delta, scoped to its rows as the gate task scopes it."""
    from ikou.load.delta_scope import DeltaScope
    from ikou.quality.gate import Unit, run_gate
    from ikou.stages.gate import scoped_units

    tables = [Unit(t, expected_rows=scenario["new"][t].num_rows) for t in ("atena", "jumin")]
    scope = DeltaScope(target, DELTA_DOMAIN, scenario["manifest"], scenario["delta_csvs"])
    with scope:
        return run_gate(
            DELTA_DOMAIN, "gate_target", scoped_units(tables, scope), run_id=run_id,
            target_url=scope.gx_url, parameters={"snapshot": "2026-11-01"},
        )  # fmt: skip


def test_the_delta_scoped_gate_checks_the_touched_rows_and_the_orphans(pg, s3_endpoint, scenario):
    from ikou.load.delta_scope import scope_schema
    from ikou.quality.gate import GateFailed

    target = _load(pg, scenario, "pg-scope")
    apply_scenario(target, scenario, "pg-scope")
    report = _scoped_gate(target, scenario, "pg-scope-gate")
    assert report["verdict"] == "pass" and report["scope"] == "delta"
    for u in report["units"]:
        ops = next(e["ops"] for e in scenario["manifest"]["tables"] if e["table"] == u["unit"])
        touched = ops["I"] + ops["U"]
        assert u["scope"] == {
            "kind": "delta",
            "rows": touched,
            "table_rows": scenario["new"][u["unit"]].num_rows,
        }
        counts = {e["element_count"] for e in u["expectations"] if e["element_count"] is not None}
        assert counts == {touched}  # the touched rows, not the table
    with target.engine().connect() as conn:
        left = conn.exec_driver_sql(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s",
            (scope_schema(target.schema, scenario["manifest"]["run_id"]),),
        ).scalar()
    assert left == 0
    # a bad value on a row the delta inserted, and an untouched row that refers to an addressee
    # the delta deleted (an orphan only the deleted master keys bring into the scope)
    inserted = scenario["new"]["atena"].column("atena_no")[-1].as_py()
    base, new = scenario["base"]["atena"], scenario["new"]["atena"]
    deleted = sorted(
        set(base.column("atena_no").to_pylist()) - set(new.column("atena_no").to_pylist())
    )[0]
    cols = [c.name for c in registry().get(DELTA_DOMAIN).layout.table("jumin").columns[1:]]
    with target.engine().begin() as conn:
        s = f'"{target.schema}"'
        conn.exec_driver_sql(
            f"UPDATE {s}.juki__atena SET kojin_no = '123456789012' WHERE atena_no = %s", (inserted,)
        )
        conn.exec_driver_sql(
            f"INSERT INTO {s}.juki__jumin (atena_no, {', '.join(cols)}) SELECT %s, "
            f"{', '.join(cols)} FROM {s}.juki__jumin ORDER BY atena_no LIMIT 1",
            (deleted,),
        )
    with pytest.raises(GateFailed) as exc:
        _scoped_gate(target, scenario, "pg-scope-bad")
    failures = "\n".join(exc.value.report["critical_failures"])
    # the check digit has its ``mostly``: one bad row of a batch passes as a counted exception
    assert any("valid_my_number(kojin_no) — 1 of" in w for w in exc.value.report["warnings"])
    assert "exist_in_addressee_master(atena_no) — 1 of" in failures
    assert "juki.jumin.gate_target: expect_table_row_count_to_equal" in failures
    target.drop_schema()
    target.dispose()
