"""What every stage shares: its error, report writing, the snapshot a run reads."""

from __future__ import annotations

import json

from ikou.errors import EXIT_REFUSED, IkouError
from ikou.pipeline import RunContext, UnitAccounting
from ikou.storage import NotPublished, Store, join, zone_uri
from ikou.storage.publication import latest_snapshot


class StageError(IkouError):
    """A stage cannot run (missing or inconsistent input …); the message says what to do."""

    exit_code = EXIT_REFUSED


def dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def write_report(domain: str, run_id: str, name: str, obj: dict, store: Store) -> str:
    """A JSON document in the reports zone (no personal data: counts, hashes, verdicts)."""
    uri = join(zone_uri("reports", domain, run_id), name)
    store.put_bytes(uri, dumps(obj), content_type="application/json")
    return uri


def snapshot_of(ctx: RunContext, store: Store) -> str:
    """The run's snapshot: the one it names, or the latest published in the landing zone."""
    if ctx.snapshot:
        return ctx.snapshot
    try:
        return latest_snapshot(store, ctx.domain)
    except NotPublished as exc:
        raise StageError(exc.message) from None


def balanced(a: dict) -> bool:
    """in = out + quarantined + merged (+ header and trailer records)."""
    return a["records_in"] == (
        a["records_out"]
        + a.get("quarantined", 0)
        + a.get("merged", 0)
        + a.get("header", 0)
        + a.get("trailer", 0)
    )


def passed_on(unit: str, records_in: int, records_out: int) -> UnitAccounting:
    """The accounting of a unit a stage passes on whole (nothing quarantined or merged)."""
    acc = {
        "unit": unit,
        "records_in": records_in,
        "records_out": records_out,
        "quarantined": 0,
        "merged": 0,
    }
    return UnitAccounting(**acc, balanced=balanced(acc))


class StageNotApplicable(StageError):
    """The stage does not apply to this domain (e.g. a preparation-phase domain loads nothing):
    the Airflow layer marks the task skipped; the rehearsal gets ``None`` for it."""
