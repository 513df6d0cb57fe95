"""HTML for Ikou's reports (Japanese with English beside it), with inline SVG charts: no scripts,
no fonts or assets fetched from anywhere, so the pages render the same inside the Airflow UI and
offline. Shared by the rehearsal, city, cleansing and review reports.

Charts: horizontal bars (stage durations, findings), a stacked bar of the projected stages
against the cutover window, and a trend line over the previous rehearsals of a domain.

Times are shown in JST (Asia/Tokyo) and dates with their 和暦 beside the ISO date (:func:`when`,
:func:`day`: ``2026-12-04 22:40 JST（令和8年12月4日）``); the JSON documents beside the pages keep
ISO 8601 in UTC."""

from __future__ import annotations

from html import escape

from ikou.wareki import format_date_ja, format_jst, format_jst_ja, to_jst


def when(ts, seconds: bool = False) -> str:
    """A stored timestamp (ISO 8601, UTC) in JST with its 和暦 date; anything else as it is."""
    return format_jst_ja(ts, seconds=seconds) if ts else ""


def day(d) -> str:
    """An ISO date with its 和暦 beside it (2026-09-01（令和8年9月1日）); anything else as it is."""
    if not d:
        return ""
    try:
        return format_date_ja(str(d))
    except (TypeError, ValueError):
        return str(d)


def jst(ts) -> str:
    """A stored timestamp in JST, short (charts' tooltips and tables); anything else as it is."""
    if not ts:
        return ""
    try:
        return format_jst(ts, seconds=False)
    except (TypeError, ValueError):
        return str(ts)


def _jst_day(ts) -> str:
    try:
        return to_jst(ts).date().isoformat() if ts else ""
    except (TypeError, ValueError):
        return str(ts)[:10]


CSS = """
body{font-family:'Noto Sans JP','Hiragino Sans',Meiryo,sans-serif;margin:24px;color:#1d2733;max-width:1100px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccd}
.en{color:#5b6775;font-size:90%} table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccd;padding:4px 8px;text-align:left;font-size:14px} th{background:#eef1f5}
.GO{color:#0a7d28;font-weight:bold}.NO-GO{color:#b3261e;font-weight:bold}.READINESS{color:#1f5fa8;font-weight:bold}
.FAILED{color:#b3261e;font-weight:bold}.LIVE{color:#0a7d28;font-weight:bold}
.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#0a7d28}.bad{color:#b3261e}.muted{color:#5b6775}
code{font-size:12px}
"""

PALETTE = (
    "#4a78b0",
    "#e08a2e",
    "#5aa469",
    "#9b5fc0",
    "#c0504d",
    "#3fa7b5",
    "#b58b3f",
    "#7f7f7f",
    "#d06fa5",
)
VERDICT_COLOUR = {"GO": "#0a7d28", "NO-GO": "#b3261e", "READINESS": "#1f5fa8"}


def page(title_ja: str, title_en: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='ja'><head><meta charset='utf-8'><title>{escape(title_ja)} / {escape(title_en)}"
        f"</title><style>{CSS}</style></head><body><h1>{escape(title_ja)} <span class='en'>{escape(title_en)}</span>"
        f"</h1>{body}</body></html>"
    )


def h2(ja: str, en: str) -> str:
    return f"<h2>{escape(ja)} <span class='en'>{escape(en)}</span></h2>"


