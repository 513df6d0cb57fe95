"""The night's outcome, delivered: Airflow notifiers that mail the migration team.

| when | notifier | attached to |
|---|---|---|
| a domain run's task fails for good (a stage, or a gate with critical failures) | :class:`DomainRunNotifier` ``failure`` | every task of a domain DAG (``on_failure_callback``) |
| a rehearsal ends NO-GO (the run itself succeeded) | :class:`DomainRunNotifier` ``verdict`` | ``gate_reconciliation`` (``on_success_callback``) |
| the master finishes, well or not | :class:`MasterNotifier` | the master's last task ``verdict`` (success and failure) |

Configuration (nothing is sent while either is unset; ``make run`` says which):

- the Airflow connection ``ikou_smtp`` (type smtp): host, port, login / password, extras
  ``from_email`` (the sender), ``disable_tls`` / ``disable_ssl`` — the SMTP provider's fields;
- the Airflow Variable ``ikou_notify_to``: the recipients, separated by commas or spaces.

What a message says is built by :mod:`ikou.rehearsal.notice`: verdicts, counts, the critical
path, expectation names with record counts and links — never personal data. A notifier that
cannot send logs one line and never fails the task it reports on.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseNotifier

from ikou.airflow.connections import connection, resolve
from ikou.config import using
from ikou.domains import registry
from ikou.errors import IkouError
from ikou.pipeline import STAGE_OF_GATE

if TYPE_CHECKING:  # the notices import storage and GX helpers: loaded when a notifier runs
    from ikou.rehearsal.notice import Notice

log = logging.getLogger(__name__)

SMTP_CONN_ID = "ikou_smtp"
RECIPIENTS_VARIABLE = "ikou_notify_to"


def recipients() -> list[str]:
    """The Variable ``ikou_notify_to`` as a list (empty: unset)."""
    from airflow.sdk import Variable

    raw = Variable.get(RECIPIENTS_VARIABLE, default=None) or ""
    return [r for r in re.split(r"[,\s;]+", raw) if r]


def configuration() -> tuple[bool, str]:
    """(configured, one line saying how) — for ``make run`` and the notifiers themselves."""
    to = recipients()
    conn = connection(SMTP_CONN_ID)
    if not to or conn is None:
        missing = [
            what
            for what, ok in (
                (f"Variable {RECIPIENTS_VARIABLE}", to),
                (f"connection {SMTP_CONN_ID}", conn is not None),
            )
            if not ok
        ]
        return False, f"notifications: not configured (set {' and '.join(missing)})"
    return True, f"notifications: to {len(to)} recipient(s) through {conn.host}:{conn.port or 25}"


def send(notice: Notice) -> bool:
    """Mail ``notice`` to the recipients; False (and one log line) when not configured."""
    configured, how = configuration()
    if not configured:
        log.info("%s — %s not sent", how, notice.subject)
        return False
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
        hook.send_email_smtp(
            to=recipients(),
            subject=notice.subject,
            html_content=notice.html,
            mime_charset="utf-8",
        )
    log.info("notification sent: %s", notice.subject)
    return True


def quotable(exc: BaseException | None) -> str:
    """What a message may say about a task's error: Ikou's own messages (counts and names only;
    the Airflow layer raises AirflowFailException with them), otherwise the error's type only —
    a foreign message (a driver's, a library's) may quote a value."""
    if exc is None:
        return "unknown (see the task's log)"
    if isinstance(exc, IkouError):
        return exc.message.splitlines()[0]
    from airflow.sdk.exceptions import AirflowFailException

    if type(exc) is AirflowFailException and exc.args:
        return str(exc.args[0]).splitlines()[0]
    return f"{type(exc).__name__} (see the task's log)"


def _gate_report(domain: str, run_id: str, gate: str) -> dict | None:
    from ikou.storage import Store, join, zone_uri

    try:
        uri = join(zone_uri("reports", domain, run_id), f"gates/{gate}.json")
        return json.loads(Store().get_bytes(uri))
    except Exception:  # noqa: BLE001 - the message is sent without the gate's summary
        log.warning("gate report of %s %s not readable; notice without it", domain, gate)
        return None


class DomainRunNotifier(BaseNotifier):
    """Mails a domain run's failure (``failure``) or a NO-GO rehearsal (``verdict``)."""

    def __init__(self, domain: str, event: Literal["failure", "verdict"]):
        super().__init__()
        self.domain = domain
        self.event = event

    def notify(self, context: Any) -> None:
        try:
            with using(resolve()):
                notice = self.notice(context)
                if notice is not None:
                    send(notice)
        except Exception as exc:  # noqa: BLE001 - never fail the task being reported on
            log.error("notification of %s not sent: %s", self.domain, type(exc).__name__)

    def notice(self, context: Any) -> Notice | None:
        from ikou.rehearsal.notice import rehearsal_no_go, task_failed

        ti = context["ti"]
        d = registry().get(self.domain)
        run_id = context["run_id"]
        if self.event == "failure":
            gate = ti.task_id if ti.task_id in STAGE_OF_GATE else None
            return task_failed(
                self.domain,
                d.display_name,
                d.dag_id,
                run_id,
                ti.task_id,
                error=quotable(context.get("exception")),
                gate_report=_gate_report(self.domain, run_id, gate) if gate else None,
            )
        result = ti.xcom_pull(task_ids=ti.task_id)
        if result is None or getattr(result, "verdict", None) != "NO-GO":
            return None
        return rehearsal_no_go(
            self.domain, d.display_name, d.dag_id, run_id, list(result.reasons), result.report
        )


class MasterNotifier(BaseNotifier):
    """Mails the master run's outcome when its last task ends (success or failure)."""

    def notify(self, context: Any) -> None:
        from ikou.rehearsal.notice import master_finished

        try:
            with using(resolve()):
                summary = context["ti"].xcom_pull(task_ids="city_report")
                state = "failed" if context.get("exception") is not None else "success"
                send(master_finished(context["run_id"], summary, state))
        except Exception as exc:  # noqa: BLE001 - never fail the master's verdict over a mail
            log.error("notification of the master run not sent: %s", type(exc).__name__)
