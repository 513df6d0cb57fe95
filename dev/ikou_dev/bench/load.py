"""Load benchmark: the target load (COPY into staging, key after, swap) against pandas ``to_sql``.

    python -m ikou_dev.bench load            # 500,000 rows of juki.atena (13 columns, Japanese text)
    python -m ikou_dev.bench --quick load    # 20,000 rows (what the test suite runs)
    IKOU_BENCH_LOAD_ROWS=1000000 python -m ikou_dev.bench load   # another size

Into the machine's PostgreSQL (``IKOU_BENCH_PG_URL``, else ``IKOU_TEST_PG_URL``, else
``postgresql+psycopg2://postgres@127.0.0.1:5432/postgres``; a database of its own is created and
dropped), or SQLite when no PostgreSQL answers (then the figures say so). Measured on the same
rows in the same run:

* ``before`` — the first loader: table created with its primary key, plain COPY from the CSV
  file, ``count(*)`` afterwards;
* ``after`` — :meth:`ikou.load.target.Target.load`'s path: table created without a key,
  ``COPY … FREEZE`` (rows written frozen: the table was created in the same transaction), the
  primary key built once afterwards, the row count from COPY's own command tag;
* ``to_sql`` — ``DataFrame.to_sql(chunksize=10_000)`` (pandas' default insert) of the same rows.

Each COPY variant runs three times (best and median reported, the whole transaction timed:
create, COPY, key, swap, commit); ``to_sql`` once. rows/s = rows ÷ seconds.

The partitioned load (issue 13 §2, :mod:`ikou.load.staging`), each step in a process of its own
as the tasks run, with its peak resident memory (``ru_maxrss`` of the process, from ``wait4``):

* ``handoff`` — writing the hand-off CSV from the validated Parquet (here in 64Ki-row groups):
  ``whole`` (the table read into memory, as before) and ``streamed`` (a row group at a time, as
  now);
* ``single`` — the single-task load of the CSV (:func:`ikou.load.clean_load`);
* ``partitioned`` at 1 and 4 partitions — ``split`` (load_plan's split of the Parquet by the
  宛名番号 hash), ``stage`` (the partitions COPYing into the run's UNLOGGED staging side by side,
  all at once: wall time of the phase, the largest process's peak), ``swap`` (SET LOGGED, key,
  swap, one transaction).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from pathlib import Path

from ikou_dev.bench import peak_rss_mb

ROWS_FULL = 500_000
ROWS_QUICK = 20_000
KANJI = "山田太郎花子佐藤鈴木高橋田中伊藤渡辺中村小林加藤吉田山本松本井上木村林斎藤清水髙橋齋藤邊澤濱廣櫻"
KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン"
TOWNS = (
    "架空市中央区本町",
    "架空市北区桜台",
    "架空市南区港町",
    "架空市西区緑ケ丘",
    "架空市東区旭町",
)


def synthetic_table(domain: str, table: str, rows: int, seed: int = 7, null_rate: float = 0.05):
    """A pyarrow table in a standard layout's columns and types, with synthetic values: keys are
    sequential, text is drawn from common kanji / kana, nothing is a real person."""
    import numpy as np
    import pyarrow as pa

    from ikou.domains import registry
    from ikou.domains.mapping import arrow_type

    t = registry().get(domain).layout.table(table)
    rng = np.random.default_rng(seed)
    kanji = np.array(list(KANJI))
    kana = np.array(list(KANA))

    def text(alpha, lo: int, hi: int) -> list[str]:
        hi = max(hi, lo + 1)
        lens = rng.integers(lo, hi, rows)
        idx = rng.integers(0, len(alpha), (rows, hi))
        return ["".join(alpha[idx[i, : lens[i]]]) for i in range(rows)]

    arrays = []
    for c in t.columns:
        if c.name in t.business_keys or c.name == "atena_no":
            width = c.length or 10
            vals = [f"{i:0{width}d}"[-width:] for i in range(1, rows + 1)]
        elif c.type == "code":
            vals = rng.choice(list(c.codes or ["1"]), rows).tolist()
        elif c.type == "integer":
            vals = rng.integers(0, 10_000, rows).tolist()
        elif c.type == "decimal":
            top = 10 ** min((c.precision or 9) - (c.scale or 0), 12) - 1
            whole = rng.integers(0, top, rows)
            frac = (
                rng.integers(0, 10 ** (c.scale or 0), rows)
                if c.scale
                else np.zeros(rows, dtype=int)
            )
            from decimal import Decimal

            vals = [
                Decimal(f"{w}.{f:0{c.scale}d}") if c.scale else Decimal(int(w))
                for w, f in zip(whole, frac)
            ]
        elif c.type == "date":
            vals = (
                (np.datetime64("1930-01-01") + rng.integers(0, 34_000, rows))
                .astype("datetime64[D]")
                .tolist()
            )
        else:
            length = c.length or 20
            if "kana" in c.name:
                vals = text(kana, min(4, length), min(12, length))
            elif length >= 60:
                towns = rng.choice(list(TOWNS), rows)
                nums = rng.integers(1, 40, rows)
                vals = [
                    f"{tw}{n}丁目{n % 9 + 1}番{n % 20 + 1}号"[:length] for tw, n in zip(towns, nums)
                ]
            elif length >= 20:
                vals = [a + "　" + b for a, b in zip(text(kanji, 1, 3), text(kanji, 1, 3))]
            else:
                vals = [
                    f"{x:0{length}d}"[-length:]
                    for x in rng.integers(0, 10 ** min(length, 12), rows)
                ]
        if not c.required and null_rate:
            mask = rng.random(rows) < null_rate
            vals = [None if m else v for v, m in zip(vals, mask)]
        arrays.append(pa.array(vals, type=arrow_type(c)))
    return pa.table(arrays, names=[c.name for c in t.columns])


def _pg_admin_url() -> str:
    return (
        os.environ.get("IKOU_BENCH_PG_URL")
        or os.environ.get("IKOU_TEST_PG_URL")
        or "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    )


def pg_database():
    """A fresh database on the local PostgreSQL, or None when it does not answer."""
    from sqlalchemy import create_engine

    admin_url = _pg_admin_url()
    name = f"ikou_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception:  # noqa: BLE001 - no PostgreSQL: the benchmark falls back to SQLite
        admin.dispose()
        return None, None, None
    return admin, name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin, name: str) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


def load_before(
    url: str, domain: str, layout, csvs: dict[str, Path], schema: str = "ikou_bench"
) -> dict[str, int]:
    """The first loader, kept for the before / after figures: key declared up front, plain COPY,
    count(*) afterwards (one transaction, staging then SET SCHEMA, as before)."""
    from sqlalchemy import create_engine

    from ikou.load.target import STAGING_SCHEMA, create_table_sql, quote_ident, table_name

    eng = create_engine(url)
    raw = eng.raw_connection()
    rows = {}
    try:
        cur = raw.cursor()
        for s in (schema, STAGING_SCHEMA):
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(s)}")
        for t in layout.tables:
            name = table_name(domain, t.name)
            staged = f"{quote_ident(STAGING_SCHEMA)}.{quote_ident(name)}"
            cur.execute(f"DROP TABLE IF EXISTS {staged}")
            cur.execute(create_table_sql(staged, t, "postgresql"))
            cols = ", ".join(quote_ident(c.name) for c in t.columns)
            with open(csvs[t.name], "rb") as fh:
                cur.copy_expert(
                    f"COPY {staged} ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')",
                    fh,
                )
            cur.execute(f"SELECT count(*) FROM {staged}")
            rows[t.name] = cur.fetchone()[0]
            cur.execute(f"DROP TABLE IF EXISTS {quote_ident(schema)}.{quote_ident(name)}")
            cur.execute(f"ALTER TABLE {staged} SET SCHEMA {quote_ident(schema)}")
        raw.commit()
    finally:
        raw.close()
        eng.dispose()
    return rows


class _OneTable:
    def __init__(self, table):
        self.tables = [table]


def _timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def rows_to_load(quick: bool) -> int:
    raw = os.environ.get("IKOU_BENCH_LOAD_ROWS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) <= 0:
            raise SystemExit(f"IKOU_BENCH_LOAD_ROWS: expected a positive integer, not {raw[:20]!r}")
        return int(raw)
    return ROWS_QUICK if quick else ROWS_FULL


def run(workdir: Path, quick: bool) -> dict:
    from sqlalchemy import create_engine

    from ikou.domains import registry
    from ikou.load import PARQUET_BATCH, clean_load, write_csv
    from ikou.load.target import Target

    domain, table = "juki", "atena"
    rows = rows_to_load(quick)
    repeats = 1 if quick else 3
    layout_table = registry().get(domain).layout.table(table)
    layout = _OneTable(layout_table)
    t0 = time.perf_counter()
    data = synthetic_table(domain, table, rows)
    gen_s = time.perf_counter() - t0
    csv_path = Path(workdir) / f"{table}.csv"
    t0 = time.perf_counter()
    write_csv(data, csv_path)
    csv_s = time.perf_counter() - t0
    admin, dbname, url = pg_database()
    backend = "postgresql" if url else "sqlite"
    if url is None:
        url = f"sqlite:///{Path(workdir) / 'bench.sqlite'}"
    figures: dict = {
        "table": f"{domain}.{table}",
        "columns": len(layout_table.columns),
        "rows": rows,
        "csv_mb": round(csv_path.stat().st_size / 1e6, 1),
        "target": backend,
        "generate_seconds": round(gen_s, 2),
        "csv_write_seconds": round(csv_s, 2),
        "csv_write_rows_per_s": round(rows / csv_s),
    }
    try:
        target = Target(url, "ikou_bench")

        def after():
            n = clean_load(target, domain, {table: csv_path})
            assert n[table] == rows, n

        after_s = _timed(after, repeats)
        figures["after"] = _figure(
            rows,
            after_s,
            "COPY FREEZE into a keyless staging table, primary key after, "
            "row count from COPY, SET SCHEMA swap",
        )
        if backend == "postgresql":
            before_s = _timed(lambda: load_before(url, domain, layout, {table: csv_path}), repeats)
            figures["before"] = _figure(
                rows, before_s, "primary key declared first, plain COPY, count(*), SET SCHEMA"
            )
            figures["after_vs_before"] = round(
                figures["before"]["best_seconds"] / figures["after"]["best_seconds"], 2
            )
        target.dispose()
        df = data.to_pandas()
        eng = create_engine(url)
        t0 = time.perf_counter()
        df.to_sql("bench_to_sql", eng, if_exists="replace", index=False, chunksize=10_000)
        to_sql_s = time.perf_counter() - t0
        eng.dispose()
        figures["to_sql"] = _figure(
            rows, [to_sql_s], "pandas DataFrame.to_sql(chunksize=10_000), no key"
        )
        figures["ratio_vs_to_sql"] = round(
            figures["after"]["best_rows_per_s"] / figures["to_sql"]["best_rows_per_s"], 1
        )
        figures["meets_100k_rows_per_s"] = figures["after"]["best_rows_per_s"] >= 100_000
        parquet = Path(workdir) / f"{table}.parquet"
        import pyarrow.parquet as pq

        # row groups of 64Ki rows: the hand-off and the split hold one group at a time (the
        # validate stage writes pyarrow's default, up to 1Mi rows a group, today)
        pq.write_table(data, parquet, row_group_size=PARQUET_BATCH)
        del data, df
        figures.update(partitioned_figures(url, Path(workdir), parquet, csv_path, rows, quick))
    finally:
        if admin is not None:
            drop_database(admin, dbname)
    return figures


def _figure(rows: int, seconds: list[float], how: str) -> dict:
    best = min(seconds)
    med = statistics.median(seconds)
    return {
        "how": how,
        "runs": len(seconds),
        "best_seconds": round(best, 3),
        "median_seconds": round(med, 3),
        "best_rows_per_s": round(rows / best),
        "median_rows_per_s": round(rows / med),
    }


# ----------------------------------------------------------------------------- partitioned load

PARTITIONS = (1, 4)


def _spawn(step: str, *args: str):
    import json
    import subprocess
    import sys

    code = "import sys; from ikou_dev.bench.load import step_main; step_main(sys.argv[1:])"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # the split's keyed hash needs a secret: synthetic rows, so a bench secret when none is set
    env.setdefault("IKOU_HMAC_SECRET", "ikou-bench-partitions")
    return subprocess.Popen(
        [sys.executable, "-c", code, step, json.dumps(list(args))],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _steps(steps: list[tuple]) -> dict:
    """Run the steps side by side, each in a process: wall seconds (process start included), the
    longest step inside its process, and the largest peak RSS (each process's own ``VmHWM``:
    ``ru_maxrss`` of a child would count the parent's memory at the fork)."""
    import json

    t0 = time.perf_counter()
    children = [_spawn(*s) for s in steps]
    reports = []
    for child in children:
        out, err = child.communicate(timeout=1800)
        if child.returncode != 0:
            raise RuntimeError(f"bench step failed ({child.returncode}): {err.decode()[-2000:]}")
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    return {
        "seconds": round(time.perf_counter() - t0, 3),
        "step_seconds": max(r["seconds"] for r in reports),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in reports),
        "processes": len(steps),
    }


