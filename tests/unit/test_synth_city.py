"""ikou_dev.synth at the user's level: arguments checked (one BadArgument line each), the manifest
records the city, the population is deterministic, a seeded duplicate key is in the answer key
and in the file, and ``ikou stack run`` refuses a landing snapshot that holds another city."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from ikou.domains import registry
from ikou.errors import BadArgument
from ikou_dev.synth import synthesize
from ikou_dev.synth.generate import DEFAULT_RATES, SYNTH_VERSION
from ikou_dev.synth.population import build

SNAP = "2026-11-01"


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"residents": 5}, "--residents 5: a city has 10 to 10,000,000 residents"),
        ({"residents": 10_000_001}, "--residents 10,000,001: a city has 10 to 10,000,000"),
        ({"residents": "many"}, "--residents 'many': expected a whole number"),
        ({"snapshot": "2026-02-30"}, "--snapshot '2026-02-30': expected a real date"),
        ({"snapshot": "tomorrow"}, "--snapshot 'tomorrow': expected a real date"),
        ({"rates": {"typo": 0.5}}, "--rate: unknown defect rates ['typo']; known: "),
        ({"rates": {"corrupt_record": 1.5}}, "--rate corrupt_record=1.5: a rate is from 0 to 1"),
        ({"rates": {"corrupt_record": -0.1}}, "--rate corrupt_record=-0.1: a rate is from 0 to 1"),
        ({"rates": {"corrupt_record": "x"}}, "--rate corrupt_record='x': expected a number"),
        ({"domains": ["juki", "nope"]}, "--domains: unknown domains ['nope']; known: "),
        ({"seed": -1}, "--seed -1: expected a whole number >= 0"),
    ],
)
def test_bad_arguments_are_one_line_each(tmp_path, kwargs, message):
    args = {"residents": 50, "seed": 1, "snapshot": SNAP, "out": str(tmp_path / "out")}
    args.update(kwargs)
    with pytest.raises(BadArgument) as err:
        synthesize(**args)
    assert err.value.exit_code == 2
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing written


def test_an_unwritable_out_is_refused(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(BadArgument, match="is a file, not a folder"):
        synthesize(50, 1, SNAP, str(a_file / "landing"))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os

        if os.access(ro, os.W_OK):  # root writes anywhere: nothing to refuse
            return
        with pytest.raises(BadArgument, match="is not writable"):
            synthesize(50, 1, SNAP, str(ro / "landing"))
    finally:
        ro.chmod(0o700)


def test_the_smallest_and_a_compact_snapshot_are_accepted(tmp_path):
    s = synthesize(10, 1, "20261101", str(tmp_path / "o"), domains=["juki"])
    assert s["residents"] == 10 and s["snapshot"] == SNAP


# ----------------------------------------------------------------------------- the city


def test_the_population_is_deterministic_for_a_seed():
    a = build(5000, 42, dt.date(2026, 11, 1))
    b = build(5000, 42, dt.date(2026, 11, 1))
    c = build(5000, 43, dt.date(2026, 11, 1))
    for name in ("kind", "atena", "surname", "given", "birth", "town", "ident", "koseki_id"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.atena, c.atena)
    assert a.n_residents == 5000  # exactly the residents asked for
    # households: one head each, members share the head's address
    heads = a.head[a.kind == 1]
    assert np.all(a.relationship[heads] == 1)
    assert np.array_equal(a.town[a.kind == 1], a.town[heads])
    # no two members of a household share a given name (namesakes live apart)
    res = a.kind == 1
    pairs = a.household[res].astype(np.int64) * 10**6 + a.given[res]
    assert len(np.unique(pairs)) == int(res.sum())


def test_proportions_of_a_designated_city():
    pop = build(50_000, 5, dt.date(2026, 11, 1))
    res = pop.kind == 1
    age = pop.ages()[res]
    assert 0.17 < np.mean(age >= 65) < 0.27
    assert 0.06 < np.mean(age < 15) < 0.16
    assert 0.01 < np.mean(pop.foreign[res]) < 0.03
    assert np.count_nonzero(pop.kind == 2) == int(50_000 * 0.08)
    assert np.count_nonzero(pop.kind == 3) == int(50_000 * 0.03)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("city") / "landing"
    rates = {"duplicate_key": 0.02, "corrupt_record": 0.0}
    summary = synthesize(
        2000, 9, SNAP, str(out), rates=rates, domains=["juki", "kokumin_nenkin", "kaigo"]
    )
    return out, summary


def test_the_manifest_records_the_city(city):
    out, summary = city
    from ikou.storage import code_version

    for d in ("juki", "kokumin_nenkin", "kaigo"):
        m = json.loads((out / d / SNAP / "_manifest.json").read_text(encoding="utf-8"))
        assert m["residents"] == 2000 and m["seed"] == 9
        assert m["rates"] == dict(DEFAULT_RATES, duplicate_key=0.02, corrupt_record=0.0)
        assert m["synth_version"] == SYNTH_VERSION
        assert m["code_version"] == code_version() != ""
    assert summary["residents"] == 2000 and summary["synth_version"] == SYNTH_VERSION


def _decoded(out: Path, domain: str, name: str):
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import decode_file
    from ikou.stages.extract import extract_options

    lf = registry().get(domain).legacy_file(name)
    folder = out / domain / SNAP
    cb = parse_copybook((folder / lf.copybook).read_text(encoding="utf-8"), source=lf.copybook)
    gaiji = out / "_reference" / SNAP / "gaiji.csv"
    run = decode_file(folder / f"{name}.dat", cb, extract_options(lf, f"{name}.dat", gaiji))
    import pyarrow as pa

    return lf, pa.Table.from_batches([rb for c in run for rb in c.batches.values()])


@pytest.mark.parametrize("domain,name", [("kokumin_nenkin", "NENKIN"), ("kaigo", "KAIGO")])
def test_a_seeded_duplicate_key_is_in_the_answer_key_and_nothing_else_repeats(city, domain, name):
    out, summary = city
    lf, table = _decoded(out, domain, name)
    (key,) = lf.business_keys
    values = table.column(key).to_pylist()
    recs = table.column("_record").to_pylist()
    defects = pq.read_table(out / "_answer_key" / SNAP / "defects.parquet").to_pylist()
    seeded = [r for r in defects if r["defect"] == "duplicate_key" and r["file"] == name]
    assert seeded and summary["seeded"]["duplicate_key"] >= len(seeded)
    by_record = dict(zip(recs, values))
    for r in seeded:
        assert r["field"] == key
        assert str(by_record[r["record"]]) == r["key"]  # the key column of the answer key
        assert by_record[r["record"]] == by_record[r["record"] - 1]
        assert r["detail"] == f"same key as record {r['record'] - 1}"
    seen: dict = {}
    repeats = set()
    for rec, v in zip(recs, values):
        if v in seen:
            repeats.add(rec)
        seen.setdefault(v, rec)
    assert repeats == {r["record"] for r in seeded}
    # 宛名番号 never repeats: every other file refers to it
    _, atena = _decoded(out, "juki", "ATENA")
    a = atena.column("ATENA-NO").to_pylist()
    assert len(set(a)) == len(a)


# ----------------------------------------------------------------------------- ikou stack run


def test_the_run_timeout_scales_with_the_city():
    from ikou_dev.localstack_table import run_timeout

    assert run_timeout(20_000, env={}) == 1800 + 30
    assert run_timeout(1_000_000, env={}) == 1800 + 1500
    assert run_timeout(3_800_000, env={}) > run_timeout(1_000_000, env={})
    assert run_timeout(3_800_000, env={"IKOU_RUN_TIMEOUT": "600"}) == 600
    with pytest.raises(BadArgument, match="IKOU_RUN_TIMEOUT 'soon'"):
        run_timeout(20_000, env={"IKOU_RUN_TIMEOUT": "soon"})


def test_stack_run_refuses_a_landing_snapshot_of_another_city(s3_endpoint):
    from ikou.storage import MANIFEST, Store, join, landing_uri
    from ikou_dev.localstack_table import check_landing

    snap = "2031-03-03"  # a snapshot of this test's own in the session's S3
    store = Store()
    synthesize(30, 7, snap, "s3://ikou-restricted/landing", store=store, domains=["juki"])
    with pytest.raises(BadArgument) as err:
        check_landing(store, 20_000, 7, snap)
    assert str(err.value) == (
        "snapshot 2031-03-03 holds 30 residents; set IKOU_SNAPSHOT or make clean-data"
    )
    assert err.value.exit_code == 2
    with pytest.raises(BadArgument, match="holds the city of seed 7"):
        check_landing(store, 30, 8, snap)
    # the same city: the domains still to synthesise
    missing = check_landing(store, 30, 7, snap)
    assert "juki" not in missing and len(missing) == len(registry()) - 1
    # a manifest written before synth recorded its city is refused too
    uri = join(landing_uri("juki", snap), MANIFEST)
    old = json.loads(store.get_bytes(uri))
    for k in ("residents", "seed", "rates", "synth_version", "code_version"):
        old.pop(k)
    store.put_bytes(uri, json.dumps(old).encode())
    with pytest.raises(BadArgument, match="holds a city of unknown size"):
        check_landing(store, 30, 7, snap)
