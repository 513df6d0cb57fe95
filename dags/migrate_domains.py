"""Airflow DAGs ``migrate_<domain>``: one per standardization domain, generated from the registry.

The factory (ikou.airflow.dags.build_domain_dag) builds every DAG the same way: five stages,
each followed by its quality gate. Adding a domain is data (include/ikou/domains/data), not code.
"""

from ikou.airflow.dags import build_domain_dag
from ikou.airflow.parsing import wanted
from ikou.domains import registry

# a task process parses this file for its one DAG: it builds only that one (Airflow's parsing
# context); the dag-processor and the DagBag of the tests build all twenty
for _domain in registry():
    if wanted(_domain.dag_id):
        globals()[_domain.dag_id] = build_domain_dag(_domain.id)
