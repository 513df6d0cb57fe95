"""The Airflow layer: the only part of Ikou that imports Airflow.

- :mod:`ikou.airflow.dags` — the domain DAG factory (``migrate_<domain>``), its Params and docs;
- :mod:`ikou.airflow.master` — the master DAG (``migration_master``);
- :mod:`ikou.airflow.gate` — the gate operator, with its extra link (:mod:`ikou.airflow.links`);
- :mod:`ikou.airflow.context` — the :class:`~ikou.pipeline.RunContext` of a running task, built
  once from the DAG run's Params / conf, and how a stage's outcome becomes a task state;
- :mod:`ikou.airflow.connections` — the ``ikou_s3``, ``ikou_target`` and ``ikou_hmac``
  connections resolved and handed down to the library (:func:`ikou.config.using`).

Parsing a DAG file imports Airflow's SDK, pydantic and PyYAML only: pandas, pyarrow, GX and
boto3 are imported inside the tasks.
"""
