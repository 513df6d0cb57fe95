"""名寄せ on a delta run (差分移行): what the base snapshot's migration decided carries over.

The addressee master of a delta run is clustered afresh (:mod:`ikou.cleanse.dedupe`) and the
reviewers' decisions, kept across runs, apply as on any run (:mod:`ikou.cleanse.review`). What
the model alone would decide can differ from what the base migrated, and the target already
holds the base: a merge that picks another survivor, or one that the model no longer makes, is a
delete plus an insert of a migrated addressee. So, when the run has a base snapshot
(:class:`Base`: the base master run's 宛名番号 and its old → new map):

- a merge keeps the base's survivor when its records merged into one survivor in the base (a
  reviewer's explicit ``survivor`` still wins);
- a merge of the base that the model no longer makes is kept (unless a reviewer decided the
  cluster ``distinct``): its old number keeps mapping to the base's survivor;
- an automatic merge that would change a migrated addressee goes to review instead: a new record
  joining a migrated addressee (``delta_new_duplicate_of_migrated``), or migrated addressees
  the base kept apart (``delta_merge_of_migrated``). A person decides; the decision (a ``merge``
  with the pre-filled members) then applies like any other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

NEW_DUPLICATE = "delta_new_duplicate_of_migrated"
MERGE_OF_MIGRATED = "delta_merge_of_migrated"
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
        return self.amap.get(atena_id, atena_id)


def hold_migrated(clusters: pa.Table, base: Base) -> tuple[pa.Table, Counter]:
    """The clusters (with ``final`` / ``decided_by`` of :func:`ikou.cleanse.review.apply_decisions`)
    after sending to review every automatic merge that would change a migrated addressee; the
    reason goes to ``decided_by``. Returns the table and the count of records per reason."""
    t = clusters.to_pydict()
    members: dict[str, list[str]] = {}
    for a, c, f, b in zip(t["atena_id"], t["cluster_id"], t["final"], t["decided_by"]):
        if f == "auto_merge" and b == "model":
            members.setdefault(c, []).append(a)
    reason: dict[str, str] = {}
    for c, ids in members.items():
        old = [a for a in ids if base.migrated(a)]
        if not old:
            continue  # new records only: nothing migrated changes
        if len(old) < len(ids):
            reason[c] = NEW_DUPLICATE
        elif len({base.survivor_of(a) for a in ids}) > 1:
            reason[c] = MERGE_OF_MIGRATED
    counts: Counter = Counter()
    final, by = list(t["final"]), list(t["decided_by"])
    for i, c in enumerate(t["cluster_id"]):
        if c in reason and final[i] == "auto_merge" and by[i] == "model":
            final[i], by[i] = "review", reason[c]
            counts[reason[c]] += 1
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
    and its merges carry over (see the module docstring)."""
    t = clusters.to_pydict()
    groups: dict[str, list[str]] = {}
    distinct: set[str] = set()
    for a, cid, f, b in zip(t["atena_id"], t["cluster_id"], t["final"], t["decided_by"]):
        if f in MERGING:
            groups.setdefault(cid, []).append(a)
        elif f == "distinct" and b == "reviewer":
            distinct.add(a)
    amap: dict[str, str] = {}
    for cid, ids in groups.items():
        chosen = survivors.get(cid) or ""
        if not chosen and base is not None:
            kept = {base.survivor_of(x) for x in ids if base.migrated(x)}
            if len(kept) == 1 and next(iter(kept)) in ids:
                chosen = next(iter(kept))
        chosen = chosen or survivor([rows[x] for x in ids])
        for x in ids:
            if x != chosen:
                amap[x] = chosen
    if base is not None:
        present, kept_now = set(t["atena_id"]), set(amap.values())
        for old, new in sorted(base.amap.items()):
            if old in present and new in present and old not in distinct:
                if old not in amap and old not in kept_now:
                    amap[old] = amap.get(new, new)
    return amap


__all__ = ["Base", "hold_migrated", "merge_map", "NEW_DUPLICATE", "MERGE_OF_MIGRATED"]
