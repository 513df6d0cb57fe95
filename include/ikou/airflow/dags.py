"""The domain DAG factory: ``migrate_<domain>`` for every domain of the registry.

Thin on purpose: every task calls one stage (:mod:`ikou.stages`, plain and tested) with the
run's :class:`~ikou.pipeline.RunContext` and its upstream :class:`~ikou.pipeline.StageResult`
as task arguments — the graph and the data flow are the same edges — and returns the stage's
result: URIs, counts, seconds and verdicts, never records. Parsing a DAG file imports Airflow's
SDK, pydantic and PyYAML only: pandas, pyarrow, GX and boto3 are imported inside the tasks.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG, Asset, Param, task
from airflow.sdk.serde import allow_class

from ikou.airflow.context import stage_call
from ikou.airflow.gate import GateOperator
from ikou.airflow.notify import DomainRunNotifier
from ikou.domains import Domain, registry
from ikou.pipeline import (
    GATE_AFTER,
    MODES,
    CleansePart,
    CleansePartResult,
    ExtractPart,
    ExtractPartResult,
    GateVerdict,
    LoadPart,
    LoadPartResult,
    MasterPlan,
    StageResult,
    UnitAccounting,
)

# what crosses XCom between Ikou's tasks: pydantic models, deserialised in the task processes
# (which parse this module); the deployments also allow ikou.* in
# [core] allowed_deserialization_classes for every component
for _model in (
    StageResult,
    UnitAccounting,
    GateVerdict,
    CleansePart,
    CleansePartResult,
    ExtractPart,
    ExtractPartResult,
    LoadPart,
    LoadPartResult,
    MasterPlan,
):
    allow_class(_model)

TZ = "Asia/Tokyo"
OWNER = "ikou-migration"
START = pendulum.datetime(2025, 1, 1, tz=TZ)

#: priority_weight of one generation of domains waiting on a domain's data: more than the tasks of
#: any DAG, so that each task of a domain others wait for outranks each task of those waiting
PRIORITY_GENERATION = 1000


def set_priorities(dag: DAG, generations: int) -> None:
    """Priority weights for the scheduler, which gives a free slot to the ready task of the highest
    weight over all runs: the tasks of a domain that ``generations`` generations of domains wait
    for (:meth:`ikou.domains.Registry.referring_generations`: 住民基本台帳 2, 個人住民税 1) come
    before those of the domains it releases, so the night's critical path does not queue behind
    them; within a run, the task with more of the run downstream of it first. Together: the
    longest remaining path first, which the capacity plan assumes (ikou.rehearsal.capacity)."""
    if len(dag.tasks) >= PRIORITY_GENERATION:
        raise ValueError(
            f"{dag.dag_id}: {len(dag.tasks)} tasks, priorities allow {PRIORITY_GENERATION - 1}"
        )
    for t in dag.tasks:
        t.weight_rule = "absolute"  # the weight as set here, not summed over the downstream tasks
        t.priority_weight = (
            generations * PRIORITY_GENERATION + len(t.get_flat_relative_ids(upstream=False)) + 1
        )


DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
}


def domain_params() -> dict:
    return {
        "mode": Param(
            "rehearsal",
            type="string",
            enum=list(MODES),
            title="モード / Mode",
            description="rehearsal: 移行リハーサル (rehearsal, nothing goes live). cutover: 本番移行 "
            "(the real cutover; needs a GO rehearsal of the same snapshot and confirm_cutover; with "
            "base_snapshot a delta cutover onto the full load ahead). load_ahead: 事前全件投入 (the "
            "full load days ahead of a delta cutover: GO rehearsal + confirm_cutover; records "
            "loaded_ahead, never live).",
        ),
        # ["null", "string"]: Airflow's trigger form treats a plain "string" Param as required.
        "snapshot": Param(
            "",
            type=["null", "string"],
            pattern=r"^$|^\d{4}-\d{2}-\d{2}$",
            title="スナップショット / Snapshot",
            description="抽出日 YYYY-MM-DD of the mainframe extract in the landing zone; empty = the latest one.",
        ),
        "base_snapshot": Param(
            "",
            type=["null", "string"],
            pattern=r"^$|^\d{4}-\d{2}-\d{2}$",
            title="差分の基準スナップショット / Base snapshot",
            description="空欄 = 全件移行. Empty = a full load. 抽出日 YYYY-MM-DD of an earlier snapshot whose "
            "validated output is published and whose full hand-off set was loaded: the diff task "
            "computes the difference (差分) and load applies only it.",
        ),
        "gate_override_reason": Param(
            "",
            type=["null", "string"],
            title="ゲート上書き理由 / Gate override reason",
            description="空欄 = 上書きなし. Empty = no override. A reason lets a rehearsal pass a failed "
            "critical gate; it is recorded with who and why. Cutover runs cannot override.",
        ),
        "confirm_cutover": Param(
            False,
            type="boolean",
            title="本番移行の確認 / Confirm cutover",
            description="本番移行を実行することを確認します. A person confirms the cutover (cutover mode only).",
        ),
    }


def domain_doc(d: Domain) -> str:
    reg = registry()
    p = reg.plan[d.id]
    files = "\n".join(
        f"| {lf.name} | `{lf.dataset}` | `{lf.copybook}` | {lf.encoding} | {lf.recfm} {lf.lrecl} | "
        f"{', '.join(lf.business_keys)} | {lf.expected_records:,} |"
        for lf in d.legacy_files
    )
    tables = ", ".join(f"`{t.name}` ({t.label_ja})" for t in d.layout.tables)
    refers = ", ".join(reg.get(r).name_ja + f" (`{r}`)" for r in d.refers_to) or "なし / none"
    after = ", ".join(reg.get(r).name_ja + f" (`{r}`)" for r in p.cuts_over_after) or "なし / none"
    phase = {
        "migration": "移行 / migration (GO / NO-GO)",
        "preparation": "準備 / preparation (readiness report)",
    }[p.phase]
    return f"""# {d.name_ja} の移行 — {d.name_en} migration

