"""The operator extra link of the gate operator: "検証結果 / Validation page".

Airflow 3 evaluates extra links on the worker when a task finishes (success or failure) and
stores the URL in XCom (key ``_link_ValidationPageLink``); the UI shows it as a button on the task
instance. The URL is the gate page of the Ikou plugin (plugins/ikou_ui.py) inside the Airflow UI:
the gate's verdict, override and a link to each validation page of the Data Docs. It carries the
DAG id, run id and task id only. Light to import (DAG files import it at parse time).
"""

from __future__ import annotations

from airflow.sdk import BaseOperatorLink


class ValidationPageLink(BaseOperatorLink):
    name = "検証結果 / Validation page"

    def get_link(self, operator, *, ti_key) -> str:
        from ikou.airflow.connections import ui_base_url
        from ikou.config import Resources, using
        from ikou.quality.gate import gate_url

        with using(Resources(ui_base_url=ui_base_url())):
            return gate_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id)
