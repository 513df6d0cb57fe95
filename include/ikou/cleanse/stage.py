"""The cleanse stage on one legacy table: rules by field role, checks, dates, and the ledger.

Every change is a ledger row: record key (keyed hash), field, rule, keyed hashes of the value
before and after. The values themselves go only to the values ledger, which stays in the
restricted ``cleansed`` zone beside the output. Cleansing is idempotent: cleansing a cleansed
table changes nothing (the rules are projections, and derived date columns are recomputed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from ikou.cleanse.rules import DATE_ROLES
from ikou.findings import Findings
from ikou.hashing import keyed_hashes
from ikou.wareki import COMMON_SCHEME, PartialDate, WarekiError, parse_wareki

LEDGER_SCHEMA = pa.schema(
    [
        ("record_key", pa.string()),
        ("field", pa.string()),
        ("rule", pa.string()),
        ("before_hash", pa.string()),
        ("after_hash", pa.string()),
    ]
)
VALUES_SCHEMA = pa.schema(
    [
        ("record_key", pa.string()),
        ("_record", pa.int64()),
        ("field", pa.string()),
        ("rule", pa.string()),
        ("before", pa.string()),
        ("after", pa.string()),
    ]
)
DATE_SUFFIX, PRECISION_SUFFIX, PARTIAL_SUFFIX = "__date", "__precision", "__partial"
ADDRESS_SEPARATOR = "__"  # address components: FIELD__prefecture … FIELD__building


@dataclass
class CleanseResult:
    table: pa.Table
    ledger: pa.Table
    ledger_values: pa.Table
    changes: dict = field(default_factory=dict)  # "rule.FIELD" -> count of changed values
    problems: dict = field(
        default_factory=dict
    )  # "finding rule.FIELD" -> count of records (checks, dates)
    stats: dict = field(
        default_factory=dict
    )  # counts that are not problems (partial dates, addresses …)


def _put(table: pa.Table, name: str, arr: pa.Array) -> pa.Table:
    """Set a derived column, replacing it when the input was cleansed before (idempotence)."""
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, arr)
    return table.append_column(name, arr)


def record_keys(table: pa.Table, keys: list[str]) -> list[str]:
    """Each row's business key as one text (the fields joined by U+001E, null as empty)."""
    import pyarrow.compute as pc

    cols = [table.column(k) for k in keys]
    if all(pa.types.is_integer(c.type) or _is_text(c) for c in cols):
        # Arrow's text of an integer is Python's str(): joined in Arrow, no tuple per record
        texts = [pc.cast(c, pa.string()).fill_null("") for c in cols]
        joined = texts[0] if len(texts) == 1 else pc.binary_join_element_wise(*texts, "\x1e")
        return joined.to_pylist()
    values = [c.to_pylist() for c in cols]
    return ["\x1e".join("" if v is None else str(v) for v in vals) for vals in zip(*values)]


class RecordKeyHashes:
    """The keyed hash of each record's business key by row number, for findings and ledgers:
    ``hashes(rows)``. Each row's key is hashed once (several findings and ledger rows may name
    it), and only the rows asked for are read from Arrow (not the whole key column and a dict of
    every record as Python objects). One helper for the cleansed tables' findings and ledgers
    and for 名寄せ's findings."""

    def __init__(self, table: pa.Table, keys: list[str], purpose: str, secret: bytes | None):
        self.keys = list(keys)
        self.table = table.select(self.keys)
        self.purpose, self.secret = purpose, secret
        self._done: dict[int, str] = {}

    def __call__(self, rows) -> list[str]:
        done = self._done
        missing = sorted({r for r in rows if r not in done})
        if missing:
            raw = record_keys(self.table.take(pa.array(missing, pa.int64())), self.keys)
            done.update(zip(missing, keyed_hashes(raw, purpose=self.purpose, secret=self.secret)))
        return [done[r] for r in rows]


def _ymd(v, optional: bool = False) -> tuple[object, str | None, str | None]:
    """(date, precision, problem) of a YYYYMMDD integer; 0 is "none" only for optional dates."""
    import datetime as dt

    if v is None or (v == 0 and optional):
        return None, None, None
    if v == 0:
        return None, None, "placeholder"
    s = f"{int(v):08d}"
    if s == "99999999":
        return None, None, "placeholder"
    try:
        return dt.date(int(s[:4]), int(s[4:6]), int(s[6:])), "day", None
    except ValueError:
        return None, None, "impossible_date"


def _wareki(v, scheme: dict) -> tuple[object, str | None, str | None, str | None]:
    """(date, precision, partial ISO text, problem) of an era code + YYMMDD integer."""
    if v is None:
        return None, None, None, None
    try:
        return parse_wareki(f"{int(v):07d}", scheme), "day", None, None
    except PartialDate as p:
        text = f"{p.year:04d}-{p.month:02d}" if p.month else f"{p.year:04d}"
        return None, p.precision, text, None
    except WarekiError as e:
        return None, None, None, e.reason


