"""DAG integrity: what Airflow sees when it parses dags/ (a session-scoped DagBag, as in
Mozilla's telemetry-airflow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ikou.airflow.dags import OWNER
from ikou.domains import registry
from ikou.pipeline import OPTIONAL_STAGES, TASK_IDS

REPO = Path(__file__).resolve().parents[2]


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


LINK_DAG_IDS = {"link_juki", "link_inkan"}  # データ連携: the domains with linkage in the registry


def test_twenty_one_dags_and_the_linkage_dags(dagbag):
    expected = {f"migrate_{d.id}" for d in registry()} | {"migration_master"} | LINK_DAG_IDS
    assert set(dagbag.dags) == expected
    assert len(dagbag.dags) == 21 + len(LINK_DAG_IDS)
    assert LINK_DAG_IDS == {d.link_dag_id for d in registry() if d.linkage.enabled}


@pytest.mark.parametrize("dag_id", sorted(LINK_DAG_IDS))
def test_link_dag_shape(dagbag, dag_id):
    """データ連携: one task, daily at 22:00 Asia/Tokyo, the period and the source as Params."""
    dag = dagbag.dags[dag_id]
    assert [t.task_id for t in dag.tasks] == ["link"]
    assert "0 22 * * *" in str(dag.timetable) and "Asia/Tokyo" in str(dag.timetable)
    assert set(dag.params.keys()) == {"date_from", "date_to", "from_delta"}
    assert not dag.catchup and "linkage" in dag.tags
    assert dag.get_task("link").owner == OWNER


@pytest.mark.parametrize("domain", [d.id for d in registry()])
def test_domain_dag_shape(dagbag, domain):
    dag = dagbag.dags[f"migrate_{domain}"]
    # the extract stage holds two more tasks: the plan of byte-range parts and the mapped parts;
    # so does the cleanse (the plan of record ranges and the mapped ranges cleansed, cleanse
    # merges them) and the load (the plan of 宛名番号-hash partitions and the mapped partitions
    # staged, load swaps them in); the optional stage diff (差分) has no gate
    assert {t.task_id for t in dag.tasks} == set(TASK_IDS) | {"extract_plan", "extract_parts"} | {
        "cleanse_plan",
        "cleanse_parts",
    } | {"load_plan", "load_parts"} | {"diff"}
    assert OPTIONAL_STAGES == ("diff",)
    assert dag.get_task("extract_parts").downstream_task_ids == {"extract"}
    assert dag.get_task("gate_raw").downstream_task_ids >= {"cleanse_plan", "cleanse"}
    assert dag.get_task("cleanse_plan").downstream_task_ids == {"cleanse_parts", "cleanse"}
    assert dag.get_task("cleanse_parts").downstream_task_ids == {"cleanse"}
    assert dag.get_task("cleanse_parts").is_mapped
    assert dag.get_task("cleanse").trigger_rule == "none_failed"  # after no part at all
    assert dag.get_task("load_plan").downstream_task_ids == {"load_parts", "load"}
    assert dag.get_task("load_parts").downstream_task_ids == {"load"}
    assert dag.get_task("load_parts").is_mapped
    assert dag.get_task("load_plan").trigger_rule == "none_failed"  # after a skipped diff
    # the chain: each stage followed by its gate, each gate followed by the next stage
    chain = [
        "extract",
        "gate_raw",
        "cleanse",
        "gate_cleansed",
        "validate",
        "gate_standard",
        "load",
        "gate_target",
        "rehearsal",
        "gate_reconciliation",
    ]
    for up, down in zip(chain, chain[1:]):
        assert down in dag.get_task(up).downstream_task_ids, (up, down)
    # a delta run: diff between gate_standard and load; load runs after a skipped diff
    assert dag.get_task("gate_standard").downstream_task_ids >= {"diff", "load_plan", "load"}
    assert dag.get_task("diff").downstream_task_ids == {"load_plan", "load"}
    assert dag.get_task("load").trigger_rule == "none_failed"
    assert "ikou" in dag.tags and domain in dag.tags
    assert str(dag.timezone) in ("Asia/Tokyo", "Timezone('Asia/Tokyo')") or "Tokyo" in str(
        dag.timezone
    )
    assert dag.doc_md and "移行" in dag.doc_md and "migration" in dag.doc_md
    assert set(dag.params.keys()) == {
        "mode",
        "snapshot",
        "base_snapshot",
        "gate_override_reason",
        "confirm_cutover",
    }
    base = dag.params.get_param("base_snapshot")
    assert base.value == "" and base.schema["type"] == ["null", "string"]
    assert base.schema["pattern"] == dag.params.get_param("snapshot").schema["pattern"]
    for t in dag.tasks:
        assert t.owner == OWNER
        if t.task_id.startswith("gate_"):
            assert t.retries == 0  # a failed gate is a verdict, not a glitch
        else:
            assert t.retries >= 1


@pytest.mark.parametrize("domain", [d.id for d in registry()])
def test_lineage_assets_follow_refers_to(dagbag, domain):
    """gate_standard publishes the validated layout and load the hand-off set (outlets); validate
    reads the validated layouts of the domains it refers to (inlets): the asset graph is the
    plan's refers_to relation."""
    dag = dagbag.dags[f"migrate_{domain}"]

    def names(assets) -> set[str]:
        return {a.name for a in assets}

    assert names(dag.get_task("gate_standard").outlets) == {f"ikou.{domain}.validated"}
    assert names(dag.get_task("load").outlets) == {f"ikou.{domain}.handoff"}
    refers = registry().get(domain).refers_to
    assert names(dag.get_task("validate").inlets) == {f"ikou.{r}.validated" for r in refers}
    uris = {a.uri for t in dag.tasks for a in [*t.outlets, *t.inlets]}
    assert all(u.startswith("s3://") and "/validated/" in u or "/handoff/" in u for u in uris)


