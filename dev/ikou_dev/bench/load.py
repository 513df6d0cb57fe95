"""Load benchmark: the target load (COPY into staging, key after, swap) against pandas ``to_sql``.

    python -m ikou_dev.bench load            # 500,000 rows of juki.atena (13 columns, Japanese text)
    python -m ikou_dev.bench --quick load    # 20,000 rows (what the test suite runs)

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
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from pathlib import Path

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


def run(workdir: Path, quick: bool) -> dict:
    from sqlalchemy import create_engine

    from ikou.domains import registry
    from ikou.load import clean_load, write_csv
    from ikou.load.target import Target

    domain, table = "juki", "atena"
    rows = ROWS_QUICK if quick else ROWS_FULL
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
