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

Every ``_manifest.json`` also records the city it belongs to: ``residents``, ``seed``, ``rates``,
``synth_version`` and ``code_version`` (``ikou stack run`` refuses a landing snapshot of another
city). Business keys (宛名番号, 個人番号, 住民票コード, 基礎年金番号, every file's own number) are
distinct by construction (:mod:`ikou_dev.synth.keys`); a repeated key is only ever a seeded
``duplicate_key`` defect with its answer-key row. The generator is columnar (numpy): linear in
the city's size, written chunk by chunk (a million residents in about a minute).

``ikou synth --changes-from BASE --snapshot NEW`` writes the next snapshot of BASE's city (its
people after a month of moves, births, deaths …) and ``_answer_key/NEW/changes.parquet``:
:mod:`ikou_dev.synth.delta` (the change model: :mod:`ikou_dev.synth.changes`).

Deterministic for a seed (same seed, residents and snapshot → byte-identical files). All of it
is invented; the answer key and the files hold synthetic personal data and belong in the
restricted zone.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from ikou.errors import BadArgument
from ikou.storage import Store, is_s3, join, local_path

MIN_RESIDENTS = 10
MAX_RESIDENTS = 10_000_000


def validate(
    residents: object,
    snapshot: object,
    out: str,
    rates: dict | None,
    domains: list[str] | None,
    registry,
) -> tuple[int, str, dict[str, float]]:
    """The synth arguments checked: each problem is one :class:`BadArgument` line."""
    from ikou.pipeline import parse_snapshot
    from ikou_dev.synth.generate import DEFAULT_RATES

    if isinstance(residents, bool) or not isinstance(residents, int):
        raise BadArgument(f"--residents {residents!r}: expected a whole number")
    if not MIN_RESIDENTS <= residents <= MAX_RESIDENTS:
        raise BadArgument(
            f"--residents {residents:,}: a city has {MIN_RESIDENTS:,} to {MAX_RESIDENTS:,} residents"
        )
    snap = parse_snapshot(snapshot, "--snapshot")
    the_rates = dict(DEFAULT_RATES)
    unknown = sorted(set(rates or {}) - set(DEFAULT_RATES))
    if unknown:
        raise BadArgument(
            f"--rate: unknown defect rates {unknown}; known: {', '.join(sorted(DEFAULT_RATES))}"
        )
    for k, v in (rates or {}).items():
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise BadArgument(f"--rate {k}={v!r}: expected a number from 0 to 1") from None
        if not 0.0 <= x <= 1.0:
            raise BadArgument(f"--rate {k}={v}: a rate is from 0 to 1")
        the_rates[k] = x
    unknown_domains = sorted(set(domains or []) - set(registry.ids))
    if unknown_domains:
        raise BadArgument(
            f"--domains: unknown domains {unknown_domains}; known: {', '.join(registry.ids)}"
        )
    if not out or not str(out).strip():
        raise BadArgument("--out: expected s3://bucket/prefix or a local folder")
    if not is_s3(out):
        folder = local_path(out)
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            raise BadArgument(f"--out {out}: {probe} is a file, not a folder")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise BadArgument(f"--out {out}: {probe} is not writable")
    return residents, snap, the_rates


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
    """Write the city's legacy files (all domains, or only ``domains``: same bytes as a full run).

    Every snapshot manifest records the city (``residents``, ``seed``, ``rates``,
    ``synth_version``, ``code_version``) so that a run can tell which city a landing zone holds.
    """
    from ikou.domains import registry as default_registry
    from ikou.storage import code_version
    from ikou_dev.synth.generate import SYNTH_VERSION, write_all
    from ikou_dev.synth.population import build

    reg = registry or default_registry()
    residents, snap_text, the_rates = validate(residents, snapshot, out, rates, domains, reg)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadArgument(f"--seed {seed!r}: expected a whole number >= 0")
    snap = dt.date.fromisoformat(snap_text)
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

    def emit_file(rel: str, path: Path) -> None:
        store.put_file(join(out, rel), path)
        written["files"] += 1
        written["bytes"] += Path(path).stat().st_size

    city = {
        "residents": residents,
        "seed": seed,
        "rates": the_rates,
        "synth_version": SYNTH_VERSION,
        "code_version": code_version(),
    }
    summary = write_all(
        reg, pop, seed, the_rates, emit, domains=domains, emit_file=emit_file, city=city
    )
    summary.update(
        out=out,
        files=written["files"],
        bytes=written["bytes"],
        seconds=round(time.monotonic() - started, 2),
        synth_version=SYNTH_VERSION,
    )
    return summary
