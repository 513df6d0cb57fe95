"""The link stage (データ連携): the changes of a live domain over a period, written in the format the
mainframe programs still read (:mod:`ikou.load.linkage`). ``ikou link`` and the ``link_<domain>``
DAGs call :func:`link`; the DAG task calls :func:`run` with its RunContext.

Order of the checks: the arguments (exit 2: unknown domain, a domain without linkage, malformed
dates, from after to, an output that cannot be written), then the cutover state (exit 1 while the
domain is not live), then the source: a vendor's delta set (``from_delta``) or the live tables
between two load-log entries. The city's 外字 table: ``gaiji`` if given, else the one delivered
with the snapshot that went live (``landing/_reference/{snapshot}/gaiji.csv``), else none (every
character the code page lacks is then held back).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ikou.errors import BadArgument
from ikou.load.control import Control
from ikou.load.linkage import check_arguments, require_live, write_linkage
from ikou.load.linkage_source import changes_from_delta_set, changes_from_live
from ikou.moji.gaiji import GaijiTable, GaijiTableError
from ikou.pipeline import RunContext
from ikou.stages.common import write_report
from ikou.stages.extract import reference_gaiji
from ikou.storage import Store, zone_uri


def default_out(domain_id: str, date_to: str) -> str:
    """Where the DAG writes a period's linkage set: the hand-off zone (restricted)."""
    return zone_uri("handoff", domain_id, f"link-{date_to}")


def _gaiji(path: str | None, snapshot: str, store: Store, work: Path) -> GaijiTable | None:
    try:
        if path:
            return GaijiTable.load(Path(path))
        found = reference_gaiji(snapshot, work, store)
        return GaijiTable.load(found) if found else None
    except GaijiTableError as exc:
        raise BadArgument(f"--gaiji: {exc}") from None


def link(
    domain_id: str,
    date_from: str,
    date_to: str,
    out: str | None = None,
    *,
    from_delta: str | None = None,
    gaiji: str | None = None,
    store: Store | None = None,
    control: Control | None = None,
) -> dict:
    """Write the linkage set of ``domain_id`` for [date_from, date_to]; returns its manifest
    (counts, sha256, the worklist's size -- no values)."""
    out = out or default_out(domain_id, str(date_to))
    _, start, end = check_arguments(domain_id, date_from, date_to, out)
    if from_delta is not None and not Path(from_delta).is_dir():
        raise BadArgument(f"--from-delta {from_delta}: not a folder holding a delta set")
    control = control or Control()
    require_live(domain_id, control)
    store = store or Store()
    live = control.live()[domain_id]
    with tempfile.TemporaryDirectory(prefix="ikou-link-") as tmp:
        table = _gaiji(gaiji, live.snapshot, store, Path(tmp))
    if from_delta is not None:
        changes, source = changes_from_delta_set(domain_id, Path(from_delta))
    else:
        changes, source = changes_from_live(domain_id, start, end, control=control, store=store)
    return write_linkage(
        domain_id, changes, start, end, out, source=source, gaiji=table, store=store
    )


def run(ctx: RunContext, date_from: str, date_to: str, from_delta: str | None = None) -> dict:
    """The ``link_<domain>`` task: the linkage set of the period into the hand-off zone, and a
    report (counts only) in the reports zone."""
    store = Store()
    manifest = link(ctx.domain, date_from, date_to, from_delta=from_delta or None, store=store)
    report = {k: manifest[k] for k in ("domain", "dataset", "from", "to", "file", "records",
                                       "ops", "held", "tables", "sha256", "manifest_uri")}  # fmt: skip
    write_report(ctx.domain, ctx.run_id, "link.json", report, store)
    return report
