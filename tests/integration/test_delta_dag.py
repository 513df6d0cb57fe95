"""The delta path (差分移行) through ``migrate_juki`` with dag.test(): PostgreSQL, local S3, GX.

A small city BASE is rehearsed with a full load (``diff`` skipped); ``synth --changes-from``
writes NEW (a month of moves, births, deaths, name changes …); the run with ``snapshot=NEW``
and ``base_snapshot=BASE`` runs ``diff``, and ``load`` loads the base's hand-off set in full into
the run's schema (the load ahead, rehearsed) and applies the delta set. The reconciliation of
the whole tables against NEW's validated output is exact, and the same delta applied once more
outside the DAG gives tables identical (digest, rows) to a full load of NEW.
"""

from __future__ import annotations

import copy
import json
import os

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE = "2026-03-01"
NEW = "2026-04-01"
RESIDENTS = 500
SEED = 23
LANDING = "s3://ikou-restricted/landing"
REFERENCE = "ikou_delta_dag_reference"  # not a rehearsal schema: no load sweeps it
CONFIRMED = {"confirm_cutover": True}


def _states(run) -> dict[str, str]:
    return {
        ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()
    }


def _report(domain: str, run_id: str, name: str) -> dict:
    from ikou.storage import Store, join, zone_uri

    return json.loads(Store().get_bytes(join(zone_uri("reports", domain, run_id), name)))


@pytest.fixture(scope="module")
def runs(s3_endpoint, pg_url, airflow_db, dagbag):
    from ikou_dev.synth import synthesize
    from ikou_dev.synth.delta import synthesize_changes

    os.environ["IKOU_TARGET_DB_URL"] = pg_url
    dag = dagbag.dags["migrate_juki"]
    # dag.test() runs the tasks in this process, where a run's conf is merged into the DAG's and
    # the tasks' Params in place: without a restore, base_snapshot would stay set for the next
    # test of the session that runs migrate_juki (a deployment runs each task in a new process)
    saved = copy.deepcopy(dag.params), {t.task_id: copy.deepcopy(t.params) for t in dag.tasks}
    try:
        # no unmapped 外字: they are critical in a cutover (the city maps them first), and
        # this module's delta cutover runs on NEW
        synthesize(RESIDENTS, SEED, BASE, LANDING, rates={"unmapped_gaiji": 0.0}, domains=["juki"])
        base = dag.test(run_conf={"mode": "rehearsal", "snapshot": BASE})
        synthesize_changes(BASE, NEW, LANDING, change_rate=0.03, domains=["juki"])
        delta = dag.test(run_conf={"mode": "rehearsal", "snapshot": NEW, "base_snapshot": BASE})
        yield {"base": base, "delta": delta}
    finally:
        os.environ.pop("IKOU_TARGET_DB_URL", None)
        dag.params = saved[0]
        for t in dag.tasks:
            t.params = saved[1][t.task_id]


def test_a_full_load_skips_diff_and_a_delta_run_runs_it(runs):
    base, delta = _states(runs["base"]), _states(runs["delta"])
    assert base["diff"] == "skipped" and base["load"] == "success", base
    for task in ("diff", "load", "gate_target", "rehearsal", "gate_reconciliation"):
        assert delta[task] == "success", (task, delta)


