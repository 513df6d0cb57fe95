"""ikou.cleanse.carry: on a delta run the base's 名寄せ carries over (issue 12 §2)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

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


def test_the_cleanse_stage_reads_the_base_migration_of_the_master(s3_endpoint, tmp_path):
    import uuid

    import pyarrow.parquet as pq
    import pytest

    from ikou.cleanse.merge import map_table
    from ikou.domains import registry
    from ikou.stages.cleanse import MAP_FILE, base_migration
    from ikou.stages.common import StageError
    from ikou.storage import Store, publication, zone_uri

    store = Store()
    reg = registry()
    d = reg.get(reg.addressee_master()[0])
    lf = next(lf for lf in d.legacy_files if lf.fields_with_role("atena_no"))
    field = lf.fields_with_role("atena_no")[0]
    # a snapshot no other test validates: the session's S3 is shared across the tests
    with pytest.raises(StageError, match="base_snapshot 2003-03-03 has no validated output"):
        base_migration("2003-03-03", d, lf, store)
    run_id = f"base-{uuid.uuid4().hex[:8]}"
    master, amap = tmp_path / f"{lf.name}.parquet", tmp_path / MAP_FILE
    pq.write_table(pa.table({field: ["0000000001", "0000000009"]}), master)
    pq.write_table(map_table({"0000000002": "0000000001"}), amap)
    prefix = zone_uri("cleansed", d.id, run_id)
    publication.publish(store, prefix, {master.name: master, MAP_FILE: amap}, {"run_id": run_id})
    publication.point_latest_validated(store, d.id, "2003-03-03", prefix, run_id)
    base = base_migration("2003-03-03", d, lf, store)
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
