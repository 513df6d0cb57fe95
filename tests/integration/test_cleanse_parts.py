"""The cleanse stage in record ranges (cleanse_plan → cleanse_parts → cleanse) publishes what the
whole-file cleanse publishes, row for row.

One synthetic city (duplicate addressees: 名寄せ merges some, so the master leaves records out and
JUKI's references are rewritten), one extract; the cleanse runs twice at the stage level against
the local S3 endpoint: whole (the default part size: nothing planned) and in parts of 70 records
(``IKOU_CLEANSE_PART_ROWS``: ATENA and JUKI in five parts each, every part in a call of its own as
a mapped task instance runs it). The cleansed tables, ledgers, values ledgers, the 宛名番号 map, the
review files, the findings and the report's counts are compared; each part's accounting closes,
and a missing or changed part fails the merge before anything is published.
"""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest

from ikou.pipeline import RunContext
from ikou.stages import cleanse, extract
from ikou.stages.common import StageError
from ikou.storage import publication

pytestmark = [pytest.mark.integration]

SNAPSHOT = "2026-09-11"
RESIDENTS, SEED = 300, 23
RATES = {"duplicate_addressee": 0.12, "unmapped_gaiji": 0.03}
PART_ROWS = "70"
EXTRACT_RUN, WHOLE, SPLIT = "cparts-extract", "cparts-whole", "cparts-split"


@pytest.fixture(scope="module")
def city(s3_endpoint):
    from ikou.domains import registry
    from ikou.domains.registry import Registry
    from ikou_dev.synth import synthesize

    reg = registry()
    sub = Registry({"juki": reg.get("juki")}, reg.data_dir)
    return synthesize(
        RESIDENTS, SEED, SNAPSHOT, "s3://ikou-restricted/landing", rates=RATES, registry=sub
    )


def _ctx(run_id: str) -> RunContext:
    return RunContext.build(domain="juki", run_id=run_id, snapshot=SNAPSHOT)


@pytest.fixture(scope="module")
def extracted(city):
    return extract.run(_ctx(EXTRACT_RUN))


@pytest.fixture(scope="module")
def whole(extracted):
    ctx = _ctx(WHOLE)
    assert cleanse.plan(ctx, extracted) == []  # 300 residents: below the default part size
    return cleanse.run(ctx, extracted)


def _split_plan(ctx, extracted):
    import os

    os.environ["IKOU_CLEANSE_PART_ROWS"] = PART_ROWS
    try:
        return cleanse.plan(ctx, extracted)
    finally:
        os.environ.pop("IKOU_CLEANSE_PART_ROWS", None)


@pytest.fixture(scope="module")
def split(extracted):
    ctx = _ctx(SPLIT)
    planned = _split_plan(ctx, extracted)
    results = [cleanse.part(ctx, p) for p in planned]
    return planned, results, cleanse.run(ctx, extracted, plan=planned, parts=results)


def _store():
    from ikou.storage import Store

    return Store()


def _files(prefix: str) -> dict[str, bytes]:
    """name -> bytes of every file a published prefix lists."""
    from ikou.storage import join

    manifest = publication.read_manifest(_store(), prefix)
    return {f["name"]: _store().get_bytes(join(prefix, f["name"])) for f in manifest["files"]}


def _report(run_id: str, name: str) -> dict:
    from ikou.storage import join, zone_uri

    return json.loads(_store().get_bytes(join(zone_uri("reports", "juki", run_id), name)))


def test_the_plan_splits_both_files_into_ranges(extracted, split):
    planned, results, _ = split
    by_file: dict[str, list] = {}
    for p in planned:
        by_file.setdefault(p.file, []).append((p.start, p.end))
    assert set(by_file) == {"ATENA", "JUKI"}
    for file, ranges in by_file.items():
        assert len(ranges) >= 4
        assert ranges[0][0] == 0 and ranges[-1][1] == extracted.units[file]
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # tiled, in order


def test_each_part_accounts_for_its_records_and_the_file_in_total(extracted, split):
    planned, results, cl = split
    for r in results:  # in = out + merged per part: cleansing a range drops nothing
        assert r.records_in == r.end - r.start == r.records_out + r.merged
        # only URIs, sha256 and counts cross XCom
        assert set(r.files) == {"table", "ledger", "values", "meta"}
        assert all("/_parts/" in u for u in r.files.values())
    for a in cl.accounting:
        mine = [r for r in results if r.file == a.unit]
        assert a.records_in == sum(r.records_in for r in mine) == extracted.units[a.unit]
        assert a.balanced and a.records_in == a.records_out + a.merged
        assert a.model_dump()["parts"] == len(mine)
    assert cl.parts == {"ATENA": len([p for p in planned if p.file == "ATENA"]), "JUKI": 5}
    # the cleansed manifest keeps each part's accounting beside its file's
    manifest = publication.read_manifest(_store(), cl.uri)
    for file, rows in manifest["parts"].items():
        assert [r["part"] for r in rows] == list(range(cl.parts[file]))
        assert all(r["records_in"] == r["records_out"] + r["merged"] for r in rows)
        acc = next(a for a in manifest["accounting"] if a["unit"] == file)
        assert sum(r["records_in"] for r in rows) == acc["records_in"]


