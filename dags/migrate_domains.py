"""Airflow DAGs ``migrate_<domain>``: one per standardization domain, generated from the registry.

The factory (ikou.airflow.dags.build_domain_dag) builds every DAG the same way: five stages,
each followed by its quality gate. Adding a domain is data (include/ikou/domains/data), not code.
"""

from ikou.airflow.dags import build_domain_dag
from ikou.domains import registry

for _domain in registry():
    globals()[_domain.dag_id] = build_domain_dag(_domain.id)
