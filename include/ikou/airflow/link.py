"""The linkage DAG factory (データ連携): ``link_<domain>`` for every domain whose registry entry has
``linkage.enabled`` -- decided by the registry, never by runtime state, so the DAGs exist (and are
reviewed) before the domain goes live.

Daily at 22:00 JST, one task, ``link``: the stage :func:`ikou.stages.link.run` writes the day's
change records (the run's date in Asia/Tokyo, or the Params' ``date_from`` / ``date_to``) into the
hand-off zone. While the domain is not live the stage refuses (exit 1) and the task fails at once
with that message (no retry: retrying cannot change the cutover state).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from ikou.airflow.context import stage_call
from ikou.airflow.dags import DEFAULT_ARGS, START, TZ
from ikou.airflow.notify import DomainRunNotifier
from ikou.domains import Domain, registry

SCHEDULE = "0 22 * * *"  # 22:00 Asia/Tokyo, after the counters close
TASK_ID = "link"
_DATE = r"^$|^\d{4}-\d{2}-\d{2}$"


def link_params() -> dict:
    return {
        "date_from": Param(
            "",
            type=["null", "string"],
            pattern=_DATE,
            title="連携期間の開始日 / From",
            description="空欄 = 実行日. Empty = the run's date (Asia/Tokyo). First day YYYY-MM-DD.",
        ),
        "date_to": Param(
            "",
            type=["null", "string"],
            pattern=_DATE,
            title="連携期間の終了日 / To",
            description="空欄 = 実行日. Empty = the run's date (Asia/Tokyo). Last day YYYY-MM-DD.",
        ),
        "from_delta": Param(
            "",
            type=["null", "string"],
            title="差分セット / Delta set",
            description="空欄 = 本番テーブルの差分. Empty = the live tables between two load-log "
            "entries; else a folder holding the standard system vendor's delta set.",
        ),
    }


def link_doc(d: Domain) -> str:
    link = d.linkage
    tables = ", ".join(f"`{t}` → record type `{rt}`" for t, rt in link.tables.items())
    return f"""# {d.name_ja} のデータ連携 — {d.name_en} linkage back to the mainframe

標準準拠システムで本番稼働中の {d.name_ja} の異動を、汎用機に残る業務が読む形式で毎日 22:00 に出力します。
While {d.name_en} is live on the standard system, its changes of the day go to the mainframe
programs that still read them: `{link.dataset}` (copybook `{link.copybook}`, {link.encoding},
FB {link.lrecl}), change records with 異動区分 I/U/D ({tables}), header and trailer with control
totals, `_manifest.json` last. Records with a character that has no legacy code are held back
(worklist). The task fails (exit 1) while the domain is not live.
"""


def build_link_dag(domain_id: str) -> DAG:
    d = registry().get(domain_id)
    with DAG(
        dag_id=d.link_dag_id,
        dag_display_name=f"連携 {d.name_ja} / link {d.name_en}",
        description=f"{d.name_ja} ({d.name_en}): daily change records back to the mainframe",
        doc_md=link_doc(d),
        schedule=SCHEDULE,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args={
            **DEFAULT_ARGS,
            "on_failure_callback": DomainRunNotifier(domain_id, "failure"),
        },
        params=link_params(),
        tags=["ikou", "linkage", d.group, d.id],
    ) as dag:

        @task(task_id=TASK_ID)
        def link():
            from airflow.sdk import get_current_context

            from ikou.stages import link as stage

            ctx = get_current_context()
            when = ctx.get("data_interval_end") or ctx.get("logical_date") or pendulum.now(TZ)
            day = pendulum.instance(when).in_timezone(TZ).date().isoformat()
            params = ctx["params"]
            return stage_call(
                domain_id,
                stage.run,
                params.get("date_from") or day,
                params.get("date_to") or day,
                params.get("from_delta") or None,
            )

        link()
    return dag
