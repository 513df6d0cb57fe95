"""The gate: run a stage's GX checkpoints and decide whether the run may go on.

Built once and used by all five gates of every domain. For each validation unit of the gate
(a legacy file, a standard table, the accounting of the stage …) it runs the committed
checkpoint ``{domain}.{unit}.{gate}`` from the GX project with the stage's output as the batch
and the run's facts as expectation parameters (``expected_rows`` = the previous stage's
accounting, ``snapshot`` = the extract's date, the latest day a date may name).

Severity: every expectation is ``critical`` or ``warning`` (GX 1.x's own field); an expectation
whose meta lists ``critical_in_modes`` is critical in those modes (e.g. unmapped 外字 in cutover)
and a warning otherwise. ``mostly`` thresholds: a critical expectation that passed *within* its
threshold still had unexpected records — they are listed with the warnings (counts only).

A failed critical expectation fails the gate with a readable summary (which expectations, how
many records, the validation pages in the Airflow UI, the gate report) — unless an engineer
gave ``gate_override_reason`` in a rehearsal; the override (reason, who, when) is recorded in the
gate report, in each validation result's ``meta.ikou`` (rendered into the Data Docs page) and in
the rehearsal report. Cutover runs cannot override a critical failure. Warnings pass and are
reported. The gate report (JSON, no personal data) is written whatever the outcome.

No personal data leaves the gate: checkpoints run with ``BASIC`` and no partial unexpected
values (GX then stores empty lists), and :func:`scrub` removes every key that could hold a value
(plus GX's plain md5 fingerprint of the dataframe and exception messages) before a result is
published to ``s3://{reports}/gx/validations/``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from ikou.errors import Refused
from ikou.pipeline import LIVE_MODES
from ikou.quality.results import keeps_observed, publish_results, result_key, safe_exception
from ikou.quality.suite_policy import RESULT_FORMAT, unit_name

log = logging.getLogger(__name__)

#: Where the Airflow plugin (plugins/ikou_ui.py) serves Ikou's pages inside the Airflow UI.
UI_PREFIX = "/ikou"


class GateFailed(Refused):
    """A critical expectation failed; ``str(exc)`` is the readable summary, ``.report`` the details."""

    def __init__(self, summary: str, report: dict):
        super().__init__(summary)
        self.report = report


@dataclass
class Unit:
    """One validation unit: ``frame`` for stage outputs (None for a target table in the database).

    ``references``: id sets the unit's referential-integrity expectations check against,
    ``{(table, column): ids}`` (e.g. the snapshot's 宛名 master) — registered in this process for
    the validation only, never written anywhere.

    ``scope``: for a target table, a context-manager factory that puts a restricted batch in
    place while the unit's checkpoint runs (the delta-scoped ``gate_target``:
    :mod:`ikou.load.delta_scope`), and ``scoped`` what the report says of it (kind, rows).
    """

    unit: str
    frame: object | None = None
    expected_rows: int | None = None
    parameters: dict = field(default_factory=dict)
    references: dict = field(default_factory=dict)
    scope: Callable[[], AbstractContextManager] | None = None
    scoped: dict | None = None


def gx_root() -> Path:
    root = os.environ.get("IKOU_GX_ROOT")
    if root:
        return Path(root)
    return Path(__file__).resolve().parents[3] / "great_expectations"


# --------------------------------------------------------------------------- links (UI)


def ui_base_url() -> str:
    """The Airflow UI's base URL (``[api] base_url``, handed down by the Airflow layer), without a
    trailing slash."""
    from ikou.config import settings

    return settings().ui_base_url


def docs_url(page: str) -> str:
    """The Data Docs page ``page`` (e.g. ``validations/….html``) as served inside the Airflow UI."""
    return f"{ui_base_url()}{UI_PREFIX}/docs/{page.lstrip('/')}"


def gate_url(dag_id: str, run_id: str, task_id: str) -> str:
    """The gate page of a task instance (verdict, override, links to its validation pages)."""
    from urllib.parse import quote

    return f"{ui_base_url()}{UI_PREFIX}/gates/{quote(dag_id, safe='')}/{quote(run_id, safe='')}/{quote(task_id, safe='')}"


def report_url(uri: str) -> str:
    """A ``s3://{reports bucket}/reports/…`` URI as the Ikou plugin serves it in the Airflow UI
    (any other URI is returned as it is)."""
    from ikou.config import settings

    prefix = f"s3://{settings().reports_bucket}/reports/"
    if uri.startswith(prefix):
        return f"{ui_base_url()}{UI_PREFIX}/reports/{uri[len(prefix) :]}"
    return uri


# --------------------------------------------------------------------------- GX context


@functools.lru_cache(maxsize=1)
def _context(root: str, target_url: str, results_dir: str, docs_dir: str):
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    os.environ["IKOU_GX_TARGET_URL"] = target_url
    os.environ["IKOU_GX_RESULTS_DIR"] = results_dir
    os.environ["IKOU_GX_DOCS_DIR"] = docs_dir
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    from great_expectations.execution_engine import pandas_execution_engine

    import great_expectations as gx
    import ikou.quality.expectations  # noqa: F401 - registers Ikou's expectations before the suites load

    # GX fingerprints every dataframe with a plain md5 of its rows (batch_markers): never wanted
    # (a hash of personal data) and a second pass over a million rows
    pandas_execution_engine.HASH_THRESHOLD = 0
    return gx.get_context(mode="file", project_root_dir=root)


def forget_context() -> None:
    """Drop this process's GX context (the next gate builds a new one, as a new task does)."""
    _context.cache_clear()


