"""The gate: run a stage's GX checkpoints and decide whether the run may go on.

Built once and used by all five gates of every domain. For each validation unit of the gate
(a legacy file, a standard table, the accounting of the stage …) it runs the committed
checkpoint ``{domain}.{unit}.{gate}`` from the GX project with the stage's output as the batch
and the previous stage's accounting as expectation parameters (``expected_rows``).

Severity: every expectation is ``critical`` or ``warning`` (GX 1.x's own field); an expectation
whose meta lists ``critical_in_modes`` is critical in those modes (e.g. unmapped 外字 in cutover)
and a warning otherwise. A failed critical expectation fails the gate — with a readable summary
(which expectations, how many records, where the validation result is) — unless an engineer
gave ``gate_override_reason`` in a rehearsal; cutover runs cannot override a critical failure.
Warnings pass and are reported. The gate report (JSON, no personal data) is written to the
reports zone whatever the outcome.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ikou.quality.suites import RESULT_FORMAT, unit_name


class GateFailed(RuntimeError):
    """A critical expectation failed; ``str(exc)`` is the readable summary, ``.report`` the details."""

    def __init__(self, summary: str, report: dict):
        super().__init__(summary)
        self.report = report


@dataclass
class Unit:
    """One validation unit: ``frame`` for stage outputs (None for a target table in the database)."""

    unit: str
    frame: object | None = None
    expected_rows: int | None = None
    parameters: dict = field(default_factory=dict)


def gx_root() -> Path:
    root = os.environ.get("IKOU_GX_ROOT")
    if root:
        return Path(root)
    return Path(__file__).resolve().parents[3] / "great_expectations"


def gx_target_url(url: str, schema: str | None) -> str:
    """The target URL for GX's SQL datasource, with the live schema on PostgreSQL's search path."""
    if schema and url.startswith(("postgresql", "postgres")):
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}options=-csearch_path%3D{schema}"
    return url


@functools.lru_cache(maxsize=1)
def _context(root: str, target_url: str, results_dir: str, docs_dir: str):
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    os.environ["IKOU_GX_TARGET_URL"] = target_url
    os.environ["IKOU_GX_RESULTS_DIR"] = results_dir
    os.environ["IKOU_GX_DOCS_DIR"] = docs_dir
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx.get_context(mode="file", project_root_dir=root)


def context(target_url: str | None = None, results_dir: str | None = None, docs_dir: str | None = None):
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
    return _context(str(gx_root()), target_url, results_dir, docs_dir or str(Path(results_dir).parent / "docs"))


#: Keys of a validation result that can hold values from the data. SUMMARY with
#: partial_unexpected_count 0 leaves them empty; they are removed before publication all the same.
_VALUE_KEYS = ("partial_unexpected_list", "partial_unexpected_index_list", "partial_unexpected_counts",
               "unexpected_list", "unexpected_index_list", "unexpected_rows", "unexpected_index_query",
               "details")


def scrub(result_json: dict) -> dict:
    """A validation result without any place that could carry a value from the data."""
    for r in result_json.get("results", []):
        res = r.get("result") or {}
        for k in _VALUE_KEYS:
            res.pop(k, None)
        r["result"] = res
    meta = result_json.get("meta") or {}
    for k in ("batch_parameters", "active_batch_definition"):
        if k in meta and isinstance(meta[k], dict) and "dataframe" in json.dumps(meta[k]):
            meta[k] = {"dataframe": "<stage output>"}
    return result_json


def publish_results(ctx, vr_id, run_result, reports_bucket: str | None = None) -> str:
    """Move one validation result from this process's local store to the reports bucket."""
    from ikou.config import settings
    from ikou.storage import Store

    key = "gx/validations/" + _result_key(vr_id) + ".json"
    uri = f"s3://{reports_bucket or settings().reports_bucket}/{key}"
    body = scrub(run_result.to_json_dict())
    Store().put_bytes(uri, json.dumps(body, ensure_ascii=False, default=str).encode("utf-8"),
                      content_type="application/json")
    local = Path(os.environ["IKOU_GX_RESULTS_DIR"]) / (_result_key(vr_id) + ".json")
    if local.exists():
        local.unlink()
    return uri


def _effective_severity(cfg: dict, mode: str) -> str:
    sev = cfg.get("severity") or "critical"
    if mode in (cfg.get("meta") or {}).get("critical_in_modes", []):
        return "critical"
    return str(getattr(sev, "value", sev))