def test_failures_and_verdicts_notify_the_team(dagbag):
    from ikou.airflow.notify import DomainRunNotifier, MasterNotifier

    dag = dagbag.dags["migrate_juki"]
    for t in dag.tasks:
        assert any(isinstance(c, DomainRunNotifier) for c in _callbacks(t.on_failure_callback))
    verdict = dag.get_task("gate_reconciliation").on_success_callback
    assert any(
        isinstance(c, DomainRunNotifier) and c.event == "verdict" for c in _callbacks(verdict)
    )
    last = dagbag.dags["migration_master"].get_task("verdict")
    for cb in (last.on_success_callback, last.on_failure_callback):
        assert any(isinstance(c, MasterNotifier) for c in _callbacks(cb))


def _callbacks(cb) -> list:
    return list(cb) if isinstance(cb, (list, tuple)) else [cb] if cb else []


def test_params_are_bilingual(dagbag):
    dag = dagbag.dags["migrate_juki"]
    for name in ("mode", "snapshot", "base_snapshot", "gate_override_reason", "confirm_cutover"):
        p = dag.params.get_param(name)
        assert "/" in p.schema.get("title", ""), name  # 日本語 / English
        assert p.description, name
    assert dag.params.get_param("mode").schema["enum"] == ["rehearsal", "cutover", "load_ahead"]


def test_master_dag(dagbag):
    dag = dagbag.dags["migration_master"]
    assert "Asia/Tokyo" in str(dag.timetable)
    assert "0 1 * * *" in str(dag.timetable)
    reg = registry()
    for d in reg:
        run = dag.get_task(f"run_{d.id}")
        assert run.trigger_dag_id == f"migrate_{d.id}"
        assert run.deferrable and run.wait_for_completion
        # the plan's full_ahead_then_delta domains run from their base snapshot (差分)
        assert f"base_snapshots.get('{d.id}', '')" in run.conf["base_snapshot"]
        select = dag.get_task(f"select_{d.id}")
        # a domain waits for the validated data of the domains it refers to (their gate_standard,
        # standard_<ref>), not for their whole runs
        assert {f"standard_{ref}" for ref in d.refers_to} | {"plan"} == select.upstream_task_ids
    referred = {ref for d in reg for ref in d.refers_to}
    waits = {t.task_id for t in dag.tasks if t.task_id.startswith("standard_")}
    assert waits == {f"standard_{r}" for r in referred} and "standard_juki" in waits
    for ref in referred:
        wait = dag.get_task(f"standard_{ref}")
        # skipped with its run when not selected (the short-circuit skips its direct downstream
        # only), and a skipped wait lets the referring domains run on the latest validated data
        assert wait.upstream_task_ids == {f"select_{ref}"}
        assert dag.get_task(f"select_{ref}").ignore_downstream_trigger_rules is False
        for d in wait.downstream_task_ids:
            assert dag.get_task(d).trigger_rule == "none_failed"
        assert wait.downstream_task_ids == {f"select_{d.id}" for d in reg if ref in d.refers_to}
        assert "/" in wait.task_display_name  # 日本語 / English
        assert wait.retries == 0
    # the report still waits for every run (a referred domain failing after its gate_standard
    # fails the night)
    report = dag.get_task("city_report")
    assert {f"run_{d.id}" for d in reg} <= report.upstream_task_ids
    assert {"plan", "city_report", "publish_docs", "verdict"} <= {t.task_id for t in dag.tasks}
    assert "domains" in dag.params


