"""ikou.cleanse.carry: on a delta run the base's 名寄せ carries over (issue 12 §2)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from ikou.cleanse import carry as CA
from ikou.cleanse.merge import survivor


def _clusters(rows):
    """rows: (atena_id, cluster_id, final, decided_by)."""
    return pa.table(
        {
            "atena_id": [r[0] for r in rows],
            "cluster_id": [r[1] for r in rows],
            "match_score": [0.9999 if r[2] != "distinct" else 0.0 for r in rows],
            "decision": [r[2] if r[3] == "model" else "review" for r in rows],
            "final": [r[2] for r in rows],
            "decided_by": [r[3] for r in rows],
        }
    )


def _row(a, updated):
    return {"atena_id": a, "kind": "1", "updated": dt.date(*updated), "registered": None}


# the base merged 0000000002 into 0000000001; in the new snapshot 0000000002 was updated later,
# so the model's survivor rule alone would now keep 0000000002 (a renumbered addressee)
BASE = CA.Base({"0000000001", "0000000009"}, {"0000000002": "0000000001"})
ROWS = {
    "0000000001": _row("0000000001", (2020, 1, 1)),
    "0000000002": _row("0000000002", (2026, 5, 1)),
}


def test_without_the_base_the_survivor_flips():
    c = _clusters([("0000000001", "0000000001", "auto_merge", "model"),
                   ("0000000002", "0000000001", "auto_merge", "model")])  # fmt: skip
    assert CA.merge_map(c, ROWS, {}, survivor) == {"0000000001": "0000000002"}


def test_a_base_merge_keeps_its_survivor():
    c = _clusters([("0000000001", "0000000001", "auto_merge", "model"),
                   ("0000000002", "0000000001", "auto_merge", "model")])  # fmt: skip
    held, counts = CA.hold_migrated(c, BASE)
    assert not counts  # the same merge as the base's: stays automatic
    assert CA.merge_map(held, ROWS, {}, survivor, BASE) == {"0000000002": "0000000001"}


def test_a_reviewers_survivor_still_wins():
    c = _clusters([("0000000001", "0000000001", "merge", "reviewer"),
                   ("0000000002", "0000000001", "merge", "reviewer")])  # fmt: skip
    got = CA.merge_map(c, ROWS, {"0000000001": "0000000002"}, survivor, BASE)
    assert got == {"0000000001": "0000000002"}


def test_a_base_merge_the_model_no_longer_makes_is_kept_unless_a_reviewer_split_it():
    c = _clusters([("0000000001", "0000000001", "review", "model"),
                   ("0000000002", "0000000001", "review", "model")])  # fmt: skip
    assert CA.merge_map(c, {}, {}, survivor) == {}  # today: 0000000002 comes back as an insert
    assert CA.merge_map(c, {}, {}, survivor, BASE) == {"0000000002": "0000000001"}
    split = _clusters([("0000000001", "0000000001", "distinct", "reviewer"),
                       ("0000000002", "0000000001", "distinct", "reviewer")])  # fmt: skip
    assert CA.merge_map(split, {}, {}, survivor, BASE) == {}
    # a distinct about other records (0000000002 is not 0000000070) leaves the base merge alone
    other = _clusters([("0000000001", "0000000001", "distinct", "model"),
                       ("0000000002", "0000000002", "distinct", "reviewer"),
                       ("0000000070", "0000000002", "distinct", "reviewer")])  # fmt: skip
    assert CA.merge_map(other, {}, {}, survivor, BASE) == {"0000000002": "0000000001"}


def test_a_new_duplicate_of_a_migrated_addressee_goes_to_review():
    c = _clusters([("0000000009", "0000000009", "auto_merge", "model"),
                   ("0000000050", "0000000009", "auto_merge", "model"),  # new record
                   ("0000000060", "0000000060", "auto_merge", "model"),  # two new records
                   ("0000000061", "0000000060", "auto_merge", "model"),
                   ("0000000070", "0000000070", "distinct", "model")])  # fmt: skip
    rows = {a: _row(a, (2026, 6, 1)) for a in ("0000000009", "0000000060", "0000000061")}
    rows["0000000050"] = _row("0000000050", (2026, 7, 1))  # the new record, updated last
    assert CA.merge_map(c, rows, {}, survivor)["0000000009"] == "0000000050"  # today: renumbered
    held, counts = CA.hold_migrated(c, BASE)
    assert counts == {CA.NEW_DUPLICATE: 2}
    t = held.to_pydict()
    assert t["final"] == ["review", "review", "auto_merge", "auto_merge", "distinct"]
    assert t["decided_by"][:2] == [CA.NEW_DUPLICATE] * 2
    assert CA.merge_map(held, rows, {}, survivor, BASE) == {"0000000061": "0000000060"}


def test_migrated_addressees_the_base_kept_apart_are_not_merged_automatically():
    c = _clusters([("0000000001", "0000000001", "auto_merge", "model"),
                   ("0000000009", "0000000001", "auto_merge", "model")])  # fmt: skip
    held, counts = CA.hold_migrated(c, BASE)
    assert counts == {CA.MERGE_OF_MIGRATED: 2}
    assert held.column("final").to_pylist() == ["review", "review"]
    # a reviewer's merge is a person's decision: never held
    rev = _clusters([("0000000001", "0000000001", "merge", "reviewer"),
                     ("0000000009", "0000000001", "merge", "reviewer")])  # fmt: skip
    assert CA.hold_migrated(rev, BASE)[1] == {}


# ---------------------------------------------------------------- the base's survivor is gone
# the base merged 0000000002 and 0000000003 into 0000000001 (published) and 0000000012 into
# 0000000011; the new snapshot deleted 0000000001 (the person died / moved out)
GONE = CA.Base(
    {"0000000001", "0000000011"},
    {"0000000002": "0000000001", "0000000003": "0000000001", "0000000012": "0000000011"},
)


def _model(rows):
    """The model's clusters (before the reviewers): rows (atena_id, cluster_id, decision)."""
    return pa.table(
        {
            "atena_id": [r[0] for r in rows],
            "cluster_id": [r[1] for r in rows],
            "match_score": [0.9999 if r[2] != "distinct" else 0.0 for r in rows],
            "decision": [r[2] for r in rows],
        }
    )


