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


def atena_texts(col) -> pa.Array:
    """:func:`atena_text` of a whole column (an Arrow string array), computed in Arrow for the
    usual values — non-negative integers and plain ASCII digit strings — and by
    :func:`atena_text` for any other (blank-padded, full-width, negative, other types)."""
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_integer(arr.type):
        plain = pc.greater_equal(arr, 0).fill_null(True)
    elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        plain = pc.match_substring_regex(arr, "^[0-9]+$").fill_null(True)
    else:
        return pa.array([atena_text(v) for v in arr.to_pylist()], pa.string())
    text = pc.utf8_lpad(arr.cast(pa.string()), width=ATENA_WIDTH, padding="0")
    if plain.false_count:
        other = pc.invert(plain)
        fixed = [atena_text(v) for v in arr.filter(other).to_pylist()]
        text = pc.replace_with_mask(text, other, pa.array(fixed, pa.string()))
    return text


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

    atena = atena_texts(table.column(_role_field(lf, "atena_no")))
    return pa.table(
        {
            "atena_id": atena,
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


def _mapped(texts: pa.Array, amap: dict[str, str]):
    """(rows whose 宛名番号 text is a key of ``amap``, in order; their texts)."""
    import numpy as np
    import pyarrow.compute as pc

    hit = pc.is_in(texts, value_set=pa.array(list(amap), pa.string())).fill_null(False)
    rows = np.nonzero(hit.to_numpy(zero_copy_only=False))[0]
    return rows, texts.take(pa.array(rows, pa.int64())).to_pylist()


def apply_to_master(table: pa.Table, lf, amap: dict[str, str]) -> MapResult:
    """Leave the merged-away records out of the addressee master."""
    import numpy as np

    f = _role_field(lf, "atena_no")
    gone, ids = _mapped(atena_texts(table.column(f)), amap) if amap else ([], [])
    ledger = [(int(i), f, "atena_merge", a, amap[a]) for i, a in zip(gone, ids)]
    if len(gone):
        keep = np.ones(table.num_rows, dtype=bool)
        keep[gone] = False
        table = table.filter(pa.array(keep))
    return MapResult(table, ledger, 0, len(gone))


def apply_to_references(table: pa.Table, lf, amap: dict[str, str]) -> MapResult:
    """Rewrite every addressee reference of a table by the map (the ledger records each one)."""
    import numpy as np
    import pyarrow.compute as pc

    if not amap:
        return MapResult(table, [], 0, 0)
    ledger: list[tuple[int, str, str, str, str]] = []
    rewritten = 0
    key_fields = set(lf.business_keys)
    changed_rows: set[int] = set()
    for f in lf.fields_with_role(*sorted(ADDRESSEE_REFERENCE_ROLES)):
        if f not in table.column_names:
            continue
        col = table.column(f).combine_chunks()
        as_int = pa.types.is_integer(col.type)
        texts = atena_texts(col)
        # 0 and "" refer to no addressee (as None)
        if as_int:
            texts = pc.if_else(pc.equal(col, 0), pa.nulls(len(texts), pa.string()), texts)
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            texts = pc.if_else(pc.equal(col, ""), pa.nulls(len(texts), pa.string()), texts)
        else:
            none = pa.array([v in (None, 0, "") for v in col.to_pylist()])
            texts = pc.if_else(none, pa.nulls(len(texts), pa.string()), texts)
        rows, olds = _mapped(texts, amap)
        if not len(rows):
            continue
        for i, t in zip(rows.tolist(), olds):
            ledger.append((i, f, "atena_merge", t, amap[t]))
        rewritten += len(rows)
        if f in key_fields:
            changed_rows.update(rows.tolist())
        mask = np.zeros(len(col), dtype=bool)
        mask[rows] = True
        new = [int(amap[t]) if as_int else amap[t] for t in olds]
        table = table.set_column(
            table.column_names.index(f),
            f,
            pc.replace_with_mask(col, pa.array(mask), pa.array(new, col.type)),
        )
    merged = 0
    if changed_rows:
        # a rewritten business key that now equals another record's: the same person's second record
        drop, keys = _second_records(table, list(lf.business_keys), sorted(changed_rows))
        if drop:
            ledger.extend(
                (i, "*", "atena_merge_record", "|".join(map(str, keys[i])), "merged") for i in drop
            )
            keep = np.ones(table.num_rows, dtype=bool)
            keep[drop] = False
            table = table.filter(pa.array(keep))
            merged = len(drop)
    return MapResult(table, ledger, rewritten, merged)


def _second_records(table: pa.Table, key_names: list[str], changed: list[int]):
    """(rows of ``changed``, in order, whose business key an unchanged row or an earlier changed
    row already has; {changed row: its key}). The unchanged rows' keys are looked up in Arrow
    (one key column) instead of a tuple per record."""
    import numpy as np
    import pyarrow.compute as pc

    at = pa.array(changed, pa.int64())
    keys = dict(zip(changed, zip(*[table.column(k).take(at).to_pylist() for k in key_names])))
    if len(key_names) == 1:
        col = table.column(key_names[0])
        unchanged = np.ones(table.num_rows, dtype=bool)
        unchanged[changed] = False
        taken = pc.is_in(col.take(at), value_set=col.filter(pa.array(unchanged)))
        seen_before = dict(zip(changed, taken.to_pylist()))
        seen: set[tuple] = set()
    else:  # several key fields: every unchanged key as a tuple
        all_keys = list(zip(*[table.column(k).to_pylist() for k in key_names]))
        changed_set = set(changed)
        seen = {k for i, k in enumerate(all_keys) if i not in changed_set}
        seen_before = dict.fromkeys(changed, False)
    drop = []
    for i in changed:
        if seen_before[i] or keys[i] in seen:
            drop.append(i)
        else:
            seen.add(keys[i])
    return drop, keys


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
    "atena_texts",
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
