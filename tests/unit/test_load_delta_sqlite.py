"""A delta applied to the SQLite default target: after a full load of the base, the delta makes
the tables equal a full load of the new snapshot (rows and digests, and the delta
reconciliation's in-target digest); re-applying is an ``already_applied`` no-op; a target at
another snapshot is refused; a delta load killed midway leaves the base and a retry completes.
(PostgreSQL: tests/integration/test_delta_postgres.py.)"""

from __future__ import annotations

import json
import sqlite3

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
from ikou.load.delta_apply import ALREADY_APPLIED, APPLIED, DeltaRefused, apply_delta
from ikou.load.target import LOAD_LOG, Target, rehearsal_schema
from ikou.rehearsal.reconcile import table_digest
from ikou.rehearsal.reconcile_delta import reconcile_delta_table

ROWS = 3_000
SECRET = b"sqlite-delta"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    return delta_scenario(tmp_path_factory.mktemp("delta"), ROWS)


def _digests(target: Target) -> dict[str, str]:
    lay = registry().get(DELTA_DOMAIN).layout
    return {t.name: table_digest(target, DELTA_DOMAIN, t) for t in lay.tables}


def _rows(target: Target, table: str) -> list[tuple]:
    with sqlite3.connect(target.sqlite_path) as conn:
        return conn.execute(f'SELECT * FROM "juki__{table}" ORDER BY atena_no').fetchall()


def _reference(tmp_path, scenario) -> Target:
    """A full load of the new snapshot, in a database of its own (a load sweeps the rehearsal
    schemas of its domain)."""
    reference = Target(f"sqlite:///{tmp_path / 'reference' / 'target.sqlite'}", "ikou")
    clean_load(reference, DELTA_DOMAIN, scenario["new_csvs"])
    return reference


def _load_base(url: str, scenario, run_id: str) -> Target:
    target = Target(url, rehearsal_schema(run_id))
    load_snapshot(target, scenario, run_id)
    return target


def test_a_delta_gives_what_a_full_load_of_the_new_snapshot_gives(tmp_path, monkeypatch, scenario):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    reference = _reference(tmp_path, scenario)
    target = _load_base(url, scenario, "delta-run")
    assert _digests(target) != _digests(reference)
    out = apply_scenario(target, scenario, "delta-run")
    assert out["status"] == APPLIED
    assert out["rows"] == {t: scenario["new"][t].num_rows for t in ("atena", "jumin")}
    assert _digests(target) == _digests(reference)
    assert _rows(target, "atena") == _rows(reference, "atena")
    assert _rows(target, "jumin") == _rows(reference, "jumin")
    # the load log says what the target holds now: the new snapshot's full hand-off
    logged = [r["manifest_sha256"] for r in Control(url).loads_of(DELTA_DOMAIN)]
    assert logged == [scenario["base_sha"], scenario["new_sha"]]
    # reconciliation proves the whole table equals the new snapshot
    for t in registry().get(DELTA_DOMAIN).layout.tables:
        rec = reconcile_delta_table(
            DELTA_DOMAIN, t, scenario["new"][t.name], target, SECRET, scenario["delta_csvs"][t.name]
        )
        assert rec["mismatches"] == 0, rec
        assert rec["digest_match"] and rec["counts_match"] and rec["aggregates_match"]
        assert (
            rec["changed_keys"]
            == scenario["manifest"]["tables"][0 if t.name == "atena" else 1]["rows"]
        )
    # applying it again changes nothing and logs nothing
    again = apply_scenario(target, scenario, "delta-run-again")
    assert again["status"] == ALREADY_APPLIED
    assert _digests(target) == _digests(reference)
    assert [r["manifest_sha256"] for r in Control(url).loads_of(DELTA_DOMAIN)] == logged
    target.dispose()
    reference.dispose()


def test_reconciliation_finds_a_changed_row_and_a_row_the_delta_missed(
    tmp_path, monkeypatch, scenario
):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    target = _load_base(url, scenario, "rec-run")
    apply_scenario(target, scenario, "rec-run")
    lay = registry().get(DELTA_DOMAIN).layout.table("atena")
    new = scenario["new"]["atena"]
    inserted = json.dumps(new.column("atena_no")[-1].as_py())
    untouched = json.dumps(new.column("atena_no")[1].as_py())
    with sqlite3.connect(target.sqlite_path) as conn:
        conn.execute(f"UPDATE juki__atena SET shimei = 'X' WHERE atena_no = {inserted}")
        conn.execute(f"UPDATE juki__atena SET jusho = 'Y' WHERE atena_no = {untouched}")
    rec = reconcile_delta_table(
        DELTA_DOMAIN, lay, new, target, SECRET, scenario["delta_csvs"]["atena"]
    )
    assert not rec["digest_match"] and rec["counts_match"]
    assert rec["changed_mismatches"] == 1  # the inserted row; the untouched one only by digest
    assert rec["mismatches"] >= 2
    assert "X" not in json.dumps(rec) or all(len(k) == 32 for k in rec["mismatched_keys"])
    target.dispose()


