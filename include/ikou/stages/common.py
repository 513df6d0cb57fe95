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


def positive_setting(name: str, default: int, what: str) -> int:
    """A positive integer from the environment variable ``name`` (``default`` when unset or
    empty); anything else is a StageError naming the variable (``what``: its unit)."""
    import os

    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StageError(f"{name} must be a positive integer of {what}, not {raw[:40]!r}") from None
    if value <= 0:
        raise StageError(f"{name} must be positive, not {value}")
    return value


def check_stored_sha256(store: Store, uri: str, etag: str, want: str | None, source: str) -> None:
    """The stored object's sha256 (of the version ``etag``, streamed) is ``want``, as ``source``
    (its manifest) lists it; nothing to check when the manifest gives none."""
    if want and store.sha256(uri, if_match=etag) != want:
        raise StageError(f"{uri}: sha256 differs from {source}")


def legacy_file(d, name: str):
    """The domain's legacy file of that name (what a mapped part names)."""
    lf = next((x for x in d.legacy_files if x.name == name), None)
    if lf is None:
        raise StageError(f"{d.id} has no legacy file {name!r}")
    return lf


def logged_plan(log, task: str, domain: str, parts: list) -> list:
    """The parts a ``*_plan`` task planned (logged as counts)."""
    log.info(
        "%s %s: %d part(s) of %d large file(s)",
        task,
        domain,
        len(parts),
        len({p.file for p in parts}),
    )
    return parts


def tiled(name: str, task: str, planned: list, results: list, size: int, unit: str) -> list:
    """The results of a file's mapped parts (``task``), by index, checked against the plan:
    every planned part there (a missing one named: the file is not merged from some of its
    parts) and the ranges [start, end) tiling the file's ``size`` (in ``unit``)."""
    results = sorted(results, key=lambda r: r.index)
    want = sorted((p.index, p.start, p.end) for p in planned)
    got = [(r.index, r.start, r.end) for r in results]
    if got != want:
        missing = sorted({w[0] for w in want} - {g[0] for g in got})
        raise StageError(
            f"{name}: {task} returned parts {[g[0] for g in got]}, the plan has "
            f"{[w[0] for w in want]} (missing {missing}): run the {task} again"
        )
    pos = 0
    for _, start, end in want:
        if start != pos:
            raise StageError(f"{name}: parts do not tile the file (gap or overlap at {unit} {pos})")
        pos = end
    if pos != size:
        raise StageError(f"{name}: parts end at {unit} {pos} of {size}")
    return results


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
