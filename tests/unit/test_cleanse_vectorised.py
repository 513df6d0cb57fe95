"""The cleanse stage's column-at-a-time paths give exactly what the per-value rules give.

The rules and checks are defined once as functions of one value; a rule may say which values it
could change (``MAY_CHANGE``), a check may have an array twin (``ARRAY_CHECKS``), and the
addressee map reads 宛名番号 texts in Arrow (``atena_texts``). Each must agree with the scalar
definition on every value, and ``cleanse_table`` must give the same tables, ledgers and findings
with or without them. All values here are synthetic.
"""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou import identifiers as ids
from ikou.cleanse import merge as M
from ikou.cleanse import rules as R
from ikou.cleanse.config import CleanseContext
from ikou.cleanse.stage import RecordKeyHashes, cleanse_table, record_keys
from ikou.domains import registry
from ikou.findings import Findings
from ikou.hashing import keyed_hashes

SCALAR = {
    "my_number": ids.is_valid_my_number,
    "corporate_number": ids.is_valid_corporate_number,
    "local_government_code": ids.is_valid_local_government_code,
    "juminhyo:format": lambda v: ids.is_valid_juminhyo_code(v, "format"),
    "juminhyo:mod11-synthetic": lambda v: ids.is_valid_juminhyo_code(v, "mod11-synthetic"),
}

EDGE = [
    None,
    "",
    " ",
    "0",
    "０１２３４５６７８９０１",  # full-width digits: not digits of an identifier
    "９８３２０５６７３２１４",
    "98320567321４",
    "983205673214",  # a valid 個人番号
    "983205673215",
    "98320567321",  # one short
    "9832056732140",  # one long
    "983205673214\n",  # "$" would match before the newline; the rule does not
    "98320567321a",
    "-98320567321",
    "7123456789012",
    "１２３４５６７８９０１２３",
    "12345678901",
    "1234567890１",
    "00000000000",
    "000000000000",
    "0000000000000",
    "123456",
    "12345",
    "٠١٢٣٤٥٦٧٨٩٠١",  # Arabic-Indic digits: str.isdigit() says yes, [0-9] says no
]