def _decided(model, decisions=()):
    """open_survivor_gone, the reviewers' decisions, hold_migrated: as dedupe_master does."""
    from ikou.cleanse import review as RV

    opened = CA.open_survivor_gone(model, GONE)
    out, applied = RV.apply_decisions(opened, list(decisions))
    held, counts = CA.hold_migrated(out, GONE)
    return held, counts, applied


def _decision(cluster, decision, members="", survivor=""):
    from ikou.cleanse import review as RV

    return RV.Decision(
        cluster, decision, "査定者", "checked", "2026-12-01T10:00:00+09:00", members, survivor
    )


ALONE = [("0000000002", "0000000002", "distinct"),  # merged away, its survivor gone
         ("0000000011", "0000000011", "distinct"),
         ("0000000012", "0000000012", "distinct")]  # fmt: skip


def test_a_record_whose_base_survivor_is_gone_stays_merged_and_goes_to_review():
    from ikou.cleanse import review as RV

    model = _model(ALONE)
    plain = model.append_column("final", model.column("decision"))
    plain = plain.append_column("decided_by", pa.array(["model"] * 3))
    # 0000000002 was never published: it must not come back as a new addressee (an insert of a
    # person the base had merged), queued or not
    assert CA.merge_map(plain, {}, {}, survivor, GONE)["0000000002"] == "0000000001"
    held, counts, _ = _decided(model)
    assert counts == {CA.SURVIVOR_GONE: 1}
    t = held.to_pydict()
    assert t["final"] == ["review", "distinct", "distinct"]
    assert t["decided_by"][0] == CA.SURVIVOR_GONE and t["cluster_id"][0] == "0000000002"
    amap = CA.merge_map(held, {}, {}, survivor, GONE)
    assert amap == {"0000000002": "0000000001", "0000000012": "0000000011"}
    assert CA.survivor_gone(amap, set(t["atena_id"])) == ["0000000002"]
    records = pa.table({"atena_id": t["atena_id"], "name": ["x", "y", "z"]})
    queue = RV.build_queue(held, records)
    assert queue.column("atena_id").to_pylist() == ["0000000002"]
    assert queue.column("reason").to_pylist() == [CA.SURVIVOR_GONE]
    page = RV.render_review_page(queue, domain="juki", run_id="r")
    assert CA.SURVIVOR_GONE in page and "0000000002,,,,,0000000002" in page
    assert "the mainframe should retire the duplicate" in page  # what the reason asks of them