抽出 → データ整理 → 標準レイアウト検証 → 投入 → 移行リハーサル、各段階の後に品質ゲート。
Extract → cleanse → validate → load → cutover rehearsal, each stage followed by its quality gate.

| | |
|---|---|
| 分野 / domain | {d.name_ja} ({d.name_en}), `{d.id}` — {d.group} |
| 標準仕様 / spec | {d.spec.version} ({d.spec.published}); standard tables: {tables} |
| 計画 / plan | wave {p.wave}, {p.target_date} — {phase}; cutover window {p.cutover_window_hours:g} h |
| データ参照 / refers to | {refers} |
| 移行順序 / cuts over after | {after} |

| legacy file | dataset | copybook | encoding | RECFM | business keys | records at city scale |
|---|---|---|---|---|---|---|
{files}

Params: `mode` (rehearsal | cutover | load_ahead), `snapshot` (empty = latest), `base_snapshot` (empty = a
full load; else the task `diff` publishes the difference and `load` applies it),
`gate_override_reason` (rehearsal only), `confirm_cutover`. 監査 / auditors: Data Docs and reports under the Ikou menu.
"""


def validated_asset(domain_id: str) -> Asset:
    """A domain's validated standard layout, published by ``gate_standard`` (the "latest
    validated" pointer other domains read their references from)."""
    from ikou.config import settings

    return Asset(
        name=f"ikou.{domain_id}.validated",
        uri=f"s3://{settings().restricted_bucket}/validated/{domain_id}",
        group="ikou",
        extra={"zone": "validated", "domain": domain_id},
    )


def handoff_asset(domain_id: str) -> Asset:
    """A domain's hand-off set (CSV + manifest for the standard system), published by ``load``."""
    from ikou.config import settings

    return Asset(
        name=f"ikou.{domain_id}.handoff",
        uri=f"s3://{settings().restricted_bucket}/handoff/{domain_id}",
        group="ikou",
        extra={"zone": "handoff", "domain": domain_id},
    )


