"""Benchmark ``decode``: the vectorised extract engine against straightforward per-record decoders
(the synthetic inputs: :mod:`.decode_data`; the per-record Python baseline: :mod:`.decode_reference`).

    python -m ikou_dev.bench decode            # full profile -> bench/results/decode.json
    python -m ikou_dev.bench --quick decode    # the small profile the test suite runs

Two figures, measured in one run on this machine (all data synthetic, generated here):

(a) **Throughput.** A fixed-length cp930 file (RECFM FB, LRECL 500; header, data, trailer
    records) whose data records mix SBCS (PIC X), DBCS (PIC N), mixed SO/SI text (PIC X named as
    mixed), zoned (signed and unsigned), packed (COMP-3) and binary fields; 1 GB in the full
    profile. A few thousand distinct records are encoded with :mod:`ikou.mainframe.encode` and
    tiled with a fresh key per record, so the file is written at disk speed.

    * the engine (``decode_file``: chunks of Arrow record batches, quarantine and trailer checks;
      no output file) runs in a child process pinned to one CPU (``sched_setaffinity``): MB/s and
      records/s per core, CPU seconds, peak RSS (the child's ``VmHWM``);
    * a straightforward per-record pure-Python decoder of the same layout (record type, then
      field by field: zoned / packed / binary digit loops, text through Python lists of the same
      code-page tables, SO/SI state machine) runs on a sample in a pinned child; its MB/s is
      extrapolated from the sample (it would take tens of minutes on 1 GB) -- the figures say so;
    * both decoders' values are compared on the sample (they must agree);
    * peak RSS of one ``decode_file`` over a 5 GB input: the 1 GB file streamed 5 times through a
      file object that concatenates it (no 5 GB on disk), in a child process.

(b) **CLI end to end.** ``ikou decode`` (a fresh process: interpreter start-up, imports, copybook,
    decode, CSV output) on a 56 MB file of 140-byte cp930 records (400,000 records), against a
    hand-written per-record JVM decoder (``bench/java/PerRecordDecoder.java``, the JDK's IBM930
    charset, compiled with ``javac`` into the bench's work directory) writing the same CSV
    columns. Each command runs 3 times (as hyperfine would, after one warm-up run that fills the
    page cache); the median wall time counts. Without ``java`` / ``javac`` the JVM side is
    reported as skipped. The SBCS fields are declared (``--sbcs-field``: cp930 decodes SO/SI in
    every other PIC X field by default) so that the figures compare like with like; a second
    ``ikou decode`` figure, ``ikou_decode_all_default``, runs with no field declared at all
    (every PIC X field mixed) against the same JVM decoder.

Timings are figures, never assertions: the test suite runs the quick profile and checks keys.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ikou_dev.bench import peak_rss_mb
from ikou_dev.bench.decode_data import (
    COPYBOOK_140,
    COPYBOOK_500,
    MB,
    SBCS_140,
    copybook_text,
    options_500,
    write_file_140,
    write_file_500,
)
from ikou_dev.bench.decode_reference import PerRecordDecoder

REPO = Path(__file__).resolve().parents[3]
JAVA_SRC = REPO / "bench" / "java" / "PerRecordDecoder.java"


# ------------------------------------------------------------------------- child processes


def _pin_one_cpu() -> int | None:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return cpus[-1]
    except (AttributeError, OSError):
        return None


class _Repeat(io.RawIOBase):
    """A read-only file object: the bytes of ``path`` ``times`` times in a row (5 GB from 1 GB)."""

    def __init__(self, path: str, times: int):
        self.path, self.times, self.done = path, times, 0
        self.fh = open(path, "rb")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while True:
            n = self.fh.readinto(b)
            if n:
                return n
            self.done += 1
            if self.done >= self.times:
                return 0
            self.fh.seek(0)

    def close(self) -> None:
        self.fh.close()
        super().close()


def child_engine(path: str, times: int = 1, pin: bool = True) -> dict:
    """Decode ``path`` (``times`` times in one stream) with the engine; figures of this process."""
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import decode_file

    cpu = _pin_one_cpu() if pin else None
    cb = parse_copybook(copybook_text(COPYBOOK_500), source="bench500.cpy")
    src = path if times == 1 else io.BufferedReader(_Repeat(path, times), buffer_size=1 << 20)
    t0, c0 = time.perf_counter(), time.process_time()
    run = decode_file(src, cb, options_500(file_name="bench500.dat"))
    rows = 0
    for chunk in run:
        rows += chunk.batch.num_rows
    wall, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    s = run.summary
    return {
        "seconds": wall,
        "cpu_seconds": cpu_s,
        "bytes": s.bytes_read,
        "records_in": s.records_in,
        "records_out": s.records_out,
        "header": s.header_records,
        "trailer": s.trailer_records,
        "quarantined": s.quarantined,
        "accounted": s.accounted,
        "trailer_ok": s.trailer_ok,
        "rows_in_batches": rows,
        "peak_rss_mb": peak_rss_mb(),
        "cpu": cpu,
    }


def child_python(path: str, sample_records: int) -> dict:
    """The per-record Python decoder on the first ``sample_records`` records of ``path``."""
    from ikou.mainframe.copybook import parse_copybook
    from ikou.moji.codepages import get_codepage

    cpu = _pin_one_cpu()
    cb = parse_copybook(copybook_text(COPYBOOK_500), source="bench500.cpy")
    dec = PerRecordDecoder(cb, get_codepage("cp930"))
    with open(path, "rb") as fh:
        data = fh.read(sample_records * 500)
    t0, c0 = time.perf_counter(), time.process_time()
    rows = dec.decode(data)
    wall, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": wall,
        "cpu_seconds": cpu_s,
        "bytes": len(data),
        "records": len(data) // 500,
        "data_records": len(rows),
        "header": dec.header,
        "trailer": dec.trailer,
        "bad": dec.bad,
        "peak_rss_mb": peak_rss_mb(),
        "cpu": cpu,
    }


def _run_child(func: str, *args, timeout: float = 3600) -> dict:
    code = (
        "import json, sys\n"
        f"from ikou_dev.bench.decode import {func}\n"
        f"print('\\n' + json.dumps({func}(*{list(args)!r})))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_child_env(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {func} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child_env() -> dict:
    env = dict(os.environ)
    inc = str(REPO / "include")
    env["PYTHONPATH"] = inc + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def compare_sample(path: Path, records: int) -> dict:
    """Decode the first ``records`` records with both decoders; count differing values."""
    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.engine import decode_file
    from ikou.moji.codepages import get_codepage

    cb = parse_copybook(copybook_text(COPYBOOK_500), source="bench500.cpy")
    with open(path, "rb") as fh:
        data = fh.read(records * 500)
    run = decode_file(data, cb, options_500(record_count_field=None, control_totals={}))
    engine_rows = []
    for chunk in run:
        engine_rows.extend(chunk.batch.to_pylist())
    py_rows = PerRecordDecoder(cb, get_codepage("cp930")).decode(data)
    diffs = 0
    for a, b in zip(engine_rows, py_rows):
        for k, v in b.items():
            if a.get(k) != v:
                diffs += 1
    return {
        "records": len(py_rows),
        "engine_records": len(engine_rows),
        "differing_values": diffs,
        "agree": diffs == 0 and len(engine_rows) == len(py_rows),
    }


def _ikou_command() -> list[str]:
    script = Path(sys.executable).with_name("ikou")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from ikou.cli import main; sys.exit(main())"]


def _timed(cmd: list[str], cwd: Path) -> dict:
    """Run ``cmd`` once: wall seconds and the child's CPU seconds (user + sys)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env=_child_env(), timeout=1800
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "stdout": proc.stdout.strip()}