def test_the_parts_publish_what_the_whole_file_publishes(whole, split):
    """Every published Parquet file, row for row and schema for schema (map, ledgers, values
    ledgers, cleansed tables), and the review files; the 名寄せ merged some addressees and
    rewrote references, so the map's steps ran over the parts too."""
    _, _, cl = split
    assert whole.atena_map_entries > 0 and whole.merged > 0
    assert whole.fixed_by_rule_field.get("atena_merge.JUKI.ATENA-NO", 0) > 0
    a = _files(whole.uri)
    b = {k: v for k, v in _files(cl.uri).items() if not k.startswith("_parts/")}
    assert set(a) == set(b) and "_atena_map.parquet" in a
    for name in sorted(a):
        ta, tb = pq.read_table(io.BytesIO(a[name])), pq.read_table(io.BytesIO(b[name]))
        assert tb.equals(ta, check_metadata=True), name
    ra, rb = _files(whole.review["uri"]), _files(cl.review["uri"])
    assert set(ra) == set(rb) and ra
    for name in sorted(ra):
        ta, tb = pq.read_table(io.BytesIO(ra[name])), pq.read_table(io.BytesIO(rb[name]))
        if "run_id" in ta.column_names:  # the applied decisions name their run
            ta, tb = ta.drop_columns(["run_id"]), tb.drop_columns(["run_id"])
        assert tb.equals(ta), name
    # the parts stay beside the output (a retried merge merges them again), in its manifest
    from ikou.storage import join

    listed = [f for f in publication.read_manifest(_store(), cl.uri)["files"] if "part_of" in f]
    assert len(listed) == 4 * sum(cl.parts.values())
    assert {join(cl.uri, f["name"]) for f in listed} == set(_store().list(join(cl.uri, "_parts/")))


def test_the_findings_and_counts_are_the_whole_files(whole, split):
    _, _, cl = split
    fa, fb = _report(WHOLE, "findings/cleanse.json"), _report(SPLIT, "findings/cleanse.json")
    assert fa["summary"] == fb["summary"]
    assert list(fa["ledger_counts"].items()) == list(fb["ledger_counts"].items())
    rows = [{k: v for k, v in r.items() if k != "run"} for r in fa["findings"]]
    assert rows == [{k: v for k, v in r.items() if k != "run"} for r in fb["findings"]]
    assert len(rows) > 10  # some findings to compare (gaiji, dates, duplicates …)
    for field in (
        "records_in",
        "records_out",
        "merged",
        "changes",
        "findings",
        "fixed_by_rule_field",
        "findings_by_rule_field",
        "atena_map_entries",
    ):
        assert getattr(cl, field) == getattr(whole, field), field
    ca, cb = _report(WHOLE, "cleansing.json"), _report(SPLIT, "cleansing.json")
    for key in ("files", "totals", "fixed", "findings", "findings_by_severity", "stats", "names"):
        assert ca[key] == cb[key], key
    assert {k: v for k, v in ca["merge"].items() if k != "dedupe_seconds"} == {
        k: v for k, v in cb["merge"].items() if k != "dedupe_seconds"
    }


def _nothing_published(run_id: str) -> bool:
    from ikou.storage import zone_uri

    try:
        publication.read_manifest(_store(), zone_uri("cleansed", "juki", run_id))
    except publication.NotPublished:
        return True
    return False


def test_a_missing_part_fails_the_merge_and_publishes_nothing(extracted):
    """A part that did not run (its mapped instance lost, its result missing): the merge names
    it and publishes nothing — never a cleansed file of some of its records."""
    ctx = _ctx("cparts-missing")
    planned = _split_plan(ctx, extracted)
    results = [cleanse.part(ctx, p) for p in planned]
    lost = next(r for r in results if r.file == "JUKI" and r.index == 2)
    with pytest.raises(StageError, match=r"JUKI: cleanse_parts returned parts .*missing \[2\]"):
        cleanse.run(ctx, extracted, plan=planned, parts=[r for r in results if r is not lost])
    assert _nothing_published("cparts-missing")


def test_a_part_whose_files_are_gone_or_changed_fails_the_merge(extracted):
    ctx = _ctx("cparts-gone")
    planned = _split_plan(ctx, extracted)
    results = [cleanse.part(ctx, p) for p in planned]
    victim = next(r for r in results if r.file == "ATENA" and r.index == 1)
    store = _store()
    data = store.get_bytes(victim.files["ledger"])
    store.put_bytes(victim.files["ledger"], data + b"\0")
    with pytest.raises(StageError, match="sha256 differs from what cleanse_parts wrote"):
        cleanse.run(ctx, extracted, plan=planned, parts=results)
    store.delete_prefix(victim.files["table"])
    with pytest.raises(StageError, match=r"ATENA part 1: its table file is missing"):
        cleanse.run(ctx, extracted, plan=planned, parts=results)
    assert _nothing_published("cparts-gone")


def test_a_retried_merge_merges_the_same_parts_again(extracted, split):
    """A cleanse task killed after it published (a worker lost) is retried: its parts are still
    there, so the retry merges them again and finds the output published — the same result."""
    planned, results, cl = split
    again = cleanse.run(_ctx(SPLIT), extracted, plan=planned, parts=results)
    assert again.uri == cl.uri and again.accounting == cl.accounting
    assert again.findings == cl.findings and again.fixed_by_rule_field == cl.fixed_by_rule_field


def test_a_changed_extract_is_refused_by_the_plan(extracted):
    """The raw Parquet changed after extract published it (its manifest's sha256 no longer
    holds): cleanse_plan refuses to split it, naming the file — the parts would cleanse records
    the accounting never saw."""
    from ikou.storage import join

    store = _store()
    uri = join(extracted.published, "JUKI.parquet")
    original = store.get_bytes(uri)
    store.put_bytes(uri, original + b"\0")
    try:
        with pytest.raises(StageError, match=r"JUKI\.parquet: sha256 differs from its manifest"):
            _split_plan(_ctx("cparts-changed"), extracted)
    finally:
        store.put_bytes(uri, original)
    assert _split_plan(_ctx("cparts-changed"), extracted)  # as published: planned again
