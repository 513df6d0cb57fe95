"""``ikou synth --changes-from``: the next snapshot of the synthetic city, and its answer key.

End to end through the CLI on a small city: BASE, then NEW; both decoded with the engine as the
extract stage decodes them; the records that differ by business key are exactly the rows of
``_answer_key/NEW/changes.parquet`` (insert / update / delete and the changed columns)."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ikou.cli import main
from ikou.domains import registry
from ikou.mainframe.copybook import parse_copybook
from ikou.mainframe.engine import decode_file

BASE = "2026-11-01"
NEW = "2026-12-01"
RESIDENTS = 2000
SEED = 31
RATE = 0.05  # raised: every kind of change appears in a city of 2,000
META = ("_file", "_record", "_offset")


def _synth(out: Path, *args: str) -> tuple[int, str, str]:
    """``ikou synth`` through the CLI: exit code, stdout, stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["synth", "--out", str(out), *args])
    return code, stdout.getvalue(), stderr.getvalue()


def _write(out: Path) -> dict:
    # corrupt records are quarantined by the decoder: none here, so every record compares
    code, _, err = _synth(
        out,
        "--residents",
        str(RESIDENTS),
        "--seed",
        str(SEED),
        "--snapshot",
        BASE,
        "--rate",
        "corrupt_record=0",
    )
    assert code == 0, err
    code, stdout, err = _synth(
        out, "--changes-from", BASE, "--snapshot", NEW, "--change-rate", str(RATE)
    )
    assert code == 0, err
    return json.loads(stdout)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("changes")
    summary = _write(out / "a")
    again = _write(out / "b")
    return {"a": out / "a", "b": out / "b", "summary": summary, "again": again}


def _decode(root: Path, snap: str) -> dict:
    """(domain, file) -> {key text: record} as the extract stage decodes the files."""
    from ikou.stages.extract import extract_options

    gaiji = root / "_reference" / snap / "gaiji.csv"
    out = {}
    for d in registry():
        folder = root / d.id / snap
        manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
        for lf in d.legacy_files:
            entry = next(f for f in manifest["files"] if f["legacy_file"] == lf.name)
            cb = parse_copybook((folder / lf.copybook).read_text(encoding="utf-8"), lf.copybook)
            options = replace(extract_options(lf, entry["name"], gaiji), gaiji_policy="placeholder")
            run = decode_file(folder / entry["name"], cb, options)
            rows = [r for c in run for rb in c.batches.values() for r in rb.to_pylist()]
            s = run.summary
            assert s.complete and s.accounted and s.trailer_ok and not s.quarantined, (
                d.id,
                lf.name,
            )
            assert s.header["HDR-SNAPSHOT"] == int(snap.replace("-", ""))
            assert s.records_out == entry["records"] == int(s.trailer["TRL-COUNT"])
            (key,) = lf.business_keys
            width = cb.record(lf.record_types["D"]).field(key).digits
            records = {}
            for r in rows:
                v = r[key]
                k = f"{v:0{width}d}" if isinstance(v, int) else str(v).strip()
                assert k not in records, (d.id, lf.name, "repeated business key")
                records[k] = {c: x for c, x in r.items() if c not in META}
            out[(d.id, lf.name)] = records
    return out


@pytest.fixture(scope="module")
def answer(city):
    return pq.read_table(city["a"] / "_answer_key" / NEW / "changes.parquet").to_pylist()


def _difference(root: Path, base_snap: str, new_snap: str) -> set:
    base, new = _decode(root, base_snap), _decode(root, new_snap)
    expected = set()
    for f, old in base.items():
        cur = new[f]
        for k in old.keys() - cur.keys():
            expected.add((*f, k, "delete", ()))
        for k in cur.keys() - old.keys():
            expected.add((*f, k, "insert", ()))
        for k in old.keys() & cur.keys():
            cols = tuple(sorted(c for c in old[k] if old[k][c] != cur[k][c]))
            if cols:
                expected.add((*f, k, "update", cols))
    return expected


def test_the_answer_key_is_the_difference_of_the_decoded_snapshots(city, answer):
    expected = _difference(city["a"], BASE, NEW)
    got = {
        (r["domain"], r["file"], r["key"], r["change"], tuple(sorted(r["columns"]))) for r in answer
    }
    assert len(got) == len(answer)  # one row per record
    assert got == expected
    assert {r["change"] for r in answer} == {"insert", "update", "delete"}