def test_load_applied_the_delta(runs, pg_url):
    from ikou.load.control import Control
    from ikou.load.target import rehearsal_schema

    run_id = runs["delta"].run_id
    diff = _report("juki", run_id, "diff.json")
    ops = {t["table"]: t["ops"] for t in diff["tables"]}
    assert sum(n for o in ops.values() for n in o.values()) > 0, ops
    assert diff["base_sha256"] != diff["result_sha256"]
    # the load log of the run's schema: the base in full, then the delta's result
    schema = rehearsal_schema(run_id)
    logged = [r for r in Control(pg_url).loads_of("juki") if r["target_schema"] == schema]
    assert [r["manifest_sha256"] for r in logged] == [diff["base_sha256"], diff["result_sha256"]]
    assert [r["snapshot"] for r in logged] == [BASE, NEW]
    # the base is what the full-load run of BASE logged
    base_schema = rehearsal_schema(runs["base"].run_id)
    base_logged = [r for r in Control(pg_url).loads_of("juki") if r["target_schema"] == base_schema]
    assert [r["manifest_sha256"] for r in base_logged] == [diff["base_sha256"]]
    # gate_target after the delta checked the delta's inserted and updated rows (the full
    # load's gate checked the whole tables); the scope schema is gone
    gated = _report("juki", run_id, "gates/gate_target.json")
    full = _report("juki", runs["base"].run_id, "gates/gate_target.json")
    assert (gated["verdict"], gated["scope"], full["scope"]) == ("pass", "delta", "whole")
    for u in gated["units"]:
        touched = ops[u["unit"]]["I"] + ops[u["unit"]]["U"]
        assert u["scope"]["kind"] == "delta" and u["scope"]["rows"] == touched, u["scope"]


def test_reconciliation_after_the_delta_is_exact(runs):
    from ikou.stages.rehearse import FULL_RECONCILIATION

    report = _report("juki", runs["delta"].run_id, "rehearsal.json")
    assert report["verdict"] == "GO", report["reasons"]
    assert any(r.startswith("reconciliation clean (delta") for r in report["reasons"])
    # the delta's reconciliation: an in-database digest of every row, the changed keys in full
    assert report["reconciliation_method"]["method"] == "delta"
    full = _report("juki", runs["base"].run_id, "rehearsal.json")
    assert full["reconciliation_method"] == {"method": "full", "detail": FULL_RECONCILIATION}
    for t in report["reconciliation"]:
        assert t["mismatches"] == 0 and t["counts_match"] and t["aggregates_match"], t
        assert t["digest_match"] and t["changed_mismatches"] == 0 and t["changed_keys"] > 0, t
        assert t["rows_target"] == t["rows_source"]
    for row in report["accounting"]:
        assert row["balanced"], row
    assert report["rollback"]["done"]


def test_the_delta_gives_what_a_full_load_of_new_gives(runs, pg_url):
    """The delta set of the run, applied to its base once more, equals a full load of NEW's
    hand-off set (the one the delta run published: its manifest sha256 is result_sha256)."""
    import tempfile
    from pathlib import Path

    from ikou.domains import registry
    from ikou.load import clean_load
    from ikou.load.delta_run import load_delta_run
    from ikou.load.target import Target, rehearsal_schema
    from ikou.rehearsal.reconcile import table_digest
    from ikou.storage import Store, join, publication, zone_uri

    store = Store()
    run_id = runs["delta"].run_id
    prefix = zone_uri("handoff", "juki", run_id)
    delta = {
        "handoff": prefix,
        "delta": join(prefix, "delta"),
        "base_handoff": zone_uri("handoff", "juki", runs["base"].run_id),
        "base_snapshot": BASE,
    }
    out = load_delta_run("juki", delta, run_id="wire-delta-check", mode="rehearsal", store=store)
    assert out["delta"]["status"] == "applied"
    assert (
        out["manifest_sha256"]
        == publication.read_manifest(store, prefix)["handoff_manifest_sha256"]
    )
    applied = Target(pg_url, rehearsal_schema("wire-delta-check"))
    reference = Target(pg_url, REFERENCE)
    tables = registry().get("juki").layout.tables
    with tempfile.TemporaryDirectory() as tmp:
        manifest = publication.read_manifest(store, prefix)
        csvs = {
            t.name: publication.fetch(store, prefix, f"{t.name}.csv", Path(tmp), manifest)
            for t in tables
        }
        full = clean_load(reference, "juki", csvs)
    try:
        for t in tables:
            assert table_digest(applied, "juki", t) == table_digest(reference, "juki", t), t.name
        assert out["rows"] == full
    finally:
        applied.drop_schema()
        with reference.engine().begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{REFERENCE}" CASCADE')
        applied.dispose()
        reference.dispose()


