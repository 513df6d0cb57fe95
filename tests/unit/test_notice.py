"""What the team is mailed (ikou.rehearsal.notice), and the notifiers' plumbing (ikou.airflow.notify)
against a local SMTP server."""

from __future__ import annotations

import os

import pytest
from tests_support import SmtpSink

from ikou.rehearsal import notice

SUMMARY = {
    "domains": {"juki": "GO", "kojin_juminzei": "READINESS", "kokumin_kenko_hoken": "NO-GO"},
    "failed_domains": ["jido_teate"],
    "counts": {"GO": 1, "NO-GO": 1, "READINESS": 1, "FAILED": 1},
    "report": "s3://ikou-reports/reports/_city/scheduled__2026-12-03/city.html",
    "critical_path": {"domains": ["juki", "kokumin_kenko_hoken"], "projected_hours": 7.25},
    "next_weekend": {"wave": 1, "target_date": "2027-01-09", "holds": False},
}


def test_master_notice_says_verdicts_failures_path_and_links():
    n = notice.master_finished("scheduled__2026-12-03", SUMMARY, "failed")
    assert n.subject.startswith(
        "[Ikou 移行] マスター 失敗あり FAILED — GO 1 NO-GO 1 READINESS 1 FAILED 1"
    )
    assert "失敗した分野 / failed domains: jido_teate" in n.text
    assert "NO-GO: kokumin_kenko_hoken" in n.text
    assert "juki → kokumin_kenko_hoken (7.25 h projected)" in n.text
    assert "wave 1 2027-01-09 — 収まらない / does not hold" in n.text
    assert "/ikou/reports/_city/scheduled__2026-12-03/city.html" in n.text
    assert "<a href=" in n.html and "city.html" in n.html


def test_master_notice_without_a_city_report():
    n = notice.master_finished("manual__x", None, "failed")
    assert "no city report" in n.subject and "manual__x" in n.text


def test_master_notice_all_well():
    ok = dict(SUMMARY, failed_domains=[], counts={"GO": 3}, domains={"juki": "GO"})
    assert "完了 OK" in notice.master_finished("r", ok, "success").subject


def test_failed_gate_notice_lists_the_critical_failures_and_the_gate_page():
    report = {
        "verdict": "fail",
        "critical_failures": [f"expect_x(col{i}) — {i} of 300 records" for i in range(25)],
    }
    n = notice.task_failed(
        "juki",
        "住民基本台帳 (x)",
        "migrate_juki",
        "manual__1",
        "gate_standard",
        error="ignored",
        gate_report=report,
    )
    assert "ゲート不合格 / gate failed: ゲート(標準) (gate_standard)" in n.text
    assert "critical failures: 25" in n.text and "… 5 more in the gate page" in n.text
    assert "/ikou/gates/migrate_juki/manual__1/gate_standard" in n.text
    assert "ignored" not in n.text


def test_failed_stage_notice_quotes_only_what_it_is_given():
    n = notice.task_failed(
        "juki",
        "住民基本台帳",
        "migrate_juki",
        "r1",
        "load",
        error="OperationalError (see the task's log)",
    )
    assert "タスク失敗 / task failed: 投入 (load)" in n.text
    assert "OperationalError (see the task's log)" in n.text


def test_quotable_never_repeats_a_foreign_message():
    from airflow.sdk.exceptions import AirflowFailException

    from ikou.airflow.notify import quotable
    from ikou.errors import Refused

    assert quotable(ValueError("山田 太郎 is not a number")) == "ValueError (see the task's log)"
    assert (
        quotable(Refused("cutover refused: no GO rehearsal")) == "cutover refused: no GO rehearsal"
    )
    assert (
        quotable(AirflowFailException("gate_raw of juki failed\nmore")) == "gate_raw of juki failed"
    )


@pytest.fixture
def smtp_configured(monkeypatch):
    with SmtpSink() as smtp:
        monkeypatch.setenv("AIRFLOW_CONN_IKOU_SMTP", smtp.connection_json)
        monkeypatch.setenv("AIRFLOW_VAR_IKOU_NOTIFY_TO", "a@example.invalid, b@example.invalid")
        yield smtp


def test_send_goes_through_the_smtp_connection(smtp_configured):
    from ikou.airflow.notify import configuration, send

    ok, how = configuration()
    assert (
        ok and how == f"notifications: to 2 recipient(s) through 127.0.0.1:{smtp_configured.port}"
    )
    assert send(notice.master_finished("r", SUMMARY, "success")) is True
    [(subject, body)] = smtp_configured.texts()
    assert subject.startswith("[Ikou 移行] マスター") and "jido_teate" in body
    msg = smtp_configured.messages[0]
    assert msg["From"] == "ikou-night@example.invalid" and "b@example.invalid" in msg["To"]


def test_nothing_is_sent_while_unconfigured(monkeypatch):
    from ikou.airflow.notify import configuration, send

    monkeypatch.delenv("AIRFLOW_VAR_IKOU_NOTIFY_TO", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_IKOU_SMTP", raising=False)
    ok, how = configuration()
    assert not ok and "Variable ikou_notify_to" in how and "connection ikou_smtp" in how
    assert send(notice.master_finished("r", SUMMARY, "success")) is False


def test_the_master_notifier_mails_the_city_report_summary(smtp_configured):
    """The notifier as the master's last task calls it: its context's XCom gives the summary."""
    from ikou.airflow.notify import MasterNotifier

    class TaskInstance:
        def xcom_pull(self, task_ids):
            assert task_ids == "city_report"
            return SUMMARY

    MasterNotifier().notify({"ti": TaskInstance(), "run_id": "scheduled__2026-12-03"})
    [(subject, body)] = smtp_configured.texts()
    assert "scheduled__2026-12-03" in subject and "kokumin_kenko_hoken" in body
    assert os.environ["AIRFLOW_VAR_IKOU_NOTIFY_TO"]
