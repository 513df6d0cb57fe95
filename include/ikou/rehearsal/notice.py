"""The night's outcome as a message to the migration team (件名 and 本文, Japanese with English).

Pure functions from what the runs published — verdicts, counts, the critical path, gate
summaries (expectation names and record counts) and links — to a :class:`Notice`. Never a
value from the data: a failed task's error is named by its type, and only Ikou's own messages
(:class:`~ikou.errors.IkouError`, which carry counts and names only) are quoted. The Airflow
layer (:mod:`ikou.airflow.notify`) decides when to send and sends through SMTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ikou.pipeline import STAGE_OF_GATE, STAGES
from ikou.quality.gate import gate_url, report_url
from ikou.storage import zone_uri

SUBJECT_PREFIX = "[Ikou 移行]"
_LABEL = {s.name: s.label_ja for s in STAGES} | {s.gate: s.gate_label_ja for s in STAGES}


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str

    @property
    def html(self) -> str:
        """The same text as HTML (links clickable), for mail clients that show HTML only."""
        lines = []
        for line in self.text.splitlines():
            safe = escape(line)
            for word in line.split():
                if word.startswith(("http://", "https://")):
                    safe = safe.replace(
                        escape(word), f"<a href='{escape(word)}'>{escape(word)}</a>"
                    )
            lines.append(safe)
        return (
            "<html><body><pre style='font-family:sans-serif'>"
            + "\n".join(lines)
            + "</pre></body></html>"
        )


def _reports_link(domain: str, run_id: str) -> str:
    return report_url(zone_uri("reports", domain, run_id) + "/")


def task_failed(
    domain: str,
    display_name: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    *,
    error: str,
    gate_report: dict | None = None,
) -> Notice:
    """A domain run stopped at a failed task (a stage, or a gate with critical failures).

    ``error`` is what may be quoted: the error's type, or an Ikou message (counts and names)."""
    what = "ゲート不合格 / gate failed" if task_id in STAGE_OF_GATE else "タスク失敗 / task failed"
    lines = [
        f"{display_name} — {dag_id}",
        f"実行 / run: {run_id}",
        f"{what}: {_LABEL.get(task_id, task_id)} ({task_id})",
    ]
    if gate_report:
        crit = list(gate_report.get("critical_failures") or [])
        lines.append(f"判定 / verdict: {gate_report.get('verdict', 'fail')}")
        lines.append(f"重大な不合格 / critical failures: {len(crit)}")
        lines += [f"  - {c}" for c in crit[:20]]
        if len(crit) > 20:
            lines.append(f"  … {len(crit) - 20} more in the gate page")
        lines.append(f"ゲート / gate page: {gate_url(dag_id, run_id, task_id)}")
    else:
        lines.append(f"エラー / error: {error}")
        lines.append("詳細はタスクのログ / details: the task's log in the Airflow UI")
    lines.append(f"レポート / reports: {_reports_link(domain, run_id)}")
    return Notice(
        subject=f"{SUBJECT_PREFIX} 失敗 FAILED — {domain} {task_id} ({run_id})",
        text="\n".join(lines) + "\n",
    )


def rehearsal_no_go(
    domain: str, display_name: str, dag_id: str, run_id: str, reasons: list[str], report: str | None
) -> Notice:
    """A rehearsal ended NO-GO: the run succeeded, its verdict says the cutover would not."""
    lines = [
        f"{display_name} — {dag_id}",
        f"実行 / run: {run_id}",
        "移行リハーサル判定 / rehearsal verdict: NO-GO",
        "理由 / reasons:",
        *[f"  - {r}" for r in reasons[:20]],
        f"レポート / report: {report_url(report) if report else _reports_link(domain, run_id)}",
    ]
    return Notice(
        subject=f"{SUBJECT_PREFIX} NO-GO — {domain} ({run_id})",
        text="\n".join(lines) + "\n",
    )


def master_finished(run_id: str, summary: dict | None, state: str) -> Notice:
    """The nightly master's outcome: per-verdict counts, failed domains, the critical path and
    the next cutover weekend, with the city report's link. ``summary`` is what ``city_report``
    returned (None when the master failed before its report)."""
    if not summary:
        return Notice(
            subject=f"{SUBJECT_PREFIX} マスター失敗 master FAILED — no city report ({run_id})",
            text=f"移行マスター / migration master: {run_id}\n"
            f"状態 / state: {state}\n全市レポートなし / no city report was written: "
            "see the master run in the Airflow UI\n",
        )
    counts = summary.get("counts") or {}
    failed = list(summary.get("failed_domains") or [])
    verdicts = summary.get("domains") or {}
    ok = state == "success" and not failed
    head = "完了 OK" if ok else "失敗あり FAILED"
    figure = " ".join(f"{k} {counts.get(k, 0)}" for k in ("GO", "NO-GO", "READINESS", "FAILED"))
    lines = [
        f"移行マスター / migration master: {run_id}",
        f"状態 / state: {state}",
        f"分野 / domains: {len(verdicts)} — {figure}",
    ]
    if failed:
        lines.append(f"失敗した分野 / failed domains: {', '.join(failed)}")
    no_go = sorted(d for d, v in verdicts.items() if v == "NO-GO")
    if no_go:
        lines.append(f"NO-GO: {', '.join(no_go)}")
    cp = summary.get("critical_path") or {}
    if cp.get("domains"):
        lines.append(
            f"クリティカルパス / critical path: {' → '.join(cp['domains'])} "
            f"({cp.get('projected_hours', 0):.2f} h projected)"
        )
    nw = summary.get("next_weekend")
    if nw:
        holds = {True: "収まる / holds", False: "収まらない / does not hold"}.get(
            nw.get("holds"), "未定 / unknown"
        )
        lines.append(
            f"次の移行週末 / next weekend: wave {nw.get('wave')} {nw.get('target_date')} — {holds}"
        )
    if summary.get("report"):
        lines.append(f"全市レポート / city report: {report_url(summary['report'])}")
    return Notice(
        subject=f"{SUBJECT_PREFIX} マスター {head} — {figure} ({run_id})",
        text="\n".join(lines) + "\n",
    )