def bars(
    items: list[tuple[str, float]],
    limit: float | None = None,
    unit: str = "s",
    width: int = 640,
    limit_label: str = "window",
) -> str:
    """Horizontal bars (label, value) with an optional limit line (e.g. the cutover window)."""
    top = max([v for _, v in items] + [limit or 0, 1e-9])
    h = 24 * len(items) + 30
    out = [f"<svg width='{width}' height='{h}' role='img' xmlns='http://www.w3.org/2000/svg'>"]
    for i, (label, v) in enumerate(items):
        w = (width - 240) * v / top
        y = 10 + 24 * i
        out.append(f"<text x='0' y='{y + 14}' font-size='12'>{escape(label)}</text>")
        out.append(f"<rect x='160' y='{y}' width='{w:.1f}' height='18' fill='#4a78b0'/>")
        out.append(f"<text x='{165 + w:.1f}' y='{y + 14}' font-size='12'>{v:,.2f} {unit}</text>")
    if limit:
        x = 160 + (width - 240) * limit / top
        out.append(
            f"<line x1='{x:.1f}' y1='0' x2='{x:.1f}' y2='{h}' stroke='#b3261e' stroke-dasharray='4'/>"
        )
        out.append(
            f"<text x='{x + 3:.1f}' y='{h - 4}' font-size='11' fill='#b3261e'>{escape(limit_label)} "
            f"{limit:g} {unit}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def bars_with_limits(
    items: list[tuple[str, float, float]], unit: str = "h", width: int = 700
) -> str:
    """Horizontal bars (label, value, limit): each bar with its own limit tick (a domain's
    projected hours against its own cutover window); bars over their limit in red."""
    top = max([max(v, lim) for _, v, lim in items] + [1e-9])
    h = 24 * len(items) + 24
    span = width - 280
    out = [f"<svg width='{width}' height='{h}' role='img' xmlns='http://www.w3.org/2000/svg'>"]
    for i, (label, v, lim) in enumerate(items):
        y = 8 + 24 * i
        w = span * v / top
        lx = 160 + span * lim / top
        colour = "#b3261e" if v > lim else "#4a78b0"
        out.append(f"<text x='0' y='{y + 14}' font-size='12'>{escape(label)}</text>")
        out.append(f"<rect x='160' y='{y}' width='{w:.1f}' height='18' fill='{colour}'/>")
        out.append(
            f"<line x1='{lx:.1f}' y1='{y - 2}' x2='{lx:.1f}' y2='{y + 20}' stroke='#b3261e' stroke-width='2'/>"
        )
        out.append(
            f"<text x='{max(lx, 160 + w) + 6:.1f}' y='{y + 14}' font-size='12'>{v:,.2f} / {lim:g} {unit}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def stacked(
    segments: list[tuple[str, float]], limit: float | None, unit: str = "h", width: int = 760
) -> str:
    """One stacked bar (stages in order) against a limit line, with a legend."""
    total = sum(v for _, v in segments)
    top = max(total, limit or 0, 1e-9) * 1.05
    span = width - 20
    out = [
        f"<svg width='{width}' height='{60 + 18 * ((len(segments) + 2) // 3)}' role='img' "
        "xmlns='http://www.w3.org/2000/svg'>"
    ]
    x = 10.0
    for i, (label, v) in enumerate(segments):
        w = span * v / top
        out.append(
            f"<rect x='{x:.1f}' y='8' width='{max(w, 0):.1f}' height='24' fill='{PALETTE[i % len(PALETTE)]}'>"
            f"<title>{escape(label)}: {v:,.2f} {unit}</title></rect>"
        )
        x += w
    out.append(
        f"<text x='{min(x + 4, width - 120):.1f}' y='25' font-size='12'>{total:,.2f} {unit}</text>"
    )
    if limit:
        lx = 10 + span * limit / top
        out.append(
            f"<line x1='{lx:.1f}' y1='2' x2='{lx:.1f}' y2='38' stroke='#b3261e' stroke-width='2'/>"
        )
        out.append(
            f"<text x='{max(lx - 110, 0):.1f}' y='50' font-size='11' fill='#b3261e'>移行時間枠 window "
            f"{limit:g} {unit}</text>"
        )
    for i, (label, v) in enumerate(segments):
        lx = 10 + 250 * (i % 3)
        ly = 62 + 18 * (i // 3)
        out.append(
            f"<rect x='{lx}' y='{ly - 10}' width='10' height='10' fill='{PALETTE[i % len(PALETTE)]}'/>"
            f"<text x='{lx + 14}' y='{ly}' font-size='11'>{escape(label)} {v:,.2f} {unit}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def trend(
    points: list[dict],
    key: str,
    unit: str,
    limit: float | None = None,
    width: int = 760,
    height: int = 180,
) -> str:
    """A line over the runs (oldest left), dots coloured by verdict, the current run ringed."""
    pts = [(i, p) for i, p in enumerate(points) if p.get(key) is not None]
    if not pts:
        return "<p class='muted'>データなし / no data yet</p>"
    vals = [float(p[key]) for _, p in pts]
    off_chart = bool(limit) and limit > 3 * max(
        vals + [1e-9]
    )  # keep the line readable, note the limit
    top = max(vals + ([] if off_chart else [limit or 0]) + [1e-9]) * 1.15
    left, right, bottom, topm = 50, 20, 30, 10
    n = max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return (
            left + (width - left - right) * (i / n if len(points) > 1 else 0.5),
            topm + (height - topm - bottom) * (1 - v / top),
        )

    out = [
        f"<svg width='{width}' height='{height}' role='img' xmlns='http://www.w3.org/2000/svg'>",
        f"<line x1='{left}' y1='{height - bottom}' x2='{width - right}' y2='{height - bottom}' stroke='#99a'/>",
        f"<line x1='{left}' y1='{topm}' x2='{left}' y2='{height - bottom}' stroke='#99a'/>",
        f"<text x='2' y='{topm + 10}' font-size='11'>{top:,.1f} {escape(unit)}</text>",
        f"<text x='2' y='{height - bottom}' font-size='11'>0</text>",
    ]
    line = " ".join(f"{xy(i, float(p[key]))[0]:.1f},{xy(i, float(p[key]))[1]:.1f}" for i, p in pts)
    out.append(f"<polyline points='{line}' fill='none' stroke='#4a78b0' stroke-width='2'/>")
    if limit and off_chart:
        out.append(
            f"<text x='{width - right - 220}' y='{topm + 10}' font-size='11' fill='#b3261e'>"
            f"window {limit:g} {escape(unit)} (above the chart)</text>"
        )
    elif limit:
        _, ly = xy(0, limit)
        out.append(
            f"<line x1='{left}' y1='{ly:.1f}' x2='{width - right}' y2='{ly:.1f}' stroke='#b3261e' "
            f"stroke-dasharray='4'/><text x='{width - right - 130}' y='{ly - 4:.1f}' font-size='11' "
            f"fill='#b3261e'>window {limit:g} {escape(unit)}</text>"
        )
    for i, p in pts:
        x, y = xy(i, float(p[key]))
        colour = VERDICT_COLOUR.get(p.get("verdict"), "#7f7f7f")
        ring = " stroke='#1d2733' stroke-width='2'" if p.get("current") else ""
        out.append(
            f"<circle cx='{x:.1f}' cy='{y:.1f}' r='5' fill='{colour}'{ring}><title>"
            f"{escape(jst(p.get('generated_at')))} {escape(str(p.get('verdict')))} {float(p[key]):,.2f} "
            f"{escape(unit)} (snapshot {escape(str(p.get('snapshot')))})</title></circle>"
        )
    first, last = _jst_day(points[0].get("generated_at")), _jst_day(points[-1].get("generated_at"))
    out.append(f"<text x='{left}' y='{height - 8}' font-size='11'>{escape(first)}</text>")
    out.append(
        f"<text x='{width - right - 70}' y='{height - 8}' font-size='11'>{escape(last)}</text>"
    )
    out.append("</svg>")
    return "".join(out)