def partitioned_figures(
    url: str, work: Path, parquet: Path, csv_path: Path, rows: int, quick: bool
) -> dict:
    """The hand-off step and the partitioned load, each step in processes of its own (the quick
    profile: 2 partitions only, no hand-off or single-task comparison)."""
    out: dict = {}
    if not quick:
        out["handoff"] = {
            "whole": _steps([("handoff_whole", str(parquet), str(work / "h1.csv"))]),
            "streamed": _steps([("handoff_streamed", str(parquet), str(work / "h2.csv"))]),
        }
        out["single"] = _steps([("single", url, "ikou_bench_single", str(csv_path))])
    for parts in (2,) if quick else PARTITIONS:
        run_id = f"bench-{parts}"
        split = _steps([("split", str(parquet), str(work), str(parts))])
        stage = _steps(
            [("stage", url, run_id, str(i), str(work / f"p{i:05d}.csv")) for i in range(parts)]
        )
        swap = _steps([("swap", url, run_id, str(work), str(parts))])
        total = split["seconds"] + stage["seconds"] + swap["seconds"]
        inside = split["step_seconds"] + stage["step_seconds"] + swap["step_seconds"]
        out[f"partitioned_{parts}"] = {
            "split": split,
            "stage": stage,
            "swap": swap,
            "seconds": round(total, 3),
            "step_seconds": round(inside, 3),
            "rows_per_s_steps": round(rows / inside),
            "peak_rss_mb": max(split["peak_rss_mb"], stage["peak_rss_mb"], swap["peak_rss_mb"]),
        }
    return {"partitioned": out}


