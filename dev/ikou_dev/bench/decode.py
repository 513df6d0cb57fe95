"""Benchmark ``decode``: the vectorised extract engine against straightforward per-record decoders.

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
    reported as skipped.

Timings are figures, never assertions: the test suite runs the quick profile and checks keys.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
JAVA_SRC = REPO / "bench" / "java" / "PerRecordDecoder.java"

MB = 1_000_000

# --------------------------------------------------------------------------------- layouts

#: (a) 500-byte records: header, data, trailer sharing one record area
COPYBOOK_500 = [
    "01  BENCH-HDR.",
    "    05  HDR-TYPE            PIC X.",
    "    05  HDR-CITY-CODE       PIC 9(6).",
    "    05  HDR-CREATED         PIC 9(8).",
    "    05  FILLER              PIC X(485).",
    "01  BENCH-DATA.",
    "    05  REC-TYPE            PIC X.",
    "    05  REC-KEY             PIC 9(10).",
    "    05  NAME-KANJI          PIC N(16).",
    "    05  NAME-KANA           PIC X(30).",
    "    05  BIRTH-ERA           PIC 9.",
    "    05  BIRTH-YMD           PIC 9(6).",
    "    05  SEX                 PIC X.",
    "    05  ADDRESS             PIC X(120).",
    "    05  ADDRESS-KANA        PIC X(60).",
    "    05  HOUSEHOLD-HEAD      PIC N(16).",
    "    05  TAX-AMOUNT          PIC S9(9)V99 COMP-3.",
    "    05  TAX-PAID            PIC S9(9)V99 COMP-3.",
    "    05  BALANCE             PIC S9(9).",
    "    05  INCOME              PIC S9(13)V99 COMP-3.",
    "    05  HOUSEHOLD-SIZE      PIC S9(4) COMP.",
    "    05  NOTE                PIC X(80).",
    "    05  PHONE               PIC X(15).",
    "    05  UPDATED             PIC 9(8).",
    "    05  REMARK-KANJI        PIC N(20).",
    "    05  FILLER              PIC X(33).",
    "01  BENCH-TRL.",
    "    05  TRL-TYPE            PIC X.",
    "    05  TRL-COUNT           PIC 9(9).",
    "    05  TRL-TAX-TOTAL       PIC S9(17)V99 COMP-3.",
    "    05  FILLER              PIC X(480).",
]
MIXED_500 = ("ADDRESS", "NOTE")

#: (b) 140-byte records, data only (what the JVM decoder hard-codes too)
COPYBOOK_140 = [
    "01  REC140.",
    "    05  REC-TYPE            PIC X.",
    "    05  ATENA-NO            PIC 9(10).",
    "    05  SHIMEI-KANJI        PIC N(12).",
    "    05  SHIMEI-KANA         PIC X(20).",
    "    05  BIRTH-YMD           PIC 9(8).",
    "    05  ADDRESS             PIC X(50).",
    "    05  TAX-AMOUNT          PIC S9(9)V99 COMP-3.",
    "    05  BALANCE             PIC S9(7).",
    "    05  HOUSEHOLD-SIZE      PIC S9(4) COMP.",
    "    05  FILLER              PIC X(12).",
]
MIXED_140 = ("ADDRESS",)


def copybook_text(lines: list[str]) -> str:
    """Fixed-format copybook text (sequence area, indicator column, code from column 8)."""
    return "".join(f"{i * 100:06d} {line}\n" for i, line in enumerate(lines, 1))


def options_500(**kw):
    from ikou.mainframe.engine import DecodeOptions

    base = dict(
        encoding="cp930",
        recfm="FB",
        record_type_field="REC-TYPE",
        record_types={"H": "BENCH-HDR", "D": "BENCH-DATA", "T": "BENCH-TRL"},
        header_layouts=("BENCH-HDR",),
        trailer_layouts=("BENCH-TRL",),
        record_count_field="TRL-COUNT",
        control_totals={"TRL-TAX-TOTAL": "TAX-AMOUNT"},
        mixed_fields=MIXED_500,
    )
    base.update(kw)
    return DecodeOptions(**base)


# ---------------------------------------------------------------------------- synthetic text


class _Text:
    """Random cp930-encodable text: invented names, kana, addresses (synthetic, never real)."""

    def __init__(self, cp, rng: random.Random):
        self.rng = rng
        enc = cp.dbcs_encoding
        self.kanji = [c for c in enc if len(c) == 1 and 0x4E00 <= ord(c) <= 0x9FFF]
        self.kanji.sort()
        self.kana_fw = [c for c in enc if len(c) == 1 and 0x30A1 <= ord(c) <= 0x30F3]
        self.kana_hw = [chr(c) for c in range(0xFF71, 0xFF9E) if chr(c) in cp.sbcs_encoding]
        self.common = self.kanji[:3000]  # JIS level 1 comes first in code order for most codes

    def kanji_run(self, a: int, b: int) -> str:
        return "".join(self.rng.choice(self.common) for _ in range(self.rng.randint(a, b)))

    def name(self) -> str:
        return self.kanji_run(1, 3) + "\u3000" + self.kanji_run(1, 3)

    def kana(self, a: int, b: int) -> str:
        return "".join(self.rng.choice(self.kana_hw) for _ in range(self.rng.randint(a, b)))

    def address(self) -> str:
        r = self.rng
        s = self.kanji_run(2, 4) + "市" + self.kanji_run(1, 2) + "区" + self.kanji_run(1, 3)
        s += f"{r.randint(1, 9)}-{r.randint(1, 40)}-{r.randint(1, 30)}"
        if r.random() < 0.5:
            s += " " + self.kana(3, 6) + self.kanji_run(0, 2) + f"{r.randint(101, 1205)}"
        return s

    def note(self) -> str:
        r = self.rng
        if r.random() < 0.3:
            return ""
        return (
            self.kanji_run(2, 8)
            + f" {r.randint(1, 99)}"
            + "".join(r.choice(self.kana_fw) for _ in range(r.randint(0, 5)))
        )


def _distinct_500(cb, cp, n: int, seed: int):
    """``n`` distinct data records (bytes) and their TAX-AMOUNT values."""
    from ikou.mainframe.encode import encode_record

    rng = random.Random(seed)
    tx = _Text(cp, rng)
    lay = cb.record("BENCH-DATA")
    recs, taxes = [], []
    for i in range(n):
        tax = Decimal(rng.randint(-10_000_00, 900_000_00)) / 100
        rec = encode_record(
            lay,
            {
                "REC-TYPE": "D",
                "REC-KEY": i,
                "NAME-KANJI": tx.name(),
                "NAME-KANA": tx.kana(4, 14) + " " + tx.kana(3, 8),
                "BIRTH-ERA": rng.randint(1, 5),
                "BIRTH-YMD": rng.randint(10101, 641231),
                "SEX": rng.choice("12"),
                "ADDRESS": tx.address(),
                "ADDRESS-KANA": tx.kana(10, 40),
                "HOUSEHOLD-HEAD": tx.name(),
                "TAX-AMOUNT": tax,
                "TAX-PAID": Decimal(rng.randint(0, 500_000_00)) / 100,
                "BALANCE": rng.randint(-99_999_999, 999_999_999),
                "INCOME": Decimal(rng.randint(0, 10**12)) / 100,
                "HOUSEHOLD-SIZE": rng.randint(-3, 12),
                "NOTE": tx.note(),
                "PHONE": f"0{rng.randint(10, 99)}-{rng.randint(100, 9999)}-{rng.randint(1000, 9999)}",
                "UPDATED": 20200101 + rng.randint(0, 61130),
                "REMARK-KANJI": tx.kanji_run(0, 20),
            },
            cp,
            mixed_fields=MIXED_500,
        )
        recs.append(rec)
        taxes.append(tax)
    return recs, taxes


def _zoned_keys(start: int, n: int, digits: int):
    """(n, digits) uint8 zoned-decimal bytes of the keys start .. start+n-1 (unsigned, F zone)."""
    import numpy as np

    keys = np.arange(start, start + n, dtype=np.int64) % (10**digits)
    out = np.empty((n, digits), np.uint8)
    for i in range(digits - 1, -1, -1):
        out[:, i] = 0xF0 | (keys % 10)
        keys //= 10
    return out


def write_file_500(path: Path, data_records: int, *, distinct: int = 4000, seed: int = 7) -> dict:
    """Header + ``data_records`` tiled data records (fresh keys) + trailer with correct totals."""
    import numpy as np

    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.encode import encode_record
    from ikou.moji.codepages import get_codepage

    cp = get_codepage("cp930")
    cb = parse_copybook(copybook_text(COPYBOOK_500), source="bench500.cpy")
    distinct = max(1, min(distinct, data_records))
    recs, taxes = _distinct_500(cb, cp, distinct, seed)
    base = np.frombuffer(b"".join(recs), np.uint8).reshape(distinct, 500)
    key = cb.record("BENCH-DATA").field("REC-KEY")
    full, rest = divmod(data_records, distinct)
    total = sum(taxes, Decimal(0)) * full + sum(taxes[:rest], Decimal(0))
    hdr = encode_record(
        cb.record("BENCH-HDR"),
        {"HDR-TYPE": "H", "HDR-CITY-CODE": 999999, "HDR-CREATED": 20261128},
        cp,
    )
    trl = encode_record(
        cb.record("BENCH-TRL"),
        {"TRL-TYPE": "T", "TRL-COUNT": data_records, "TRL-TAX-TOTAL": total},
        cp,
    )
    with open(path, "wb") as fh:
        fh.write(hdr)
        done = 0
        block = base.copy()
        while done < data_records:
            n = min(distinct, data_records - done)
            blk = block[:n]
            blk[:, key.offset : key.offset + key.size] = _zoned_keys(done, n, key.size)
            fh.write(blk.tobytes())
            done += n
        fh.write(trl)
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "records": data_records + 2,
        "data_records": data_records,
        "distinct_records": distinct,
        "lrecl": 500,
    }


# ------------------------------------------------------------------- per-record Python decoder


class PerRecordDecoder:
    """A straightforward per-record decoder in pure Python (the baseline of figure (a)).

    What one would write without the engine: for each record, pick the layout by the record
    type byte, then decode field by field -- zoned and packed digits in Python loops, binary with
    ``int.from_bytes``, text through Python lists / dicts built once from the same code-page
    tables (no numpy per byte), an SO/SI state machine for mixed fields, padding trimmed.
    Returns one dict per record (data records only) and counts header / trailer / bad records.
    """

    def __init__(self, cb, cp, mixed=MIXED_500):
        from ikou.mainframe.decode import UNDEFINED

        self.sb = [None if int(c) == UNDEFINED else chr(int(c)) for c in cp.sbcs]
        self.db = {}
        for code, c in enumerate(cp.dbcs.tolist()):
            if c != UNDEFINED and c < 0x110000:
                self.db[code] = chr(c)
        self.layouts = {}
        for rtype, name in (("H", "BENCH-HDR"), ("D", "BENCH-DATA"), ("T", "BENCH-TRL")):
            lay = cb.record(name).with_kinds(mixed)
            self.layouts[cp.encode_sbcs(rtype)[0]] = (
                name,
                [(f.column, f.offset, f.size, f.kind, f.signed, f.scale) for f in lay.data_fields],
            )
        self.header = self.trailer = self.bad = 0

    def _zoned(self, b: bytes, signed: bool, scale: int):
        n = 0
        for i, x in enumerate(b):
            z, d = x >> 4, x & 15
            if d > 9 or (z != 15 and not (i == len(b) - 1 and z >= 10)):
                raise ValueError("zoned")
            n = n * 10 + d
        if signed and (b[-1] >> 4) in (0xB, 0xD):
            n = -n
        return Decimal(n).scaleb(-scale) if scale else n

    def _packed(self, b: bytes, scale: int):
        n = 0
        for x in b[:-1]:
            hi, lo = x >> 4, x & 15
            if hi > 9 or lo > 9:
                raise ValueError("packed")
            n = n * 100 + hi * 10 + lo
        hi, sign = b[-1] >> 4, b[-1] & 15
        if hi > 9 or sign < 10:
            raise ValueError("packed")
        n = n * 10 + hi
        if sign in (0xB, 0xD):
            n = -n
        return Decimal(n).scaleb(-scale)

    def _sbcs(self, b: bytes) -> str:
        sb = self.sb
        s = "".join([sb[x] for x in b.rstrip(b"\x40")])
        return s

    def _dbcs(self, b: bytes) -> str:
        db = self.db
        out = [db[(b[i] << 8) | b[i + 1]] for i in range(0, len(b), 2)]
        return "".join(out).rstrip("\u3000")

    def _mixed(self, b: bytes) -> str:
        sb, db = self.sb, self.db
        out = []
        i, n, dbcs = 0, len(b), False
        while i < n:
            x = b[i]
            if x == 0x0E:
                dbcs = True
                i += 1
            elif x == 0x0F:
                dbcs = False
                i += 1
            elif dbcs:
                out.append(db[(x << 8) | b[i + 1]])
                i += 2
            else:
                out.append(sb[x])
                i += 1
        if dbcs:
            raise ValueError("unbalanced")
        return "".join(out).rstrip(" \u3000")

    def decode_record(self, rec: bytes):
        name, fields = self.layouts[rec[0]]
        row = {}
        for col, off, size, kind, signed, scale in fields:
            b = rec[off : off + size]
            if kind == "zoned":
                row[col] = self._zoned(b, signed, scale)
            elif kind == "packed":
                row[col] = self._packed(b, scale)
            elif kind == "binary":
                row[col] = int.from_bytes(b, "big", signed=signed)
            elif kind == "dbcs":
                row[col] = self._dbcs(b)
            elif kind == "mixed":
                row[col] = self._mixed(b)
            else:
                row[col] = self._sbcs(b)
        return name, row

    def decode(self, data: bytes, lrecl: int = 500) -> list[dict]:
        out = []
        for off in range(0, len(data) - lrecl + 1, lrecl):
            try:
                name, row = self.decode_record(data[off : off + lrecl])
            except (KeyError, ValueError, TypeError):
                self.bad += 1
                continue
            if name == "BENCH-HDR":
                self.header += 1
            elif name == "BENCH-TRL":
                self.trailer += 1
            else:
                out.append(row)
        return out


# ------------------------------------------------------------------------- child processes


def _vmhwm_mb() -> float:
    """Peak resident set size of this process in MB (``VmHWM``; ru_maxrss as a fallback)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
        "peak_rss_mb": _vmhwm_mb(),
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
        "peak_rss_mb": _vmhwm_mb(),
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


