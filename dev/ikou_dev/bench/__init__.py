"""`make bench`: Ikou's benchmarks. Each writes ``bench/results/<name>.json`` with the machine,
the command and its figures; the README quotes them. Performance is measured here, never by
timed assertions in tests (a test runs each benchmark's ``quick`` profile so the harness cannot
rot).

    python -m ikou_dev.bench                 # all benchmarks
    python -m ikou_dev.bench decode load     # some
    python -m ikou_dev.bench --quick decode  # the small profile the test suite runs

A benchmark is a module ``ikou_dev.bench.<name>`` with ``run(workdir: Path, quick: bool) -> dict``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from ikou.argparsing import Parser

REPO = Path(__file__).resolve().parents[3]
RESULTS = REPO / "bench" / "results"
#: name -> module; benchmarks register here when they exist
BENCHMARKS = ("decode", "cleanse", "dedupe", "load", "gates", "synth", "timing", "delta", "master")


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (``VmHWM``; ru_maxrss as a fallback): what
    a benchmark's child process reports of itself."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _probe_workload(scale: int) -> None:
    import hashlib

    import pyarrow as pa
    import pyarrow.compute as pc

    block = bytes(range(256)) * 4096  # 1 MiB
    h = hashlib.sha256()
    for _ in range(48 * scale):
        h.update(block)
    total = 0
    for i in range(1_500_000 * scale):
        total += i % 7
    values = pa.array([(i * 7919) % 1_000_003 for i in range(300_000 * scale)], pa.int64())
    pc.sort_indices(values)


def host_probe() -> dict:
    """CPU and wall seconds of one fixed single-threaded CPU workload (hashing, a Python loop, an
    Arrow sort): recorded before and after each benchmark (and each city of the master's), so
    that figures taken at different times can be told apart from the host's own speed, which
    varies on a shared machine (the same suite took 590 s one night and 1,025 s the next).
    Smaller is faster; wall above CPU is time the host gave to others (steal, other processes on
    the core). The workload runs once small and untimed first: the first Arrow call of a process
    initialises its kernels (about 1 s, which would hide the host's speed)."""
    _probe_workload(0)
    t0, w0 = time.process_time(), time.monotonic()
    _probe_workload(4)
    return {
        "cpu": round(time.process_time() - t0, 3),
        "wall": round(time.monotonic() - w0, 3),
    }


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def available() -> list[str]:
    out = []
    for name in BENCHMARKS:
        try:
            importlib.import_module(f"ikou_dev.bench.{name}")
            out.append(name)
        except ModuleNotFoundError as exc:
            if exc.name != f"ikou_dev.bench.{name}":
                raise
    return out


def run_one(
    name: str, quick: bool, results_dir: Path = RESULTS, workdir: Path | None = None
) -> dict:
    from ikou.storage import code_version

    mod = importlib.import_module(f"ikou_dev.bench.{name}")
    probe_before = host_probe()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"ikou-bench-{name}-", dir=workdir) as tmp:
        figures = mod.run(Path(tmp), quick=quick)
    seconds = round(time.monotonic() - started, 1)
    doc = {
        "benchmark": name,
        "quick": quick,
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m ikou_dev.bench"] + (["--quick"] if quick else []) + [name]),
        "code_version": code_version(),
        "machine": machine(),
        "host_probe": {"before": probe_before, "after": host_probe()},
        "seconds": seconds,
        "figures": figures,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".quick" if quick else ""
    (results_dir / f"{name}{suffix}.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    )
    return doc


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="ikou bench", description=__doc__.splitlines()[0])
    p.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})"
    )
    p.add_argument(
        "--quick", action="store_true", help="the small profile (what the test suite runs)"
    )
    p.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    names = args.names or available()
    for name in names:
        doc = run_one(name, args.quick, args.results)
        print(f"{name}: {json.dumps(doc['figures'], ensure_ascii=False)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
