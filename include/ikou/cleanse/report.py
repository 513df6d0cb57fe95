"""The cleansing report of a domain run: ``reports/{domain}/{run}/cleansing.json`` and ``.html``.

For the city's engineers (labels in Japanese with English beside them): findings by rule and
field, what was fixed (ledger counts by rule and field), what was quarantined, merged and queued
for review, and the trend across the domain's runs (read from the earlier runs' JSON in the
reports zone). Counts only: no personal value, no record key — the reports zone is open to
auditors.
"""

from __future__ import annotations

import datetime as dt
import json
from html import escape

from ikou.cleanse.carry import REASON_LABELS, SURVIVOR_GONE

REPORT_JSON, REPORT_HTML = "cleansing.json", "cleansing.html"
TREND_RUNS = 12

RULE_LABELS = {  # rule -> 日本語
    "standard_chars": "標準文字",
    "nonstandard_char": "標準外の文字",
    "nonstandard_sequence": "標準外の文字列",
    "gaiji_placeholder": "未登録外字(〓)",
    "vendor_variant": "ベンダー差異文字",
    "kana_invalid_char": "カナ以外の文字",
    "kana_fullwidth": "カナ全角化",
    "halfwidth_ascii": "英数字半角化",
    "postal_halfwidth": "郵便番号半角化",
    "address_canonical": "住所番地の正規化",
    "address_town": "町名表記の統一",
    "address_unknown_town": "町名不明",
    "address_ward_mismatch": "区と町名の不一致",
    "address_unparseable": "住所を解析できない",
    "address_chome_out_of_range": "丁目が範囲外",
    "my_number_check_digit": "個人番号検査数字",
    "corporate_number_check_digit": "法人番号検査数字",
    "juminhyo_code_format": "住民票コード",
    "postal_code_format": "郵便番号形式",
    "phone_format": "電話番号形式",
    "date_outside_era": "元号の範囲外",
    "date_impossible_date": "存在しない日付",
    "date_placeholder": "日付の仮置き値",
    "date_lunisolar": "旧暦の日付",
    "date_format": "日付の形式",
    "atena_merge": "宛名番号の名寄せ",
    "atena_merge_record": "名寄せで統合された記録",
    "duplicate_review": "名寄せ要確認",
    SURVIVOR_GONE: "統合先の削除(差分移行)",
}


def _label(rule: str) -> str:
    base = rule.split(".")[0]
    return f"{RULE_LABELS.get(base, base)} / {rule}"


def _nest(flat: dict[str, int]) -> dict[str, dict[str, int]]:
    """{"rule.FILE.FIELD": n} -> {rule: {"FILE.FIELD": n}}"""
    out: dict[str, dict[str, int]] = {}
    for k, n in flat.items():
        rule, _, where = k.partition(".")
        out.setdefault(rule, {})[where] = out.get(rule, {}).get(where, 0) + n
    return {r: dict(sorted(v.items())) for r, v in sorted(out.items())}


def build(
    domain,
    *,
    run_id: str,
    snapshot: str,
    mode: str,
    files: list[dict],
    fixed: dict[str, int],
    problems: dict[str, int],
    severities: dict[str, int],
    stats: dict[str, int],
    names: dict[str, int],
    merge: dict,
    previous: list[dict],
) -> dict:
    """The report document. ``fixed`` / ``problems`` / ``stats``: {"rule.FILE.FIELD": count}."""
    report = {
        "domain": domain.id,
        "name_ja": domain.name_ja,
        "name_en": domain.name_en,
        "run_id": run_id,
        "snapshot": snapshot,
        "mode": mode,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": files,
        "totals": {
            "records_in": sum(f["records_in"] for f in files),
            "records_out": sum(f["records_out"] for f in files),
            "merged": sum(f.get("merged", 0) for f in files),
            "quarantined_at_extract": sum(f.get("quarantined_at_extract", 0) for f in files),
            "fixed": sum(fixed.values()),
            "findings": sum(problems.values()),
            "queued_for_review": merge.get("review_records", 0),
        },
        "fixed": _nest(fixed),
        "findings": _nest(problems),
        "findings_by_severity": dict(sorted(severities.items())),
        "names": names,
        "stats": _nest(stats),
        "merge": merge,
        "note": "counts only: no personal values, no record keys (see the restricted zones for those)",
    }
    point = {"run_id": run_id, "generated_at": report["generated_at"], **report["totals"]}
    trend = [p for p in previous if p.get("run_id") != run_id][-(TREND_RUNS - 1) :] + [point]
    report["trend"] = trend
    return report


