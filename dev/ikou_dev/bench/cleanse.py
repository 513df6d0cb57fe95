"""Benchmark: cleanse throughput on the resident registry (住民基本台帳) of a large synthetic city.

    python -m ikou_dev.bench cleanse            # 1,000,000 residents (the city is built once, cached)
    python -m ikou_dev.bench --quick cleanse    # 2,000 residents (what the test suite runs)

The city: ``juki`` only (the addressee master ATENA and the resident file JUKI), written by
``ikou_dev.synth`` exactly as ``ikou synth`` writes it (EBCDIC, seeded defects, answer key), then
decoded by the extract engine. Cleansing is timed on the decoded tables with every rule of
the domain's configuration (characters, widths, kana, addresses against the town list,
identifiers, dates) — the same ``cleanse_table`` the cleanse stage runs; 名寄せ is measured by
the ``dedupe`` benchmark on the same city.

Stages (``figures["stages"]``): juki's extract, cleanse (with 名寄せ) and validate as the DAG's
tasks run them, each in a process of its own (:mod:`ikou_dev.bench.stage_process`), at two
volumes — 500,000 and 1,000,000 residents (quick: 1,000 and 2,000) — with each process's CPU
seconds, wall seconds and peak resident memory, and the ratio of the larger to the smaller
(``per_doubling``; issue 13 asks ≤ 2.1× time and memory per doubling of the city).

The city is built by ``ikou_dev.synth.synthesize`` in one go (columnar: a million residents in about
a minute) and cached under ``$IKOU_HOME/bench/`` (rerun reuses it; the folder name carries the
synth version).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

SNAPSHOT = "2026-11-01"
SEED = 7
FULL_RESIDENTS = 1_000_000
QUICK_RESIDENTS = 2_000
#: the two cities of the per-stage figures (the second is twice the first)
STAGE_RESIDENTS = (500_000, 1_000_000)
QUICK_STAGE_RESIDENTS = (1_000, 2_000)


def cache_root() -> Path:
    home = Path(os.environ.get("IKOU_HOME") or Path.cwd() / ".ikou")
    return home / "bench"


def build_city(
    residents: int,
    seed: int = SEED,
    snapshot: str = SNAPSHOT,
    out: Path | None = None,
    domains: tuple[str, ...] = ("juki",),
    rates: dict[str, float] | None = None,
) -> dict:
    """Synthesise ``domains`` of a city of ``residents`` into ``out`` (a folder) and decode them.

    Returns a description: folder, synth summary, decoded Parquet paths, timings. Cached: a
    folder with a complete ``city.json`` is reused (the default folder's name says residents,
    seed, snapshot, domains and rates).
    """
    from ikou_dev.synth import synthesize
    from ikou_dev.synth.generate import SYNTH_VERSION

    if out is None:
        name = f"city-v{SYNTH_VERSION}-{residents}-{seed}-{snapshot}"
        if domains != ("juki",):
            name += "-" + "+".join(domains)
        if rates:
            name += "-" + "-".join(f"{k}={v:g}" for k, v in sorted(rates.items()))
        out = cache_root() / name
    out = Path(out)
    marker = out / "city.json"
    if marker.exists():
        return json.loads(marker.read_text())
    out.mkdir(parents=True, exist_ok=True)
    from ikou.domains import registry
    from ikou.domains.registry import Registry

    reg = registry()
    sub = Registry({d: reg.get(d) for d in domains}, reg.data_dir)
    t1 = time.monotonic()
    summary = synthesize(
        residents, seed, snapshot, str(out / "landing"), rates=rates, domains=list(domains)
    )
    t_write = time.monotonic() - t1
    t2 = time.monotonic()
    decoded = decode_city(out, sub, snapshot)
    desc = {
        "residents": residents,
        "seed": seed,
        "snapshot": snapshot,
        "folder": str(out),
        "domains": list(domains),
        "synth": summary,
        "decoded": decoded,
        "seconds": {
            "synth": round(t_write, 1),
            "decode": round(time.monotonic() - t2, 1),
        },
    }
    marker.write_text(json.dumps(desc, ensure_ascii=False, indent=2, default=str))
    return desc


def decode_city(out: Path, reg, snapshot: str) -> dict:
    """Decode every legacy file of the synthesised domains into ``out/raw/{domain}/{FILE}.parquet``."""
    from ikou.mainframe.engine import decode_to_parquet
    from ikou.mainframe.registry_options import registry_copybook, registry_decode_options

    gaiji = out / "landing" / "_reference" / snapshot / "gaiji.csv"
    paths = {}
    for d in reg:
        for lf in d.legacy_files:
            cb = registry_copybook(lf)  # the extract stage's options for the file
            opts = registry_decode_options(lf, f"{lf.name}.dat", gaiji, gaiji_policy="placeholder")
            dest = out / "raw" / d.id
            dest.mkdir(parents=True, exist_ok=True)
            pq_path = dest / f"{lf.name}.parquet"
            decode_to_parquet(
                out / "landing" / d.id / snapshot / f"{lf.name}.dat",
                cb,
                opts,
                pq_path,
                dest / f"{lf.name}.quarantine.jsonl",
            )
            paths[f"{d.id}/{lf.name}"] = str(pq_path)
    return paths


def run(workdir: Path, quick: bool) -> dict:
    import pyarrow.parquet as pq

    from ikou.cleanse.config import load_context
    from ikou.cleanse.stage import cleanse_table
    from ikou.domains import registry
    from ikou.findings import Findings

    residents = QUICK_RESIDENTS if quick else FULL_RESIDENTS
    t0 = time.monotonic()
    city = build_city(residents)  # cached under $IKOU_HOME/bench (the dedupe benchmark reuses it)
    setup = time.monotonic() - t0
    d = registry().get("juki")
    ctx = load_context(Path(city["folder"]) / "landing" / "_reference" / SNAPSHOT)
    figures: dict = {
        "residents": residents,
        "city_seconds": city["seconds"],
        "setup_seconds": round(setup, 1),
        "files": {},
    }
    load = [
        round(x, 2) for x in os.getloadavg()
    ]  # a busy machine shows in wall time, not in CPU time
    rows_total, secs_total, cpu_total = 0, 0.0, 0.0
    secret = b"bench-secret-not-for-production"
    for lf in d.legacy_files:
        table = pq.read_table(city["decoded"][f"juki/{lf.name}"])
        findings = Findings("juki", "bench", "cleanse")
        t, c = time.monotonic(), time.process_time()
        res = cleanse_table(table, d, lf, findings, secret=secret, context=ctx)
        secs, cpu = time.monotonic() - t, time.process_time() - c
        rows_total += table.num_rows
        secs_total += secs
        cpu_total += cpu
        figures["files"][lf.name] = {
            "rows": table.num_rows,
            "seconds": round(secs, 2),
            "cpu_seconds": round(cpu, 2),
            "rows_per_second": round(table.num_rows / secs) if secs else None,
            "rows_per_cpu_second": round(table.num_rows / cpu) if cpu else None,
            "changes": sum(res.changes.values()),
            "findings": len(findings),
        }
    figures["rows"] = rows_total
    figures["seconds"] = round(secs_total, 2)
    figures["cpu_seconds"] = round(cpu_total, 2)
    figures["rows_per_second"] = round(rows_total / secs_total) if secs_total else None
    figures["rows_per_cpu_second"] = round(rows_total / cpu_total) if cpu_total else None
    figures["load_average_before"] = load
    figures["stages"] = stage_figures(workdir, QUICK_STAGE_RESIDENTS if quick else STAGE_RESIDENTS)
    return figures


def stage_figures(workdir: Path, sizes: tuple[int, int]) -> dict:
    """Each juki stage's CPU s, wall s and peak RSS (its own process) at two city sizes, and
    the ratio per doubling (:mod:`ikou_dev.bench.stage_process`)."""
    from ikou_dev.bench.stage_process import STAGES, stages

    out: dict = {"residents": list(sizes), "by_residents": {}, "per_doubling": {}}
    for n in sizes:
        load = [round(x, 2) for x in os.getloadavg()]
        work = workdir / f"stages-{n}"
        work.mkdir(parents=True, exist_ok=True)
        figures = stages(n, SEED, SNAPSHOT, work)
        figures["load_average_before"] = load
        figures["largest_peak_rss_mb"] = max(figures[s]["peak_rss_mb"] for s in STAGES)
        out["by_residents"][str(n)] = figures
    small, big = (out["by_residents"][str(n)] for n in sizes)
    per = sizes[1] / sizes[0]
    for stage in STAGES:
        out["per_doubling"][stage] = {
            k: round((big[stage][k] / small[stage][k]) ** (1 / math.log2(per)), 2)
            if small[stage][k]
            else None
            for k in ("cpu_seconds", "seconds", "peak_rss_mb")
        }
    return out
