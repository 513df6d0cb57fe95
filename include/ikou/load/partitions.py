"""Partitions of a domain's full load (issue 13 §2): how many, which row goes where, the files.

**The partition function.** A row of a standard table belongs to partition
``h(key) mod P``, where ``key`` is the row's 宛名番号 (``atena_no``) — or, for a table without
one, its business key columns joined with ``\\x1e`` — and ``h`` is
:func:`ikou.hashing.keyed_hash_array` (SipHash-2-4 under a key derived from Ikou's secret, purpose
``load-partition:{domain}``). It is a pure function of the key, the secret and ``P``: the same
hand-off set always splits the same way (a retried ``load_plan`` writes the same partition files),
every row lands in exactly one partition, and all rows of one person (one 宛名番号) are in the
same partition in every table of the domain. The keyed hash spreads sequential numbers evenly;
the partition index itself reveals nothing about a person.

**How many.** ``IKOU_LOAD_PARTITIONS`` (a positive integer) when set; else one partition per
:data:`ROWS_PER_PARTITION` rows of the domain's largest table, at most :data:`MAX_PARTITIONS`.
A city of up to 500,000 residents loads in one partition — the single-task load, which copies
the rows once (a partitioned load stages them, then moves them: worth it only when partitions
run side by side); 1M residents use 2, the largest designated city (3.8M) 8. Half a million rows
keep one partition's COPY at a few seconds, so a killed partition's retry redoes little, and
16 at most keeps the fan-out within the task slots of a small deployment.

**The files.** ``load_plan`` streams each standard table's Parquet (the one published beside the
hand-off CSV, sha256-checked) in record batches and writes one CSV per partition in the hand-off
dialect (:func:`split_table`): memory holds one row group of the Parquet file (≤ 1Mi rows as the
validate stage writes it), never the table.
"""

from __future__ import annotations

import os
from pathlib import Path

from ikou.errors import BadArgument
from ikou.load import CSV_WRITE, PARQUET_BATCH, parquet_batches

#: rows of the largest table per partition when IKOU_LOAD_PARTITIONS is not set
ROWS_PER_PARTITION = 500_000
#: at most this many partitions by default
MAX_PARTITIONS = 16
ENV = "IKOU_LOAD_PARTITIONS"


def partition_count(rows: int, env: dict[str, str] | None = None) -> int:
    """P for a domain whose largest table holds ``rows`` rows (see the module docstring)."""
    raw = (os.environ if env is None else env).get(ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise BadArgument(f"{ENV}: expected a positive integer, not {raw[:20]!r}") from None
        if not 1 <= value <= 256:
            raise BadArgument(f"{ENV}: expected 1–256 partitions, not {value}")
        return value
    return max(1, min(MAX_PARTITIONS, -(-int(rows) // ROWS_PER_PARTITION)))


def key_columns(table) -> tuple[str, ...]:
    """The columns a layout table is partitioned by: 宛名番号, else its business key."""
    names = [c.name for c in table.columns]
    return ("atena_no",) if "atena_no" in names else tuple(table.business_keys)


def partition_of(domain: str, keys: list, parts: int, secret: bytes | None = None):
    """The partition (0 … parts-1) of each key (a numpy array): see the module docstring.

    ``keys``: one value per row (a single key column), or tuples of the key columns' values."""
    import numpy as np

    from ikou.hashing import keyed_hash_array

    values = [
        "\x1e".join("" if v is None else str(v) for v in k)
        if isinstance(k, tuple)
        else ("" if k is None else str(k))
        for k in keys
    ]
    if not values:
        return np.zeros(0, dtype=np.int64)
    h = keyed_hash_array(values, purpose=f"load-partition:{domain}", secret=secret)
    return (h % np.uint64(parts)).astype(np.int64)


def _batch_keys(batch, cols: tuple[str, ...]) -> list:
    arrays = [batch.column(batch.schema.get_field_index(c)).to_pylist() for c in cols]
    return arrays[0] if len(arrays) == 1 else list(zip(*arrays))


def split_table(
    domain: str,
    table,
    parquet: Path,
    parts: int,
    out: list[Path],
    secret: bytes | None = None,
    batch_rows: int = PARQUET_BATCH,
) -> list[int]:
    """Split one standard table's Parquet file into ``parts`` CSV files (``out[i]``: partition
    ``i``) in the hand-off dialect, streaming; return the rows written to each."""
    import numpy as np
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(parquet)
    names = [c.name for c in table.columns]
    if pf.schema_arrow.names != names:
        raise ValueError(
            f"{domain}.{table.name}: columns {pf.schema_arrow.names} differ from layout {names}"
        )
    cols = key_columns(table)
    options = pacsv.WriteOptions(**CSV_WRITE)
    handles = [open(p.with_name(p.name + ".part"), "wb") for p in out]
    counts = [0] * parts
    try:
        writers = [pacsv.CSVWriter(fh, pf.schema_arrow, write_options=options) for fh in handles]
        for batch in parquet_batches(parquet, batch_rows):
            which = partition_of(domain, _batch_keys(batch, cols), parts, secret)
            for i in range(parts):
                idx = np.flatnonzero(which == i)
                if len(idx):
                    writers[i].write_batch(batch.take(idx))
                    counts[i] += len(idx)
        for w in writers:
            w.close()
    finally:
        for fh in handles:
            fh.close()
    for p in out:
        os.replace(p.with_name(p.name + ".part"), p)
    if sum(counts) != pf.metadata.num_rows:  # every row in exactly one partition
        raise RuntimeError(
            f"{domain}.{table.name}: {sum(counts)} rows split of {pf.metadata.num_rows}"
        )
    return counts