def test_every_kind_of_change_and_what_it_does(city, answer):
    kinds = {r["kind"] for r in answer}
    assert kinds >= {
        "move_in_city",
        "move_out",
        "arrival",
        "birth",
        "death",
        "marriage",
        "renumbering",
        "correction",
        "duplicate",
    }, kinds
    atena = [r for r in answer if r["file"] == "ATENA"]
    by = lambda kind, change: [r for r in atena if r["kind"] == kind and r["change"] == change]  # noqa: E731
    assert by("death", "delete") and not by("death", "update")
    assert by("arrival", "insert") and by("birth", "insert")
    assert by("duplicate", "insert")  # a new 名寄せ duplicate: a second 宛名 record
    assert all("JUSHO" in r["columns"] for r in by("move_in_city", "update"))
    assert all("JUSHO" in r["columns"] for r in by("renumbering", "update"))
    assert all("ATENA-KBN" in r["columns"] for r in by("move_out", "update"))  # 住登外者
    assert any("SHIMEI" in r["columns"] for r in by("marriage", "update"))  # the name change
    # a resident who moved out or died leaves the resident register (JUKI)
    juki = {(r["kind"], r["change"]) for r in answer if r["file"] == "JUKI"}
    assert ("move_out", "delete") in juki and ("death", "delete") in juki
    # the dead appear in no file of NEW
    dead = {r["key"] for r in by("death", "delete")}
    new = _decode(city["a"], NEW)
    assert not dead & set(new[("juki", "ATENA")])
    assert not any(
        r["key"] in dead for r in answer if r["change"] != "delete" and r["file"] == "JUKI"
    )


def test_the_change_rate_is_per_month(city):
    people = sum(city["summary"]["changed_people"].values())
    target = RESIDENTS * RATE
    assert 0.7 * target <= people <= 1.6 * target, city["summary"]["changed_people"]


def test_deterministic(city):
    for rel in (
        f"_answer_key/{NEW}/changes.parquet",
        f"juki/{NEW}/ATENA.dat",
        f"kaigo/{NEW}/KAIGO.dat",
    ):
        assert (city["a"] / rel).read_bytes() == (city["b"] / rel).read_bytes(), rel


def test_the_manifest_records_the_base_and_the_rate(city):
    doc = json.loads((city["a"] / "juki" / NEW / "_manifest.json").read_text(encoding="utf-8"))
    assert doc["snapshot"] == NEW
    assert doc["changes_from"] == BASE and doc["change_rate"] == RATE and doc["months"] == 1
    assert doc["residents"] == RESIDENTS and doc["seed"] == SEED  # the city, as make run checks
    assert doc["changes"] == [{"from": BASE, "to": NEW, "change_rate": RATE, "months": 1}]


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["--changes-from", BASE, "--snapshot", NEW, "--residents", "2001"], 2, "--residents 2001"),
        (["--changes-from", BASE, "--snapshot", NEW, "--seed", "1"], 2, "--seed 1"),
        (["--changes-from", BASE, "--snapshot", BASE], 2, "must be later than"),
        (["--changes-from", BASE, "--snapshot", "2026-10-01"], 2, "must be later than"),
        (["--changes-from", "2026-10-01", "--snapshot", NEW], 4, "2026-10-01"),
        (["--changes-from", BASE, "--snapshot", NEW, "--months", "0"], 2, "--months"),
        (["--changes-from", BASE, "--snapshot", NEW, "--change-rate", "2"], 2, "--change-rate"),
        (["--snapshot", NEW, "--months", "2"], 2, "only with --changes-from"),
        (["--changes-from", BASE, "--snapshot", NEW, "--rate", "corrupt_record=0"], 2, "--rate"),
    ],
)
def test_bad_arguments_are_one_line(city, tmp_path, args, code, fragment):
    before = sorted(p for p in city["a"].rglob("*"))
    got, _, err = _synth(city["a"], *args)
    assert got == code, err
    assert len(err.strip().splitlines()) == 1 and fragment in err, err
    assert sorted(p for p in city["a"].rglob("*")) == before  # nothing written


def test_a_later_snapshot_of_a_changed_snapshot(city):
    """NEW's city is rebuilt from NEW's manifest (its chain replayed): the same bytes as NEW."""
    import datetime as dt

    from ikou.storage import Store
    from ikou_dev.synth.delta import rebuild
    from ikou_dev.synth.generate import build_file, write_file

    root = city["a"]
    doc = json.loads((root / "juki" / NEW / "_manifest.json").read_text(encoding="utf-8"))
    pop, dups = rebuild(Store(), str(root), doc)
    for d in registry():
        for lf in d.legacy_files:
            buf = io.BytesIO()
            write_file(build_file(pop, SEED, doc["rates"], d, lf, dups), dt.date(2026, 12, 1), buf)
            assert buf.getvalue() == (root / d.id / NEW / f"{lf.name}.dat").read_bytes(), lf.name
    later = "2027-02-01"
    code, _, err = _synth(root, "--changes-from", NEW, "--snapshot", later, "--months", "2")
    assert code == 0, err
    doc = json.loads((root / "juki" / later / "_manifest.json").read_text(encoding="utf-8"))
    assert [s["to"] for s in doc["changes"]] == [NEW, later] and doc["months"] == 2
    rows = pq.read_table(root / "_answer_key" / later / "changes.parquet").to_pylist()
    got = {
        (r["domain"], r["file"], r["key"], r["change"], tuple(sorted(r["columns"]))) for r in rows
    }
    assert got == _difference(root, NEW, later)
