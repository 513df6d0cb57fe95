"""Airflow glue: the domain DAG factory and the master DAG, built from the registry and the plan.

Thin on purpose: every task calls one function of :mod:`ikou.stages` (plain, tested) with the
run's identity and Params, and returns what that function returns — URIs, counts, seconds and
verdicts, never records. Parsing a DAG file imports Airflow's SDK, pydantic and PyYAML only:
pandas, pyarrow, GX and boto3 are imported inside the tasks.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param, task

from ikou.domains import Domain, registry
from ikou.quality.links import ValidationPageLink

TZ = "Asia/Tokyo"
OWNER = "ikou-migration"
START = pendulum.datetime(2025, 1, 1, tz=TZ)
STAGES = ("extract", "cleanse", "validate", "load", "rehearsal")
GATE_AFTER = {
    "extract": "gate_raw",
    "cleanse": "gate_cleansed",
    "validate": "gate_standard",
    "load": "gate_target",
    "rehearsal": "gate_reconciliation",
}
TASK_IDS = tuple(x for s in STAGES for x in (s, GATE_AFTER[s]))

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
            enum=["rehearsal", "cutover"],
            title="モード / Mode",
            description="rehearsal: 移行リハーサル (rehearsal, nothing goes live). cutover: 本番移行 "
            "(the real cutover; needs a GO rehearsal of the same snapshot and confirm_cutover).",
        ),
        # ["null", "string"]: Airflow's trigger form treats a plain "string" Param as required.
        "snapshot": Param(
            "",
            type=["null", "string"],
            pattern=r"^$|^\d{4}-\d{2}-\d{2}$",
            title="スナップショット / Snapshot",
            description="抽出日 YYYY-MM-DD of the mainframe extract in the landing zone; empty = the latest one.",
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

Params: `mode` (rehearsal | cutover), `snapshot` (empty = latest), `gate_override_reason`
(rehearsal only), `confirm_cutover`. 監査 / auditors: Data Docs and reports under the Ikou menu.
"""


def _context_args() -> dict:
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    params = ctx["params"]
    dag_run = ctx["dag_run"]
    conf = getattr(dag_run, "conf", None) or {}
    return {
        "run_id": ctx["run_id"],
        "mode": str(conf.get("mode", params.get("mode", "rehearsal"))),
        "snapshot": str(conf.get("snapshot", params.get("snapshot", "")) or ""),
        "override_reason": str(
            conf.get("gate_override_reason", params.get("gate_override_reason", "")) or ""
        ),
        "confirm_cutover": bool(conf.get("confirm_cutover", params.get("confirm_cutover", False))),
        "triggered_by": str(
            getattr(dag_run, "triggering_user_name", "") or conf.get("triggered_by", "") or ""
        ),
    }


def _pull(task_id: str):
    from airflow.sdk import get_current_context

    return get_current_context()["ti"].xcom_pull(task_ids=task_id)


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
        default_args=DEFAULT_ARGS,
        params=domain_params(),
        tags=["ikou", f"wave-{p.wave}", p.phase, d.group, d.id],
    ) as dag:
        # extract: large F/FB files are decoded in byte ranges by mapped tasks (extract_parts),
        # everything else and the merge (trailer checks over the whole file, publish) in extract
        @task(task_id="extract_plan")
        def extract_plan():
            from ikou import stages

            return stages.extract_plan(domain_id, **_context_args())

        @task(task_id="extract_parts", map_index_template="{{ ikou_part }}")
        def extract_parts(part: dict):
            from airflow.sdk import get_current_context

            from ikou import stages

            get_current_context()["ikou_part"] = (
                f"{part['file']} {part['index'] + 1}/{part['parts']}"
            )
            return stages.extract_part(domain_id, part, **_context_args())

        @task(task_id="extract", trigger_rule="none_failed")  # runs when no file needed parts
        def extract():
            from ikou import stages

            return stages.extract(
                domain_id,
                plan=_pull("extract_plan"),
                parts=_pull("extract_parts"),
                **_context_args(),
            )

        @task(task_id="cleanse")
        def cleanse():
            from ikou import stages

            return stages.cleanse(domain_id, _pull("extract"), **_context_args())

        @task(task_id="validate")
        def validate():
            from ikou import stages

            return stages.validate(domain_id, _pull("cleanse"), **_context_args())

        @task(task_id="load")
        def load():
            from airflow.sdk.exceptions import AirflowSkipException

            from ikou import stages

            if registry().plan[domain_id].phase != "migration":
                raise AirflowSkipException(
                    "preparation phase: nothing is loaded (readiness report instead)"
                )
            return stages.load(domain_id, _pull("validate"), **_context_args())

        @task(task_id="rehearsal", trigger_rule="none_failed")
        def rehearsal():
            from ikou import stages

            results = {s: _pull(s) for s in ("extract", "cleanse", "validate", "load")}
            return stages.rehearse(domain_id, results, **_context_args())

        def gate_task(gate: str, stage: str, **kw):
            @task(task_id=gate, retries=0, **kw)
            def run_gate():
                from airflow.sdk.exceptions import AirflowFailException

                from ikou import stages
                from ikou.quality.gate import GateFailed

                try:
                    return stages.gate(domain_id, gate, _pull(stage), **_context_args())
                except GateFailed as exc:
                    raise AirflowFailException(str(exc)) from None

            out = run_gate()
            # a button on the task instance: the gate page (verdict, override, validation pages)
            out.operator.operator_extra_links = (ValidationPageLink(),)
            return out

        planned = extract_plan()
        e, c, v, lo, r = extract(), cleanse(), validate(), load(), rehearsal()
        planned >> extract_parts.expand(part=planned) >> e
        g = {s: gate_task(GATE_AFTER[s], s) for s in STAGES}
        (
            e
            >> g["extract"]
            >> c
            >> g["cleanse"]
            >> v
            >> g["validate"]
            >> lo
            >> g["load"]
            >> r
            >> g["rehearsal"]
        )
    return dag


