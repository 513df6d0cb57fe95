"""``link_<domain>`` (データ連携) with dag.test(): the task fails with the refusal while the domain is
not live (nothing written), and for a live 住民基本台帳 (a base load and a delta apply on SQLite)
writes the day's linkage set into the hand-off zone and its counts into the reports zone."""

from __future__ import annotations

import copy
import json
import os
import uuid

import pytest
from tests_support import DELTA_DOMAIN, apply_scenario, delta_scenario, load_snapshot

pytestmark = [pytest.mark.integration]


def _states(run) -> dict[str, str]:
    return {
        ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()
    }


def _test(dag, conf: dict):
    # dag.test() merges a run's conf into the DAG's Params in place: restore them afterwards
    saved = copy.deepcopy(dag.params), {t.task_id: copy.deepcopy(t.params) for t in dag.tasks}
    try:
        return dag.test(run_conf=conf)
    finally:
        dag.params = saved[0]
        for t in dag.tasks:
            t.params = saved[1][t.task_id]


def test_link_dag_refuses_until_live_then_writes_the_days_changes(
    tmp_path, s3_endpoint, airflow_db, dagbag
):
    from ikou.load import publish_handoff
    from ikou.load.control import Control
    from ikou.load.control_tables import today_in_japan
    from ikou.load.target import LIVE_SCHEMA, Target
    from ikou.storage import Store, join, zone_uri

    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    os.environ["IKOU_TARGET_DB_URL"] = url
    try:
        today = today_in_japan().isoformat()
        conf = {"date_from": today, "date_to": today}
        store = Store()
        out = zone_uri("handoff", DELTA_DOMAIN, f"link-{today}")
        # not live: the task fails (the stage's refusal), nothing is written
        run = _test(dagbag.dags["link_juki"], conf)
        assert _states(run) == {"link": "failed"}
        assert not list(store.list(out))
        # live, after a base load and a delta apply: the day's changes
        base_run = f"base-{uuid.uuid4().hex[:8]}"  # its own hand-off prefix in the session's S3
        scenario = delta_scenario(tmp_path / "scenario", 200, base_run=base_run)
        folder = scenario["base_csvs"]["atena"].parent
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        files = {p.name: p for p in scenario["base_csvs"].values()}
        marker = {"zone": "handoff", "domain": DELTA_DOMAIN, "run_id": base_run}
        publish_handoff(store, zone_uri("handoff", DELTA_DOMAIN, base_run), files, manifest, marker)
        live = Target(url, LIVE_SCHEMA)
        load_snapshot(live, scenario, base_run)
        apply_scenario(live, scenario, "delta-run")
        Control(url).record_live(DELTA_DOMAIN, "2026-10-01", "link dag test")
        run = _test(dagbag.dags["link_juki"], conf)
        assert _states(run) == {"link": "success"}
        published = json.loads(store.get_bytes(join(out, "_manifest.json")))
        ops = {op: 0 for op in "IUD"}
        for e in scenario["manifest"]["tables"]:
            for op in "IUD":
                ops[op] += e["ops"][op]
        assert sum(published["ops"].values()) + published["held"] == sum(ops.values())
        report = json.loads(
            store.get_bytes(join(zone_uri("reports", DELTA_DOMAIN, run.run_id), "link.json"))
        )
        assert report["records"] == published["records"] and report["file"] == published["file"]
    finally:
        os.environ.pop("IKOU_TARGET_DB_URL", None)