def test_a_reviewer_decides_a_record_whose_survivor_is_gone():
    # distinct: the mainframe keeps it as the person (e.g. it renumbered): published
    held, counts, applied = _decided(_model(ALONE), [_decision("0000000002", "distinct")])
    assert applied[0].status == "applied" and not counts
    assert CA.merge_map(held, {}, {}, survivor, GONE) == {"0000000012": "0000000011"}
    # merge: the carry-over confirmed; off the queue, still merged into the gone survivor
    held, counts, _ = _decided(_model(ALONE), [_decision("0000000002", "merge")])
    assert not counts and held.column("final").to_pylist()[0] == "merge"
    assert CA.merge_map(held, {}, {}, survivor, GONE)["0000000002"] == "0000000001"


def test_a_decision_naming_a_survivor_that_is_gone_does_not_apply():
    old_members = "0000000001 0000000002"  # the base's decision: the gone survivor stays
    held, counts, applied = _decided(
        _model(ALONE),
        [
            _decision("0000000002", "merge", survivor="0000000001"),
            _decision("0000000001", "merge", members=old_members, survivor="0000000001"),
        ],
    )
    assert [d.status for d in applied] == ["invalid", "stale"]
    assert counts == {CA.SURVIVOR_GONE: 1}  # back to review, still merged meanwhile
    assert CA.merge_map(held, {}, {}, survivor, GONE)["0000000002"] == "0000000001"


def test_two_records_merged_into_a_gone_survivor_never_come_back():
    model = _model([("0000000002", "0000000002", "auto_merge"),
                    ("0000000003", "0000000002", "auto_merge")])  # fmt: skip
    rows = {"0000000002": _row("0000000002", (2020, 1, 1)),
            "0000000003": _row("0000000003", (2026, 1, 1))}  # fmt: skip
    plain = model.append_column("final", model.column("decision"))
    plain = plain.append_column("decided_by", pa.array(["model"] * 2))
    assert CA.merge_map(plain, rows, {}, survivor) == {"0000000002": "0000000003"}  # resurrected
    held, counts, _ = _decided(model)
    assert counts == {CA.SURVIVOR_GONE: 2}  # the automatic merge would publish one of them
    both = {"0000000002": "0000000001", "0000000003": "0000000001"}
    assert CA.merge_map(held, rows, {}, survivor, GONE) == both
    # a reviewer's merge keeps the base's survivor; one naming a survivor publishes that one
    held, counts, _ = _decided(model, [_decision("0000000002", "merge")])
    assert not counts and CA.merge_map(held, rows, {}, survivor, GONE) == both
    chosen = {"0000000002": "0000000003"}
    assert CA.merge_map(held, rows, chosen, survivor, GONE) == {"0000000002": "0000000003"}


def test_a_new_record_joining_a_record_whose_survivor_is_gone_is_held():
    model = _model([("0000000002", "0000000002", "auto_merge"),
                    ("0000000050", "0000000002", "auto_merge")])  # fmt: skip
    rows = {a: _row(a, (2026, 1, 1)) for a in ("0000000002", "0000000050")}
    held, counts, _ = _decided(model)
    assert counts == {CA.SURVIVOR_GONE: 2}
    # the new record stays apart until a person decides; the merged-away one stays merged
    assert CA.merge_map(held, rows, {}, survivor, GONE) == {"0000000002": "0000000001"}


def test_a_base_merge_whose_records_are_both_gone_carries_nothing():
    model = _model([("0000000011", "0000000011", "distinct")])  # 0000000001..3, 12 all gone
    held, counts, _ = _decided(model)
    assert not counts
    amap = CA.merge_map(held, {}, {}, survivor, GONE)
    assert amap == {} and CA.survivor_gone(amap, {"0000000011"}) == []