def _hyperfine(cmd: list[str], cwd: Path, runs: int) -> dict:
    """One warm-up run, then ``runs`` timed runs; the median wall time counts."""
    _timed(cmd, cwd)
    res = [_timed(cmd, cwd) for _ in range(runs)]
    walls = [r["wall"] for r in res]
    return {
        "runs_s": [round(x, 3) for x in walls],
        "median_s": round(statistics.median(walls), 3),
        "min_s": round(min(walls), 3),
        "cpu_median_s": round(statistics.median(r["cpu"] for r in res), 3),
        "last_output": res[-1]["stdout"].splitlines()[-1] if res[-1]["stdout"] else "",
    }


def _java_version() -> str | None:
    java, javac = shutil.which("java"), shutil.which("javac")
    if not java or not javac:
        return None
    proc = subprocess.run([java, "-version"], capture_output=True, text=True)
    first = (proc.stderr or proc.stdout).strip().splitlines()
    return first[0] if first else "java"


def figure_cli(work: Path, records: int, runs: int = 3) -> dict:
    """(b) ``ikou decode`` end to end vs the per-record JVM decoder on the 140-byte file."""
    data = work / "bench140.dat"
    info = write_file_140(data, records)
    cpy = work / "bench140.cpy"
    cpy.write_text(copybook_text(COPYBOOK_140), encoding="utf-8")
    prefix = _ikou_command()
    decode_cmd = prefix + ["decode", "--copybook", cpy.name, "--encoding", "cp930", "--recfm", "FB"]
    default_cmd = decode_cmd + [data.name, "-o", "ikou-default.csv"]
    ikou_cmd = decode_cmd + [
        "--mixed-field",
        "ADDRESS",
        *[x for f in SBCS_140 for x in ("--sbcs-field", f)],
        data.name,
        "-o",
        "ikou.csv",
    ]
    out = {
        "file": {k: v for k, v in info.items() if k != "path"}
        | {"mb": round(info["bytes"] / MB, 1)},
        "output": "CSV (UTF-8, CRLF, the same columns, lineage included)",
        "command_ikou": " ".join(["ikou"] + ikou_cmd[len(prefix) :]),
        "command_jvm": "java -cp WORK/java PerRecordDecoder bench140.dat jvm.csv bench140.dat",
        "repetitions": runs,
        "how": "wall time of a fresh process each run, start-up included; 1 warm-up run, median of the rest",
    }
    out["ikou_decode"] = _hyperfine(ikou_cmd, work, runs)
    # every PIC X field mixed (cp930's default: no --mixed-field, no --sbcs-field)
    out["command_ikou_all_default"] = " ".join(["ikou"] + default_cmd[len(prefix) :])
    out["ikou_decode_all_default"] = _hyperfine(default_cmd, work, runs)
    version = _java_version()
    if version is None:
        out["jvm"] = {"skipped": "java / javac not found"}
        return out
    if not JAVA_SRC.exists():
        out["jvm"] = {"skipped": f"{JAVA_SRC} missing"}
        return out
    classes = work / "java"
    classes.mkdir(exist_ok=True)
    subprocess.run(
        [shutil.which("javac"), "-d", str(classes), str(JAVA_SRC)], check=True, capture_output=True
    )
    jvm_cmd = [
        shutil.which("java"),
        "-cp",
        str(classes),
        "PerRecordDecoder",
        data.name,
        "jvm.csv",
        data.name,
    ]
    out["jvm"] = _hyperfine(jvm_cmd, work, runs) | {
        "java": version,
        "source": "bench/java/PerRecordDecoder.java",
        "charset": "x-IBM930 (JDK)",
    }
    same = (work / "ikou.csv").read_bytes() == (work / "jvm.csv").read_bytes()
    out["outputs_identical"] = same
    out["outputs_identical_all_default"] = (work / "ikou-default.csv").read_bytes() == (
        work / "jvm.csv"
    ).read_bytes()
    ik, jv = out["ikou_decode"]["median_s"], out["jvm"]["median_s"]
    ikd = out["ikou_decode_all_default"]["median_s"]
    out["jvm_over_ikou"] = round(jv / ik, 2) if ik else None
    out["jvm_over_ikou_all_default"] = round(jv / ikd, 2) if ikd else None
    out["goal"] = {
        "what": "ikou decode no slower than the JVM decoder (median wall time)",
        "met": ik <= jv,
        "met_all_default": ikd <= jv,
    }
    return out


