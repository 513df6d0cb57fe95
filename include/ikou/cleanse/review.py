"""The 名寄せ review loop: the queue, the review pages, and the decisions that come back.

Restricted zone only (``review/{domain}/…`` in the restricted bucket): the queue and the pages
show personal values side by side, so they are never written to the reports zone, the logs or
Data Docs. The reports hold counts only.

- ``review/{domain}/{run}/queue.parquet`` — one row per record of every cluster a person must
  decide: ``cluster``, ``atena_id``, ``match_score``, ``members`` (the cluster's atena ids, space
  separated), ``reason`` (why a delta run's carry-over queued it, :mod:`ikou.cleanse.carry`;
  empty when the model did) and the values compared (name, kana, birth date, sex, address, kind,
  dates).
- ``review/{domain}/{run}/clusters.parquet`` — every clustered record with its model decision and
  the final one (after the reviewers' decisions), ``decided_by`` ``model`` or ``reviewer`` (or a
  delta run's carry-over reason).
- ``review/{domain}/{run}/decisions_applied.parquet`` — every decision row read, with its status.
- ``review/{domain}/decisions/*.csv`` (or ``.parquet``) — what reviewers decided; kept across runs,
  every run reads all of them. Columns (UTF-8 CSV with a header):

      cluster,decision,reviewer,reason,time[,members][,survivor]

  ``decision`` is ``merge`` (one person: merge the cluster) or ``distinct`` (different people:
  never merge them). ``time`` is ISO 8601. ``members`` (as the page pre-fills it) makes a
  decision apply only while the cluster still has exactly those records — if a new record joined
  it, the decision is ``changed`` and the cluster comes back to review. ``survivor`` picks the
  宛名番号 that stays (default: :func:`ikou.cleanse.merge.survivor`). A later decision on the same
  cluster supersedes an earlier one. A decision may also overrule an automatic merge.

:func:`render_review_page` renders one page of the queue (HTML, no scripts); :func:`review_pages`
gives every page of a run for serving behind the Airflow login (restricted roles only).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from html import escape

import pyarrow as pa

from ikou.cleanse.carry import REASON_LABELS

DECISION_COLUMNS = ("cluster", "decision", "reviewer", "reason", "time")
OPTIONAL_COLUMNS = ("members", "survivor")
REVIEW_DECISIONS = ("merge", "distinct")
QUEUE = "queue.parquet"
CLUSTERS = "clusters.parquet"
APPLIED = "decisions_applied.parquet"
PER_PAGE = 50

FIELDS = (  # (queue column, 日本語, English)
    ("atena_id", "宛名番号", "addressee no."),
    ("name", "氏名", "name"),
    ("name_kana", "氏名カナ", "kana"),
    ("birth_date", "生年月日", "birth date"),
    ("sex", "性別", "sex"),
    ("address", "住所", "address"),
    ("kind", "宛名区分", "kind"),
    ("registered", "登録日", "registered"),
    ("updated", "更新日", "updated"),
    ("match_score", "一致確率", "match score"),
)


# ----------------------------------------------------------------------------- decisions


@dataclass
class Decision:
    cluster: str
    decision: str
    reviewer: str
    reason: str
    time: str
    members: str = ""
    survivor: str = ""
    source: str = ""
    status: str = ""
    detail: str = ""


def read_decisions(data: bytes, name: str) -> list[Decision]:
    """Decision rows of one file (CSV or Parquet), validated; bad rows get status ``invalid``."""
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        rows = pq.read_table(io.BytesIO(data)).to_pylist()
    else:
        text = data.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
    out = []
    for r in rows:
        r = {
            str(k).strip().lower(): ("" if v is None else str(v).strip())
            for k, v in r.items()
            if k is not None
        }
        d = Decision(
            cluster=r.get("cluster") or r.get("cluster_id", ""),
            decision=r.get("decision", "").lower(),
            reviewer=r.get("reviewer", ""),
            reason=r.get("reason", ""),
            time=r.get("time") or r.get("decided_at", ""),
            members=r.get("members", ""),
            survivor=r.get("survivor", ""),
            source=name,
        )
        problems = []
        if not d.cluster:
            problems.append("no cluster")
        if d.decision not in REVIEW_DECISIONS:
            problems.append("decision must be merge or distinct")
        if not d.reviewer:
            problems.append("no reviewer")
        try:
            dt.datetime.fromisoformat(d.time.replace("Z", "+00:00"))
        except ValueError:
            problems.append("time is not ISO 8601")
        if problems:
            d.status, d.detail = "invalid", "; ".join(problems)
        out.append(d)
    return out


def load_decisions(domain: str, store=None) -> list[Decision]:
    """Every decision of ``review/{domain}/decisions/`` (file-name order)."""
    from ikou.storage import Store, zone_uri

    store = store or Store()
    prefix = zone_uri("review", domain, "decisions")
    out: list[Decision] = []
    for uri in sorted(store.list(prefix)):
        name = uri.rsplit("/", 1)[-1]
        if name.endswith((".csv", ".parquet")):
            out.extend(read_decisions(store.get_bytes(uri), name))
    return out


def apply_decisions(
    clusters: pa.Table, decisions: list[Decision]
) -> tuple[pa.Table, list[Decision]]:
    """The clusters with ``final`` and ``decided_by`` columns after the reviewers' decisions.

    ``clusters``: atena_id, cluster_id, match_score, decision (the model's). Returns the table
    plus every decision with its status (applied, superseded, stale, changed, invalid)."""
    import pyarrow.compute as pc

    # the records of clusters only as Python objects (a few % of a city): Arrow does the rest
    decision = clusters.column("decision")
    clustered = pc.not_equal(decision, "distinct")
    t = clusters.filter(clustered).select(["atena_id", "cluster_id"]).to_pydict()
    members: dict[str, list[str]] = {}
    for a, c in zip(t["atena_id"], t["cluster_id"]):
        members.setdefault(c, []).append(a)
    latest: dict[str, Decision] = {}
    for d in decisions:
        if d.status == "invalid":
            continue
        if d.cluster not in members:
            d.status, d.detail = "stale", "no such cluster in this run"
            continue
        if d.members and sorted(d.members.split()) != sorted(members[d.cluster]):
            d.status, d.detail = "changed", "the cluster's records changed since the decision"
            continue
        if d.survivor and d.survivor not in members[d.cluster]:
            d.status, d.detail = "invalid", "survivor is not a record of the cluster"
            continue
        prev = latest.get(d.cluster)
        if prev is not None and prev.time > d.time:
            d.status, d.detail = "superseded", "a later decision exists"
            continue
        if prev is not None:
            prev.status, prev.detail = "superseded", "a later decision exists"
        d.status = "applied"
        latest[d.cluster] = d
    decided = pa.array(list(latest), pa.string())
    at = pc.index_in(clusters.column("cluster_id"), value_set=decided)
    by_reviewer = pc.and_(pc.is_valid(at), clustered)
    reviewed = pa.array([d.decision for d in latest.values()], pa.string()).take(at)
    final = pc.if_else(by_reviewer, reviewed, decision).combine_chunks()
    by = pc.if_else(by_reviewer, "reviewer", "model").combine_chunks()
    out = clusters.append_column("final", final.cast(pa.string())).append_column(
        "decided_by", by.cast(pa.string())
    )
    return out, decisions


def decisions_table(decisions: list[Decision], run_id: str) -> pa.Table:
    cols = (
        "cluster",
        "decision",
        "reviewer",
        "reason",
        "time",
        "members",
        "survivor",
        "source",
        "status",
        "detail",
    )
    return pa.table(
        {
            **{c: [getattr(d, c) for d in decisions] for c in cols},
            "run_id": [run_id] * len(decisions),
        },
        schema=pa.schema([(c, pa.string()) for c in cols] + [("run_id", pa.string())]),
    )


def status_counts(decisions: list[Decision]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in decisions:
        out[d.status] = out.get(d.status, 0) + 1
    return dict(sorted(out.items()))


# ----------------------------------------------------------------------------- the queue


def build_queue(clusters: pa.Table, records: pa.Table) -> pa.Table:
    """One row per record of each cluster still to review (``final == review``), with its values
    and ``reason``: why a delta run's carry-over queued it (``decided_by``, e.g.
    ``delta_survivor_gone``; :mod:`ikou.cleanse.carry`), empty when the model did."""
    import pyarrow.compute as pc

    # only the records to review become Python objects (a million-record master holds a few
    # thousand): the whole tables as dicts took more memory than the 名寄せ itself
    final = clusters.column("final" if "final" in clusters.column_names else "decision")
    queued = clusters.filter(pc.equal(final, "review"))
    t = queued.to_pydict()
    by = t.get("decided_by") or [""] * len(t["atena_id"])
    ids = records.column("atena_id")
    if ids.type == queued.schema.field("atena_id").type:
        records = records.filter(
            pc.is_in(ids, value_set=queued.column("atena_id").combine_chunks())
        )
    rec = {r["atena_id"]: r for r in records.to_pylist()}
    by_cluster: dict[str, list[int]] = {}
    for i, c in enumerate(t["cluster_id"]):
        by_cluster.setdefault(c, []).append(i)
    rows = []
    for c in sorted(
        by_cluster, key=lambda c: (-max(t["match_score"][i] for i in by_cluster[c]), c)
    ):
        ids = sorted(t["atena_id"][i] for i in by_cluster[c])
        for i in sorted(by_cluster[c], key=lambda i: t["atena_id"][i]):
            a = t["atena_id"][i]
            r = rec.get(a, {})
            rows.append(
                {
                    "cluster": c,
                    "atena_id": a,
                    "match_score": float(t["match_score"][i]),
                    "members": " ".join(ids),
                    "size": len(ids),
                    "reason": "" if by[i] in ("", "model", "reviewer") else by[i],
                    **{
                        k: (None if r.get(k) is None else str(r.get(k)))
                        for k in (
                            "name",
                            "name_kana",
                            "birth_date",
                            "sex",
                            "address",
                            "kind",
                            "registered",
                            "updated",
                        )
                    },
                }
            )
    schema = pa.schema(
        [
            ("cluster", pa.string()),
            ("atena_id", pa.string()),
            ("match_score", pa.float64()),
            ("members", pa.string()),
            ("size", pa.int32()),
            ("reason", pa.string()),
        ]
        + [
            (k, pa.string())
            for k in (
                "name",
                "name_kana",
                "birth_date",
                "sex",
                "address",
                "kind",
                "registered",
                "updated",
            )
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


# ----------------------------------------------------------------------------- pages

_CSS = """
.restricted{background:#b3261e;color:#fff;padding:6px 10px;font-weight:bold}
.cluster{margin:18px 0;border:1px solid #ccd;padding:8px} .diff{background:#fff1c2}
pre{background:#f5f6f8;padding:8px;overflow:auto}
"""


def render_review_page(
    queue: pa.Table,
    *,
    domain: str,
    run_id: str,
    page: int = 1,
    pages: int = 1,
    decisions_uri: str = "",
) -> str:
    """One HTML page of the review queue: each cluster's records side by side (differences marked),
    with a decisions CSV template for the page. Holds personal values: restricted roles only."""
    from ikou.reports.html import page as html_page

    rows = queue.to_pylist()
    clusters: dict[str, list[dict]] = {}
    for r in rows:
        clusters.setdefault(r["cluster"], []).append(r)
    body = [
        f"<style>{_CSS}</style>",
        "<p class='restricted'>制限情報 — 個人情報を含みます。権限のある職員のみ閲覧可 / RESTRICTED — personal data, "
        "restricted roles only. Do not copy into reports or tickets.</p>",
        f"<p>分野 / domain: {escape(domain)} — 実行 / run: {escape(run_id)} — "
        f"頁 / page {page} / {pages} — 要確認クラスタ / clusters to review: {len(clusters)}</p>",
        "<p>判断は CSV ファイルで返してください / Return decisions as a CSV file"
        + (f" in <code>{escape(decisions_uri)}</code>" if decisions_uri else "")
        + ": <code>cluster,decision,reviewer,reason,time,members</code> — decision = <code>merge</code> "
        "(同一人 / same person) or <code>distinct</code> (別人 / different people). "
        "次回の実行で適用されます / the next run applies them.</p>",
    ]
    template = ["cluster,decision,reviewer,reason,time,members"]
    for cid, recs in clusters.items():
        body.append(
            f"<div class='cluster' id='c-{escape(cid)}'><h2>クラスタ <span class='en'>cluster</span> "
            f"{escape(cid)} <span class='en'>({len(recs)} records, best score "
            f"{max(r['match_score'] for r in recs):.4f})</span></h2>"
        )
        why = sorted({r.get("reason") or "" for r in recs} - {""})
        if why:  # a delta run's carry-over queued it (ikou.cleanse.carry)
            body.append(
                "<p>理由 / reason: "
                + "; ".join(f"{escape(w)} — {escape(REASON_LABELS.get(w, ''))}" for w in why)
                + "</p>"
            )
        body.append("<table>")
        for col, ja, en in FIELDS:
            vals = [r.get(col) for r in recs]
            shown = [
                f"{v:.4f}" if isinstance(v, float) else ("" if v is None else str(v)) for v in vals
            ]
            differs = len(set(shown)) > 1 and col not in ("atena_id", "match_score")
            cls = " class='diff'" if differs else ""
            body.append(
                f"<tr><th>{escape(ja)} <span class='en'>{escape(en)}</span></th>"
                + "".join(f"<td{cls}>{escape(v)}</td>" for v in shown)
                + "</tr>"
            )
        body.append("</table></div>")
        template.append(f"{cid},,,,,{recs[0]['members']}")
    body.append(
        "<h2>判断ファイルのひな形 <span class='en'>Decisions template for this page</span></h2>"
    )
    body.append("<pre>" + escape("\n".join(template)) + "</pre>")
    html = html_page(f"名寄せ確認 {domain}", f"Duplicate review {domain}", "".join(body))
    return html.replace("<head>", "<head><meta name='robots' content='noindex'>", 1)


def review_pages(
    domain: str, run_id: str, store=None, per_page: int = PER_PAGE
) -> list[tuple[str, str]]:
    """Every page of a run's review queue as ``[(name, html)]`` (``review-001.html`` …); one page
    saying the queue is empty when it is. For the Airflow plugin: serve to restricted roles only."""
    import pyarrow.parquet as pq

    from ikou.storage import Store, join, zone_uri

    store = store or Store()
    prefix = zone_uri("review", domain, run_id)
    try:
        queue = pq.read_table(io.BytesIO(store.get_bytes(join(prefix, QUEUE))))
    except FileNotFoundError:
        queue = None
    decisions_uri = zone_uri("review", domain, "decisions")
    if queue is None or queue.num_rows == 0:
        empty = pa.table({"cluster": pa.array([], pa.string())})
        return [
            (
                "review-001.html",
                render_review_page(
                    empty.append_column("match_score", pa.array([], pa.float64())).append_column(
                        "members", pa.array([], pa.string())
                    ),
                    domain=domain,
                    run_id=run_id,
                    decisions_uri=decisions_uri,
                ),
            )
        ]
    ids = []
    for c in queue.column("cluster").to_pylist():
        if not ids or ids[-1] != c:
            ids.append(c)
    chunks = [ids[i : i + per_page] for i in range(0, len(ids), per_page)]
    out = []
    col = queue.column("cluster").to_pylist()
    for n, chunk in enumerate(chunks, start=1):
        keep = set(chunk)
        part = queue.filter(pa.array([c in keep for c in col]))
        out.append(
            (
                f"review-{n:03d}.html",
                render_review_page(
                    part,
                    domain=domain,
                    run_id=run_id,
                    page=n,
                    pages=len(chunks),
                    decisions_uri=decisions_uri,
                ),
            )
        )
    return out


# ----------------------------------------------------------------------------- command line


def cli_pages(args) -> int:
    from pathlib import Path

    if not args.run or not args.out:
        raise SystemExit("ikou review pages DOMAIN --run RUN -o DIR")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pages = review_pages(args.domain, args.run)
    for name, html in pages:
        (out / name).write_text(html, encoding="utf-8")
    print(f"wrote {len(pages)} page(s) to {out} (personal data: keep them in a restricted place)")
    return 0


def cli_submit(args) -> int:
    """Validate a decisions file and put it into ``review/{domain}/decisions/`` for the next run."""
    from pathlib import Path

    from ikou.storage import Store, join, zone_uri

    if not args.file:
        raise SystemExit("ikou review submit DOMAIN FILE.csv")
    path = Path(args.file)
    rows = read_decisions(path.read_bytes(), path.name)
    bad = [d for d in rows if d.status == "invalid"]
    if bad:
        for n, d in enumerate(rows, start=2):
            if d.status == "invalid":
                print(f"  line {n}: {d.detail}")
        raise SystemExit(f"{len(bad)} of {len(rows)} decision rows are invalid; nothing submitted")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    uri = join(zone_uri("review", args.domain, "decisions"), f"{stamp}-{path.name}")
    Store().put_bytes(
        uri, path.read_bytes(), content_type="text/csv" if path.suffix == ".csv" else None
    )
    print(f"{len(rows)} decisions → {uri} (applied by the next run of {args.domain})")
    return 0