def step_main(argv: list[str]) -> None:
    """One step of :func:`partitioned_figures` (in a process of its own)."""
    import json

    from ikou.domains import registry
    from ikou.load import clean_load, write_csv
    from ikou.load.partitions import split_table
    from ikou.load.staging import Staging
    from ikou.load.target import Target
    from ikou.storage import sha256_file

    step, args = argv[0], json.loads(argv[1])
    t0 = time.perf_counter()
    domain, table = "juki", registry().get("juki").layout.table("atena")
    layout = _OneTable(table)
    if step == "handoff_whole":
        import pyarrow.parquet as pq

        write_csv(pq.read_table(args[0]), Path(args[1]))
    elif step == "handoff_streamed":
        write_csv(Path(args[0]), Path(args[1]))
    elif step == "single":
        target = Target(args[0], args[1])
        clean_load(target, domain, {"atena": Path(args[2])})
        target.dispose()
    elif step == "split":
        parts = int(args[2])
        outs = [Path(args[1]) / f"p{i:05d}.csv" for i in range(parts)]
        counts = split_table(domain, table, Path(args[0]), parts, outs)
        plan = {i: (n, sha256_file(o)) for i, (o, n) in enumerate(zip(outs, counts))}
        (Path(args[1]) / "plan.json").write_text(json.dumps(plan))
    elif step == "stage":
        url, run_id, index, path = args
        plan = json.loads((Path(path).parent / "plan.json").read_text())
        target = Target(url, "ikou_bench_parts")
        staging = Staging(target, domain, layout, run_id)
        staging.stage(int(index), {"atena": Path(path)}, {"atena": plan[index][1]})
        target.dispose()
    elif step == "swap":
        url, run_id, work, parts = args
        plan = json.loads((Path(work) / "plan.json").read_text())
        target = Target(url, "ikou_bench_parts")
        planned = {int(i): {"atena": (n, sha)} for i, (n, sha) in plan.items()}
        Staging(target, domain, layout, run_id).swap(planned)
        target.dispose()
    else:
        raise SystemExit(f"unknown step {step}")
    print(
        json.dumps(
            {"seconds": round(time.perf_counter() - t0, 3), "peak_rss_mb": round(peak_rss_mb(), 1)}
        )
    )
