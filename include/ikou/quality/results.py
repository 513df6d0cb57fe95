"""Validation results on their way out of a gate: :func:`scrub` removes every key of a GX result
that could hold a value from the data (unexpected values, samples, exception messages, batch
data), keeping counts, type names and the shares of a suite's own code lists;
:func:`publish_results` writes the scrubbed result to ``s3://{reports}/gx/validations/`` (read
back by :mod:`ikou.quality.docs`)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

RESULTS_PREFIX = "gx/validations/"


# --------------------------------------------------------------------------- scrubbing

#: Keys of a validation result that can hold values from the data. BASIC with
#: partial_unexpected_count 0 leaves them empty; they are removed before publication all the same.
_VALUE_KEYS = (
    "partial_unexpected_list",
    "partial_unexpected_index_list",
    "partial_unexpected_counts",
    "unexpected_list",
    "unexpected_index_list",
    "unexpected_rows",
    "unexpected_index_query",
    "details",
)
#: Observed values kept: only numbers, booleans and type names (never a value of a text column).
_TYPE_NAME = re.compile(r"^[A-Za-z0-9_\[\]\(\), ]{0,80}$")


def keeps_observed(obs) -> bool:
    """An observed value that may leave the gate: a number, a boolean or a type name."""
    return isinstance(obs, (bool, int, float)) or bool(
        isinstance(obs, str) and _TYPE_NAME.match(obs)
    )


def safe_exception(info: dict | None) -> dict:
    """An exception record without its message (which may quote a value): the exception type only."""
    if not info:
        return {"raised_exception": False, "exception_message": None, "exception_traceback": None}
    if "raised_exception" not in info and all(isinstance(v, dict) for v in info.values()):
        # GX keys exceptions of metrics by their metric id: keep the ids' metric names only
        types = sorted({exception_type(v) for v in info.values()})
        return {
            "raised_exception": True,
            "exception_message": "; ".join(types) + " (message removed)",
            "exception_traceback": None,
        }
    if not info.get("raised_exception"):
        return {"raised_exception": False, "exception_message": None, "exception_traceback": None}
    return {
        "raised_exception": True,
        "exception_message": exception_type(info) + " (message removed)",
        "exception_traceback": None,
    }


def exception_type(info: dict) -> str:
    """The exception's class name from a GX traceback (e.g. ``MetricResolutionError``) — never the
    message, which may quote a value."""
    tb = (info or {}).get("exception_traceback") or ""
    found = re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)):", tb, flags=re.M)
    return found[-1].rsplit(".", 1)[-1] if found else "exception"


#: Expectations whose ``details`` are shares of the values of a partition the suite itself lists
#: (a code list): kept when every value in them is one of those (the validation page draws them).
_PARTITION_DETAILS = frozenset({"expect_column_kl_divergence_to_be_less_than"})


def _code_shares(r: dict, res: dict) -> dict | None:
    """The details of a partition expectation if they name only the suite's own codes."""
    cfg = r.get("expectation_config") or {}
    details = res.get("details")
    if cfg.get("type") not in _PARTITION_DETAILS or not isinstance(details, dict):
        return None
    listed = (cfg.get("kwargs") or {}).get("partition_object") or {}
    allowed = {str(v) for v in listed.get("values") or ()}
    kept = {}
    for k in ("observed_partition", "expected_partition"):
        part = details.get(k)
        if not isinstance(part, dict) or set(part) - {"values", "weights"}:
            return None
        values = part.get("values") or []
        if not allowed or any(str(v) not in allowed for v in values):
            return None  # a value outside the code list could be anything
        weights = part.get("weights") or []
        if not all(isinstance(w, (int, float)) for w in weights):
            return None
        kept[k] = {"values": [str(v) for v in values], "weights": [float(w) for w in weights]}
    return kept


def scrub(result_json: dict) -> dict:
    """A validation result without any place that could carry a value from the data (a partition
    expectation keeps the shares of the suite's own code list: the page draws them)."""
    for r in result_json.get("results", []):
        res = r.get("result") or {}
        shares = _code_shares(r, res)
        for k in _VALUE_KEYS:
            res.pop(k, None)
        if shares:
            res["details"] = shares
        obs = res.get("observed_value")
        if obs is not None and not keeps_observed(obs):
            res["observed_value"] = "(removed)"
        r["result"] = res
        r["exception_info"] = safe_exception(r.get("exception_info"))
    meta = result_json.get("meta") or {}
    for k in ("batch_parameters", "active_batch_definition"):
        if (
            k in meta
            and isinstance(meta[k], dict)
            and "dataframe" in json.dumps(meta[k], default=str)
        ):
            meta[k] = {"dataframe": "<stage output>"}
    markers = meta.get("batch_markers")
    if isinstance(markers, dict):
        markers.pop("pandas_data_fingerprint", None)  # a plain md5 of the rows
    spec = meta.get("batch_spec")
    if isinstance(spec, dict):
        for k in list(spec):
            if k not in ("type", "data_asset_name", "table_name", "schema_name", "batch_data"):
                spec.pop(k)
        if "batch_data" in spec:
            spec["batch_data"] = str(spec["batch_data"])[:40]
    return result_json


def result_key(vr_identifier) -> str:
    parts = vr_identifier.to_tuple()
    return "/".join(str(p) for p in parts)


def publish_results(vr_key: str, body: dict, reports_bucket: str | None = None) -> str:
    """Publish one (scrubbed) validation result to the reports bucket; drop the local copy."""
    from ikou.config import settings
    from ikou.storage import Store

    uri = f"s3://{reports_bucket or settings().reports_bucket}/{RESULTS_PREFIX}{vr_key}.json"
    Store().put_bytes(
        uri,
        json.dumps(scrub(body), ensure_ascii=False, default=str).encode("utf-8"),
        content_type="application/json",
    )
    local = Path(os.environ.get("IKOU_GX_RESULTS_DIR", "/nonexistent")) / (vr_key + ".json")
    if local.exists():
        local.unlink()
    return uri