def _describe_expectation(cfg: dict) -> str:
    kw = {k: v for k, v in (cfg.get("kwargs") or {}).items() if k not in ("batch_id",)}
    target = kw.get("column") or ",".join(kw.get("column_list", []) or [])
    return f"{cfg['type']}({target})" if target else cfg["type"]


def _result_key(vr_identifier) -> str:
    parts = vr_identifier.to_tuple()
    return "/".join(str(p) for p in parts)


def run_gate(domain: str, gate: str, units: list[Unit], *, run_id: str, mode: str = "rehearsal",
             override_reason: str = "", who: str = "", target_url: str | None = None) -> dict:
    """Validate every unit; return the gate report or raise :class:`GateFailed`."""
    from great_expectations.core.run_identifier import RunIdentifier

    ctx = context(target_url)
    started = dt.datetime.now(dt.timezone.utc)
    run_identifier = RunIdentifier(run_name=run_id, run_time=started)
    report: dict = {"domain": domain, "gate": gate, "run_id": run_id, "mode": mode,
                    "started_at": started.isoformat(timespec="seconds"), "units": [],
                    "result_format": RESULT_FORMAT}
    critical_failures: list[str] = []
    warnings: list[str] = []
    for u in units:
        name = unit_name(domain, u.unit, gate)
        checkpoint = ctx.checkpoints.get(name)
        params = dict(u.parameters)
        if u.expected_rows is not None:
            params["expected_rows"] = int(u.expected_rows)
        batch = {"dataframe": u.frame} if u.frame is not None else {}
        result = checkpoint.run(batch_parameters=batch, expectation_parameters=params, run_id=run_identifier)
        for vr_id, run_result in result.run_results.items():
            unit_report = {"unit": u.unit, "checkpoint": name,
                           "validation_result": publish_results(ctx, vr_id, run_result),
                           "docs_page": "validations/" + _result_key(vr_id) + ".html",
                           "success": bool(run_result.success), "expectations": []}
            for r in run_result.results:
                cfg = r.expectation_config.to_json_dict()
                sev = _effective_severity(cfg, mode)
                res = r.result or {}
                entry = {
                    "expectation": _describe_expectation(cfg),
                    "severity": sev,
                    "success": bool(r.success),
                    "element_count": res.get("element_count"),
                    "unexpected_count": res.get("unexpected_count"),
                    "unexpected_percent": res.get("unexpected_percent"),
                    "notes": (cfg.get("meta") or {}).get("notes", ""),
                }
                if r.exception_info and r.exception_info.get("raised_exception"):
                    entry["success"] = False
                    entry["error"] = "expectation raised an exception (see the validation result)"
                unit_report["expectations"].append(entry)
                if not entry["success"]:
                    count = entry["unexpected_count"]
                    total = entry["element_count"]
                    how_many = f"{count:,} of {total:,} records" if count is not None and total else "failed"
                    line = f"{name}: {entry['expectation']} — {how_many}"
                    (critical_failures if sev == "critical" else warnings).append(line)
            report["units"].append(unit_report)
    report["critical_failures"] = critical_failures
    report["warnings"] = warnings
    report["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    passed = not critical_failures
    report["override"] = None
    if not passed and override_reason.strip():
        if mode == "cutover":
            report["override_refused"] = "cutover runs cannot override a critical gate"
        else:
            report["override"] = {"reason": override_reason.strip(), "by": who or "unknown",
                                  "at": report["finished_at"]}
            passed = True
    report["passed"] = passed
    report["verdict"] = "pass" if not critical_failures else ("overridden" if passed else "fail")
    if not passed:
        lines = [f"{gate} of {domain} failed: {len(critical_failures)} critical expectation(s) failed"]
        lines += [f"  ✗ {x}" for x in critical_failures]
        if warnings:
            lines.append(f"  ({len(warnings)} warning(s) besides)")
        if report.get("override_refused"):
            lines.append(f"  override refused: {report['override_refused']}")
        pages = sorted({u["validation_result"] for u in report["units"] if not u["success"]})
        lines += [f"  validation result: {p}" for p in pages]
        if mode != "cutover":
            lines.append("  an engineer may rerun with gate_override_reason to pass this rehearsal gate")
        raise GateFailed("\n".join(lines), report)
    return report


def report_json(report: dict) -> bytes:
    return json.dumps(report, ensure_ascii=False, indent=2, default=str).encode("utf-8")
