"""A quality gate after a stage: its GX checkpoints on the stage's output, and the verdict.

The gate report goes to ``reports/{domain}/{run}/gates/{gate}.json`` whatever the outcome; the
gate returns the stage's :class:`~ikou.pipeline.StageResult` with its
:class:`~ikou.pipeline.GateVerdict` added (so the next stage gets the gated result), or raises
:class:`~ikou.quality.gate.GateFailed` on a critical failure. gate_standard also points the
snapshot's "latest validated" at the run's output (other domains check references against it).
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import time
from pathlib import Path

from ikou.config import settings
from ikou.domains import registry
from ikou.domains.mapping import addressee_references
from ikou.load.delta import fetch_delta_set
from ikou.load.delta_scope import DeltaScope
from ikou.load.target import Target
from ikou.pipeline import (
    FILE_GATES,
    STAGE_OF_GATE,
    GateVerdict,
    RunContext,
    StageResult,
    cpu_time,
)
from ikou.quality.gate import GateFailed, Unit, run_gate
from ikou.quality.suite_policy import target_table_name
from ikou.stages.common import StageError, write_report
from ikou.stages.validate import addressee_ids
from ikou.storage import Store, join, publication, reference_uri

__all__ = ["run", "GateFailed", "frames_for_gate"]


def frames_for_gate(gate: str, result: StageResult, work: Path, store: Store) -> list[Unit]:
    """The gate's validation units: each stage output table as a dataframe (the GX pandas
    datasource), the stage's accounting; for gate_target the tables inside the database (nothing
    is read here); for gate_reconciliation the reconciliation figures and the cutover window."""
    import pandas as pd
    import pyarrow.parquet as pq

    units = []
    if gate in FILE_GATES:
        _, paths = publication.fetch_tables(store, result.published, work)
        tables = {unit: pq.read_table(paths[unit]) for unit in result.units}
        references = reference_sets(result, tables, work, store) if gate == "gate_standard" else {}
        for unit, rows in result.units.items():
            frame = tables[unit].to_pandas(types_mapper=pd.ArrowDtype)
            units.append(Unit(unit, frame, expected_rows=rows, references=references))
        units.append(Unit("accounting", pd.DataFrame(result.accounting_rows())))
    elif gate == "gate_target":
        for unit, rows in result.units.items():
            units.append(Unit(unit, None, expected_rows=rows))
    elif gate == "gate_reconciliation":
        frame = pd.DataFrame(result.reconciliation)
        projected, window = result.projected_hours, result.window_hours
        frame["within_window"] = bool(projected is None or window is None or projected <= window)
        units.append(Unit("reconciliation", frame))
    else:
        raise ValueError(f"unknown gate {gate!r}")
    return units


def delta_scope(
    result: StageResult, target: Target | None, work: Path, store: Store
) -> DeltaScope | None:
    """The delta-scoped batch of gate_target after a delta load on PostgreSQL (the rows the delta
    could have changed: why that is enough, :mod:`ikou.load.delta_scope`); None for a full load
    or an SQLite target (gated whole)."""
    if not result.delta or target is None or target.dialect != "postgresql":
        return None
    manifest, csvs = fetch_delta_set(store, result.delta["set"], work / "delta")
    return DeltaScope(target, result.domain, manifest, csvs)


def scoped_units(units: list[Unit], scope: DeltaScope) -> list[Unit]:
    """gate_target's units restricted to the delta's rows: the scoped view while each runs, the
    batch's expected rows (I + U) and the report's note (kind, rows in scope, table rows)."""
    return [
        Unit(
            u.unit,
            expected_rows=scope.rows(u.unit),
            scope=functools.partial(scope.unit, u.unit),
            scoped={"kind": "delta", "rows": scope.rows(u.unit), "table_rows": u.expected_rows},
        )
        for u in units
    ]


def reference_sets(result: StageResult, tables: dict, work: Path, store: Store) -> dict:
    """{(master table, "atena_no"): ids} of the snapshot's addressee master, for the
    referential-integrity expectations of gate_standard (in this process only)."""
    reg = registry()
    d = reg.get(result.domain)
    if not any(addressee_references(d, t) for t in d.standard.tables):
        return {}
    master_domain, master_table = reg.addressee_master()
    if d.id == master_domain:
        ids = tables[master_table].column("atena_no")
    else:
        ids = addressee_ids(master_domain, master_table, result.snapshot, work, store)
    return {(target_table_name(master_domain, master_table), "atena_no"): ids}


def city_characters(snapshot: str | None, work: Path, store: Store) -> list[str]:
    """The targets of the snapshot's 外字 table (reference data): the city's additions to the
    standard character set."""
    if not snapshot:
        return []
    uri = join(reference_uri(snapshot), "gaiji.csv")
    if not store.exists(uri):
        return []
    path = store.download(uri, work / "gaiji.csv")
    from ikou.moji.gaiji import GaijiTable

    return sorted({e.text for e in GaijiTable.load(path).entries()})


def run(
    ctx: RunContext, gate_name: str, result: StageResult | None, store: Store | None = None
) -> StageResult:
    """Run the gate's checkpoints on the stage's output; return it with the verdict added."""
    if result is None:
        raise StageError(f"{gate_name}: the stage before it produced no result")
    if STAGE_OF_GATE.get(gate_name) != result.stage:
        raise StageError(f"{gate_name} checks {STAGE_OF_GATE.get(gate_name)}, not {result.stage}")
    started, cpu0 = time.monotonic(), cpu_time()
    store = store or Store()
    target_url = None
    target = None
    if gate_name == "gate_target":
        target = Target(settings().target_db_url, result.target_schema or "")
        target_url = target.gx_url
    parameters = {"snapshot": result.snapshot or None}
    with tempfile.TemporaryDirectory(prefix="ikou-gate-") as tmp, contextlib.ExitStack() as stack:
        units = frames_for_gate(gate_name, result, Path(tmp), store)
        scope = (
            delta_scope(result, target, Path(tmp), store) if gate_name == "gate_target" else None
        )
        if scope is not None:
            stack.callback(scope.target.dispose)
            stack.enter_context(scope)
            units, target_url = scoped_units(units, scope), scope.gx_url
        chars = (
            city_characters(result.snapshot, Path(tmp), store) if gate_name in FILE_GATES else ()
        )
        try:
            report = run_gate(
                ctx.domain,
                gate_name,
                units,
                run_id=ctx.run_id,
                mode=ctx.mode,
                override_reason=ctx.override_reason,
                who=ctx.who,
                target_url=target_url,
                parameters=parameters,
                city_characters=chars,
            )
        except GateFailed as exc:
            exc.report["seconds_total"] = round(time.monotonic() - started, 3)
            exc.report["cpu_seconds_total"] = round(cpu_time() - cpu0, 3)
            write_report(ctx.domain, ctx.run_id, f"gates/{gate_name}.json", exc.report, store)
            raise
    report["seconds_total"] = round(time.monotonic() - started, 3)
    report["cpu_seconds_total"] = round(cpu_time() - cpu0, 3)
    write_report(ctx.domain, ctx.run_id, f"gates/{gate_name}.json", report, store)
    if gate_name == "gate_standard":
        publication.point_latest_validated(
            store, ctx.domain, result.snapshot, result.uri or "", ctx.run_id
        )
    verdict = GateVerdict(
        gate=gate_name,
        verdict=report["verdict"],
        warnings=len(report["warnings"]),
        critical_failures=len(report["critical_failures"]),
        override=report["override"],
        units=[u["validation_result"] for u in report["units"]],
        seconds=report["seconds_total"],
    )
    return result.with_gate(verdict)
