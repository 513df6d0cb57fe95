"""Airflow DAGs ``link_<domain>`` (データ連携): one per domain whose registry entry has a linkage,
writing its daily change records back to the mainframe while it is live on the standard system.

The factory (ikou.airflow.link.build_link_dag) decides from the registry only, never from the
cutover state: the task itself refuses while the domain is not live.
"""

from ikou.airflow.link import build_link_dag
from ikou.airflow.parsing import wanted
from ikou.domains import registry

for _domain in registry():
    if _domain.linkage.enabled and wanted(_domain.link_dag_id):
        globals()[_domain.link_dag_id] = build_link_dag(_domain.id)