def context(
    target_url: str | None = None, results_dir: str | None = None, docs_dir: str | None = None
):
    """The file data context of the committed GX project (one per process and target).

    Validation results and Data Docs are written to local folders of this process (GX Core has
    no S3 stores); :func:`run_gate` publishes the results to the reports bucket.
    """
    if target_url is None:
        target_url = os.environ.get("IKOU_GX_TARGET_URL", "sqlite://")
    if results_dir is None:
        import tempfile

        work = Path(tempfile.gettempdir()) / f"ikou-gx-{os.getpid()}"
        results_dir = str(work / "validations")
        docs_dir = docs_dir or str(work / "docs")
    return _context(
        str(gx_root()), target_url, results_dir, docs_dir or str(Path(results_dir).parent / "docs")
    )


# --------------------------------------------------------------------------- the gate


def _effective_severity(cfg: dict, mode: str) -> str:
    sev = cfg.get("severity") or "critical"
    if mode in (cfg.get("meta") or {}).get("critical_in_modes", []):
        return "critical"
    return str(getattr(sev, "value", sev))


def _describe_expectation(cfg: dict) -> str:
    kw = {k: v for k, v in (cfg.get("kwargs") or {}).items() if k not in ("batch_id",)}
    target = kw.get("column") or ",".join(kw.get("column_list", []) or [])
    return f"{cfg['type']}({target})" if target else cfg["type"]


def _how_many(count, total, pct, observed=None) -> str:
    if count is None or not total:
        return "failed" + (f" (observed {observed})" if observed is not None else "")
    p = f" ({pct:.2f} %)" if isinstance(pct, (int, float)) else ""
    return f"{count:,} of {total:,} records{p}"