def master_params() -> dict:
    ids = registry().ids
    return {
        "mode": Param(
            "rehearsal",
            type="string",
            enum=["rehearsal"],
            title="モード / Mode",
            description="移行リハーサル (rehearsal). Cutovers are started per domain, never city-wide.",
        ),
        "snapshot": Param(
            "",
            type=["null", "string"],
            pattern=r"^$|^\d{4}-\d{2}-\d{2}$",
            title="スナップショット / Snapshot",
            description="抽出日 YYYY-MM-DD; empty = the latest snapshot in the landing zone.",
        ),
        "domains": Param(
            [],
            type="array",
            items={"type": "string", "enum": ids},
            title="分野 / Domains",
            description="空 = 全20分野. Empty = all 20 domains in the plan's order; otherwise the "
            "listed ones (the domains they refer to are not run again).",
        ),
    }


def build_master_dag() -> DAG:
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    reg = registry()
    order = reg.plan.rehearsal_order()
    with DAG(
        dag_id="migration_master",
        dag_display_name="移行マスター / migration master",
        description="Nightly cutover rehearsal of all 20 domains in the order of the migration plan",
        doc_md=MASTER_DOC,
        # 01:00 JST every night. No start_date: a newly deployed (or unpaused) master waits for
        # the next 01:00 instead of running the missed night at once.
        schedule=CronTriggerTimetable("0 1 * * *", timezone=TZ),
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "retries": 0},
        params=master_params(),
        tags=["ikou", "master", "nightly"],
    ) as dag:

        @task(task_id="plan")
        def plan_run():
            from ikou import stages

            args = _context_args()
            from airflow.sdk import get_current_context

            domains = list(get_current_context()["params"].get("domains") or [])
            return stages.plan_master_run(domains, args["snapshot"])

        planned = plan_run()
        runs = {}
        for domain_id in order:

            @task.short_circuit(
                task_id=f"select_{domain_id}",
                ignore_downstream_trigger_rules=False,
                trigger_rule="none_failed",
            )
            def selected(domain_id=domain_id):
                return domain_id in (_pull("plan") or {}).get("domains", [])

            sel = selected()
            run = TriggerDagRunOperator(
                task_id=f"run_{domain_id}",
                trigger_dag_id=f"migrate_{domain_id}",
                trigger_run_id="{{ run_id }}__" + domain_id,
                conf={
                    "mode": "{{ params.mode }}",
                    "snapshot": "{{ ti.xcom_pull(task_ids='plan')['snapshot'] }}",
                    "triggered_by": "migration_master",
                },
                wait_for_completion=True,
                deferrable=True,
                poke_interval=10,
                fail_when_dag_is_paused=True,
                allowed_states=["success"],
                failed_states=["failed"],
                trigger_rule="none_failed",
                retries=0,
            )
            planned >> sel >> run
            runs[domain_id] = (sel, run)
        for domain_id in order:
            for ref in reg.get(domain_id).refers_to:
                runs[ref][1] >> runs[domain_id][0]

        @task(task_id="city_report", trigger_rule="all_done")
        def city_report():
            from ikou import stages

            return stages.city_report(_pull("plan"), **_context_args())

        @task(task_id="publish_docs", trigger_rule="all_done")
        def publish_docs():
            from ikou.quality import docs

            return docs.build_site()

        @task(task_id="verdict", trigger_rule="all_done")
        def verdict():
            from airflow.sdk.exceptions import AirflowFailException

            report = _pull("city_report") or {}
            failed = report.get("failed_domains", [])
            if failed or not report:
                raise AirflowFailException(
                    f"domain runs failed or did not run: {', '.join(failed) or 'no report'}"
                )
            # NO-GO is a finding of the rehearsal, not a failure of the run: the city report says it
            return {
                "ok": True,
                "domains": len(report.get("domains", {})),
                "counts": report.get("counts"),
                "next_weekend": report.get("next_weekend"),
                "report": report.get("report"),
            }

        rep = city_report()
        for _, run in runs.values():
            run >> rep
        rep >> publish_docs() >> verdict()
    return dag


MASTER_DOC = """# 移行マスター — migration master

計画の順序（`refers_to`：データ参照関係）で20分野の移行DAGを起動し、各分野の完了を待ちます（deferrable）。
Triggers the domain DAGs in the order of the plan's `refers_to` relation and waits for each
(deferrable: no worker slot is held while waiting). A failed domain stops the domains that refer
to its data; independent domains carry on. Runs nightly at 01:00 JST in rehearsal mode; trigger by
hand with `domains` for a subset. At the end: the city-wide report (verdicts, readiness, the
critical path through `cuts_over_after`) and the Data Docs site, built once, in one task.
"""
