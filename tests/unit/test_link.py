"""``ikou link`` (データ連携, issue 12 §4): header and trailer control totals, records held back
(worklist, keyed hashes only), bad arguments (exit 2, one line), a domain that is not live (exit 1,
nothing written), and at the user's level: a SQLite target after a base load and a delta apply,
the live domain's linkage file decoded back with ``ikou decode`` to the changes."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pyarrow as pa
import pytest
from tests_support import (
    DELTA_DOMAIN,
    apply_scenario,
    check_linkage_is_the_delta,
    delta_scenario,
    load_snapshot,
    publish_base_handoff,
    snapshot_pair,
)

from ikou.cli import main
from ikou.domains import registry
from ikou.load.control import Control
from ikou.load.control_tables import today_in_japan
from ikou.load.delta import OP_COLUMN, delta_rows, diff_table
from ikou.load.linkage import encode_changes
from ikou.load.target import LIVE_SCHEMA, Target

DAY = dt.date(2026, 11, 2)
SECRET = b"link-test"


def _records(data: bytes, lrecl: int) -> list[bytes]:
    assert len(data) % lrecl == 0
    return [data[i : i + lrecl] for i in range(0, len(data), lrecl)]


def _digits(raw: bytes) -> int:
    return int(raw.decode("cp037"))  # zoned unsigned digits: F0-F9


@pytest.fixture(scope="module")
def changes():
    base, new = snapshot_pair(120, seed=3)
    d = registry().get(DELTA_DOMAIN)
    out = {}
    for t in d.layout.tables:
        diff = diff_table(DELTA_DOMAIN, t, base[t.name], new[t.name], SECRET)
        rows = delta_rows(t, base[t.name], new[t.name], diff)
        # the synthetic tables' partial-date precisions are random: a whole date, as validated rows have
        for c in t.columns:
            if c.transform == "wareki_precision":
                rows = rows.set_column(
                    rows.column_names.index(c.name), c.name, pa.array(["day"] * rows.num_rows)
                )
        out[t.name] = rows
    return out


def test_header_and_trailer_carry_the_period_and_the_control_totals(changes):
    link = registry().get(DELTA_DOMAIN).linkage
    data, counts, held = encode_changes(DELTA_DOMAIN, changes, DAY, DAY, None, SECRET)
    recs = _records(data, link.lrecl)
    ops = {
        op: sum(t.column(OP_COLUMN).to_pylist().count(op) for t in changes.values()) for op in "IUD"
    }
    assert held == [] and counts["ops"] == ops and min(ops.values()) > 0
    head, body, trailer = recs[0], recs[1:-1], recs[-1]
    assert head[:1].decode("cp037") == "H"
    assert (_digits(head[9:17]), _digits(head[17:25])) == (20261102, 20261102)
    assert trailer[:1].decode("cp037") == "T"
    totals = [_digits(trailer[1 + 9 * i : 10 + 9 * i]) for i in range(4)]
    assert totals == [len(body), ops["I"], ops["U"], ops["D"]]
    # each data record: its table's record type, then the 異動区分
    assert {r[:1].decode("cp037") for r in body} == {"A", "J"}
    assert sorted(r[1:2].decode("cp037") for r in body) == sorted(
        op for t in changes.values() for op in t.column(OP_COLUMN).to_pylist()
    )


def test_a_character_without_a_legacy_code_holds_its_record_back(changes):
    atena = changes["atena"]
    names = atena.column("shimei").to_pylist()
    row = next(i for i, op in enumerate(atena.column(OP_COLUMN).to_pylist()) if op == "U")
    secret_name = "\U0002a6b2野"  # in neither cp930 nor the city's 外字 table
    names[row] = secret_name
    bad = {**changes, "atena": atena.set_column(atena.column_names.index("shimei"), "shimei",
                                                pa.array(names, pa.string()))}  # fmt: skip
    link = registry().get(DELTA_DOMAIN).linkage
    data, counts, held = encode_changes(DELTA_DOMAIN, bad, DAY, DAY, None, SECRET)
    _, clean, _ = encode_changes(DELTA_DOMAIN, changes, DAY, DAY, None, SECRET)
    assert counts["held"] == 1 and counts["records"] == clean["records"] - 1
    assert counts["ops"]["U"] == clean["ops"]["U"] - 1
    trailer = _records(data, link.lrecl)[-1]
    assert _digits(trailer[1:10]) == counts["records"]  # the trailer counts written records only
    [w] = held
    assert (w["table"], w["op"], w["field"], w["reason"]) == (
        "atena",
        "U",
        "SHIMEI",
        "no_legacy_code",
    )
    assert len(w["key_hash"]) >= 16
    text = json.dumps(held, ensure_ascii=False)
    key = atena.column("atena_no")[row].as_py()
    assert secret_name not in text and key not in text


@pytest.mark.parametrize(
    "args,message",
    [
        (["--domain", "nope"], "--domain"),
        (["--domain", "kaigo"], "no linkage"),
        (["--from", "2026-11-31"], "--from '2026-11-31'"),
        (["--to", "20261102"], "--to '20261102'"),
        (["--from", "2026-11-03"], "is after --to"),
        (["--out", "/proc/ikou-link"], "--out /proc/ikou-link: not a writable folder"),
        (["--out", "FILE"], "not a writable folder"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setenv("IKOU_TARGET_DB_URL", f"sqlite:///{tmp_path / 'target.sqlite'}")
    base = {
        "--domain": "juki",
        "--from": "2026-11-02",
        "--to": "2026-11-02",
        "--out": str(tmp_path / "o"),
    }
    base.update(dict(zip(args[::2], args[1::2])))
    if base["--out"] == "FILE":
        (tmp_path / "file").write_text("")
        base["--out"] = str(tmp_path / "file")
    assert main(["link", *[x for kv in base.items() for x in kv]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "o").exists()


def test_a_domain_that_is_not_live_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IKOU_TARGET_DB_URL", f"sqlite:///{tmp_path / 'target.sqlite'}")
    out = tmp_path / "out"
    args = ["link", "--domain", "inkan", "--from", "2026-11-01", "--to", "2026-11-02"]
    assert main([*args, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "inkan: not live" in err
    assert not out.exists()


def test_the_live_domains_changes_decode_back_with_ikou_decode(
    tmp_path, monkeypatch, capsys, s3_endpoint
):
    from ikou.storage import Store

    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    scenario = delta_scenario(tmp_path / "scenario", 400, base_run=f"base-{uuid.uuid4().hex[:8]}")
    publish_base_handoff(Store(), scenario)
    live = Target(url, LIVE_SCHEMA)
    load_snapshot(live, scenario, scenario["base_run"])
    apply_scenario(live, scenario, "delta-run")
    today = today_in_japan().isoformat()
    out = tmp_path / "linkage"
    args = ["link", "--domain", DELTA_DOMAIN, "--from", today, "--to", today, "--out", str(out)]
    assert main(args) == 1  # not live yet: refused, nothing written
    assert not out.exists()
    Control(url).record_live(DELTA_DOMAIN, "2026-10-01", "link test")
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    check_linkage_is_the_delta(out, m, scenario, today, tmp_path / "decoded")


def test_the_period_runs_from_the_last_load_before_it_to_the_last_load_in_it():
    from ikou.load.linkage_source import period_loads

    def load(run: str, at: str) -> dict:
        return {"run_id": run, "loaded_at": at}

    # 2026-11-01T16:00Z is 2026-11-02 01:00 in Asia/Tokyo
    loads = [
        load("first", "2026-10-01T01:00:00+00:00"),
        load("a", "2026-11-01T14:00:00+00:00"),
        load("b", "2026-11-01T16:00:00+00:00"),
        load("c", "2026-11-05T01:00:00+00:00"),
    ]
    day = dt.date(2026, 11, 2)
    assert [x["run_id"] for x in period_loads(loads, day, day)] == ["a", "b"]
    assert [x["run_id"] for x in period_loads(loads, day, dt.date(2026, 11, 9))] == ["a", "c"]
    # the domain's first load is the base (the mainframe's own data), never a change
    assert [x["run_id"] for x in period_loads(loads, dt.date(2026, 9, 1), day)] == ["first", "b"]
    assert period_loads(loads, dt.date(2026, 9, 1), dt.date(2026, 9, 2)) == (None, None)
    # a day without loads: base and result are the same load (no changes)
    base, result = period_loads(loads, dt.date(2026, 11, 3), dt.date(2026, 11, 3))
    assert base is result and base["run_id"] == "b"
