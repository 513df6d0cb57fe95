"""The 名寄せ review loop through real stage runs against the local S3 endpoint.

Run 1 cleanses the addressee master and queues possible duplicates for review; a reviewer's
decisions file (one cluster merged, one kept distinct) goes to ``review/juki/decisions/``; run 2
applies and records it: the merged cluster leaves the master (counted as merged), its old → new
宛名番号 map reaches the hand-off manifest, and a domain that refers to addressees rewrites its
references by the map (recorded in its ledger) and validates without orphans.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow.parquet as pq
import pytest

from ikou.pipeline import RunContext
from ikou.stages import cleanse, extract, load, validate
from ikou.storage import publication

pytestmark = [pytest.mark.integration]

SNAPSHOT = "2026-09-01"
RESIDENTS, SEED = 300, 17
RATES = {"duplicate_addressee": 0.12}
RUN1, RUN2, RUN_K = "review-loop-1", "review-loop-2", "review-loop-kojin"


@pytest.fixture(scope="module")
def city(s3_endpoint):
    from ikou.domains import registry
    from ikou.domains.registry import Registry
    from ikou_dev.synth import synthesize

    reg = registry()
    sub = Registry({k: reg.get(k) for k in ("juki", "kojin_juminzei")}, reg.data_dir)
    return synthesize(
        RESIDENTS, SEED, SNAPSHOT, "s3://ikou-restricted/landing", rates=RATES, registry=sub
    )


def _ctx(domain: str, run_id: str) -> RunContext:
    return RunContext.build(domain=domain, run_id=run_id, snapshot=SNAPSHOT)


def _read(uri: str):
    from ikou.storage import Store

    return pq.read_table(io.BytesIO(Store().get_bytes(uri)))


def _json(uri: str) -> dict:
    from ikou.storage import Store

    return json.loads(Store().get_bytes(uri))


@pytest.fixture(scope="module")
def run1(city):
    ctx = _ctx("juki", RUN1)
    ex = extract.run(ctx)
    return ex, cleanse.run(ctx, ex)


@pytest.fixture(scope="module")
def decided(run1):
    """A reviewer merges the first queued cluster and keeps the second distinct."""
    from ikou.cleanse.review import QUEUE
    from ikou.storage import Store, join, zone_uri

    _, cl = run1
    queue = _read(join(zone_uri("review", "juki", RUN1), QUEUE)).to_pylist()
    clusters: dict[str, str] = {}
    for r in queue:
        clusters.setdefault(r["cluster"], r["members"])
    assert len(clusters) >= 2, "the city must queue at least two clusters for review"
    (c1, m1), (c2, m2) = list(clusters.items())[:2]
    now = dt.datetime(2026, 9, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))).isoformat()
    csv = (
        "cluster,decision,reviewer,reason,time,members\r\n"
        f"{c1},merge,reviewer-a,same person (moved),{now},{m1}\r\n"
        f"{c2},distinct,reviewer-b,namesakes,{now},{m2}\r\n"
        f"9999999999,merge,reviewer-a,a cluster that does not exist,{now},\r\n"
    )
    Store().put_bytes(
        join(zone_uri("review", "juki", "decisions"), "2026-09-02-a.csv"), csv.encode("utf-8")
    )
    return {"merge": (c1, m1.split()), "distinct": (c2, m2.split())}


@pytest.fixture(scope="module")
def run2(decided):
    ctx = _ctx("juki", RUN2)
    ex = extract.run(ctx)
    cl = cleanse.run(ctx, ex)
    va = validate.run(ctx, cl)
    return ex, cl, va


def test_run1_merges_and_queues_and_accounts(run1, city):
    ex, cl = run1
    assert cl.merged > 0 and cl.review["records"] >= 4
    atena = next(a for a in cl.accounting if a.unit == "ATENA")
    assert atena.records_in == city["records"]["juki"]["ATENA"]
    for a in cl.accounting:
        assert a.balanced and a.records_in == a.records_out + a.merged
    assert cl.atena_map_entries == atena.merged


def test_decisions_round_trip_through_the_next_run(run1, run2, decided):
    from ikou.cleanse.merge import map_from_table
    from ikou.cleanse.review import APPLIED, CLUSTERS, QUEUE
    from ikou.storage import join, zone_uri

    _, cl1 = run1
    _, cl2, _ = run2
    review2 = zone_uri("review", "juki", RUN2)
    applied = {r["cluster"]: r for r in _read(join(review2, APPLIED)).to_pylist()}
    c_merge, members_merge = decided["merge"]
    c_keep, members_keep = decided["distinct"]
    assert applied[c_merge]["status"] == "applied" and applied[c_merge]["reviewer"] == "reviewer-a"
    assert applied[c_keep]["status"] == "applied"
    assert applied["9999999999"]["status"] == "stale"
    assert {r["run_id"] for r in applied.values()} == {RUN2}
    # the merged cluster left the queue and the master; the distinct one is no longer asked
    queued = set(_read(join(review2, QUEUE)).column("cluster").to_pylist())
    assert c_merge not in queued and c_keep not in queued
    assert cl2.merged == cl1.merged + len(members_merge) - 1
    assert cl2.review["records"] == cl1.review["records"] - len(members_merge) - len(members_keep)
    clusters = {r["atena_id"]: r for r in _read(join(review2, CLUSTERS)).to_pylist()}
    assert {clusters[a]["final"] for a in members_merge} == {"merge"}
    assert {clusters[a]["decided_by"] for a in members_keep} == {"reviewer"}
    amap = map_from_table(_read(join(zone_uri("cleansed", "juki", RUN2), "_atena_map.parquet")))
    survivor = [a for a in members_merge if a not in amap]
    assert len(survivor) == 1 and all(
        amap[a] == survivor[0] for a in members_merge if a != survivor[0]
    )
    assert not set(members_keep) & set(amap)
    # recorded in the cleansing report (counts only) and its trend over the two runs
    report = _json(join(zone_uri("reports", "juki", RUN2), "cleansing.json"))
    assert report["merge"]["decisions"] == {"applied": 2, "stale": 1}
    assert report["merge"]["merged_by_reviewer_records"] == len(members_merge)
    assert [p["run_id"] for p in report["trend"]][-2:] == [RUN1, RUN2]


def test_merged_addressees_are_gone_and_references_rewritten(run2):
    from ikou.cleanse.merge import map_from_table
    from ikou.storage import join, zone_uri

    _, cl, va = run2
    amap = map_from_table(_read(join(zone_uri("cleansed", "juki", RUN2), "_atena_map.parquet")))
    atena = _read(join(zone_uri("cleansed", "juki", RUN2), "ATENA.parquet"))
    ids = {f"{v:010d}" for v in atena.column("ATENA-NO").to_pylist()}
    assert not ids & set(amap) and set(amap.values()) <= ids
    jumin = _read(join(zone_uri("cleansed", "juki", RUN2), "JUKI.parquet"))
    assert not {f"{v:010d}" for v in jumin.column("ATENA-NO").to_pylist()} & set(amap)
    ledger = _read(join(zone_uri("cleansed", "juki", RUN2), "JUKI.ledger.parquet"))
    assert "atena_merge" in set(ledger.column("rule").to_pylist())
    assert all(len(h) == 32 for h in ledger.column("before_hash").to_pylist())
    assert all(a.orphan_references == 0 for a in va.accounting)


def test_the_map_goes_into_the_handoff(run2):
    from ikou.cleanse.merge import map_from_table
    from ikou.storage import join, zone_uri

    _, cl, va = run2
    lo = load.run(_ctx("juki", RUN2), va)
    manifest = _json(join(lo.uri, "manifest.json"))
    amap = map_from_table(_read(join(zone_uri("cleansed", "juki", RUN2), "_atena_map.parquet")))
    entries = manifest["atena_no_map"]["entries"]
    assert amap and {m["old"]: m["new"] for m in entries} == amap
    assert manifest["atena_no_map"]["count"] == len(amap)


def test_a_referring_domain_applies_the_master_map(run2):
    from ikou.cleanse.merge import map_from_table
    from ikou.storage import Store, join, zone_uri

    _, cl, va = run2
    store = Store()
    # gate_standard publishes this pointer when the master passes; the test writes it directly
    publication.point_latest_validated(store, "juki", SNAPSHOT, va.uri, RUN2)
    amap = map_from_table(_read(join(zone_uri("cleansed", "juki", RUN2), "_atena_map.parquet")))
    ctx_k = _ctx("kojin_juminzei", RUN_K)
    ex = extract.run(ctx_k)
    raw = _read(join(ex.uri, "KOJIN.parquet"))
    refs = [f"{v:010d}" for v in raw.column("ATENA-NO").to_pylist()]
    expected = sum(1 for r in refs if r in amap)
    assert expected > 0, "the synthetic city refers to some duplicates from other systems"
    ck = cleanse.run(ctx_k, ex)
    assert ck.atena_map_entries == len(amap)
    assert ck.fixed_by_rule_field.get("atena_merge.KOJIN.ATENA-NO") == expected
    kojin = _read(join(ck.uri, "KOJIN.parquet"))
    assert not {f"{v:010d}" for v in kojin.column("ATENA-NO").to_pylist()} & set(amap)
    vk = validate.run(ctx_k, ck)
    assert all(a.orphan_references == 0 for a in vk.accounting)
    report = _json(join(zone_uri("reports", "kojin_juminzei", RUN_K), "cleansing.json"))
    assert report["merge"]["references_rewritten"] == expected


def test_reports_hold_no_personal_values(run2, decided):
    """The review loop's reports: no personal data of any kind (tests_support.city_needles), nor
    the 宛名番号 of the reviewed records."""
    from tests_support import PersonalDataSearch, city_needles

    from ikou.storage import Store

    needles = city_needles(RESIDENTS, SEED, SNAPSHOT, public_dates=[SNAPSHOT, "2026-09-02"])
    for atena in decided["merge"][1] + decided["distinct"][1]:
        needles[atena] = "atena_no"  # of the reviewed records
    search = PersonalDataSearch(needles)
    store = Store()
    searched = 0
    for uri in store.list("s3://ikou-reports/reports/"):
        if "/review-loop" not in uri:
            continue
        search.search(uri, store.get_bytes(uri).decode("utf-8", errors="replace"))
        searched += 1
    assert searched and not search.hits, search.hits[:5]