def previous_points(domain_id: str, run_id: str, store) -> list[dict]:
    """The totals of the domain's earlier runs, oldest first (from their cleansing.json)."""
    from ikou.config import settings
    from ikou.storage import join, run_key

    prefix = f"s3://{settings().reports_bucket}/reports/{domain_id}/"
    points = []
    for run in store.list_dirs(prefix):
        if run == run_key(run_id):
            continue
        try:
            doc = json.loads(store.get_bytes(join(join(prefix, run), REPORT_JSON)))
        except (FileNotFoundError, ValueError):
            continue
        except Exception as exc:  # botocore's NoSuchKey
            if "NoSuchKey" in type(exc).__name__ or "404" in str(exc):
                continue
            raise
        points.append(
            {
                "run_id": doc.get("run_id", run),
                "generated_at": doc.get("generated_at", ""),
                **doc.get("totals", {}),
            }
        )
    return sorted(points, key=lambda p: p["generated_at"])


def _table(headers: list[str], rows: list[list]) -> str:
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr>"]
    for r in rows:
        out.append(
            "<tr>"
            + "".join(
                f"<td class='num'>{v:,}</td>"
                if isinstance(v, int)
                else f"<td>{escape(str(v))}</td>"
                for v in r
            )
            + "</tr>"
        )
    out.append("</table>")
    return "".join(out)


