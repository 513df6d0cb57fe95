"""The master DAG ``migration_master``: the nightly rehearsal of all domains in the plan's order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.sdk import DAG, CronTriggerTimetable, Param, task

from ikou.airflow.dags import DEFAULT_ARGS, TZ, set_priorities
from ikou.airflow.notify import MasterNotifier
from ikou.airflow.published import PublishedSensor
from ikou.config import using
from ikou.domains import registry
from ikou.pipeline import domain_run_id


def _pull(task_id: str):
    from airflow.sdk import get_current_context

    return get_current_context()["ti"].xcom_pull(task_ids=task_id)


def master_call(fn: Callable[..., Any], *args: Any) -> Any:
    """A master task's library call with the resources handed down; a bad input (a Param)
    fails the task at once."""
    from airflow.sdk.exceptions import AirflowFailException

    from ikou.airflow.connections import resolve
    from ikou.errors import EXIT_USAGE, IkouError

    try:
        with using(resolve()):
            return fn(*args)
    except IkouError as exc:
        if exc.exit_code == EXIT_USAGE:
            raise AirflowFailException(exc.message) from None
        raise


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
            from airflow.sdk import get_current_context

            from ikou.stages import master

            ctx = get_current_context()
            conf = getattr(ctx["dag_run"], "conf", None) or {}
            params = ctx["params"]
            domains = list(conf.get("domains", params.get("domains")) or [])
            snapshot = conf.get("snapshot", params.get("snapshot")) or ""
            # conf only (no Param): a delta run of every migration-phase domain (IKOU_DELTA=1)
            base = conf.get("base_snapshot") or ""
            return master_call(master.plan, domains, snapshot, None, base)

        planned = plan_run()
        runs = {}
        for domain_id in order:

            @task.short_circuit(
                task_id=f"select_{domain_id}",
                ignore_downstream_trigger_rules=False,
                trigger_rule="none_failed",
            )
            def selected(domain_id=domain_id):
                planned = _pull("plan")
                return planned is not None and domain_id in planned.domains

            sel = selected()
            run = TriggerDagRunOperator(
                task_id=f"run_{domain_id}",
                trigger_dag_id=reg.get(domain_id).dag_id,
                trigger_run_id=domain_run_id("{{ run_id }}", domain_id),
                conf={
                    "mode": "{{ params.mode }}",
                    "snapshot": "{{ ti.xcom_pull(task_ids='plan').snapshot }}",
                    # the plan's full_ahead_then_delta: a delta run from the full load ahead
                    "base_snapshot": "{{ ti.xcom_pull(task_ids='plan').base_snapshots.get('"
                    + domain_id
                    + "', '') }}",
                    "triggered_by": "migration_master",
                },
                wait_for_completion=True,
                deferrable=True,
                # the triggerer asks every 3 s whether the domain run ended: the master's wait
                # after a domain is ≤ 3 s on its critical path (3 domains deep), a query each
                poke_interval=3,
                fail_when_dag_is_paused=True,
                allowed_states=["success"],
                failed_states=["failed"],
                trigger_rule="none_failed",
                retries=0,
            )
            planned >> sel >> run
            runs[domain_id] = (sel, run)
        # a referring domain reads the referred domain's validated data only: it starts once the
        # referred run passed gate_standard (standard_<ref>, deferred), overlapping the rest of
        # that run (load, gate_target, rehearsal). A referred domain not selected skips its wait
        # with its run (select_ short-circuits both), and the referring domain reads the latest
        # validated data (none_failed); a failed one fails the wait, and the referring domains'
        # select_ are upstream_failed.
        referred = {ref for d in order for ref in reg.get(d).refers_to}
        waits = {}
        for ref in (d for d in order if d in referred):
            dom = reg.get(ref)
            waits[ref] = PublishedSensor(
                domain=ref,
                task_display_name=f"標準データ公開待ち {dom.name_ja} / validated data of "
                f"{dom.name_en}",
                poke_interval=3,  # as run_<domain>: ≤ 3 s on the critical path, a query each
            )
            runs[ref][0] >> waits[ref]
        for domain_id in order:
            for ref in reg.get(domain_id).refers_to:
                waits[ref] >> runs[domain_id][0]

        @task(task_id="city_report", trigger_rule="all_done")
        def city_report():
            from airflow.sdk import get_current_context

            from ikou.stages import master

            return master_call(master.city_report, _pull("plan"), get_current_context()["run_id"])

        @task(task_id="publish_docs", trigger_rule="all_done")
        def publish_docs():
            from ikou.quality import docs

            return master_call(docs.build_site)

        # the night's outcome goes to the team however the master ends (ikou.airflow.notify)
        @task(
            task_id="verdict",
            trigger_rule="all_done",
            on_success_callback=MasterNotifier(),
            on_failure_callback=MasterNotifier(),
        )
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
    # the master's tasks (starting a domain run, resuming after a wait) take a second or two and
    # hold up the domains they start: they go before every domain's tasks
    set_priorities(dag, 1 + max(reg.referring_generations(d) for d in order))
    return dag


MASTER_DOC = """# 移行マスター — migration master

計画の順序（`refers_to`：データ参照関係）で20分野の移行DAGを起動し、各分野の完了を待ちます（deferrable）。
参照先の分野の標準データ（`gate_standard` 通過）が公開され次第、参照する分野を開始します。
Triggers the domain DAGs in the order of the plan's `refers_to` relation and waits for each
(deferrable: no worker slot is held while waiting). A domain starts once the domains it refers to
have published their validated data (`standard_<domain>` waits for their `gate_standard`): their
load, rehearsal and reconciliation overlap it. A failed domain stops the domains that refer to
its data; independent domains carry on. Runs nightly at 01:00 JST in rehearsal mode; trigger by
hand with `domains` for a subset. At the end: the city-wide report (verdicts, readiness, the
critical path through `cuts_over_after`) and the Data Docs site, built once, in one task.
"""
