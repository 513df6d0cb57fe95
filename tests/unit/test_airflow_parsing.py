"""Which DAGs a parse of a generated DAG file builds (ikou.airflow.parsing)."""

from ikou.airflow.parsing import wanted


def test_every_dag_without_a_parsing_context():
    assert wanted("migrate_juki", parsing_for="")  # the dag-processor, a DagBag, `airflow dags`


def test_only_the_task_process_s_own_dag():
    assert wanted("migrate_juki", parsing_for="migrate_juki")
    assert not wanted("migrate_inkan", parsing_for="migrate_juki")


def test_the_parsing_context_of_airflow(monkeypatch):
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "link_juki")
    assert wanted("link_juki") and not wanted("migrate_juki")
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID")
    assert wanted("migrate_juki")