def test_a_chain_in_the_base_map_is_followed_past_a_vanished_middle():
    chain = CA.Base({"0000000030"}, {"0000000010": "0000000020", "0000000020": "0000000030"})
    assert chain.survivor_of("0000000010") == "0000000030"
    assert CA.Base(set(), {"1": "2", "2": "1"}).survivor_of("1") == "2"  # a cycle stops
    c = _clusters([("0000000010", "0000000010", "distinct", "model"),
                   ("0000000030", "0000000030", "distinct", "model")])  # fmt: skip
    held, counts = CA.hold_migrated(c, chain)
    assert not counts  # 0000000020 vanished, the survivor 0000000030 is there: nothing to review
    assert CA.merge_map(held, {}, {}, survivor, chain) == {"0000000010": "0000000030"}
    alone = _clusters([("0000000010", "0000000010", "review", "model")])
    held, counts = CA.hold_migrated(alone, chain)  # the end of the chain is gone too
    assert counts == {CA.SURVIVOR_GONE: 1}
    assert CA.merge_map(held, {}, {}, survivor, chain) == {"0000000010": "0000000030"}


def test_the_cleansing_report_shows_the_delta_reasons_counts_only():
    from types import SimpleNamespace

    from ikou.cleanse.report import build, render

    held = {CA.NEW_DUPLICATE: 2, CA.SURVIVOR_GONE: 3}
    report = build(
        SimpleNamespace(id="juki", name_ja="住民基本台帳", name_en="Resident registry"),
        run_id="r1",
        snapshot="2026-12-01",
        mode="rehearsal",
        files=[{"unit": "ATENA", "records_in": 10, "records_out": 7, "merged": 3}],
        fixed={},
        problems={f"{CA.SURVIVOR_GONE}.ATENA-NO": 3},
        severities={"warning": 3},
        stats={},
        names={},
        merge={
            "delta_held_records": 5,
            "delta_held_by_reason": held,
            "delta_survivor_gone_records": 3,
        },
        previous=[],
    )
    html = render(report)
    assert "Delta run" in html and "統合先が削除済み" in html
    for reason, n in held.items():
        assert f"<td>{reason}</td><td class='num'>{n:,}</td>" in html
    assert "delta_survivor_gone_records" in html and "統合先の削除(差分移行)" in html


def master_records() -> pa.Table:
    """Four addressee-master records of the 住民基本台帳 layout (synthetic): 0000000001 and
    0000000005 one person twice (the newer record 0000000005), then two other people."""
    people = [  # (name, kana, birth, address): the first twice (a duplicate), then others
        ("見本　太郎", "ミホン　タロウ", (1960, 4, 1), "架空市中央区桜町１丁目２番３号"),
        ("見本　太郎", "ミホン　タロウ", (1960, 4, 1), "架空市中央区桜町１丁目２番３号"),
        ("試験　花子", "シケン　ハナコ", (1975, 8, 9), "架空市北区松町３丁目４番５号"),
        ("仮名　次郎", "カメイ　ジロウ", (1988, 2, 3), "架空市南区竹町２丁目６番７号"),
    ]
    ids = ["0000000001", "0000000005", "0000000003", "0000000004"]
    date = pa.date32()
    table = pa.table(
        {
            "ATENA-NO": ids,
            "ATENA-KBN": ["1"] * 4,
            "SHIMEI": [p[0] for p in people],
            "SHIMEI-KANA": [p[1] for p in people],
            "SEIBETSU": ["1", "1", "2", "1"],
            "SEINENGAPPI__date": pa.array([dt.date(*p[2]) for p in people], date),
            "JUSHO": [p[3] for p in people],
            "TOROKU-YMD__date": pa.array([dt.date(2000, 1, 1)] * 4, date),
            "KOSHIN-YMD__date": pa.array([dt.date(2020, 1, 1), dt.date(2026, 11, 1)] * 2, date),
        }
    )
    return table


