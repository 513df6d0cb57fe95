"""Benchmark: 名寄せ of the addressee master (宛名) — run time, precision and recall on the answer key.

    python -m ikou_dev.bench dedupe            # a 1,000,000-resident city (~1.1 M addressee records)
    python -m ikou_dev.bench --quick dedupe    # 2,000 residents (what the test suite runs)

The city is the one of the ``cleanse`` benchmark (``ikou_dev.bench.cleanse.build_city``, cached): its
ATENA file is decoded and cleansed, turned into the ``ikou dedupe`` input (atena_id, name,
name_kana, birth_date, sex, address) and clustered with the shipped model; the answer key's
``duplicates.parquet`` says which records are the same person. Figures: seconds (features,
prediction, clustering, total), auto-merge precision, recall of true duplicates (auto + review),
the review queue's size and how many of it are true duplicates.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

GOALS = {"auto_precision": 0.99, "recall": 0.95, "seconds_1m": 600}


def city_input(residents: int, seed: int, out: Path | None = None):
    """(dedupe input as a pyarrow Table, truth pairs [(atena_no, duplicate_of)]) of a synthetic city."""
    import pyarrow.parquet as pq

    from ikou_dev.bench.cleanse import SNAPSHOT, build_city
    from ikou.cleanse.config import load_context
    from ikou.cleanse.merge import dedupe_input
    from ikou.cleanse.stage import cleanse_table
    from ikou.domains import registry
    from ikou.findings import Findings

    city = build_city(residents, seed=seed, out=out)
    d = registry().get("juki")
    lf = d.legacy_file("ATENA")
    ctx = load_context(Path(city["folder"]) / "landing" / "_reference" / SNAPSHOT, domain=d)
    raw = pq.read_table(city["decoded"]["juki/ATENA"])
    res = cleanse_table(
        raw, d, lf, Findings("juki", "bench", "cleanse"), secret=b"bench", context=ctx
    )
    records = dedupe_input(res.table, lf)
    dups = pq.read_table(
        Path(city["folder"]) / "landing" / "_answer_key" / SNAPSHOT / "duplicates.parquet"
    )
    truth = list(zip(dups.column("atena_no").to_pylist(), dups.column("duplicate_of").to_pylist()))
    return records, truth


def run(workdir: Path, quick: bool) -> dict:
    from ikou_dev.bench.cleanse import FULL_RESIDENTS, QUICK_RESIDENTS, SEED
    from ikou.cleanse.dedupe import DedupeConfig, dedupe, evaluate
    from ikou.domains import registry

    residents = QUICK_RESIDENTS if quick else FULL_RESIDENTS
    t0 = time.monotonic()
    records, truth = city_input(residents, SEED)
    setup = time.monotonic() - t0
    spec = registry().get("juki").cleanse.dedupe
    cfg = DedupeConfig(
        auto_merge=spec.auto_merge, review=spec.review, max_auto_cluster=spec.max_auto_cluster
    )
    load = [round(x, 2) for x in os.getloadavg()]
    t1, c1 = time.monotonic(), time.process_time()
    res = dedupe(records, cfg)
    seconds, cpu = time.monotonic() - t1, time.process_time() - c1
    quality = evaluate(res.clusters, truth)
    figures = {
        "residents": residents,
        "addressee_records": records.num_rows,
        "setup_seconds": round(setup, 1),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "load_average_before": load,
        "stage_seconds": res.stats["seconds"],
        "records_per_second": round(records.num_rows / seconds) if seconds else None,
        **quality,
        "review_records": res.stats["records_review"],
        "auto_merge_records": res.stats["records_auto_merge"],
        "thresholds": res.stats["thresholds"],
        "prior": res.stats["prior"],
        "goals": GOALS,
    }
    if not quick:
        figures["goals_met"] = {
            "auto_precision": (quality["auto_precision"] or 0) >= GOALS["auto_precision"],
            "recall": (quality["recall"] or 0) >= GOALS["recall"],
            "time": seconds < GOALS["seconds_1m"],
        }
    return figures
