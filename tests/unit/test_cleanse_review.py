"""ikou.cleanse.review: decisions files, applying them, the queue and the review pages."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ikou.cleanse import review as RV

CLUSTERS = pa.table(
    {
        "atena_id": [
            "0000000001",
            "0000000002",
            "0000000003",
            "0000000004",
            "0000000005",
            "0000000006",
            "0000000007",
        ],
        "cluster_id": [
            "0000000001",
            "0000000001",
            "0000000003",
            "0000000003",
            "0000000005",
            "0000000005",
            "0000000007",
        ],
        "match_score": [0.9999, 0.9999, 0.7, 0.7, 0.6, 0.6, 0.0],
        "decision": [
            "auto_merge",
            "auto_merge",
            "review",
            "review",
            "review",
            "review",
            "distinct",
        ],
    }
)
RECORDS = pa.table(
    {
        "atena_id": [f"{i:010d}" for i in range(1, 8)],
        "name": [
            "架空　太郎",
            "架空太郎",
            "見本　花子",
            "見本　花子",
            "<script>alert(1)</script>",
            "例示　一郎",
            "試験　次郎",
        ],
        "name_kana": ["カクウ　タロウ"] * 2
        + ["ミホン　ハナコ"] * 2
        + ["レイジ　イチロウ"] * 2
        + ["シケン　ジロウ"],
        "birth_date": ["1975-04-01"] * 7,
        "sex": ["1", "1", "2", "2", "1", "1", "1"],
        "address": ["架空市中央区桜町１丁目２番３号"] * 3 + ["架空市北区緑町２丁目１番１号"] * 4,
        "kind": ["1"] * 7,
        "registered": [None] * 7,
        "updated": [None] * 7,
    }
)


def _csv(*rows: str, header: str = "cluster,decision,reviewer,reason,time,members") -> bytes:
    return ("\ufeff" + header + "\n" + "\n".join(rows) + "\n").encode("utf-8")


def test_read_decisions_validates_rows():
    rows = RV.read_decisions(
        _csv(
            "0000000003,merge,山田,same person: moved,2026-11-20T10:00:00+09:00,0000000003 0000000004",
            "0000000005,MERGE,,no reviewer,2026-11-20T10:00:00+09:00,",
            "0000000005,maybe,佐藤,?,2026-11-20T10:00:00,",
            ",distinct,佐藤,no cluster,2026-11-20T10:00:00,",
            "0000000005,distinct,佐藤,when?,yesterday,",
        ),
        "d.csv",
    )
    assert [r.status for r in rows] == ["", "invalid", "invalid", "invalid", "invalid"]
    assert rows[0].decision == "merge" and rows[0].reviewer == "山田"
    assert "no reviewer" in rows[1].detail and "merge or distinct" in rows[2].detail
    assert "no cluster" in rows[3].detail and "ISO 8601" in rows[4].detail
    # the same as Parquet, and the cluster_id / decided_at spellings
    buf = io.BytesIO()
    pq.write_table(
        pa.table(
            {
                "cluster_id": ["0000000003"],
                "decision": ["distinct"],
                "reviewer": ["r"],
                "reason": ["x"],
                "decided_at": ["2026-11-21T00:00:00Z"],
            }
        ),
        buf,
    )
    (p,) = RV.read_decisions(buf.getvalue(), "d.parquet")
    assert (p.cluster, p.decision, p.status) == ("0000000003", "distinct", "")


def test_apply_decisions():
    decisions = RV.read_decisions(
        _csv(
            "0000000003,merge,山田,same person,2026-11-20T10:00:00+09:00,0000000003 0000000004",
            "0000000005,merge,山田,same,2026-11-20T10:00:00+09:00,",
            "0000000005,distinct,佐藤,namesakes,2026-11-21T10:00:00+09:00,",
            "0000000001,distinct,佐藤,overrule the model,2026-11-21T10:00:00+09:00,0000000001 0000000002",
            "0000000009,merge,佐藤,gone,2026-11-21T10:00:00+09:00,",
            "0000000003,merge,佐藤,members changed,2026-11-22T10:00:00+09:00,0000000003 0000000004 0000000008",
            "0000000003,merge,佐藤,bad survivor,2026-11-22T10:00:00+09:00,",
        ).replace(b"members\n", b"members\n"),
        "d.csv",
    )
    decisions[-1].survivor = "0000000007"
    out, decided = RV.apply_decisions(CLUSTERS, decisions)
    status = [d.status for d in decided]
    assert status == ["applied", "superseded", "applied", "applied", "stale", "changed", "invalid"]
    final = dict(zip(out.column("atena_id").to_pylist(), out.column("final").to_pylist()))
    by = dict(zip(out.column("atena_id").to_pylist(), out.column("decided_by").to_pylist()))
    assert final == {
        "0000000001": "distinct",
        "0000000002": "distinct",
        "0000000003": "merge",
        "0000000004": "merge",
        "0000000005": "distinct",
        "0000000006": "distinct",
        "0000000007": "distinct",
    }
    assert by["0000000007"] == "model" and by["0000000003"] == "reviewer"
    assert RV.status_counts(decided) == {
        "applied": 3,
        "changed": 1,
        "invalid": 1,
        "stale": 1,
        "superseded": 1,
    }
    t = RV.decisions_table(decided, "run-1")
    assert t.num_rows == 7 and set(t.column("run_id").to_pylist()) == {"run-1"}


def test_queue_holds_only_clusters_left_to_review():
    out, _ = RV.apply_decisions(
        CLUSTERS,
        RV.read_decisions(
            _csv("0000000005,distinct,佐藤,namesakes,2026-11-21T10:00:00+09:00,"), "d.csv"
        ),
    )
    q = RV.build_queue(out, RECORDS)
    assert q.column("cluster").to_pylist() == ["0000000003", "0000000003"]
    assert q.column("members").to_pylist() == ["0000000003 0000000004"] * 2
    assert q.column("name").to_pylist() == ["見本　花子", "見本　花子"]


def test_review_page_shows_candidates_side_by_side_and_escapes():
    q = RV.build_queue(CLUSTERS.append_column("final", CLUSTERS.column("decision")), RECORDS)
    html = RV.render_review_page(
        q, domain="juki", run_id="r<1>", decisions_uri="s3://b/review/juki/decisions/"
    )
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "r&lt;1&gt;" in html
    assert html.count("class='cluster'") == 2
    assert "見本　花子" in html and "架空市北区緑町２丁目１番１号" in html
    assert "class='diff'" in html  # the differing address of cluster 0000000003 is marked
    assert "0000000003,,,,,0000000003 0000000004" in html  # the decisions template
    assert "RESTRICTED" in html and "noindex" in html


class FakeStore:
    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects

    def get_bytes(self, uri):
        try:
            return self.objects[uri]
        except KeyError:
            raise FileNotFoundError(uri) from None


def test_review_pages_paginates(monkeypatch):
    from ikou.storage import join, zone_uri

    rows = []
    for c in range(7):
        for m in range(2):
            rows.append(
                {
                    "cluster": f"{c:010d}",
                    "atena_id": f"{c:08d}{m:02d}",
                    "match_score": 0.6,
                    "members": f"{c:08d}00 {c:08d}01",
                    "size": 2,
                    "name": f"名前{c}",
                    "name_kana": "カナ",
                    "birth_date": "2000-01-01",
                    "sex": "1",
                    "address": "架空市",
                    "kind": "1",
                    "registered": None,
                    "updated": None,
                }
            )
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    store = FakeStore({join(zone_uri("review", "juki", "run-9"), RV.QUEUE): buf.getvalue()})
    pages = RV.review_pages("juki", "run-9", store=store, per_page=3)
    assert [n for n, _ in pages] == ["review-001.html", "review-002.html", "review-003.html"]
    assert pages[0][1].count("class='cluster'") == 3 and pages[2][1].count("class='cluster'") == 1
    assert "page 3 / 3" in pages[2][1]
    empty = RV.review_pages("juki", "no-such-run", store=store)
    assert len(empty) == 1 and "clusters to review: 0" in empty[0][1]


@pytest.mark.parametrize("bad", ["cluster,decision\n1,merge\n"])
def test_missing_columns_make_rows_invalid(bad):
    rows = RV.read_decisions(bad.encode(), "x.csv")
    assert rows[0].status == "invalid"


def test_ikou_review_submit_refuses_invalid_files_and_pages_writes_html(
    tmp_path, monkeypatch, capsys
):
    from ikou.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv("0000000003,merge,,no reviewer,2026-11-20T10:00:00+09:00,"))
    assert main(["review", "submit", "juki", str(bad)]) == 2  # bad input: one line, exit 2
    cap = capsys.readouterr()
    assert (
        cap.err.strip() == "ikou review: error: 1 of 1 decision rows are invalid; nothing submitted"
    )
    out = cap.out
    assert "line 2: no reviewer" in out and "0000000003" not in out  # no 宛名番号 echoed
    monkeypatch.setattr(
        RV, "review_pages", lambda domain, run: [("review-001.html", "<html>x</html>")]
    )
    assert main(["review", "pages", "juki", "--run", "r1", "-o", str(tmp_path / "pages")]) == 0
    assert (tmp_path / "pages" / "review-001.html").read_text() == "<html>x</html>"


def test_apply_decisions_without_decisions_keeps_the_model_and_queues_from_few_records():
    """No decision: ``final`` is the model's decision, decided by the model; the queue takes only
    the records of clusters to review (a record not in the clusters table changes nothing)."""
    out, decided = RV.apply_decisions(CLUSTERS, [])
    assert decided == []
    assert out.column("final").to_pylist() == CLUSTERS.column("decision").to_pylist()
    assert set(out.column("decided_by").to_pylist()) == {"model"}
    assert out.schema.field("final").type == pa.string()
    extra = pa.concat_tables(
        [RECORDS, RECORDS.slice(0, 1).set_column(0, "atena_id", pa.array(["0000000099"]))]
    )
    q = RV.build_queue(out, extra)
    assert q.column("atena_id").to_pylist() == [f"{i:010d}" for i in (3, 4, 5, 6)]
    assert q.column("name").to_pylist()[2] == "<script>alert(1)</script>"


def test_merge_ledger_from_the_ledger_rows_only():
    """ledger_tables takes each row's key and record number by row: a mapping of the ledger's
    rows gives the same tables as lists of the whole table."""
    from ikou.cleanse.merge import ledger_tables
    from ikou.domains import registry

    lf = registry().get("juki").legacy_file("ATENA")
    rows = [(1, "ATENANO", "atena_merge", "0000000002", "0000000001")]
    keys, recs = ["k0", "k1", "k2"], [10, 11, 12]
    a = ledger_tables("juki", lf, rows, keys, recs, b"secret")
    b = ledger_tables("juki", lf, rows, {1: "k1"}, {1: 11}, b"secret")
    assert a[0].equals(b[0]) and a[1].equals(b[1])
    assert b[1].column("_record").to_pylist() == [11]