def figure_throughput(
    work: Path, data_records: int, sample_records: int, stream_times: int = 5
) -> dict:
    """(a) engine vs per-record Python on the 500-byte file; peak RSS over a 5x stream."""
    data = work / "bench500.dat"
    t0 = time.perf_counter()
    info = write_file_500(data, data_records)
    gen_s = time.perf_counter() - t0
    agree = compare_sample(data, min(sample_records, 2000))
    eng = _run_child("child_engine", str(data))
    py = _run_child("child_python", str(data), sample_records)
    size = info["bytes"]
    eng_cpu_mbs = size / MB / eng["cpu_seconds"]
    eng_wall_mbs = size / MB / eng["seconds"]
    py_cpu_mbs = py["bytes"] / MB / py["cpu_seconds"]
    py_wall_mbs = py["bytes"] / MB / py["seconds"]
    speed = eng_cpu_mbs / py_cpu_mbs
    out = {
        "file": {k: v for k, v in info.items() if k != "path"}
        | {
            "mb": round(size / MB, 1),
            "encoding": "cp930",
            "recfm": "FB",
            "fields": "SBCS x6, DBCS (PIC N) x3, mixed SO/SI x2, zoned x6 (2 signed), packed x3, binary x1",
            "generated_s": round(gen_s, 1),
        },
        "per_core": "one process pinned to one CPU (sched_setaffinity); MB/s per core = bytes / CPU seconds "
        "of that process; wall-clock figures beside them (the machine is shared: see load_average)",
        "engine": {
            "what": "ikou.mainframe decode_file: Arrow batches, quarantine, trailer checks (no output file)",
            "kernel": _kernel_name(),
            "seconds_wall": round(eng["seconds"], 2),
            "seconds_cpu": round(eng["cpu_seconds"], 2),
            "mb_per_s_per_core": round(eng_cpu_mbs, 1),
            "mb_per_s_wall": round(eng_wall_mbs, 1),
            "records_per_s_per_core": round(eng["records_in"] / eng["cpu_seconds"]),
            "records_per_s_wall": round(eng["records_in"] / eng["seconds"]),
            "peak_rss_mb": round(eng["peak_rss_mb"], 1),
            "records_in": eng["records_in"],
            "records_out": eng["records_out"],
            "accounted": eng["accounted"],
            "trailer_ok": eng["trailer_ok"],
        },
        "per_record_python": {
            "what": "PerRecordDecoder in ikou_dev/bench/decode_reference.py: pure Python, record by record, field by field",
            "sample_records": py["records"],
            "sample_mb": round(py["bytes"] / MB, 2),
            "seconds_wall": round(py["seconds"], 3),
            "seconds_cpu": round(py["cpu_seconds"], 3),
            "mb_per_s_per_core": round(py_cpu_mbs, 2),
            "mb_per_s_wall": round(py_wall_mbs, 2),
            "records_per_s_per_core": round(py["records"] / py["cpu_seconds"]),
            "extrapolated": True,
            "extrapolated_seconds_for_file": round(size / MB / py_cpu_mbs, 1),
            "note": "measured on the first sample_records records of the same file and extrapolated "
            "to its size (linear: the decoder keeps no state between records)",
        },
        "values_agree_on_sample": agree,
        "speedup_per_core": round(speed, 1),
    }
    big = _run_child("child_engine", str(data), stream_times)
    out["stream_5x"] = {
        "what": f"one decode_file over the {size / MB:.0f} MB file streamed {stream_times} times through a "
        f"concatenating file object ({stream_times * size / MB:.0f} MB input), child process",
        "bytes": big["bytes"],
        "records_in": big["records_in"],
        "seconds_wall": round(big["seconds"], 1),
        "seconds_cpu": round(big["cpu_seconds"], 1),
        "peak_rss_mb": round(big["peak_rss_mb"], 1),
        "accounted": big["accounted"],
        "mb_per_s_per_core": round(big["bytes"] / MB / big["cpu_seconds"], 1),
    }
    out["goals"] = {
        "engine_mb_per_s_per_core_ge_50": eng_cpu_mbs >= 50,
        "speedup_ge_20x_per_record_python": speed >= 20,
        "peak_rss_5x_input_lt_1gb": big["peak_rss_mb"] < 1024,
    }
    return out


def _kernel_name() -> str:
    from ikou.mainframe import kernel

    try:
        return "C text kernel + numpy" if kernel.available() else "numpy"
    except Exception:
        return "numpy"


def run(workdir: Path, quick: bool) -> dict:
    """Both figures: quick = a few MB (seconds), full = 1 GB + 5 GB stream + the 56 MB CLI file."""
    workdir = Path(workdir)
    if quick:
        sizes = {"data_records": 8_000, "sample_records": 400, "cli_records": 20_000}
    else:
        sizes = {"data_records": 2_000_000, "sample_records": 20_000, "cli_records": 400_000}
    load_before = os.getloadavg()
    a = figure_throughput(workdir, sizes["data_records"], sizes["sample_records"])
    (workdir / "bench500.dat").unlink(missing_ok=True)
    b = figure_cli(workdir, sizes["cli_records"])
    return {
        "profile": "quick" if quick else "full",
        "load_average": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()],
        },
        "a_throughput": a,
        "b_cli_vs_jvm": b,
    }