def _distinct(col) -> tuple[pa.Array, "np.ndarray"]:  # noqa: F821
    """(distinct values, index of each row's value; -1 for null) of a column: the values stay an
    Arrow array (a unique field has as many as rows; Python objects only for those a rule or
    check needs)."""
    import numpy as np
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    enc = pc.dictionary_encode(arr)
    idx = (
        enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        if enc.indices.null_count
        else enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    )
    return enc.dictionary, idx


def _nonempty(values: pa.Array, pattern: str | None = None):
    """Positions of the non-empty ``values`` (matching the RE2 ``pattern`` when given)."""
    import numpy as np
    import pyarrow.compute as pc

    mask = pc.greater(pc.binary_length(values), 0)
    if pattern is not None:
        mask = pc.and_(mask, pc.match_substring_regex(values, pattern))
    return np.nonzero(mask.fill_null(False).to_numpy(zero_copy_only=False))[0]


def _rows_where(idx, flags: list[bool]):
    """Row numbers whose distinct value is flagged (in row order)."""
    import numpy as np

    if not any(flags):
        return np.empty(0, dtype=np.int64)
    f = np.append(np.array(flags, dtype=bool), False)  # index -1 (null) -> the appended False
    return np.nonzero(f[idx])[0]


def _address_columns(
    table: pa.Table,
    fname: str,
    values: list,
    idx,
    towns,
    key_hash,
    findings: Findings,
    stats: Counter,
    problems_by: Counter,
    order: tuple = (),
) -> pa.Table:
    """Components of an address field as extra columns ``FIELD__prefecture`` … ``FIELD__building``,
    checked against the town list; problems are findings (no values in them). ``values`` are the
    field's distinct values, ``idx`` each row's index into them; ``order``: the check's place
    among the table's findings (:meth:`ikou.findings.Findings.merge`)."""
    import numpy as np

    from ikou.cleanse.address import COMPONENTS

    parts = [towns.parse_address(v) if (v and towns is not None) else None for v in values]
    valid = idx >= 0
    present = np.array([p is not None for p in parts] + [False], dtype=bool)[idx] & valid
    in_city = np.array([bool(p and p.in_city) for p in parts] + [False], dtype=bool)[idx]
    stats[f"address_in_city.{fname}"] += int(np.count_nonzero(in_city & present))
    stats[f"address_outside_city.{fname}"] += int(np.count_nonzero(present & ~in_city))
    kinds = sorted({k for p in parts if p for k in p.problems})
    for prob in kinds:
        rows = _rows_where(idx, [bool(p and prob in p.problems) for p in parts]).tolist()
        findings.extend(
            prob,
            "warning",
            fname,
            key_hash(rows),
            detail="address checked against the city's town list",
            order=(*order, prob, ""),
        )
        problems_by[f"{prob}.{fname}"] += len(rows)
    take = pa.array(np.where(valid, idx, 0) if len(values) else np.zeros(len(idx), dtype=np.int64))
    mask = pa.array(~valid)
    for c in COMPONENTS:
        typ = pa.int32() if c in ("chome", "banchi", "go") else pa.string()
        dist = pa.array([getattr(p, c) if p else None for p in parts] or [None], typ)
        col = dist.take(take)
        if not valid.all():
            col = pa.compute.if_else(mask, pa.nulls(len(col), typ), col)
        table = _put(table, f"{fname}{ADDRESS_SEPARATOR}{c}", col)
    return table


def _concat(arrays: list) -> pa.Array:
    """One string array of the ledger's value arrays (empty when there are none)."""
    if not arrays:
        return pa.array([], pa.string())
    return pa.concat_arrays([a.cast(pa.string()) for a in arrays])


def _is_text(col) -> bool:
    return pa.types.is_string(col.type) or pa.types.is_large_string(col.type)


