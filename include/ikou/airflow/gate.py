"""The gate operator: a stage's quality gate as a task, with its validation page as extra link.

It takes the stage's :class:`~ikou.pipeline.StageResult` (an XComArg: the graph and the data
flow are the same edge) and returns it with the gate's verdict added, so the next stage gets
the gated result: ``cleanse(gate_raw(extract(…)))``. A failed critical expectation fails the
task at once (no retries: the data does not change between attempts).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from ikou.airflow.context import stage_call
from ikou.airflow.links import ValidationPageLink
from ikou.pipeline import STAGE_OF_GATE


class GateOperator(BaseOperator):
    """``gate`` of ``domain`` on ``result`` (the stage's StageResult)."""

    template_fields = ("result",)
    operator_extra_links = (ValidationPageLink(),)
    ui_color = "#e8f4e8"

    def __init__(self, *, domain: str, gate: str, result: Any, **kwargs: Any):
        if gate not in STAGE_OF_GATE:
            raise ValueError(f"unknown gate {gate!r}")
        kwargs.setdefault("task_id", gate)
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.domain = domain
        self.gate = gate
        self.result = result

    def execute(self, context: Any):
        from ikou.stages import gate

        return stage_call(self.domain, gate.run, self.gate, self.result)
