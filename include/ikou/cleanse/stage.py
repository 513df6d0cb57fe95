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

from ikou.cleanse.rules import CHECKS, DATE_ROLES, VALUE_RULES, rules_for
from ikou.cleanse.wareki import COMMON_SCHEME, PartialDate, WarekiError, parse_wareki
from ikou.findings import Findings
from ikou.hashing import keyed_hashes

LEDGER_SCHEMA = pa.schema([("record_key", pa.string()), ("field", pa.string()), ("rule", pa.string()),
                           ("before_hash", pa.string()), ("after_hash", pa.string())])
VALUES_SCHEMA = pa.schema([("record_key", pa.string()), ("_record", pa.int64()), ("field", pa.string()),
                           ("rule", pa.string()), ("before", pa.string()), ("after", pa.string())])
DATE_SUFFIX, PRECISION_SUFFIX, PARTIAL_SUFFIX = "__date", "__precision", "__partial"


@dataclass
class CleanseResult:
    table: pa.Table
    ledger: pa.Table
    ledger_values: pa.Table
    changes: dict = field(default_factory=dict)  # "rule.FIELD" -> count


def _put(table: pa.Table, name: str, arr: pa.Array) -> pa.Table:
    """Set a derived column, replacing it when the input was cleansed before (idempotence)."""
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, arr)
    return table.append_column(name, arr)


def _record_keys(table: pa.Table, keys: list[str]) -> list[str]:
    cols = [table.column(k).to_pylist() for k in keys]
    return ["\x1e".join("" if v is None else str(v) for v in vals) for vals in zip(*cols)]


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


def cleanse_table(table: pa.Table, domain, lf, findings: Findings, *, era_scheme: dict | None = None,
                  secret: bytes | None = None) -> CleanseResult:
    scheme = era_scheme or COMMON_SCHEME
    purpose = f"record:{domain.id}:{lf.name}"
    raw_keys = _record_keys(table, list(lf.business_keys))
    key_hash_cache: dict[int, str] = {}

    def key_hash(rows: list[int]) -> list[str]:
        missing = [r for r in rows if r not in key_hash_cache]
        if missing:
            for r, h in zip(missing, keyed_hashes([raw_keys[r] for r in missing], purpose=purpose, secret=secret)):
                key_hash_cache[r] = h
        return [key_hash_cache[r] for r in rows]

    records = table.column("_record").to_pylist() if "_record" in table.column_names else list(range(table.num_rows))
    corporate = None
    kind_fields = lf.fields_with_role("addressee_kind")
    if kind_fields:
        corporate = [k == "3" for k in table.column(kind_fields[0]).to_pylist()]
    ledger: list[tuple[int, str, str, str, str]] = []
    changes: Counter = Counter()
    out = table
    for fname, spec in lf.fields.items():
        if fname not in table.column_names:
            continue
        col = table.column(fname)
        cfg = rules_for(spec.role)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            values = col.to_pylist()
            for rule in cfg["rules"]:
                fn = VALUE_RULES[rule]
                cache: dict[str, str] = {}
                new = []
                for i, v in enumerate(values):
                    if v is None or v == "":
                        new.append(v)
                        continue
                    r = cache.get(v)
                    if r is None:
                        r = fn(v)
                        cache[v] = r
                    if r != v:
                        ledger.append((i, fname, rule, v, r))
                        changes[f"{rule}.{fname}"] += 1
                    new.append(r)
                values = new
            for check in cfg["checks"]:
                fn = CHECKS[check]
                verdict: dict[str, bool] = {}
                bad = []
                for i, v in enumerate(values):
                    if not v:
                        continue
                    ok = verdict.get(v)
                    if ok is None:
                        ok = verdict[v] = bool(fn(v))
                    if not ok:
                        bad.append(i)
                if bad:
                    findings.extend(check, "warning", fname, key_hash(bad), detail="check failed; value not changed")
            if cfg["rules"]:
                out = out.set_column(out.column_names.index(fname), fname, pa.array(values, pa.string()))
        how = DATE_ROLES.get(spec.role)
        if how:
            dates, precision, partial = [], [], []
            problems: dict[str, list[int]] = {}
            for i, v in enumerate(col.to_pylist()):
                if how == "wareki":
                    d, p, part, problem = _wareki(v, scheme)
                    if problem == "placeholder" and v == 0 and (corporate and corporate[i]):
                        problem = None  # a corporation has no birth date
                else:
                    d, p, problem = _ymd(v, optional=(how == "ymd_optional"))
                    part = None
                dates.append(d)
                precision.append(p)
                partial.append(part)
                if problem:
                    problems.setdefault(problem, []).append(i)
            for problem, rows in problems.items():
                findings.extend(f"date_{problem}", "warning", fname, key_hash(rows),
                                detail=f"{how} date rejected ({problem}); stored as null, never guessed")
            out = _put(out, fname + DATE_SUFFIX, pa.array(dates, pa.date32()))
            out = _put(out, fname + PRECISION_SUFFIX, pa.array(precision, pa.string()))
            if how == "wareki":
                out = _put(out, fname + PARTIAL_SUFFIX, pa.array(partial, pa.string()))
    rows = [x[0] for x in ledger]
    hashes = key_hash(rows)
    before_h = keyed_hashes([x[3] for x in ledger], purpose="ledger-value", secret=secret)
    after_h = keyed_hashes([x[4] for x in ledger], purpose="ledger-value", secret=secret)
    ledger_table = pa.table({"record_key": hashes, "field": [x[1] for x in ledger], "rule": [x[2] for x in ledger],
                             "before_hash": before_h, "after_hash": after_h}, schema=LEDGER_SCHEMA)
    values_table = pa.table({"record_key": hashes, "_record": [records[r] for r in rows],
                             "field": [x[1] for x in ledger], "rule": [x[2] for x in ledger],
                             "before": [x[3] for x in ledger], "after": [x[4] for x in ledger]}, schema=VALUES_SCHEMA)
    return CleanseResult(out, ledger_table, values_table, dict(changes))
