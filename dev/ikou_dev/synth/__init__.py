"""The synthetic legacy city (`ikou synth`): the mainframe's extract files of all 20 domains.

    ikou synth --residents 20000 --seed 7 --snapshot 2026-11-01 --out s3://ikou-restricted/landing

writes, under OUT (an ``s3://bucket/prefix`` URL or a local folder)::

    {domain}/{snapshot}/{FILE}.dat        fixed-length EBCDIC records (header, data…, trailer)
    {domain}/{snapshot}/{copybook}.cpy    the COBOL copybook describing them
    {domain}/{snapshot}/_manifest.json    files, encodings, LRECL, record counts, sha256 (last)
    _reference/{snapshot}/gaiji.csv       the city's 外字 table (DESIGN.md columns)
    _reference/{snapshot}/towns.csv       the city's town list (for address checks)
    _answer_key/{snapshot}/defects.parquet     every seeded defect: domain, file, record, key,
                                               atena_no, defect, field, detail
    _answer_key/{snapshot}/duplicates.parquet  宛名 duplicates: atena_no, duplicate_of, how

Deterministic for a seed (same seed, residents and snapshot → byte-identical files). All of it
is invented; the answer key and the files hold synthetic personal data and belong in the
restricted zone.
"""

from __future__ import annotations

import datetime as dt
import time

from ikou.storage import Store, is_s3, join, local_path


def synthesize(
    residents: int,
    seed: int,
    snapshot: str | dt.date,
    out: str,
    rates: dict[str, float] | None = None,
    registry=None,
    store: Store | None = None,
    domains: list[str] | None = None,
) -> dict:
    """Write the city's legacy files (all domains, or only ``domains``: same bytes as a full run)."""
    from ikou.domains import registry as default_registry
    from ikou_dev.synth.generate import DEFAULT_RATES, write_all
    from ikou_dev.synth.population import build

    if residents < 10:
        raise ValueError("a city needs at least 10 residents")
    snap = dt.date.fromisoformat(str(snapshot))
    reg = registry or default_registry()
    the_rates = dict(DEFAULT_RATES)
    unknown = set(rates or {}) - set(DEFAULT_RATES)
    if unknown:
        raise ValueError(f"unknown defect rates {sorted(unknown)}; known: {sorted(DEFAULT_RATES)}")
    the_rates.update(rates or {})
    started = time.monotonic()
    pop = build(residents, seed, snap)
    store = store or Store()
    if not is_s3(out):
        local_path(out).mkdir(parents=True, exist_ok=True)
    written = {"files": 0, "bytes": 0}

    def emit(rel: str, data: bytes) -> None:
        store.put_bytes(join(out, rel), data)
        written["files"] += 1
        written["bytes"] += len(data)

    unknown_domains = set(domains or []) - set(reg.ids)
    if unknown_domains:
        raise ValueError(f"unknown domains {sorted(unknown_domains)}")
    summary = write_all(reg, pop, seed, the_rates, emit, domains=domains)
    summary.update(
        out=out,
        files=written["files"],
        bytes=written["bytes"],
        seconds=round(time.monotonic() - started, 2),
    )
    return summary