def test_the_rehearsal_times_both_paths(runs):
    """The delta run measured both paths (the base's full load timed apart) and the change rate
    from the two snapshots; the full run measured no delta path and says so."""
    t = _report("juki", runs["delta"].run_id, "rehearsal.json")["timing"]
    paths = t["paths"]
    assert paths["change"]["source"] == "measured" and paths["change"]["changes"] > 0
    assert paths["change"]["days"] == 31 and 0 < paths["change"]["share"] < 0.2
    assert paths["delta"]["measured"] and paths["delta"]["complete"], paths["delta"]
    assert set(paths["delta"]["stages"]) >= {"diff", "delta_apply", "gate_target"}
    assert "load" in paths["full"]["stages"] and paths["full"]["hours"] > 0
    # the plan cuts juki over in full: the verdict uses the full path
    assert paths["planned"] == paths["path"] == t["path"] == "full"
    base = _report("juki", runs["base"].run_id, "rehearsal.json")["timing"]["paths"]
    assert base["delta"] == {"measured": False, "hours": None, "note": "not measured"}


@pytest.fixture(scope="module")
def cutover(runs, dagbag):
    """In a target database of its own: a load ahead and a delta cutover refused, then the load
    ahead of BASE (loaded_ahead) and the delta cutover to NEW (live)."""
    from tests_support import own_database

    from ikou.load.control import Control
    from ikou.storage import join, zone_uri

    dag = dagbag.dags["migrate_juki"]
    saved = copy.deepcopy(dag.params), {t.task_id: copy.deepcopy(t.params) for t in dag.tasks}
    previous = os.environ.get("IKOU_TARGET_DB_URL")
    # base_snapshot given even when empty: dag.test() left the delta run's in the Params
    ahead = {"mode": "load_ahead", "snapshot": BASE, "base_snapshot": "", **CONFIRMED}
    delta = {"mode": "cutover", "snapshot": NEW, "base_snapshot": BASE, **CONFIRMED}
    with own_database("ikou_delta_cutover") as url:
        os.environ["IKOU_TARGET_DB_URL"] = url
        try:
            out = {"url": url, "ahead_refused": dag.test(run_conf=ahead)}
            # the GO rehearsals of both snapshots (the runs above), recorded in this database
            for run in (runs["base"], runs["delta"]):
                Control(url).record_rehearsal(
                    _report("juki", run.run_id, "rehearsal.json"),
                    report_uri=join(zone_uri("reports", "juki", run.run_id), "rehearsal.html"),
                )
            out["delta_refused"] = dag.test(run_conf=delta)
            out["ahead"] = dag.test(run_conf=ahead)
            out["republished_refused"] = _base_published_again(dag, delta)
            out["cut"] = dag.test(run_conf=delta)
        finally:
            if previous is None:
                os.environ.pop("IKOU_TARGET_DB_URL", None)
            else:
                os.environ["IKOU_TARGET_DB_URL"] = previous
            dag.params = saved[0]
            for t in dag.tasks:
                t.params = saved[1][t.task_id]
        yield out


def _base_published_again(dag, delta: dict):
    """BASE run again after its load ahead with other rows (its latest validated output and
    hand-off another run's, as a rehearsal after a cleansing rule changed leaves them): the delta
    cutover's run, refused by its guard. The load ahead is then BASE's latest again."""
    import uuid

    from tests_support import publish_handoff_of

    from ikou.storage import Store, zone_uri
    from ikou.storage.publication import latest_validated, point_latest_validated

    store = Store()
    loaded = latest_validated(store, "juki", BASE)
    rerun = f"rerun-{uuid.uuid4().hex[:8]}"
    publish_handoff_of(store, "juki", rerun, "e" * 64, {"atena.csv": b"other rows\n"})
    point_latest_validated(store, "juki", BASE, zone_uri("validated", "juki", rerun), rerun)
    try:
        return dag.test(run_conf=delta)
    finally:
        point_latest_validated(store, "juki", BASE, loaded["uri"], loaded["run_id"])