def test_the_cleanse_stage_reads_the_base_migration_of_the_master(s3_endpoint, tmp_path):
    import uuid

    import pyarrow.parquet as pq
    import pytest

    from ikou.cleanse.merge import map_table
    from ikou.domains import registry
    from ikou.pipeline import RunContext
    from ikou.stages.cleanse import MAP_FILE, base_migration
    from ikou.stages.common import StageError
    from ikou.storage import Store, publication, zone_uri

    store = Store()
    reg = registry()
    d = reg.get(reg.addressee_master()[0])
    ctx = RunContext.build(
        domain=d.id, run_id=f"delta-{uuid.uuid4().hex[:8]}", mode="rehearsal",
        snapshot="2003-04-01", base_snapshot="2003-03-03",
    )  # fmt: skip
    lf = next(lf for lf in d.legacy_files if lf.fields_with_role("atena_no"))
    field = lf.fields_with_role("atena_no")[0]
    # a snapshot no other test validates: the session's S3 is shared across the tests
    with pytest.raises(StageError, match="base_snapshot 2003-03-03 has no validated output"):
        base_migration(ctx, d, lf, store)
    run_id = f"base-{uuid.uuid4().hex[:8]}"
    master, amap = tmp_path / f"{lf.name}.parquet", tmp_path / MAP_FILE
    pq.write_table(pa.table({field: ["0000000001", "0000000009"]}), master)
    pq.write_table(map_table({"0000000002": "0000000001"}), amap)
    prefix = zone_uri("cleansed", d.id, run_id)
    publication.publish(store, prefix, {master.name: master, MAP_FILE: amap}, {"run_id": run_id})
    publication.point_latest_validated(store, d.id, "2003-03-03", prefix, run_id)
    base = base_migration(ctx, d, lf, store)
    assert base.atena_ids == {"0000000001", "0000000009"}
    assert base.amap == {"0000000002": "0000000001"}


def test_a_delta_run_of_the_master_holds_the_auto_merge_of_a_migrated_addressee(s3_endpoint):
    """The cleanse stage's 名寄せ end to end (the model, the decisions, the map): two records of
    one person merge automatically on a full run; on a delta run whose base migrated one of them
    the pair goes to review and the migrated 宛名番号 stays."""
    from ikou.domains import registry
    from ikou.findings import Findings
    from ikou.stages.cleanse import dedupe_master
    from ikou.storage import Store

    reg = registry()
    d = reg.get(reg.addressee_master()[0])
    lf = next(lf for lf in d.legacy_files if lf.fields_with_role("atena_no"))
    table = master_records()
    store = Store()

    def master(base):
        f = Findings(d.id, "t", "cleanse")
        return dedupe_master(d, lf, table, f, "t", store, lambda rows: [str(r) for r in rows], base)

    amap, info, _ = master(None)  # a full run: the newer record survives
    assert amap == {"0000000001": "0000000005"} and info["auto_merge_records"] == 2
    base = CA.Base({"0000000001", "0000000003", "0000000004"}, {})  # 0000000005 is new
    amap, info, files = master(base)
    assert amap == {} and info["review_records"] == 2
    assert info["delta_held_records"] == 2
    assert info["delta_held_by_reason"] == {CA.NEW_DUPLICATE: 2}


def test_the_stage_runs_duckdb_under_its_memory_limit_in_the_task_folder(
    s3_endpoint, tmp_path, monkeypatch
):
    """dedupe_master hands DuckDB IKOU_DEDUPE_MEMORY_LIMIT (default 1GB) and the task's temp
    folder (it spills there instead of growing with the city); a malformed limit is refused
    in one line."""
    from ikou.cleanse import dedupe as DD
    from ikou.config import ConfigError
    from ikou.domains import registry
    from ikou.findings import Findings
    from ikou.stages.cleanse import dedupe_master
    from ikou.storage import Store

    reg = registry()
    d = reg.get(reg.addressee_master()[0])
    lf = next(lf for lf in d.legacy_files if lf.fields_with_role("atena_no"))
    seen = []
    pairs_frame = DD.pairs_frame

    def spy(predictions):
        sql = "select current_setting('memory_limit'), current_setting('temp_directory')"
        seen.append(predictions.db_api.duckdb_con.execute(sql).fetchall()[0])
        return pairs_frame(predictions)

    monkeypatch.setattr(DD, "pairs_frame", spy)

    def master():
        f = Findings(d.id, "t", "cleanse")
        return dedupe_master(
            d,
            lf,
            master_records(),
            f,
            "t",
            Store(),
            lambda rows: [str(r) for r in rows],
            temp_directory=tmp_path,
        )

    amap, _, _ = master()
    assert amap == {"0000000001": "0000000005"}
    monkeypatch.setenv("IKOU_DEDUPE_MEMORY_LIMIT", "300MB")
    master()
    assert seen == [("953.6 MiB", str(tmp_path)), ("286.1 MiB", str(tmp_path))]
    monkeypatch.setenv("IKOU_DEDUPE_MEMORY_LIMIT", "lots")
    with pytest.raises(ConfigError, match="IKOU_DEDUPE_MEMORY_LIMIT must be a size"):
        master()


