"""Airflow DAG ``migration_master``: the nightly rehearsal of all domains in the plan's order."""

from ikou.airflow.master import build_master_dag

migration_master = build_master_dag()
