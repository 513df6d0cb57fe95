"""A domain DAG end to end with dag.test(): the real PostgreSQL, the local S3 endpoint, GX gates.

A synthetic city of a few hundred residents is written to the landing zone; ``migrate_juki``
(the addressee master) runs all ten tasks (``diff`` skipped: a full load; the cleanse in record
ranges, ``IKOU_CLEANSE_PART_ROWS=150``: mapped ``cleanse_parts``, ``cleanse`` merging; the load in two
partitions, ``IKOU_LOAD_PARTITIONS=2``: mapped ``load_parts`` staging, ``load`` swapping), then a domain
referring to it runs on a snapshot with seeded orphan references and must stop at gate_standard.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from tests_support import SmtpSink

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SNAPSHOT = "2026-10-01"
BROKEN_SNAPSHOT = "2026-10-02"
RESIDENTS = 300
SEED = 11


@pytest.fixture(scope="module")
def city(s3_endpoint):
    from ikou_dev.synth import synthesize

    summary = synthesize(
        RESIDENTS, SEED, SNAPSHOT, "s3://ikou-restricted/landing", rates={"unmapped_gaiji": 0.03}
    )
    return summary


@pytest.fixture(scope="module")
def juki_run(city, pg_url, airflow_db, dagbag):
    import os

    os.environ["IKOU_TARGET_DB_URL"] = pg_url
    os.environ["IKOU_LOAD_PARTITIONS"] = "2"
    os.environ["IKOU_CLEANSE_PART_ROWS"] = "150"
    dag = dagbag.dags["migrate_juki"]
    try:
        run = dag.test(run_conf={"mode": "rehearsal", "snapshot": SNAPSHOT})
    finally:
        os.environ.pop("IKOU_LOAD_PARTITIONS", None)
        os.environ.pop("IKOU_CLEANSE_PART_ROWS", None)
    yield run
    os.environ.pop("IKOU_TARGET_DB_URL", None)


def _states(run) -> dict[str, str]:
    return {
        ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()
    }


def _report(domain: str, run_id: str, name: str) -> dict:
    from ikou.storage import Store, join, zone_uri

    return json.loads(Store().get_bytes(join(zone_uri("reports", domain, run_id), name)))


def test_all_ten_tasks_succeed(juki_run):
    from ikou.pipeline import TASK_IDS

    states = _states(juki_run)
    assert set(states) == set(TASK_IDS) | {
        "extract_plan",
        "extract_parts",
        "cleanse_plan",
        "cleanse_parts",
        "diff",
        "load_plan",
        "load_parts",
    }
    # small files are decoded in the extract task itself: the mapped part task is skipped
    assert states.pop("extract_parts") in ("skipped", "success")
    # the cleanse in record ranges (IKOU_CLEANSE_PART_ROWS=150): both files in two or more
    parts = [ti for ti in juki_run.get_task_instances() if ti.task_id == "cleanse_parts"]
    assert len(parts) >= 4
    assert sorted(ti.map_index for ti in parts) == list(range(len(parts)))
    # the load in two partitions: two mapped instances staged them, load swapped them in
    parts = [ti for ti in juki_run.get_task_instances() if ti.task_id == "load_parts"]
    assert sorted(ti.map_index for ti in parts) == [0, 1]
    assert states.pop("diff") == "skipped"  # no base_snapshot: a full load
    assert set(states.values()) == {"success"}, states


def test_target_tables_in_postgresql(juki_run, city, pg_url):
    """The load went into the run's own rehearsal schema (all rows, staging empty), and the
    rehearsal dropped that schema afterwards (rollback); the load log keeps what happened."""
    from sqlalchemy import create_engine

    from ikou.load.target import rehearsal_schema

    schema = rehearsal_schema(juki_run.run_id)
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        schemas = conn.exec_driver_sql(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).scalar()
        staging = conn.exec_driver_sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ikou_staging'"
        ).scalar()
        log = conn.exec_driver_sql(
            'SELECT rows, dropped_at FROM ikou."ikou_load_log" WHERE run_id = %s '
            "AND target_schema = %s",
            (juki_run.run_id, schema),
        ).all()
        verdict = conn.exec_driver_sql(
            'SELECT verdict FROM ikou."ikou_rehearsal_log" WHERE run_id = %s', (juki_run.run_id,)
        ).scalar()
    engine.dispose()
    report = _report("juki", juki_run.run_id, "rehearsal.json")
    atena, jumin = (
        next(t["rows_target"] for t in report["reconciliation"] if t["unit"] == u)
        for u in ("atena", "jumin")
    )
    acc = {
        a["unit"]: a for a in report["accounting"]
    }  # legacy records in = loaded + quarantined + merged
    assert (
        atena
        == city["records"]["juki"]["ATENA"] - acc["ATENA"]["quarantined"] - acc["ATENA"]["merged"]
    )
    assert (
        jumin
        == city["records"]["juki"]["JUKI"] - acc["JUKI"]["quarantined"] - acc["JUKI"]["merged"]
    )
    assert staging == 0  # staging tables were moved into the target schema in the same transaction
    assert len(log) == 1 and log[0][0] == atena + jumin and log[0][1]  # loaded, then dropped
    assert schemas == 0 and report["rollback"]["done"] and report["rollback"]["schema"] == schema
    assert verdict == report["verdict"]


def test_every_record_accounted_for(juki_run, city):
    report = _report("juki", juki_run.run_id, "rehearsal.json")
    for row in report["accounting"]:
        assert row["balanced"], row
        assert row["legacy_records"] == city["records"]["juki"][row["unit"]]
    assert report["verdict"] in ("GO", "NO-GO")
    assert all(t["mismatches"] == 0 for t in report["reconciliation"])


def test_handoff_manifest_is_complete(juki_run):
    from ikou.storage import Store, zone_uri

    store = Store()
    prefix = zone_uri("handoff", "juki", juki_run.run_id)
    manifest = json.loads(store.get_bytes(prefix + "manifest.json"))
    assert manifest["spec_version"] == "2.1"
    assert {t["table"] for t in manifest["tables"]} == {"atena", "jumin"}
    assert manifest["csv_dialect"]["line_terminator"] == "CRLF"
    assert len(manifest["input_files"]) == 2 and all(f["sha256"] for f in manifest["input_files"])
    body = store.get_bytes(prefix + "atena.csv")
    assert body.startswith(b'"atena_no"') and b"\r\n" in body


def test_gaiji_worklist_and_findings(juki_run, city):
    worklist = _report("juki", juki_run.run_id, "gaiji_worklist.json")
    assert worklist["codes"], "the seeded unmapped 外字 appear in the worklist"
    for code in worklist["codes"]:
        assert code["occurrences"] >= 1 and code["record_keys"]
        assert all(len(k) == 32 for k in code["record_keys"])  # keyed hashes, not keys
    gate = _report("juki", juki_run.run_id, "gates/gate_raw.json")
    assert gate["passed"] and any("unmapped_gaiji" in w for w in gate["warnings"])


def test_reports_hold_no_personal_values(juki_run):
    """The seeded people's personal data of every kind (names, kana, addresses, birth dates,
    phone numbers, postal codes, 宛名番号, 個人番号, 住民票コード: tests_support.city_needles)
    never reaches the reports zone (tests/integration/test_no_personal_data.py searches more)."""
    from tests_support import PersonalDataSearch, city_needles

    from ikou.airflow.dags import START
    from ikou.storage import Store

    public = [SNAPSHOT, START.date().isoformat(), dt.date.today().isoformat()]
    search = PersonalDataSearch(city_needles(RESIDENTS, SEED, SNAPSHOT, public_dates=public))
    store = Store()
    for uri in store.list("s3://ikou-reports/"):
        search.search(uri, store.get_bytes(uri).decode("utf-8", errors="replace"))
    assert search.searched > 10 and not search.hits, search.hits[:5]


def test_orphan_reference_fails_gate_standard_and_stops_the_run(juki_run, dagbag, pg_url):
    """A seeded critical defect (宛名番号 references to no addressee) stops the run at its gate."""
    import os

    from ikou_dev.synth import synthesize

    synthesize(
        RESIDENTS,
        SEED,
        BROKEN_SNAPSHOT,
        "s3://ikou-restricted/landing",
        rates={"orphan_reference": 0.2},
    )
    os.environ["IKOU_TARGET_DB_URL"] = pg_url
    # the team is told (ikou.airflow.notify): a local SMTP server, the connection and recipients
    with SmtpSink() as smtp:
        os.environ["AIRFLOW_CONN_IKOU_SMTP"] = smtp.connection_json
        os.environ["AIRFLOW_VAR_IKOU_NOTIFY_TO"] = "migration-team@example.invalid"
        try:
            run = dagbag.dags["migrate_juki"].test(run_conf={"snapshot": BROKEN_SNAPSHOT})
        finally:
            os.environ.pop("AIRFLOW_CONN_IKOU_SMTP")
            os.environ.pop("AIRFLOW_VAR_IKOU_NOTIFY_TO")
        mails = smtp.texts()
    assert str(getattr(run.state, "value", run.state)) == "failed"
    # exactly one message: the failed gate (the tasks after it never ran, so never failed)
    assert len(mails) == 1, [m[0] for m in mails]
    subject, body = mails[0]
    assert "FAILED" in subject and "juki gate_standard" in subject and run.run_id in subject
    assert "gate_standard" in body and "critical failures: " in body
    assert "orphan_references" in body or "exist_in_addressee_master" in body
    assert "/ikou/gates/migrate_juki/" in body and "/ikou/reports/juki/" in body
    states = _states(run)
    assert states["validate"] == "success"
    assert states["gate_standard"] == "failed"
    for later in ("diff", "load", "gate_target", "rehearsal", "gate_reconciliation"):
        assert states[later] in ("upstream_failed", "None", "none"), (later, states[later])
    gate = _report("juki", run.run_id, "gates/gate_standard.json")
    assert not gate["passed"]
    assert any("orphan_references" in f for f in gate["critical_failures"])
    # the failed snapshot did not become the addressee master other domains check against
    from ikou.storage import Store
    from ikou.storage.publication import latest_validated_pointer

    assert not Store().exists(latest_validated_pointer("juki", BROKEN_SNAPSHOT))