def test_a_target_at_another_snapshot_is_refused(tmp_path, monkeypatch, scenario):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    with pytest.raises(DeltaRefused, match="cutover guard"):
        apply_delta(
            Target(url, "ikou"),
            DELTA_DOMAIN,
            scenario["manifest"],
            scenario["delta_csvs"],
            run_id="cutover-run",
            mode="cutover",
        )
    empty = Target(url, rehearsal_schema("nothing-run"))
    with pytest.raises(DeltaRefused, match="holds nothing"):
        apply_scenario(empty, scenario, "nothing-run")
    target = Target(url, rehearsal_schema("other-run"))
    load_snapshot(target, scenario, "other-run", which="new", sha="9" * 64)
    before = _digests(target)
    with pytest.raises(DeltaRefused, match=r"holds 999999999999 .*applies to") as exc:
        apply_scenario(target, scenario, "other-run")
    assert exc.value.exit_code == 1 and "\n" not in str(exc.value)
    assert _digests(target) == before
    # a log that says "base" over tables that are not the base: refused by the counts
    with sqlite3.connect(target.sqlite_path) as conn:
        conn.execute(f'UPDATE "{LOAD_LOG}" SET manifest_sha256 = ?', (scenario["base_sha"],))
    with pytest.raises(DeltaRefused, match="does not hold the delta's base"):
        apply_scenario(target, scenario, "other-run")
    assert _digests(target) == before
    target.dispose()


CHILD = """
import json, sys
from pathlib import Path
from ikou.load.delta_apply import apply_delta
from ikou.load.target import Target
url, schema, manifest, csvs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
apply_delta(Target(url, schema), "juki", manifest, {k: Path(v) for k, v in csvs.items()},
            run_id="killed-run", mode="rehearsal")
"""


def test_a_delta_killed_midway_leaves_the_base_and_a_retry_completes(
    tmp_path, monkeypatch, scenario
):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    reference = _reference(tmp_path, scenario)
    target = _load_base(url, scenario, "killed-run")
    before = _digests(target)
    fifo = tmp_path / "jumin.delta.fifo"
    csvs = {"atena": str(scenario["delta_csvs"]["atena"]), "jumin": str(fifo)}

    def stuck() -> None:
        # atena's delta is applied inside the open transaction; nothing is visible outside it
        assert _digests(target) == before

    kill_while_reading(
        CHILD,
        [url, target.schema, json.dumps(scenario["manifest"]), json.dumps(csvs)],
        fifo,
        scenario["delta_csvs"]["jumin"].read_bytes(),
        then=stuck,
    )
    assert _digests(target) == before  # neither table changed: the target is at the base
    with sqlite3.connect(target.sqlite_path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        log = conn.execute(f'SELECT manifest_sha256 FROM "{LOAD_LOG}"').fetchall()
    assert not any(n.startswith("staging__") for n in names)
    assert log == [(scenario["base_sha"],)]
    out = apply_scenario(target, scenario, "killed-run")  # the retry
    assert out["status"] == APPLIED
    assert _digests(target) == _digests(reference)
    target.dispose()
    reference.dispose()


def test_published_validated_outputs_to_a_published_delta_set_applied(
    s3_endpoint, tmp_path, monkeypatch
):
    """The path the diff stage takes: the base's full load publishes its hand-off; the delta run
    publishes its own full hand-off (the result) and the delta set under it, then applies it."""
    from tests_support import publish_validated, snapshot_pair

    from ikou.load import load_domain
    from ikou.load.delta import publish_delta
    from ikou.load.delta_apply import load_delta
    from ikou.storage import MANIFEST, Store, join

    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    store = Store()
    base, new = snapshot_pair(400)
    vbase = publish_validated(store, "s3-base", base, tmp_path / "vb", "2026-10-01")
    vnew = publish_validated(store, "s3-delta", new, tmp_path / "vn", "2026-11-01")
    loaded = load_domain(DELTA_DOMAIN, vbase, run_id="s3-base", mode="rehearsal", store=store)
    first = publish_delta(store, DELTA_DOMAIN, vbase, vnew, run_id="s3-delta", mode="rehearsal")
    assert first["base_sha256"] == loaded["manifest_sha256"]
    assert store.exists(join(first["handoff"], MANIFEST))
    assert store.exists(join(first["delta"], MANIFEST))
    assert first == publish_delta(
        store, DELTA_DOMAIN, vbase, vnew, run_id="s3-delta", mode="rehearsal"
    )  # a retry finds the published sets
    ops = {t["table"]: t["ops"] for t in first["summary"]["tables"]}
    assert (ops["atena"]["I"], ops["atena"]["D"]) == (13, 9) and ops["atena"]["U"] > 0
    target = Target(url, loaded["schema"])
    out = load_delta(
        target, DELTA_DOMAIN, store, first["delta"], run_id="s3-delta", mode="rehearsal"
    )
    assert out["status"] == APPLIED and out["result_sha256"] == first["result_sha256"]
    for t in registry().get(DELTA_DOMAIN).layout.tables:
        delta_csv = tmp_path / f"{t.name}.delta.csv"
        delta_csv.write_bytes(store.get_bytes(join(first["delta"], delta_csv.name)))
        rec = reconcile_delta_table(DELTA_DOMAIN, t, new[t.name], target, SECRET, delta_csv)
        assert rec["mismatches"] == 0, rec
    again = load_delta(
        target, DELTA_DOMAIN, store, first["delta"], run_id="s3-delta", mode="rehearsal"
    )
    assert again["status"] == ALREADY_APPLIED
    target.dispose()