def cleanse_table(
    table: pa.Table,
    domain,
    lf,
    findings: Findings,
    *,
    era_scheme: dict | None = None,
    secret: bytes | None = None,
    context=None,
    first_row: int = 0,
) -> CleanseResult:
    """Cleanse one legacy table by its configuration (see :mod:`ikou.cleanse.config`).

    Rules and checks run once per distinct value of a field (dictionary encoding) and are mapped
    back to the rows, so the cost follows the number of distinct values, not of rows; and a
    unique field (a code per record) costs no Python per value where a rule says which values it
    could change (:data:`ikou.cleanse.rules.MAY_CHANGE`) or a check has an array twin
    (:data:`ikou.cleanse.rules.ARRAY_CHECKS`).

    Every rule and check works on one record at a time (the distinct values are a cache): a
    range of a file's records (``first_row``: the number of its first record in the file, for
    files without a ``_record`` column) is cleansed as it is in the whole file — the cleanse
    parts of :mod:`ikou.stages.cleanse_parts`. Each findings block gets its step's ``order``
    (field, check, rule, detail) and the ledger is in the order of the fields and their rules,
    by which the parts' findings and ledgers are merged into the whole file's order."""
    import numpy as np
    import pyarrow.compute as pc

    from ikou.cleanse.config import SEVERITY, CleanseContext

    ctx = context if context is not None else CleanseContext().for_domain(domain)
    scheme = era_scheme or COMMON_SCHEME
    key_hash = RecordKeyHashes(
        table, list(lf.business_keys), f"record:{domain.id}:{lf.name}", secret
    )
    records = (
        table.column("_record")
        if "_record" in table.column_names
        else pa.array(range(first_row, first_row + table.num_rows), pa.int64())
    )
    corporate = None
    kind_fields = lf.fields_with_role("addressee_kind")
    if kind_fields and kind_fields[0] in table.column_names:
        kinds = table.column(kind_fields[0])
        corporate = (
            pc.equal(kinds, "3").fill_null(False).to_numpy(zero_copy_only=False)
            if _is_text(kinds)
            else np.zeros(table.num_rows, dtype=bool)  # only the text "3" is a corporation
        )
    ledger: list[
        tuple[object, str, str, pa.Array, pa.Array]
    ] = []  # (rows, field, rule, before values, after values)
    changes: Counter = Counter()
    problems_by: Counter = Counter()
    stats: Counter = Counter()
    out = table
    for fi, (fname, spec) in enumerate(lf.fields.items()):
        if fname not in table.column_names:
            continue
        col = table.column(fname)
        cfg = ctx.rules_for(lf.name, fname, spec.role)
        if _is_text(col) and (cfg["rules"] or cfg["checks"]):
            values, idx = _distinct(col)
            for rule in cfg["rules"]:
                fn = ctx.value_rule(rule)
                at = _nonempty(values, ctx.may_change(rule))  # the values it could change
                old = values.take(pa.array(at, pa.int64())).to_pylist()
                new = [fn(v) for v in old]
                hit = [j for j, (a, b) in enumerate(zip(old, new)) if a != b]
                if not hit:
                    continue
                changed = np.zeros(len(values) + 1, dtype=bool)  # [-1] (null): never
                changed[at[hit]] = True
                rows = np.nonzero(changed[idx])[0]
                after = pc.replace_with_mask(
                    values,
                    pa.array(changed[:-1]),
                    pa.array([new[j] for j in hit], values.type),
                )
                sel = pa.array(idx[rows])
                ledger.append((rows, fname, rule, values.take(sel), after.take(sel)))
                changes[f"{rule}.{fname}"] += len(rows)
                values = after
            for ci, check in enumerate(cfg["checks"]):
                if check == "address_components":
                    out = _address_columns(
                        out,
                        fname,
                        values.to_pylist(),
                        idx,
                        ctx.towns,
                        key_hash,
                        findings,
                        stats,
                        problems_by,
                        (fi, ci),
                    )
                    continue
                fn = ctx.check(check)
                at = _nonempty(values)
                passes = ctx.passes(check)
                if passes is not None and len(at):  # the scalar check on the others only
                    at = at[~passes(values.take(pa.array(at, pa.int64())))]
                found: dict[tuple[str, str], np.ndarray] = {}
                for j, v in zip(at.tolist(), values.take(pa.array(at, pa.int64())).to_pylist()):
                    for prob in set(fn(v)):  # one finding per problem and record
                        if prob not in found:
                            found[prob] = np.zeros(len(values) + 1, dtype=bool)
                        found[prob][j] = True
                for (rule, detail), flags in sorted(found.items(), key=lambda kv: kv[0]):
                    rows = np.nonzero(flags[idx])[0].tolist()
                    findings.extend(
                        rule,
                        SEVERITY.get(rule, "warning"),
                        fname,
                        key_hash(rows),
                        detail=detail,
                        order=(fi, ci, rule, detail),
                    )
                    problems_by[f"{rule}.{fname}"] += len(rows)
            if cfg["rules"]:
                dist = values.cast(pa.string()) if len(values) else pa.nulls(1, pa.string())
                new_col = dist.take(pa.array(np.where(idx >= 0, idx, 0)))
                if (idx < 0).any():
                    new_col = pc.if_else(
                        pa.array(idx < 0), pa.nulls(len(new_col), pa.string()), new_col
                    )
                out = out.set_column(out.column_names.index(fname), fname, new_col)
        how = DATE_ROLES.get(spec.role)
        if how:
            dates, idx = _distinct(col)
            values = dates.to_pylist()  # a date field's distinct values are few (days)
            if how == "wareki":
                parsed = [_wareki(v, scheme) for v in values]
            else:
                parsed = [
                    (d, p, None, problem)
                    for d, p, problem in (_ymd(v, optional=(how == "ymd_optional")) for v in values)
                ]
            safe = pa.array(np.where(idx >= 0, idx, 0))
            nulls = pa.array(idx < 0) if (idx < 0).any() else None

            def column(j: int, typ, parsed=parsed, safe=safe, nulls=nulls):
                arr = pa.array([x[j] for x in parsed] or [None], typ).take(safe)
                return pc.if_else(nulls, pa.nulls(len(arr), typ), arr) if nulls is not None else arr

            for problem in sorted({x[3] for x in parsed if x[3]}):
                mask = np.append(np.array([x[3] == problem for x in parsed], dtype=bool), False)[
                    idx
                ]
                if problem == "placeholder" and how == "wareki" and corporate is not None:
                    zero = np.append(np.array([v == 0 for v in values], dtype=bool), False)[idx]
                    mask &= ~(zero & corporate)  # a corporation has no birth date
                rows = np.nonzero(mask)[0].tolist()
                if rows:
                    findings.extend(
                        f"date_{problem}",
                        "warning",
                        fname,
                        key_hash(rows),
                        detail=f"{how} date rejected ({problem}); stored as null, never guessed",
                        order=(fi, len(cfg["checks"]), f"date_{problem}", ""),
                    )
                    problems_by[f"date_{problem}.{fname}"] += len(rows)
            partial_rows = np.append(
                np.array([x[1] in ("month", "year") for x in parsed], dtype=bool), False
            )[idx]
            if partial_rows.any():
                stats[f"partial_date.{fname}"] += int(np.count_nonzero(partial_rows))
            out = _put(out, fname + DATE_SUFFIX, column(0, pa.date32()))
            out = _put(out, fname + PRECISION_SUFFIX, column(1, pa.string()))
            if how == "wareki":
                out = _put(out, fname + PARTIAL_SUFFIX, column(2, pa.string()))
    # the ledger's columns built in Arrow: a row's field and rule by repetition, its values by
    # concatenation, each distinct value hashed once
    counts = [len(rows) for rows, *_ in ledger]
    all_rows = np.concatenate([rows for rows, *_ in ledger]) if ledger else np.empty(0, np.int64)
    hashes = pa.array(key_hash(all_rows.tolist()), pa.string())
    rec = records.combine_chunks() if isinstance(records, pa.ChunkedArray) else records
    record_no = rec.take(pa.array(all_rows, pa.int64())).cast(pa.int64())
    del all_rows
    each = pa.array(np.repeat(np.arange(len(ledger), dtype=np.int64), counts), pa.int64())
    fields = pa.array([f for _rows, f, *_ in ledger], pa.string()).take(each)
    rules = pa.array([r for _rows, _f, r, *_ in ledger], pa.string()).take(each)
    del each
    before = _concat([b for *_, b, _a in ledger])
    after = _concat([a for *_, a in ledger])
    distinct = pc.unique(_concat([before, after]))
    value_hash = pa.array(
        keyed_hashes(distinct.to_pylist(), purpose="ledger-value", secret=secret), pa.string()
    )
    ledger_table = pa.table(
        {
            "record_key": hashes,
            "field": fields,
            "rule": rules,
            "before_hash": value_hash.take(pc.index_in(before, value_set=distinct)),
            "after_hash": value_hash.take(pc.index_in(after, value_set=distinct)),
        },
        schema=LEDGER_SCHEMA,
    )
    del value_hash, distinct
    values_table = pa.table(
        {
            "record_key": hashes,
            "_record": record_no,
            "field": fields,
            "rule": rules,
            "before": before,
            "after": after,
        },
        schema=VALUES_SCHEMA,
    )
    return CleanseResult(
        out, ledger_table, values_table, dict(changes), dict(problems_by), dict(stats)
    )


def ledger_order(domain, lf, context=None) -> dict[tuple[str, str], tuple[int, int]]:
    """(field, rule) -> its place in :func:`cleanse_table`'s ledger, which holds the changes of
    the fields in their order, each field's rules in theirs (the order the ledgers of a file's
    cleanse parts are merged in)."""
    from ikou.cleanse.config import CleanseContext

    ctx = context if context is not None else CleanseContext().for_domain(domain)
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for fi, (fname, spec) in enumerate(lf.fields.items()):
        for ri, rule in enumerate(ctx.rules_for(lf.name, fname, spec.role)["rules"]):
            out.setdefault((fname, rule), (fi, ri))
    return out