def run_gate(
    domain: str,
    gate: str,
    units: list[Unit],
    *,
    run_id: str,
    mode: str = "rehearsal",
    override_reason: str = "",
    who: str = "",
    target_url: str | None = None,
    parameters: dict | None = None,
    city_characters: list[str] | tuple = (),
) -> dict:
    """Validate every unit; return the gate report or raise :class:`GateFailed`.

    ``parameters``: expectation parameters of every unit (e.g. ``snapshot``);
    ``city_characters``: the targets of the city's 外字 table (part of its standard character set).
    """
    from great_expectations.core.run_identifier import RunIdentifier

    from ikou.quality import expectations as ikou_expectations
    from ikou.storage import zone_uri

    ctx = context(target_url)
    started = dt.datetime.now(dt.timezone.utc)
    run_identifier = RunIdentifier(run_name=run_id, run_time=started)
    report: dict = {
        "domain": domain,
        "gate": gate,
        "run_id": run_id,
        "mode": mode,
        "started_at": started.isoformat(timespec="seconds"),
        "units": [],
        "result_format": RESULT_FORMAT,
        "triggered_by": who or None,
        "report": zone_uri("reports", domain, run_id) + f"gates/{gate}.json",
    }
    critical_failures: list[str] = []
    warnings: list[str] = []
    within_threshold: list[str] = []
    validated: list[
        tuple[dict, str, dict, list[dict]]
    ] = []  # (unit report, key, result json, entries)
    try:
        ikou_expectations.register_city_characters(city_characters)
        report["charset"] = ikou_expectations.standard_charset()[0]
        for u in units:
            name = unit_name(domain, u.unit, gate)
            checkpoint = ctx.checkpoints.get(name)
            params = dict(parameters or {})
            params.update(u.parameters)
            if u.expected_rows is not None:
                params["expected_rows"] = int(u.expected_rows)
            for (table, column), ids in u.references.items():
                ikou_expectations.register_reference_set(table, column, ids)
            batch = {"dataframe": u.frame} if u.frame is not None else {}
            with u.scope() if u.scope is not None else nullcontext():
                result = checkpoint.run(
                    batch_parameters=batch, expectation_parameters=params, run_id=run_identifier
                )
            for vr_id, run_result in result.run_results.items():
                key = result_key(vr_id)
                unit_report = {
                    "unit": u.unit,
                    "checkpoint": name,
                    "docs_page": f"validations/{key}.html",
                    "success": bool(run_result.success),
                    "expectations": [],
                }
                if u.scoped is not None:
                    unit_report["scope"] = u.scoped
                entries = []
                for r in run_result.results:
                    cfg = r.expectation_config.to_json_dict()
                    sev = _effective_severity(cfg, mode)
                    res = r.result or {}
                    meta = cfg.get("meta") or {}
                    entry = {
                        "expectation": _describe_expectation(cfg),
                        "rule": meta.get("rule"),
                        "severity": sev,
                        "mostly": (cfg.get("kwargs") or {}).get("mostly"),
                        "success": bool(r.success),
                        "element_count": res.get("element_count"),
                        "unexpected_count": res.get("unexpected_count"),
                        "unexpected_percent": res.get("unexpected_percent"),
                        "notes": meta.get("notes", ""),
                    }
                    obs = res.get("observed_value")
                    if keeps_observed(obs):
                        entry["observed"] = obs
                    if r.exception_info and safe_exception(r.exception_info)["raised_exception"]:
                        if (
                            os.environ.get("IKOU_GX_DEBUG") == "1"
                        ):  # local debugging only: may quote values
                            log.warning("GX exception in %s: %s", name, r.exception_info)
                        entry["success"] = False
                        entry["error"] = (
                            "expectation raised an exception: "
                            + safe_exception(r.exception_info)["exception_message"]
                        )
                    unit_report["expectations"].append(entry)
                    entries.append(entry)
                    how = _how_many(
                        entry["unexpected_count"],
                        entry["element_count"],
                        entry["unexpected_percent"],
                        entry.get("observed"),
                    )
                    if not entry["success"]:
                        line = f"{name}: {entry['expectation']} — {entry.get('error') or how}"
                        (critical_failures if sev == "critical" else warnings).append(line)
                    elif entry["unexpected_count"]:
                        within_threshold.append(
                            f"{name}: {entry['expectation']} — {how}, within its threshold "
                            f"(mostly {entry['mostly']})"
                        )
                report["units"].append(unit_report)
                validated.append((unit_report, key, run_result.to_json_dict(), entries))
    finally:
        ikou_expectations.forget_reference_sets()
        ikou_expectations.forget_city_characters()
    scoped = [u.scoped for u in units if u.scoped is not None]
    report["scope"] = scoped[0].get("kind", "scoped") if scoped else "whole"
    report["critical_failures"] = critical_failures
    report["warnings"] = warnings + within_threshold
    report["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    report["seconds"] = round((dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 3)
    passed = not critical_failures
    report["override"] = None
    if not passed and override_reason.strip():
        if mode in LIVE_MODES:  # a cutover, or the full load ahead of one
            report["override_refused"] = f"{mode} runs cannot override a critical gate"
        else:
            report["override"] = {
                "reason": override_reason.strip(),
                "by": who or "unknown",
                "at": report["finished_at"],
            }
            passed = True
    report["passed"] = passed
    report["verdict"] = "pass" if not critical_failures else ("overridden" if passed else "fail")
    # publish the results now that the verdict is known: the Data Docs page shows it
    for unit_report, key, body, entries in validated:
        body.setdefault("meta", {})["ikou"] = {
            "domain": domain,
            "gate": gate,
            "unit": unit_report["unit"],
            "run_id": run_id,
            "mode": mode,
            "verdict": report["verdict"],
            "override": report["override"],
            "override_refused": report.get("override_refused"),
            "severity": [e["severity"] for e in entries],
            "rules": [e["rule"] for e in entries],
        }
        unit_report["validation_result"] = publish_results(key, body)
        unit_report["docs_url"] = docs_url(unit_report["docs_page"])
    if not passed:
        raise GateFailed(failure_summary(report), report)
    return report


def failure_summary(report: dict) -> str:
    """The readable summary of a failed gate: what failed, how much, where to look (no values)."""
    crit = report["critical_failures"]
    lines = [
        f"{report['gate']} of {report['domain']} failed ({report['mode']} run {report['run_id']}): "
        f"{len(crit)} critical expectation(s) failed"
    ]
    lines += [f"  ✗ {x}" for x in crit]
    if report["warnings"]:
        lines.append(f"  ({len(report['warnings'])} warning(s) besides: see the gate report)")
    if report.get("override_refused"):
        lines.append(f"  override refused: {report['override_refused']}")
    for u in report["units"]:
        if not u["success"]:
            lines.append(
                f"  validation page ({u['unit']}): {u.get('docs_url') or docs_url(u['docs_page'])}"
            )
    lines.append(f"  gate report: {report['report']}")
    if report["mode"] not in LIVE_MODES:
        lines.append(
            "  an engineer may rerun with gate_override_reason to pass this rehearsal gate"
        )
    return "\n".join(lines)


def report_json(report: dict) -> bytes:
    return json.dumps(report, ensure_ascii=False, indent=2, default=str).encode("utf-8")