# ------------------------------------------------------------------------- (b) the 140-byte file


def write_file_140(path: Path, records: int, *, distinct: int = 4000, seed: int = 11) -> dict:
    """``records`` tiled 140-byte data records with fresh ATENA-NO keys (no header / trailer)."""
    import numpy as np

    from ikou.mainframe.copybook import parse_copybook
    from ikou.mainframe.encode import encode_record
    from ikou.moji.codepages import get_codepage

    cp = get_codepage("cp930")
    cb = parse_copybook(copybook_text(COPYBOOK_140), source="bench140.cpy")
    lay = cb.record("REC140")
    rng = random.Random(seed)
    tx = _Text(cp, rng)
    distinct = max(1, min(distinct, records))
    recs = []
    for i in range(distinct):
        recs.append(
            encode_record(
                lay,
                {
                    "REC-TYPE": "D",
                    "ATENA-NO": i,
                    "SHIMEI-KANJI": tx.name(),
                    "SHIMEI-KANA": tx.kana(4, 18),
                    "BIRTH-YMD": 19000101 + rng.randint(0, 1_201_130),
                    "ADDRESS": tx.address()[:20],
                    "TAX-AMOUNT": Decimal(rng.randint(-10_000_00, 900_000_00)) / 100,
                    "BALANCE": rng.randint(-999_999, 9_999_999),
                    "HOUSEHOLD-SIZE": rng.randint(-3, 12),
                },
                cp,
                mixed_fields=MIXED_140,
            )
        )
    base = np.frombuffer(b"".join(recs), np.uint8).reshape(distinct, 140)
    key = lay.field("ATENA-NO")
    with open(path, "wb") as fh:
        done = 0
        block = base.copy()
        while done < records:
            n = min(distinct, records - done)
            blk = block[:n]
            blk[:, key.offset : key.offset + key.size] = _zoned_keys(done, n, key.size)
            fh.write(blk.tobytes())
            done += n
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "records": records,
        "lrecl": 140,
        "distinct_records": distinct,
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
    ikou_cmd = prefix + [
        "decode",
        "--copybook",
        cpy.name,
        "--encoding",
        "cp930",
        "--recfm",
        "FB",
        "--mixed-field",
        "ADDRESS",
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
    ik, jv = out["ikou_decode"]["median_s"], out["jvm"]["median_s"]
    out["jvm_over_ikou"] = round(jv / ik, 2) if ik else None
    out["goal"] = {
        "what": "ikou decode no slower than the JVM decoder (median wall time)",
        "met": ik <= jv,
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
            "what": "PerRecordDecoder in ikou/bench/decode.py: pure Python, record by record, field by field",
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
