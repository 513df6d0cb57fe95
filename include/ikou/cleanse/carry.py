"""名寄せ on a delta run (差分移行): what the base snapshot's migration decided carries over.

The addressee master of a delta run is clustered afresh (:mod:`ikou.cleanse.dedupe`) and the
reviewers' decisions, kept across runs, apply as on any run (:mod:`ikou.cleanse.review`). What
the model alone would decide can differ from what the base migrated, and the target already
holds the base: a merge that picks another survivor, or one that the model no longer makes, is a
delete plus an insert of a migrated addressee. So, when the run has a base snapshot
(:class:`Base`: the base master run's 宛名番号 and its old → new map):

- a merge keeps the base's survivor when its records merged into one survivor in the base (a
  reviewer's explicit ``survivor`` still wins);
- a merge of the base that the model no longer makes is kept (unless a reviewer decided a
  cluster holding both records ``distinct``; a ``distinct`` about other records does not undo
  it): its old number keeps mapping to the base's survivor;
- an automatic merge that would change a migrated addressee goes to review instead: a new record
  joining a migrated addressee (``delta_new_duplicate_of_migrated``), or migrated addressees
  the base kept apart (``delta_merge_of_migrated``). A person decides; the decision (a ``merge``
  with the pre-filled members) then applies like any other.

**The base's survivor is gone** (``delta_survivor_gone``): the new snapshot deleted the
survivor (the person died or moved out) but still holds a record the base had merged into it.
That record was never published (the target holds the survivor only), so it must not come back
as a new addressee: it keeps mapping to the base's survivor — it leaves the master as
``merged``, and the delta deletes the survivor as the snapshot says — and it goes to the review
queue with that reason, so a reviewer can have the mainframe retire the duplicate too. While it
is queued it stays merged (unlike a model's ``review``, which publishes nothing merged). A
record the model left alone becomes a cluster of its own (:func:`open_survivor_gone`) so that a
decision can apply to it: ``distinct`` publishes it as its own addressee (the mainframe kept it
as the person, e.g. it renumbered), ``merge`` confirms the carry-over and takes it off the queue.
A reviewer's ``merge`` of records whose one base survivor is gone maps them all to that survivor
(unless the decision names a ``survivor``); an automatic merge involving such a record goes to
review. References other tables hold to such a record are rewritten to the gone survivor like
every merged reference, and validate reports them as ``orphan_reference`` (critical:
gate_standard stops) — an explicit stop, never a silently resurrected person.

The other ways a base merge meets a changed snapshot: both records gone — nothing to carry (the
delta deletes the survivor; the merged-away number was never published); a reviewer's decision
naming a survivor that is gone — :func:`ikou.cleanse.review.apply_decisions` finds it
``invalid`` (``stale`` or ``changed`` by its cluster or members) and the records come back as
above; a base map with a chain ``old → mid → new`` (not closed) — :meth:`Base.survivor_of`
follows it to its end, so a vanished ``mid`` does not matter while ``new`` is there.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

NEW_DUPLICATE = "delta_new_duplicate_of_migrated"
MERGE_OF_MIGRATED = "delta_merge_of_migrated"
SURVIVOR_GONE = "delta_survivor_gone"
REASONS = (NEW_DUPLICATE, MERGE_OF_MIGRATED, SURVIVOR_GONE)
#: What each reason means (日本語 / English): the cleansing report and the review page show it.
REASON_LABELS = {
    NEW_DUPLICATE: "移行済み宛名の新たな重複 / a new record joins a migrated addressee",
    MERGE_OF_MIGRATED: "移行済み宛名どうしの統合 / migrated addressees the base kept apart",
    SURVIVOR_GONE: "統合先が削除済み: 統合のまま、ホストでも重複の消除を / the base's survivor is "
    "gone: kept merged, the mainframe should retire the duplicate (distinct: publish it as its "
    "own addressee)",
}
MERGING = ("auto_merge", "merge")


@dataclass
class Base:
    """The base snapshot's migration of the addressee master: every 宛名番号 it held (survivors
    and merged-away ones) and its old → new map."""

    atena_ids: set[str] = field(default_factory=set)
    amap: dict[str, str] = field(default_factory=dict)

    def migrated(self, atena_id: str) -> bool:
        return atena_id in self.atena_ids or atena_id in self.amap

    def survivor_of(self, atena_id: str) -> str:
        """The base's survivor of a 宛名番号: the end of its chain in the map (a map written by
        one run is closed, one of an older run may not be; a cycle stops where it closes)."""
        seen, cur = {atena_id}, atena_id
        while cur in self.amap and self.amap[cur] not in seen:
            cur = self.amap[cur]
            seen.add(cur)
        return cur

    def survivor_gone(self, atena_id: str, present: set[str]) -> bool:
        """A record the base merged away whose base survivor is not in this snapshot."""
        return atena_id in self.amap and self.survivor_of(atena_id) not in present


def open_survivor_gone(clusters: pa.Table, base: Base) -> pa.Table:
    """The model's clusters (``atena_id``, ``cluster_id``, ``decision``) with every record whose
    base survivor is gone and that the model left alone (``distinct``) made a cluster of its own
    to ``review`` (its cluster id is its 宛名番号), so that a reviewer's decision applies to it.
    Apply before :func:`ikou.cleanse.review.apply_decisions`."""
    t = clusters.to_pydict()
    present = set(t["atena_id"])
    decision = [
        "review" if d == "distinct" and base.survivor_gone(a, present) else d
        for a, d in zip(t["atena_id"], t["decision"])
    ]
    if decision == t["decision"]:
        return clusters
    cid = [
        a if d != o else c
        for a, c, d, o in zip(t["atena_id"], t["cluster_id"], decision, t["decision"])
    ]
    out = clusters.set_column(
        clusters.column_names.index("decision"), "decision", pa.array(decision, pa.string())
    )
    return out.set_column(out.column_names.index("cluster_id"), "cluster_id", pa.array(cid))


def hold_migrated(clusters: pa.Table, base: Base) -> tuple[pa.Table, Counter]:
    """The clusters (with ``final`` / ``decided_by`` of :func:`ikou.cleanse.review.apply_decisions`)
    after sending to review every automatic merge that would change a migrated addressee, and
    marking every queued record whose base survivor is gone; the reason goes to ``decided_by``.
    Returns the table and the count of records per reason."""
    t = clusters.to_pydict()
    present = set(t["atena_id"])
    members: dict[str, list[str]] = {}
    for a, c, f, b in zip(t["atena_id"], t["cluster_id"], t["final"], t["decided_by"]):
        if f == "auto_merge" and b == "model":
            members.setdefault(c, []).append(a)
    reason: dict[str, str] = {}
    for c, ids in members.items():
        old = [a for a in ids if base.migrated(a)]
        if not old:
            continue  # new records only: nothing migrated changes
        if any(base.survivor_gone(a, present) for a in old):
            reason[c] = SURVIVOR_GONE  # would publish a record the base merged away
        elif len(old) < len(ids):
            reason[c] = NEW_DUPLICATE
        elif len({base.survivor_of(a) for a in ids}) > 1:
            reason[c] = MERGE_OF_MIGRATED
    counts: Counter = Counter()
    final, by = list(t["final"]), list(t["decided_by"])
    for i, (a, c) in enumerate(zip(t["atena_id"], t["cluster_id"])):
        if final[i] == "auto_merge" and by[i] == "model" and c in reason:
            final[i], by[i] = "review", reason[c]
        elif final[i] == "review" and by[i] == "model" and base.survivor_gone(a, present):
            by[i] = SURVIVOR_GONE  # queued (by the model, or opened by open_survivor_gone)
        else:
            continue
        counts[by[i]] += 1
    out = clusters.set_column(
        clusters.column_names.index("final"), "final", pa.array(final, pa.string())
    )
    out = out.set_column(
        out.column_names.index("decided_by"), "decided_by", pa.array(by, pa.string())
    )
    return out, counts


def merge_map(
    clusters: pa.Table,
    rows: dict[str, dict],
    survivors: dict[str, str],
    survivor,
    base: Base | None = None,
) -> dict[str, str]:
    """The old → new 宛名番号 map of the clusters decided ``auto_merge`` or ``merge``.

    ``rows``: the merging records by 宛名番号 (for ``survivor``, :func:`ikou.cleanse.merge.survivor`);
    ``survivors``: a reviewer's chosen survivor by cluster. With a ``base``: the base's survivor
    and its merges carry over, also to a survivor that is gone (see the module docstring)."""
    t = clusters.to_pydict()
    present = set(t["atena_id"])
    groups: dict[str, list[str]] = {}
    distinct: dict[str, str] = {}  # 宛名番号 -> the cluster a reviewer decided distinct
    for a, cid, f, b in zip(t["atena_id"], t["cluster_id"], t["final"], t["decided_by"]):
        if f in MERGING:
            groups.setdefault(cid, []).append(a)
        elif f == "distinct" and b == "reviewer":
            distinct[a] = cid
    amap: dict[str, str] = {}
    for cid, ids in groups.items():
        chosen = survivors.get(cid) or ""
        if not chosen and base is not None:
            kept = {base.survivor_of(x) for x in ids if base.migrated(x)}
            if len(kept) == 1:
                only = next(iter(kept))
                # the base's survivor: one of the records, or gone from the snapshot
                chosen = only if only in ids or only not in present else ""
        chosen = chosen or survivor([rows[x] for x in ids])
        for x in ids:
            if x != chosen:
                amap[x] = chosen
    if base is not None:
        grouped = {a for ids in groups.values() for a in ids}  # this run decided those
        for old in sorted(base.amap):
            new = base.survivor_of(old)
            # a reviewer split it from the base's survivor: a distinct cluster holding both, or
            # (the survivor gone) any distinct cluster of it
            split = old in distinct and (new not in present or distinct.get(new) == distinct[old])
            if old in present and not split and old not in grouped and new != old:
                amap[old] = amap.get(new, new)  # ``new`` may be gone: see the docstring
    return amap


def survivor_gone(amap: dict[str, str], present: set[str]) -> list[str]:
    """The merged-away 宛名番号 of the map whose survivor is not in the snapshot (only a delta
    run's carry-over maps to such a survivor), sorted."""
    return sorted(a for a, s in amap.items() if s not in present)


__all__ = [
    "Base",
    "open_survivor_gone",
    "hold_migrated",
    "merge_map",
    "survivor_gone",
    "NEW_DUPLICATE",
    "MERGE_OF_MIGRATED",
    "SURVIVOR_GONE",
    "REASONS",
    "REASON_LABELS",
]
