"""Merging duplicate addressees (名寄せ): the old → new 宛名番号 map and where it is applied.

The addressee master's cleanse stage clusters its records (:mod:`ikou.cleanse.dedupe`), applies
the reviewers' decisions (:mod:`ikou.cleanse.review`) and merges every cluster decided
``auto_merge`` or ``merge``: one record survives (:func:`survivor`), the others leave the master
(counted as ``merged``: records in = out + quarantined + merged) and their numbers map to the
survivor's. The map goes into the hand-off manifest and is applied to every field that refers to
an addressee (roles ``atena_ref``, ``guardian_ref``, ``householder_ref``) in every domain's
cleanse stage, each rewrite a ledger row. When a rewritten reference is the business key of its
file and the survivor's record is already there, the rewritten record is the same person's
second record: it is merged too (left out and counted), never a duplicate key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from ikou.cleanse.stage import DATE_SUFFIX
from ikou.domains.schema import ADDRESSEE_REFERENCE_ROLES
from ikou.hashing import keyed_hashes

ATENA_WIDTH = 10


def atena_text(v) -> str | None:
    """A 宛名番号 as the hand-off writes it (zero-padded digits)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v.strip().zfill(ATENA_WIDTH) if v.strip().isdigit() else v
    return f"{int(v):0{ATENA_WIDTH}d}"


def _role_field(lf, *roles: str) -> str | None:
    names = lf.fields_with_role(*roles)
    return names[0] if names else None


#: dedupe_input's columns: (roles of the field, suffix of its cleansed column)
DEDUPE_SOURCES = {
    "name": (("name",), ""),
    "name_kana": (("name_kana",), ""),
    "birth_date": (("birth_wareki", "birth_wareki_partial"), DATE_SUFFIX),
    "sex": (("sex",), ""),
    "address": (("address",), ""),
    "kind": (("addressee_kind",), ""),
    "registered": (("registered_date",), DATE_SUFFIX),
    "updated": (("updated_date",), DATE_SUFFIX),
}


def dedupe_columns(table: pa.Table, lf) -> list[str]:
    """The columns of a cleansed addressee master :func:`dedupe_input` reads (the stage keeps
    only these in memory during 名寄せ)."""
    names = [_role_field(lf, "atena_no")]
    names += [
        f + suffix
        for roles, suffix in DEDUPE_SOURCES.values()
        if (f := _role_field(lf, *roles)) is not None
    ]
    return [c for c in dict.fromkeys(names) if c in table.column_names]


def dedupe_input(table: pa.Table, lf) -> pa.Table:
    """The ``ikou dedupe`` input of a cleansed addressee master, plus ``kind``, ``registered`` and
    ``updated`` for choosing survivors."""

    def col(roles: tuple[str, ...], suffix: str):
        f = _role_field(lf, *roles)
        if f is None or f + suffix not in table.column_names:
            return pa.nulls(table.num_rows, pa.string())
        return table.column(f + suffix)

    atena = [atena_text(v) for v in table.column(_role_field(lf, "atena_no")).to_pylist()]
    return pa.table(
        {
            "atena_id": pa.array(atena, pa.string()),
            **{name: col(*how) for name, how in DEDUPE_SOURCES.items()},
        }
    )


def survivor(rows: list[dict]) -> str:
    """The record that stays of a merged cluster: a resident before a non-resident before a
    corporation, then the most recently updated, then the earliest registered, then the smallest
    number (deterministic)."""

    def key(r):
        kind = r.get("kind") or "9"
        upd = r.get("updated")
        reg = r.get("registered")
        return (
            kind,
            -(upd.toordinal() if upd else 0),
            reg.toordinal() if reg else 10**7,
            r["atena_id"],
        )

    return min(rows, key=key)["atena_id"]


@dataclass
class MapResult:
    table: pa.Table
    ledger: list[tuple[int, str, str, str, str]]  # (row, field, rule, before, after)
    rewritten: int
    merged: int  # records left out (a merged addressee, or a second record of the same person)


def apply_to_master(table: pa.Table, lf, amap: dict[str, str]) -> MapResult:
    """Leave the merged-away records out of the addressee master."""
    f = _role_field(lf, "atena_no")
    ids = [atena_text(v) for v in table.column(f).to_pylist()]
    gone = [i for i, a in enumerate(ids) if a in amap]
    ledger = [(i, f, "atena_merge", ids[i], amap[ids[i]]) for i in gone]
    if gone:
        keep = pa.array([a not in amap for a in ids])
        table = table.filter(keep)
    return MapResult(table, ledger, 0, len(gone))