def _events(url: str, run) -> list:
    from ikou.load.control import Control

    return [e for e in Control(url).events("juki") if e.run_id == run.run_id]


def test_load_ahead_and_delta_cutover_are_refused_without_their_prerequisites(cutover):
    for name in ("ahead_refused", "delta_refused"):
        run = cutover[name]
        assert str(getattr(run.state, "value", run.state)) == "failed"
        assert _states(run)["load"] in ("upstream_failed", "None", "none"), _states(run)
    refused = _events(cutover["url"], cutover["ahead_refused"])
    assert [e.status for e in refused] == ["refused"]
    assert json.loads(refused[0].detail)[0].startswith(f"no GO rehearsal of snapshot {BASE}")
    refused = _events(cutover["url"], cutover["delta_refused"])
    assert [e.status for e in refused] == ["refused"]
    (reason,) = json.loads(refused[0].detail)  # one clear line: what is missing, what to do
    assert reason.startswith("juki was not loaded ahead (no loaded_ahead): run the full load ahead")


def test_a_base_published_again_after_the_load_ahead_is_refused_before_extract(cutover):
    from ikou.storage import Store, join, zone_uri

    run = cutover["republished_refused"]
    assert str(getattr(run.state, "value", run.state)) == "failed"
    states = _states(run)
    assert all(states[t] in ("upstream_failed", "None", "none") for t in ("diff", "load")), states
    refused = _events(cutover["url"], run)
    assert [e.status for e in refused] == ["refused"]
    (reason,) = json.loads(refused[0].detail)  # one line: what, where (both sha256), what to do
    assert reason.startswith(f"juki: the base snapshot {BASE} was published again after its load")
    assert "sha256 eeeeeeeeeeee) holds other data (atena, jumin)" in reason
    assert "load it ahead again (mode=load_ahead" in reason
    assert not Store().exists(join(zone_uri("handoff", "juki", run.run_id), "_manifest.json"))


def test_load_ahead_then_the_delta_cutover_goes_live(cutover):
    from ikou.cli.cutover import status_rows
    from ikou.load.control import Control

    url = cutover["url"]
    control = Control(url)
    ahead = _events(url, cutover["ahead"])
    assert [e.status for e in ahead] == ["started", "loaded", "loaded_ahead"], ahead
    assert all(e.source == "load_ahead" for e in ahead)
    run = cutover["cut"]
    assert str(getattr(run.state, "value", run.state)) == "success", _states(run)
    assert _states(run)["diff"] == "success"
    assert [e.status for e in _events(url, run)] == ["started", "loaded", "live"]
    diff = _report("juki", run.run_id, "diff.json")
    live = control.live()["juki"]
    assert live.manifest_sha256 == diff["result_sha256"] != diff["base_sha256"]
    assert diff["base_sha256"] == ahead[-1].manifest_sha256  # applied onto the load ahead
    report = _report("juki", run.run_id, "rehearsal.json")
    assert report["verdict"] == "GO" and report["reconciliation_method"]["method"] == "delta"
    assert report["cutover"]["status"] == "live" and report["timing"]["path"] == "delta"
    assert all(t["mismatches"] == 0 for t in report["reconciliation"])
    # the live load log: the load ahead in full, then the delta's result
    logged = [r for r in control.loads_of("juki") if r["target_schema"] == "ikou"]
    assert [r["manifest_sha256"] for r in logged] == [diff["base_sha256"], diff["result_sha256"]]
    assert [r["mode"] for r in logged] == ["load_ahead", "cutover"]
    rows = {r["domain"]: r for r in status_rows(control)}
    assert rows["juki"]["state"] == "live" and rows["juki"]["loaded_ahead_snapshot"] == BASE