def test_a_delta_run_keeps_records_whose_base_survivor_is_gone_merged(s3_endpoint):
    """The cleanse stage's 名寄せ on a delta run whose snapshot deleted two survivors of the base:
    the records the base merged into them stay merged (never published as new addressees), go
    to review with the reason, and are counted; the accounting closes, and a reference to them
    is an orphan that validate reports (gate_standard stops) — never a silent row."""
    import pyarrow.parquet as pq

    from ikou.cleanse import merge as M
    from ikou.cleanse import review as RV
    from ikou.domains import registry
    from ikou.findings import Findings
    from ikou.stages.cleanse import dedupe_master
    from ikou.stages.validate import count_orphans
    from ikou.storage import Store

    reg = registry()
    d = reg.get(reg.addressee_master()[0])
    lf = next(lf for lf in d.legacy_files if lf.fields_with_role("atena_no"))
    juki = next(x for x in d.legacy_files if x is not lf and x.fields_with_role("atena_ref"))
    table = master_records()
    # the base published 0000000002 (both 見本 records merged into it) and 0000000009 (花子's
    # survivor); the new snapshot deleted both survivors
    base = CA.Base(
        {"0000000002", "0000000004", "0000000009"},
        {"0000000001": "0000000002", "0000000005": "0000000002", "0000000003": "0000000009"},
    )
    findings = Findings(d.id, "t", "cleanse")
    amap, info, files = dedupe_master(
        d, lf, table, findings, "t", Store(), lambda rows: [str(r) for r in rows], base
    )
    assert amap == {
        "0000000001": "0000000002",
        "0000000005": "0000000002",
        "0000000003": "0000000009",
    }
    assert info["delta_held_by_reason"] == {CA.SURVIVOR_GONE: 3}
    assert info["delta_survivor_gone_records"] == 3 and info["review_records"] == 3
    gone = [f for f in findings.items if f.rule == CA.SURVIVOR_GONE]
    assert len(gone) == 3 and {f.severity for f in gone} == {"warning"}
    queue = pq.read_table(pa.BufferReader(files[RV.QUEUE]))
    assert sorted(queue.column("atena_id").to_pylist()) == sorted(amap)
    assert set(queue.column("reason").to_pylist()) == {CA.SURVIVOR_GONE}
    # in = out + merged: the three leave the master; only 0000000004 is published
    master = M.apply_to_master(table, lf, amap)
    assert (master.table.num_rows, master.merged) == (1, 3)
    # the resident records of the three now refer to the deleted survivors (the second one of
    # 0000000002 is the same person's: merged), which validate reports as orphans
    refs = M.apply_to_references(pa.table({"ATENA-NO": table.column("ATENA-NO")}), juki, amap)
    assert (refs.table.num_rows, refs.merged) == (3, 1)
    std = next(t for t in d.standard.tables if t.source == juki.name)
    vf = Findings(d.id, "t", "validate")
    rewritten = pa.table({"atena_no": refs.table.column("ATENA-NO")})
    master_ids = master.table.column("ATENA-NO")
    assert count_orphans(rewritten, ["atena_no"], master_ids, d, std, vf) == 2
    assert {f.severity for f in vf.items} == {"critical"}  # gate_standard stops on them