def apply_to_references(table: pa.Table, lf, amap: dict[str, str]) -> MapResult:
    """Rewrite every addressee reference of a table by the map (the ledger records each one)."""
    if not amap:
        return MapResult(table, [], 0, 0)
    ledger: list[tuple[int, str, str, str, str]] = []
    rewritten = 0
    key_fields = set(lf.business_keys)
    changed_rows: set[int] = set()
    for f in lf.fields_with_role(*sorted(ADDRESSEE_REFERENCE_ROLES)):
        if f not in table.column_names:
            continue
        col = table.column(f)
        values = col.to_pylist()
        as_int = pa.types.is_integer(col.type)
        new, hit = [], False
        for i, v in enumerate(values):
            t = atena_text(v) if v not in (None, 0, "") else None
            if t is not None and t in amap:
                nv = int(amap[t]) if as_int else amap[t]
                ledger.append((i, f, "atena_merge", t, amap[t]))
                rewritten += 1
                hit = True
                if f in key_fields:
                    changed_rows.add(i)
                new.append(nv)
            else:
                new.append(v)
        if hit:
            table = table.set_column(table.column_names.index(f), f, pa.array(new, col.type))
    merged = 0
    if changed_rows:
        # a rewritten business key that now equals another record's: the same person's second record
        keys = list(zip(*[table.column(k).to_pylist() for k in lf.business_keys]))
        first_unchanged: dict[tuple, int] = {}
        for i, k in enumerate(keys):
            if i not in changed_rows:
                first_unchanged.setdefault(k, i)
        seen: set[tuple] = set(first_unchanged)
        drop = []
        for i in sorted(changed_rows):
            if keys[i] in seen:
                drop.append(i)
            else:
                seen.add(keys[i])
        if drop:
            dropped = set(drop)
            ledger.extend(
                (i, "*", "atena_merge_record", "|".join(map(str, keys[i])), "merged") for i in drop
            )
            table = table.filter(pa.array([i not in dropped for i in range(table.num_rows)]))
            merged = len(drop)
    return MapResult(table, ledger, rewritten, merged)


def ledger_tables(
    domain_id: str,
    lf,
    rows: list[tuple[int, str, str, str, str]],
    raw_keys: Sequence[str] | Mapping[int, str],
    records: Sequence[int] | Mapping[int, int],
    secret: bytes | None,
):
    """(ledger, values ledger) tables of merge rows, in the schemas of ikou.cleanse.stage.
    ``raw_keys`` and ``records``: each row's raw business key and record number, by row (a list
    of the whole table, or a mapping of the ledger's rows only)."""
    from ikou.cleanse.stage import LEDGER_SCHEMA, VALUES_SCHEMA

    keys = keyed_hashes(
        [raw_keys[r[0]] for r in rows], purpose=f"record:{domain_id}:{lf.name}", secret=secret
    )
    before = keyed_hashes([r[3] for r in rows], purpose="ledger-value", secret=secret)
    after = keyed_hashes([r[4] for r in rows], purpose="ledger-value", secret=secret)
    ledger = pa.table(
        {
            "record_key": keys,
            "field": [r[1] for r in rows],
            "rule": [r[2] for r in rows],
            "before_hash": before,
            "after_hash": after,
        },
        schema=LEDGER_SCHEMA,
    )
    values = pa.table(
        {
            "record_key": keys,
            "_record": [records[r[0]] for r in rows],
            "field": [r[1] for r in rows],
            "rule": [r[2] for r in rows],
            "before": [r[3] for r in rows],
            "after": [r[4] for r in rows],
        },
        schema=VALUES_SCHEMA,
    )
    return ledger, values


def map_table(amap: dict[str, str]) -> pa.Table:
    items = sorted(amap.items())
    return pa.table({"old_atena_no": [k for k, _ in items], "new_atena_no": [v for _, v in items]})


def map_from_table(t: pa.Table) -> dict[str, str]:
    return dict(zip(t.column("old_atena_no").to_pylist(), t.column("new_atena_no").to_pylist()))


__all__ = [
    "atena_text",
    "DEDUPE_SOURCES",
    "dedupe_columns",
    "dedupe_input",
    "survivor",
    "apply_to_master",
    "apply_to_references",
    "ledger_tables",
    "map_table",
    "map_from_table",
    "MapResult",
]