def _serialized(dag):
    """The DAG as the scheduler reads it (the serialized form), where the weights are applied."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag))


def test_priorities_put_the_critical_path_first(dagbag):
    """The scheduler gives a free slot to the highest priority_weight over all runs: every task of
    a domain others wait for outranks every task of the domains waiting for it, the master's
    tasks outrank all, and within a run a task outranks the ones downstream of it."""
    reg = registry()
    weights = {}
    for dag_id in [d.dag_id for d in reg] + ["migration_master"]:
        dag = _serialized(dagbag.dags[dag_id])
        for t in dag.tasks:
            # the weight as set, not summed over the downstream tasks (Airflow's default)
            assert type(t.weight_rule).__name__ == "_AbsolutePriorityWeightStrategy", t.task_id
            for down in t.downstream_task_ids:
                assert t.priority_weight > dag.get_task(down).priority_weight, (dag_id, t.task_id)
        weights[dag_id] = [t.priority_weight for t in dag.tasks]
    for d in reg:
        assert min(weights["migration_master"]) > max(weights[d.dag_id])
        for ref in d.refers_to:
            assert min(weights[reg.get(ref).dag_id]) > max(weights[d.dag_id]), (ref, d.id)
    juki, kaigo = dagbag.dags["migrate_juki"], dagbag.dags["migrate_kaigo"]
    # 住民基本台帳's last task (its tail after publishing) before a leaf domain's first
    assert (
        juki.get_task("gate_reconciliation").priority_weight
        > kaigo.get_task("extract_plan").priority_weight
    )


def test_parsing_imports_nothing_heavy():
    """Parsing the DAG files must not import pandas, pyarrow, GX or numpy (they load in tasks).
    boto3 is loaded by Airflow itself: the Amazon provider's handler of the s3:// assets the
    DAGs declare (lineage) imports it."""
    code = (
        "import sys, runpy\n"
        f"sys.path.insert(0, {str(REPO / 'dags')!r})\n"
        f"runpy.run_path({str(REPO / 'dags' / 'migrate_domains.py')!r})\n"
        f"runpy.run_path({str(REPO / 'dags' / 'migration_master.py')!r})\n"
        f"runpy.run_path({str(REPO / 'dags' / 'link_domains.py')!r})\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'great_expectations', 'numpy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip().splitlines()[-1:] in ([], [""]), out.stdout


@pytest.mark.parametrize(
    ("file", "dag_id"),
    [("migrate_domains.py", "migrate_inkan"), ("link_domains.py", "link_juki")],
)
def test_a_task_process_builds_only_its_own_dag(dagbag, monkeypatch, file, dag_id):
    """Airflow's task runner parses the task's DAG file with its parsing context (the DAG id):
    the generated files then build that one DAG, the same as in the full parse."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", dag_id)
    own = DagBag(dag_folder=str(REPO / "dags" / file))
    assert own.import_errors == {}
    assert set(own.dags) == {dag_id}
    full = dagbag.dags[dag_id]
    assert {t.task_id: t.upstream_task_ids for t in own.dags[dag_id].tasks} == {
        t.task_id: t.upstream_task_ids for t in full.tasks
    }