def _trend_svg(points: list[dict], width: int = 640) -> str:
    series = (
        ("findings", "#b3261e"),
        ("fixed", "#4a78b0"),
        ("queued_for_review", "#e0a000"),
        ("merged", "#0a7d28"),
    )
    top = max([p.get(k, 0) or 0 for p in points for k, _ in series] + [1])
    h, left, bottom = 180, 50, 20
    n = len(points)
    step = (width - left - 10) / max(n - 1, 1)
    out = [
        f"<svg width='{width}' height='{h + 40}' role='img' xmlns='http://www.w3.org/2000/svg'>",
        f"<line x1='{left}' y1='{h}' x2='{width - 10}' y2='{h}' stroke='#889'/>",
        f"<text x='0' y='14' font-size='11'>{top:,}</text><text x='0' y='{h}' font-size='11'>0</text>",
    ]
    for key, color in series:
        pts = [
            (left + i * step, h - (h - bottom) * (p.get(key, 0) or 0) / top)
            for i, p in enumerate(points)
        ]
        if len(pts) > 1:
            out.append(
                f"<polyline fill='none' stroke='{color}' stroke-width='2' points='"
                + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                + "'/>"
            )
        out.extend(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{color}'/>" for x, y in pts)
    for i, (key, color) in enumerate(series):
        out.append(
            f"<rect x='{left + i * 150}' y='{h + 18}' width='10' height='10' fill='{color}'/>"
            f"<text x='{left + 14 + i * 150}' y='{h + 27}' font-size='11'>{escape(key)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def render(report: dict) -> str:
    """The cleansing report (HTML): times in JST, dates with their 和暦 beside the ISO date."""
    from ikou.reports.html import bars, day, page, when

    t = report["totals"]
    body = [
        _table(
            ["項目 / item", "値 / value"],
            [
                ["分野 / domain", f"{report['name_ja']} ({report['name_en']})"],
                ["実行 / run", report["run_id"]],
                ["スナップショット / snapshot", day(report["snapshot"])],
                ["モード / mode", report["mode"]],
                ["生成 / generated", when(report.get("generated_at", ""))],
                ["入力件数 / records in", t["records_in"]],
                ["出力件数 / records out", t["records_out"]],
                ["名寄せ統合 / merged", t["merged"]],
                ["抽出時の隔離 / quarantined at extract", t["quarantined_at_extract"]],
                ["修正 / values fixed", t["fixed"]],
                ["検出事項 / findings", t["findings"]],
                ["要確認 / queued for review (records)", t["queued_for_review"]],
            ],
        )
    ]
    body.append(
        "<h2>ファイル別 <span class='en'>By legacy file: in = out + quarantined + merged</span></h2>"
    )
    body.append(
        _table(
            ["file", "in", "out", "merged", "quarantined at extract", "fixed", "findings"],
            [
                [
                    f["unit"],
                    f["records_in"],
                    f["records_out"],
                    f.get("merged", 0),
                    f.get("quarantined_at_extract", 0),
                    f.get("fixed", 0),
                    f.get("findings", 0),
                ]
                for f in report["files"]
            ],
        )
    )
    for key, ja, en in (
        ("findings", "検出事項", "Findings by rule and field"),
        ("fixed", "修正", "Fixed values by rule and field (change ledger)"),
    ):
        body.append(f"<h2>{ja} <span class='en'>{en}</span></h2>")
        data = report[key]
        if not data:
            body.append("<p>なし / none</p>")
            continue
        body.append(
            bars([(_label(r)[:38], float(sum(v.values()))) for r, v in data.items()], unit="")
        )
        body.append(
            _table(
                ["規則 / rule", "項目 / field", "件数 / count"],
                [[_label(r), f, n] for r, v in data.items() for f, n in v.items()],
            )
        )
    if report.get("findings_by_severity"):
        body.append(
            "<h2>重要度 <span class='en'>Findings by severity</span></h2>"
            + _table(
                ["severity", "count"], [[k, v] for k, v in report["findings_by_severity"].items()]
            )
        )
    m = report.get("merge") or {}
    if m:
        body.append("<h2>名寄せ <span class='en'>Duplicate addressees (名寄せ)</span></h2>")
        body.append(
            _table(
                ["項目 / item", "件数 / count"],
                [[k, v] for k, v in m.items() if isinstance(v, int)],
            )
        )
        held = m.get("delta_held_by_reason") or {}
        if held or m.get("delta_survivor_gone_records"):
            body.append(
                "<h3>差分移行の名寄せ引継ぎ <span class='en'>Delta run: 名寄せ carried over from the "
                "base — records sent to review, by reason</span></h3>"
            )
            rows = [[REASON_LABELS.get(k, k), k, int(v)] for k, v in sorted(held.items())]
            body.append(
                _table(["理由 / reason", "code", "件数 / records"], rows)
                if rows
                else "<p>確認待ちなし / none queued</p>"
            )
        if m.get("decisions"):
            body.append(
                "<p>確認結果の適用 / reviewers' decisions: "
                + escape(", ".join(f"{k} {v}" for k, v in m["decisions"].items()))
                + "</p>"
            )
    if report.get("stats"):
        body.append(
            "<h2>参考件数 <span class='en'>Other counts (not problems)</span></h2>"
            + _table(
                ["kind", "field", "count"],
                [[k, f, n] for k, v in report["stats"].items() for f, n in v.items()],
            )
        )
    body.append("<h2>推移 <span class='en'>Trend across runs</span></h2>")
    body.append(_trend_svg(report["trend"]))
    body.append(
        _table(
            ["run", "generated (JST)", "findings", "fixed", "review", "merged"],
            [
                [
                    p["run_id"],
                    when(p.get("generated_at", "")),
                    p.get("findings", 0),
                    p.get("fixed", 0),
                    p.get("queued_for_review", 0),
                    p.get("merged", 0),
                ]
                for p in report["trend"]
            ],
        )
    )
    body.append(f"<p class='en'>{escape(report['note'])}</p>")
    return page(
        f"データ整理報告 {report['name_ja']}",
        f"Cleansing report {report['name_en']}",
        "".join(body),
    )


def write(report: dict, store) -> tuple[str, str]:
    from ikou.storage import join, zone_uri

    prefix = zone_uri("reports", report["domain"], report["run_id"])
    store.put_bytes(
        join(prefix, REPORT_JSON),
        json.dumps(report, ensure_ascii=False, indent=2, default=str).encode("utf-8"),
        content_type="application/json",
    )
    store.put_bytes(
        join(prefix, REPORT_HTML),
        render(report).encode("utf-8"),
        content_type="text/html; charset=utf-8",
    )
    return join(prefix, REPORT_JSON), join(prefix, REPORT_HTML)