def build_domain_dag(domain_id: str) -> DAG:
    d = registry().get(domain_id)
    p = registry().plan[domain_id]
    with DAG(
        dag_id=d.dag_id,
        dag_display_name=f"移行 {d.name_ja} / migrate {d.name_en}",
        description=f"{d.name_ja} ({d.name_en}): extract → cleanse → validate → load → rehearsal, gated",
        doc_md=domain_doc(d),
        schedule=None,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        # a task failing for good mails the team (ikou.airflow.notify; nothing when unset)
        default_args={
            **DEFAULT_ARGS,
            "on_failure_callback": DomainRunNotifier(domain_id, "failure"),
        },
        params=domain_params(),
        tags=["ikou", f"wave-{p.wave}", p.phase, d.group, d.id],
    ) as dag:
        # extract: large F/FB files are decoded in byte ranges by mapped tasks (extract_parts),
        # everything else and the merge (trailer checks over the whole file, publish) in extract

        @task(task_id="extract_plan")
        def extract_plan():
            from ikou.stages import extract

            return stage_call(domain_id, extract.plan)

        @task(task_id="extract_parts", map_index_template="{{ ikou_part }}")
        def extract_parts(part: ExtractPart):
            from airflow.sdk import get_current_context

            from ikou.stages import extract

            get_current_context()["ikou_part"] = f"{part.file} {part.index + 1}/{part.parts}"
            return stage_call(domain_id, extract.part, part)

        @task(task_id="extract", trigger_rule="none_failed")  # runs when no file needed parts
        def extract(plan, parts):
            from ikou.stages import extract

            return stage_call(domain_id, extract.run, plan, parts)

        # cleanse: large files are cleansed in record ranges by mapped tasks (cleanse_parts);
        # small files, 名寄せ (it cannot be split) and the merge into one output per file run in
        # cleanse
        @task(task_id="cleanse_plan")
        def cleanse_plan(extracted: StageResult):
            from ikou.stages import cleanse

            return stage_call(domain_id, cleanse.plan, extracted)

        @task(task_id="cleanse_parts", map_index_template="{{ ikou_part }}")
        def cleanse_parts(part: CleansePart):
            from airflow.sdk import get_current_context

            from ikou.stages import cleanse

            get_current_context()["ikou_part"] = f"{part.file} {part.index + 1}/{part.parts}"
            return stage_call(domain_id, cleanse.part, part)

        @task(task_id="cleanse", trigger_rule="none_failed")  # runs when no file needed parts
        def cleanse(
            extracted: StageResult,
            plan: list[CleansePart] | None = None,
            parts: list[CleansePartResult] | None = None,
        ):
            from ikou.stages import cleanse

            return stage_call(domain_id, cleanse.run, extracted, plan=plan, parts=parts)

        # lineage (the asset graph): the validated layouts of the domains this one refers to
        @task(task_id="validate", inlets=[validated_asset(r) for r in d.refers_to])
        def validate(cleansed: StageResult):
            from ikou.stages import validate

            return stage_call(domain_id, validate.run, cleansed)

        # 差分: skipped on a full load (no base_snapshot) and in the preparation phase
        @task(task_id="diff")
        def diff(validated: StageResult):
            from ikou.stages import diff

            return stage_call(domain_id, diff.run, validated)

        # load: a large domain's full load is split by the 宛名番号 hash (load_plan), its
        # partitions staged by mapped tasks (load_parts), then swapped in by load; a small one
        # (one partition) and a delta run plan nothing and load in the load task
        @task(task_id="load_plan", trigger_rule="none_failed")
        def load_plan(validated: StageResult, diffed: StageResult | None = None):
            from ikou.stages import load

            return stage_call(domain_id, load.plan, validated, diffed)

        @task(task_id="load_parts", map_index_template="{{ ikou_part }}")
        def load_parts(part: LoadPart):
            from airflow.sdk import get_current_context

            from ikou.stages import load

            get_current_context()["ikou_part"] = f"{part.index + 1}/{part.parts}"
            return stage_call(domain_id, load.part, part)

        # after a skipped diff the full load, else the delta set applied
        @task(task_id="load", outlets=[handoff_asset(domain_id)], trigger_rule="none_failed")
        def load(
            validated: StageResult,
            diffed: StageResult | None = None,
            plan: list[LoadPart] | None = None,
            parts: list[LoadPartResult] | None = None,
        ):
            from ikou.stages import load

            return stage_call(domain_id, load.run, validated, diffed, plan=plan, parts=parts)

        @task(task_id="rehearsal", trigger_rule="none_failed")
        def rehearsal(
            extracted: StageResult,
            cleansed: StageResult,
            validated: StageResult,
            loaded: StageResult | None = None,
        ):
            from ikou.stages import rehearse

            return stage_call(domain_id, rehearse.run, extracted, cleansed, validated, loaded)

        def gate(stage: str, result, **kwargs):
            return GateOperator(domain=domain_id, gate=GATE_AFTER[stage], result=result, **kwargs)

        planned = extract_plan()
        parts = extract_parts.expand(part=planned)
        extracted = gate("extract", extract(planned, parts))
        cleanse_planned = cleanse_plan(extracted.output)
        cleansed_parts = cleanse_parts.expand(part=cleanse_planned)
        cleansed = gate("cleanse", cleanse(extracted.output, cleanse_planned, cleansed_parts))
        validated = gate(
            "validate", validate(cleansed.output), outlets=[validated_asset(domain_id)]
        )
        diffed = diff(validated.output)
        load_planned = load_plan(validated.output, diffed)
        staged = load_parts.expand(part=load_planned)
        loaded = gate("load", load(validated.output, diffed, load_planned, staged))
        # gate_target is skipped with a skipped load (preparation phase): rehearsal gets None
        # a NO-GO rehearsal is a successful run: its gate mails the verdict
        gate(
            "rehearsal",
            rehearsal(extracted.output, cleansed.output, validated.output, loaded.output),
            on_success_callback=DomainRunNotifier(domain_id, "verdict"),
        )
    set_priorities(dag, registry().referring_generations(domain_id))
    return dag
