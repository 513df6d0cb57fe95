"""Benchmark: `ikou synth` at two city sizes — time, peak memory, bytes written, and how they grow.

    python -m ikou_dev.bench synth            # 100,000 and 1,000,000 residents (goal: 1M ≤ 120 s)
    python -m ikou_dev.bench --quick synth    # 2,000 and 20,000 residents (what the test suite runs)

Each size runs in a process of its own (``synthesize`` of all 20 domains into a local folder
under the benchmark's work directory), so its peak resident memory (``ru_maxrss``) is its own.
Figures per size: wall seconds, CPU seconds, peak RSS, bytes and files written, records; and the
ratios of the larger size to the smaller (a linear generator: time and bytes grow ~10×, memory
less). The load average before each run is recorded: on a shared machine wall time includes
waiting for a core, CPU time does not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

FULL_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (2_000, 20_000)
SEED = 7
SNAPSHOT = "2026-11-01"
GOAL_SECONDS_1M = 120

_CHILD = """
import json, resource, sys, time
from ikou_dev.synth import synthesize
residents, out = int(sys.argv[1]), sys.argv[2]
t, c = time.monotonic(), time.process_time()
s = synthesize(residents, {seed}, "{snapshot}", out)
wall, cpu = time.monotonic() - t, time.process_time() - c
rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
records = sum(n for files in s["records"].values() for n in files.values())
print(json.dumps({{"residents": s["residents"], "addressees": s["addressees"],
    "seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "peak_rss_mb": round(rss_kb / 1024),
    "bytes": s["bytes"], "files": s["files"], "records": records, "seeded": s["seeded"]}}))
"""


def measure(residents: int, workdir: Path) -> dict:
    """One ``synthesize`` in a child process; returns its figures."""
    out = workdir / f"city-{residents}"
    load = [round(x, 2) for x in os.getloadavg()]
    code = _CHILD.format(seed=SEED, snapshot=SNAPSHOT)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(residents), str(out)],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
    )
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"synth of {residents:,} residents failed: {tail[0]}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["load_average_before"] = load
    shutil.rmtree(out, ignore_errors=True)
    return figures


def run(workdir: Path, quick: bool) -> dict:
    small, large = QUICK_SIZES if quick else FULL_SIZES
    a = measure(small, workdir)
    b = measure(large, workdir)

    def ratio(k: str) -> float | None:
        return round(b[k] / a[k], 2) if a[k] else None

    figures = {
        "seed": SEED,
        "snapshot": SNAPSHOT,
        "sizes": {str(small): a, str(large): b},
        "ratio": {
            "residents": round(large / small, 2),
            "seconds": ratio("seconds"),
            "cpu_seconds": ratio("cpu_seconds"),
            "peak_rss_mb": ratio("peak_rss_mb"),
            "bytes": ratio("bytes"),
            "records": ratio("records"),
        },
    }
    if not quick:
        figures["goal"] = {"seconds_1m": GOAL_SECONDS_1M}
        figures["goal_met"] = b["seconds"] <= GOAL_SECONDS_1M
    return figures
