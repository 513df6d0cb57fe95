"""Which DAGs a parse of a DAG file needs to build.

Airflow 3's task runner parses the task's DAG file in every task process and says which DAG it
wants (its parsing context, :func:`airflow.sdk.get_parsing_context`). ``dags/migrate_domains.py``
generates twenty DAGs; building only the task's own saves the other nineteen in each of the
~300 task processes of a city-wide master run. Without a context (the dag-processor, a DagBag
in the tests, ``airflow dags list``) every DAG is built.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context


def wanted(dag_id: str, parsing_for: str | None = None) -> bool:
    """Whether this parse builds ``dag_id``: always, unless a task process parses its file for
    another DAG (``parsing_for``: default the parsing context's DAG id)."""
    current = parsing_for if parsing_for is not None else get_parsing_context().dag_id
    return not current or current == dag_id