def _numbers(width: int, n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    return ["".join(rnd.choice("0123456789") for _ in range(width)) for _ in range(n)]


def _remainder_cases() -> list[str]:
    """Bodies whose weighted sum leaves each remainder (0 and 1 give check digit 0), each with
    every possible check digit."""
    out, seen = [], set()
    rnd = random.Random(11)
    while len(seen) < 11:
        body = "".join(rnd.choice("0123456789") for _ in range(11))
        r = sum(int(d) * w for d, w in zip(body, ids.MY_NUMBER_WEIGHTS)) % 11
        if r not in seen:
            seen.add(r)
            out += [body + str(c) for c in range(10)]
    return out


@pytest.mark.parametrize("kind", sorted(SCALAR))
def test_valid_array_equals_the_scalar_check(kind):
    values = EDGE + _remainder_cases()
    for width in (5, 6, 10, 11, 12, 13):
        values += _numbers(width, 3000, seed=width)
    got = ids.valid_array(pa.array(values, pa.string()), kind).tolist()
    assert got == [bool(SCALAR[kind](v)) for v in values]
    assert any(got)  # the random values hold valid ones: not an all-False agreement


def test_valid_array_of_a_chunked_and_an_empty_column():
    chunked = pa.chunked_array([["983205673214", None], ["983205673215"]], pa.string())
    assert ids.valid_array(chunked, "my_number").tolist() == [True, False, False]
    assert ids.valid_array(pa.array([], pa.string()), "my_number").tolist() == []
    sliced = pa.array(["x", "983205673214", "983205673214"], pa.string()).slice(1)
    assert ids.valid_array(sliced, "my_number").tolist() == [True, True]


def test_valid_array_unknown_juminhyo_rule():
    with pytest.raises(ValueError, match="unknown 住民票コード rule"):
        ids.valid_array(pa.array(["12345678901"]), "juminhyo:nope")


@given(st.lists(st.text(alphabet="0123456789-０１ \n", max_size=14), max_size=50))
@settings(max_examples=200, deadline=None)
def test_postal_and_phone_twins_equal_the_scalar_checks(values):
    arr = pa.array(values + [None], pa.string())
    assert ids.postal_code_valid_array(arr).tolist() == [
        ids.is_valid_postal_code(v) for v in values + [None]
    ]
    assert ids.phone_valid_array(arr).tolist() == [ids.is_valid_phone(v) for v in values + [None]]


@pytest.mark.parametrize("name", sorted(R.ARRAY_CHECKS))
def test_every_array_check_equals_its_check(name):
    ctx = CleanseContext(juminhyo_rule="mod11-synthetic")
    values = [v for v in EDGE if v] + _remainder_cases()
    for width in (7, 10, 11, 12, 13):
        values += _numbers(width, 2000, seed=100 + width)
    values += ["03-1234-5678", "090-1234-5678", "123-4567", "１２３-４５６７"]
    passes = ctx.passes(name)(pa.array(values, pa.string())).tolist()
    check = ctx.check(name)
    assert passes == [not check(v) for v in values]


def test_juminhyo_twin_follows_the_domains_rule():
    code = "12345678901"
    assert CleanseContext(juminhyo_rule="format").passes("juminhyo_code_format")(
        pa.array([code])
    ).tolist() == [True]
    assert CleanseContext(juminhyo_rule="mod11-synthetic").passes("juminhyo_code_format")(
        pa.array([code])
    ).tolist() == [ids.is_valid_juminhyo_code(code, "mod11-synthetic")]


TEXT = st.text(
    alphabet=st.sampled_from(
        list("0123456789-abcAZ !~")
        + ["０", "９", "Ａ", "ｚ", "－", "！", "～", "　", "ｱ", "漢", "〓"]
    ),
    max_size=12,
)


@pytest.mark.parametrize("rule", sorted(R.MAY_CHANGE))
@given(values=st.lists(TEXT, max_size=40))
@settings(max_examples=200, deadline=None)
def test_a_value_outside_may_change_is_unchanged_by_its_rule(rule, values):
    import pyarrow.compute as pc

    could = pc.match_substring_regex(pa.array(values, pa.string()), R.MAY_CHANGE[rule])
    fn = R.VALUE_RULES[rule]
    for v, c in zip(values, could.to_pylist()):
        if not c:
            assert fn(v) == v


@pytest.mark.parametrize(
    "v",
    [None, 0, 7, -5, 12345678901, "", " ", "0", "007", " 12 ", "１２３", "-5", "12\n", "abc", "²"],
)
def test_atena_texts_equals_atena_text(v):
    typ = pa.int64() if isinstance(v, int) else pa.string()
    assert M.atena_texts(pa.array([v, None], typ)).to_pylist() == [M.atena_text(v), None]


def test_atena_texts_of_many_numbers():
    rnd = random.Random(3)
    ints = [rnd.randint(0, 10**10) for _ in range(2000)] + [None]
    assert M.atena_texts(pa.array(ints)).to_pylist() == [M.atena_text(v) for v in ints]
    strs = [str(v) for v in ints[:-1]] + ["", " 1", "x"]
    assert M.atena_texts(pa.array(strs)).to_pylist() == [M.atena_text(v) for v in strs]


def test_record_key_hashes_are_the_keyed_hashes_of_the_record_keys():
    t = pa.table({"A": [1, 2, None, 4], "B": ["x", None, "z", "w"], "C": [0, 0, 0, 0]})
    hashes = RecordKeyHashes(t, ["A", "B"], "record:d:F", b"s")
    want = keyed_hashes(record_keys(t, ["A", "B"]), purpose="record:d:F", secret=b"s")
    assert hashes([3, 0, 3]) == [want[3], want[0], want[3]]
    assert hashes([2, 1]) == [want[2], want[1]]


def _city_table(n: int) -> pa.Table:
    """An ATENA table of ``n`` synthetic records with unique identifiers, some full-width, some
    with wrong check digits, some empty or null."""
    rnd = random.Random(n)
    my_numbers = []
    for i in range(n):
        body = f"{rnd.randrange(10**11):011d}"
        digit = ids.my_number_check_digit(body)
        num = body + str(digit if i % 7 else (digit + 1) % 10)
        my_numbers.append(
            num.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
            if i % 11 == 0
            else num
        )
    my_numbers[1], my_numbers[2] = None, ""
    phones = [
        f"0{rnd.randrange(10**9):09d}" if i % 5 else f"０３－{i:04d}－５６７８" for i in range(n)
    ]
    return pa.table(
        {
            "ATENA-NO": pa.array([9_000_000_000 + i for i in range(n)], pa.int64()),
            "ATENA-KBN": pa.array([("1", "2", "3", None)[i % 4] for i in range(n)], pa.string()),
            "SHIMEI": pa.array([f"架空　{i % 50}" for i in range(n)], pa.string()),
            "SHIMEI-KANA": pa.array(["ｶｸｳ ﾀﾛｳ" if i % 2 else "カクウ　タロウ" for i in range(n)]),
            "SEIBETSU": pa.array([("1", "２", " ")[i % 3] for i in range(n)], pa.string()),
            "SEINENGAPPI": pa.array([(3500401, 0, 9999999)[i % 3] for i in range(n)], pa.int64()),
            "JUSHO": pa.array(
                ["中央区桜町6-4-4" if i % 2 else "架空市北区緑町1-2-3" for i in range(n)]
            ),
            "YUBIN-NO": pa.array(
                [("1234567", "１２３－４５６７", "12345")[i % 3] for i in range(n)]
            ),
            "DENWA-NO": pa.array(phones, pa.string()),
            "KOJIN-NO": pa.array(my_numbers, pa.string()),
            "TOROKU-YMD": pa.array([20200101 + i % 40 for i in range(n)], pa.int64()),
            "KOSHIN-YMD": pa.array([20240102] * n, pa.int64()),
            "_record": pa.array(range(1, n + 1), pa.int64()),
        }
    )


def _cleansed(table):
    d = registry().get("juki")
    lf = d.legacy_file("ATENA")
    findings = Findings("juki", "unit-run", "cleanse")
    res = cleanse_table(table, d, lf, findings, secret=b"unit-test-secret")
    return res, findings.rows()


def test_cleanse_table_is_the_same_without_the_column_paths(monkeypatch):
    """Without MAY_CHANGE and ARRAY_CHECKS every rule and check runs on every distinct value (the
    per-value definition): the tables, ledgers, counts and findings are the same."""
    table = _city_table(3000)
    fast, fast_findings = _cleansed(table)
    assert fast.changes.get("halfwidth_ascii.KOJIN-NO") and fast.problems.get(
        "my_number_check_digit.KOJIN-NO"
    )  # the table exercises both paths
    monkeypatch.setattr(R, "MAY_CHANGE", {})
    monkeypatch.setattr(R, "ARRAY_CHECKS", {})
    slow, slow_findings = _cleansed(table)
    for part in ("table", "ledger", "ledger_values"):
        assert getattr(fast, part).equals(getattr(slow, part)), part
    assert (fast.changes, fast.problems, fast.stats) == (slow.changes, slow.problems, slow.stats)
    assert fast_findings == slow_findings


@pytest.mark.parametrize(
    "columns",
    [
        {"A": pa.array([1, None, -7, 2**62], pa.int64())},
        {"A": pa.array(["x", None, "", "宛名"], pa.string())},
        {"A": pa.array([1, 2, None, 4], pa.int32()), "B": pa.array(["x", None, "z", ""])},
        {
            "A": pa.array([1.5, None, 2.0, 3.0]),
            "B": pa.array([1, 2, 3, None]),
        },  # not joined in Arrow
    ],
)
def test_record_keys_are_pythons_text_of_the_key(columns):
    t = pa.table(columns)
    expected = [
        "\x1e".join("" if v is None else str(v) for v in vals)
        for vals in zip(*[t.column(k).to_pylist() for k in columns])
    ]
    assert record_keys(t, list(columns)) == expected


def test_ranges_of_a_table_cleanse_as_the_whole_table():
    """cleanse_table works record by record: four ranges of a table (without ``_record``: the
    range's ``first_row`` numbers its records) give the whole table's rows, counts, findings
    (merged by Findings.merge) and ledgers (ordered by ledger_order, then range)."""
    import pyarrow.compute as pc

    from ikou.cleanse.stage import ledger_order

    table = _city_table(3000).drop_columns(["_record"])
    whole, _ = _cleansed(table)
    whole_findings = Findings("juki", "unit-run", "cleanse")
    d = registry().get("juki")
    lf = d.legacy_file("ATENA")
    cleanse_table(table, d, lf, whole_findings, secret=b"unit-test-secret")
    bounds = [0, 700, 701, 1900, 3000]  # one range of a single record
    parts, part_findings = [], []
    for start, end in zip(bounds, bounds[1:]):
        f = Findings("juki", "unit-run", "cleanse")
        parts.append(
            cleanse_table(
                table.slice(start, end - start),
                d,
                lf,
                f,
                secret=b"unit-test-secret",
                first_row=start,
            )
        )
        part_findings.append(f)
    assert pa.concat_tables([p.table for p in parts]).equals(whole.table)
    merged = Findings("juki", "unit-run", "cleanse")
    merged.merge(part_findings)
    assert merged.items == whole_findings.items and len(merged.items) > 100
    rank = ledger_order(d, lf)
    for name in ("ledger", "ledger_values"):
        tagged = []
        for i, p in enumerate(parts):
            t = getattr(p, name)
            ranks = [rank[(f, r)] for f, r in zip(t["field"].to_pylist(), t["rule"].to_pylist())]
            tagged.append(
                t.append_column("_rank", pa.array([a * 1000 + b for a, b in ranks], pa.int64()))
                .append_column("_part", pa.array([i] * t.num_rows, pa.int64()))
                .append_column("_pos", pa.array(range(t.num_rows), pa.int64()))
            )
        joined = pa.concat_tables(tagged)
        order = pc.sort_indices(
            joined, [("_rank", "ascending"), ("_part", "ascending"), ("_pos", "ascending")]
        )
        got = joined.take(order).drop_columns(["_rank", "_part", "_pos"])
        assert got.equals(getattr(whole, name)), name
    assert whole.ledger_values.num_rows > 1000
    for counts in ("changes", "problems", "stats"):
        total: dict = {}
        for p in parts:
            for k, v in getattr(p, counts).items():
                total[k] = total.get(k, 0) + v
        assert total == getattr(whole, counts), counts
