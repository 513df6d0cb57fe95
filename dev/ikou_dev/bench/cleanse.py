"""Benchmark: cleanse throughput on the resident registry (住民基本台帳) of a large synthetic city.

    python -m ikou_dev.bench cleanse            # 1,000,000 residents (the city is built once, cached)
    python -m ikou_dev.bench --quick cleanse    # 2,000 residents (what the test suite runs)

The city: ``juki`` only (the addressee master ATENA and the resident file JUKI), written by
``ikou_dev.synth`` exactly as ``ikou synth`` writes it (EBCDIC, seeded defects, answer key), then
decoded by the extract engine. Cleansing is timed on the decoded tables with every rule of
the domain's configuration (characters, widths, kana, addresses against the town list,
identifiers, dates) — the same ``cleanse_table`` the cleanse stage runs; 名寄せ is measured by
the ``dedupe`` benchmark on the same city.

Building a city of a million residents with ``ikou_dev.synth.population.build`` in one go takes
hours (its household loop recounts the residents on every household: quadratic), so the big
city is built from sub-cities of at most ``CHUNK`` residents (seeds ``seed*1000+i``), joined
into one population with unique 宛名番号 and offsets for every index; the synthesis of the
files (``write_all``), the seeded defect rates and the answer key are the unchanged synth code.
The built city is cached under ``$IKOU_HOME/bench/`` (it takes a while; rerun reuses it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SNAPSHOT = "2026-11-01"
SEED = 7
CHUNK = 2000
FULL_RESIDENTS = 1_000_000
QUICK_RESIDENTS = 2_000


def cache_root() -> Path:
    home = Path(os.environ.get("IKOU_HOME") or Path.cwd() / ".ikou")
    return home / "bench"


def _chunk(args):
    n, seed, snapshot = args
    from ikou_dev.synth.population import build

    return build(max(n, 10), seed, snapshot).people


def big_population(
    residents: int, seed: int, snapshot: dt.date, chunk: int = CHUNK, workers: int | None = None
):
    """A Population of ``residents`` residents built from sub-cities (see the module docstring)."""
    import numpy as np

    from ikou_dev.synth.city import towns
    from ikou_dev.synth.population import Population

    sizes = [min(chunk, residents - s) for s in range(0, residents, chunk)]
    jobs = [(n, seed * 1000 + i, snapshot) for i, n in enumerate(sizes)]
    if len(jobs) == 1 or workers == 1:
        parts = [_chunk(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers or min(os.cpu_count() or 1, 4)) as ex:
            parts = list(ex.map(_chunk, jobs, chunksize=4))
    rng = np.random.default_rng(seed)
    people, used = [], set()
    koseki_off = kojin_off = household_off = 0
    for part in parts:
        off = len(people)
        koseki_max = kojin_max = household_max = 0
        for p in part:
            p.idx += off
            if p.head >= 0:
                p.head += off
            if p.koseki_head >= 0:
                p.koseki_head += off
            p.children = [c + off for c in p.children]
            if p.koseki_id:
                koseki_max = max(koseki_max, p.koseki_id)
                p.koseki_id += koseki_off
            if p.koseki_kojin_id:
                kojin_max = max(kojin_max, p.koseki_kojin_id)
                p.koseki_kojin_id += kojin_off
            if p.household:
                household_max = max(household_max, p.household)
                p.household += household_off
            while p.atena_no in used:  # sub-cities draw their 宛名番号 independently
                p.atena_no = f"{int(rng.integers(1, 10**10)):010d}"
            used.add(p.atena_no)
        koseki_off += koseki_max
        kojin_off += kojin_max
        household_off += household_max
        people.extend(part)
    return _CachedPopulation(people, snapshot, towns())


def _cached_population_class():
    from ikou_dev.synth.population import Population

    class CachedPopulation(Population):
        """The same population; ``residents`` / ``of_kind`` computed once (write_all asks for them
        once per duplicate, which is quadratic on a million people)."""

        _kinds: dict | None = None

        def of_kind(self, kind: str):
            if self._kinds is None:
                self._kinds = {}
            if kind not in self._kinds:
                self._kinds[kind] = [p for p in self.people if p.kind == kind]
            return self._kinds[kind]

    return CachedPopulation


def _CachedPopulation(people, snapshot, towns_):  # noqa: N802 - a factory standing in for the class
    return _cached_population_class()(people, snapshot, towns_)


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
    from ikou.domains import registry
    from ikou.domains.registry import Registry
    from ikou_dev.synth.generate import DEFAULT_RATES, write_all
    from ikou.storage import Store, join

    if out is None:
        name = f"city-{residents}-{seed}-{snapshot}"
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
    reg = registry()
    sub = Registry({d: reg.get(d) for d in domains}, reg.data_dir)
    snap = dt.date.fromisoformat(snapshot)
    t0 = time.monotonic()
    pop = big_population(residents, seed, snap)
    t_pop = time.monotonic() - t0
    store = Store()
    landing = str(out / "landing")

    def emit(rel: str, data: bytes) -> None:
        store.put_bytes(join(landing, rel), data)

    t1 = time.monotonic()
    summary = write_all(sub, pop, seed, {**DEFAULT_RATES, **(rates or {})}, emit)
    t_write = time.monotonic() - t1
    del pop
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
            "population": round(t_pop, 1),
            "write": round(t_write, 1),
            "decode": round(time.monotonic() - t2, 1),
        },
    }
    marker.write_text(json.dumps(desc, ensure_ascii=False, indent=2, default=str))
    return desc


def decode_city(out: Path, reg, snapshot: str) -> dict:
    """Decode every legacy file of the synthesised domains into ``out/raw/{domain}/{FILE}.parquet``."""
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import DecodeOptions, decode_to_parquet

    gaiji = out / "landing" / "_reference" / snapshot / "gaiji.csv"
    paths = {}
    for d in reg:
        for lf in d.legacy_files:
            cb = parse_copybook(lf.copybook_path.read_text(encoding="utf-8"), source=lf.copybook)
            opts = DecodeOptions(
                encoding=lf.encoding,
                recfm=lf.recfm,
                lrecl=lf.lrecl,
                record_type_field=lf.record_type_field,
                record_types=dict(lf.record_types),
                header_layouts=tuple(v for k, v in lf.record_types.items() if k == "H"),
                trailer_layouts=tuple(v for k, v in lf.record_types.items() if k == "T"),
                record_count_field=lf.trailer.count_field,
                control_totals=dict(lf.trailer.sums),
                mixed_fields=tuple(lf.mixed_fields),
                gaiji=str(gaiji),
                file_name=f"{lf.name}.dat",
            )
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
    return figures
