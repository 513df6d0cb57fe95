"""Projecting a rehearsal's stage durations to the city's real volumes.

A stage's time is not proportional to its records: every task pays a fixed overhead (starting
the S3 client, reading manifests, loading the GX context, creating tables …) whatever the
volume. Scaling the measured time linearly (time × expected ÷ actual records) multiplies that
overhead too — at a rehearsal of 1 % of the city, a 2-second overhead becomes 200 seconds of
imaginary work, and a tiny synthetic city can look like a NO-GO. The model is therefore

    time_s(n) = a_s + b_s · n          (per stage s; n = legacy data records of the domain)

and the projection is Σ_s a_s + b_s · N_expected. Where a_s and b_s come from, best first:

1. ``fit``: least squares over this domain's own rehearsals at different volumes (the current
   run and the previous runs' ``rehearsal.json`` in the reports zone) — needs volumes that differ
   by at least 1.5× (a rehearsal at a different ``IKOU_RESIDENTS`` gives one).
2. ``overhead``: a_s is the fixed overhead measured on tiny inputs — the city report of the
   latest master run fits ``time = a_s + b_s·n`` per stage across all domains of that night
   (the smallest domains anchor the intercept) and keeps ``a_s`` in
   ``reports/_calibration/stage_overhead.json``. Before any master run has done so (the first
   night), the same fit is made on the spot over the latest rehearsal of every other domain and
   this run. The domain's slope is then b_s = (t_s − a_s) / n from its own measurement.
3. ``linear``: neither is available yet — the old time × expected ÷ actual, reported as such.

a_s is clamped to [0, t_s] and b_s to ≥ 0, so the projection never falls below the measured
time's per-record part scaled, nor goes negative.
"""

from __future__ import annotations

import json

CALIBRATION = "_calibration/stage_overhead.json"
MIN_SPREAD = 1.5  # the largest volume must be this many times the smallest for a fit


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least squares a + b·n over (n, t) points; None without enough spread in n."""
    pts = [(float(n), float(t)) for n, t in points if n and n > 0 and t is not None]
    if len(pts) < 2:
        return None
    ns = [n for n, _ in pts]
    if max(ns) < MIN_SPREAD * min(ns):
        return None
    k = len(pts)
    mn = sum(ns) / k
    mt = sum(t for _, t in pts) / k
    var = sum((n - mn) ** 2 for n in ns)
    if var == 0:
        return None
    b = sum((n - mn) * (t - mt) for n, t in pts) / var
    a = mt - b * mn
    tmin = min(t for _, t in pts)
    if b < 0:  # noise dominates: no per-record cost to be seen; the mean is the overhead
        return max(0.0, min(mt, tmin)), 0.0
    a = max(0.0, min(a, tmin))
    # refit the slope for the clamped intercept (least squares of t - a = b n through the origin)
    b = max(0.0, sum(n * (t - a) for n, t in pts) / sum(n * n for n in ns))
    return a, b


def project(
    stage_seconds: dict[str, float],
    records: int,
    expected: int,
    *,
    history: list[dict] | None = None,
    overhead: dict[str, float] | None = None,
) -> dict:
    """Projected seconds per stage at ``expected`` records, with the method used for each.

    ``history``: previous rehearsals of the domain as ``{"records": n, "stage_seconds": {...}}``.
    ``overhead``: fixed seconds per stage measured on tiny inputs (the calibration)."""
    history = history or []
    per_stage = {}
    total = 0.0
    linear_total = 0.0
    for s, t in stage_seconds.items():
        t = float(t)
        scale = expected / records if records else 0.0
        linear = t * scale
        linear_total += linear
        pts = [(records, t)] + [
            (h["records"], h["stage_seconds"][s])
            for h in history
            if h.get("records") and s in h.get("stage_seconds", {})
        ]
        fit = fit_line(pts)
        if fit is not None:
            a, b = fit
            method = "fit"
        elif overhead and s in overhead and records:
            a = max(0.0, min(float(overhead[s]), t))
            b = (t - a) / records
            method = "overhead"
        else:
            a, b = 0.0, (t / records if records else 0.0)
            method = "linear"
        proj = a + b * expected
        total += proj
        per_stage[s] = {
            "measured_seconds": round(t, 3),
            "overhead_seconds": round(a, 3),
            "per_record_ms": round(b * 1000, 6),
            "projected_seconds": round(proj, 1),
            "linear_seconds": round(linear, 1),
            "method": method,
            "points": len(pts) if method == "fit" else 1,
        }
    methods = sorted({v["method"] for v in per_stage.values()})
    return {
        "stages": per_stage,
        "projected_seconds": round(total, 1),
        "projected_hours": round(total / 3600, 3),
        "linear_hours": round(linear_total / 3600, 3),
        "methods": methods,
    }


def read_calibration(store) -> dict | None:
    from ikou.config import settings

    uri = f"s3://{settings().reports_bucket}/reports/{CALIBRATION}"
    try:
        return json.loads(store.get_bytes(uri))
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a missing calibration only weakens the projection
        return None


def calibrate(observations: dict[str, list[tuple[int, float]]]) -> dict[str, dict]:
    """Per stage, the fixed overhead a_s from (records, seconds) of many domains of one night."""
    out = {}
    for s, pts in observations.items():
        fit = fit_line(pts)
        if fit is None:
            continue
        a, b = fit
        out[s] = {
            "overhead_seconds": round(a, 3),
            "per_record_ms": round(b * 1000, 6),
            "points": len(pts),
            "smallest_records": min(n for n, _ in pts),
            "largest_records": max(n for n, _ in pts),
        }
    return out


def write_calibration(store, stages: dict[str, dict], master_run_id: str) -> str | None:
    import datetime as dt

    from ikou.config import settings

    if not stages:
        return None
    uri = f"s3://{settings().reports_bucket}/reports/{CALIBRATION}"
    doc = {
        "master_run_id": master_run_id,
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": "time = a + b·records per stage, least squares across the domains of one master run",
        "stages": stages,
    }
    store.put_bytes(
        uri,
        json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8"),
        content_type="application/json",
    )
    return uri
