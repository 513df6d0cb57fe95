"""The validate stage maps a table a row group at a time: what it publishes is the whole-table
mapping row for row, in row groups of PARQUET_BATCH rows whatever the cleansed file's row groups;
the reference check finds the orphans a per-record lookup finds, with the same keyed hashes.

One synthetic 住民基本台帳 (300 residents, some duplicates merged), extract and cleanse against the
local S3 endpoint; validate with PARQUET_BATCH lowered to 70 rows (the cleansed files have
other row groups), compared with :func:`ikou.domains.mapping.map_table` of each whole table.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ikou.pipeline import RunContext
from ikou.stages import cleanse, extract, validate

pytestmark = [pytest.mark.integration]

SNAPSHOT = "2026-09-12"
RESIDENTS, SEED = 300, 29
BATCH = 70


@pytest.fixture(scope="module")
def cleansed(s3_endpoint):
    from ikou.domains import registry
    from ikou.domains.registry import Registry
    from ikou_dev.synth import synthesize

    reg = registry()
    sub = Registry({"juki": reg.get("juki")}, reg.data_dir)
    synthesize(
        RESIDENTS,
        SEED,
        SNAPSHOT,
        "s3://ikou-restricted/landing",
        rates={"duplicate_addressee": 0.1},
        registry=sub,
    )
    ctx = RunContext.build(domain="juki", run_id="vstream", snapshot=SNAPSHOT)
    return ctx, cleanse.run(ctx, extract.run(ctx))


def test_a_table_mapped_in_row_groups_is_the_whole_table_mapped(cleansed, tmp_path, monkeypatch):
    from ikou.domains import registry
    from ikou.domains.mapping import map_table
    from ikou.storage import Store, publication

    ctx, cl = cleansed
    monkeypatch.setattr(validate, "PARQUET_BATCH", BATCH)
    res = validate.run(ctx, cl)
    d = registry().get("juki")
    store = Store()
    _, cleansed_paths = publication.fetch_tables(store, cl.published, tmp_path / "in")
    _, validated_paths = publication.fetch_tables(store, res.published, tmp_path / "out")
    for t in d.standard.tables:
        source = pq.ParquetFile(cleansed_paths[t.source])
        assert source.metadata.num_row_groups == 1  # so the batches are cut, not copied
        whole = map_table(pq.read_table(cleansed_paths[t.source]), d, t)
        out = pq.ParquetFile(validated_paths[t.name])
        assert out.read().equals(whole), t.name
        sizes = [out.metadata.row_group(i).num_rows for i in range(out.metadata.num_row_groups)]
        assert whole.num_rows > 2 * BATCH and sizes[:-1] == [BATCH] * (len(sizes) - 1)
        assert 0 < sizes[-1] <= BATCH and sum(sizes) == whole.num_rows
        acc = next(a for a in res.accounting if a.unit == t.name)
        assert acc.records_out == whole.num_rows and acc.orphan_references == 0
    assert res.balanced


def test_an_empty_table_keeps_its_schema(cleansed, tmp_path):
    from ikou.domains import registry
    from ikou.domains.mapping import map_table
    from ikou.storage import Store, publication

    _, cl = cleansed
    d = registry().get("juki")
    t = d.standard.tables[0]
    _, paths = publication.fetch_tables(Store(), cl.published, tmp_path / "in")
    empty = pq.read_table(paths[t.source]).slice(0, 0)
    src = tmp_path / "empty.parquet"
    pq.write_table(empty, src)
    assert validate.map_file(src, tmp_path / "out.parquet", d, t) == 0
    assert pq.read_table(tmp_path / "out.parquet").equals(map_table(empty, d, t))


def test_orphans_are_found_by_the_column_lookup_with_the_record_s_keyed_hash(cleansed, tmp_path):
    """Every tenth addressee missing from the master: the references to them are the orphans a
    per-record lookup finds, hashed from the referring record's business key (read from the
    file only for them), one finding each, in record order."""
    from ikou.domains import registry
    from ikou.domains.mapping import addressee_references
    from ikou.findings import Findings
    from ikou.hashing import keyed_hashes
    from ikou.storage import Store, publication

    ctx, cl = cleansed
    res = validate.run(ctx, cl)
    d = registry().get("juki")
    _, paths = publication.fetch_tables(Store(), res.published, tmp_path / "v")
    t = next(t for t in d.standard.tables if addressee_references(d, t))
    refs = addressee_references(d, t)
    master = pq.read_table(paths["atena"], columns=["atena_no"]).column("atena_no")
    kept = pa.array([v for i, v in enumerate(master.to_pylist()) if i % 10])
    table = pq.read_table(paths[t.name])
    # the reference: a Python set, record by record, as validate used to check
    ids = set(kept.to_pylist())
    want = []
    for col in refs:
        for row in table.select([col, *t.business_keys]).to_pylist():
            if row[col] is not None and row[col] not in ids:
                want.append((col, "\x1e".join(str(row[k]) for k in t.business_keys)))
    assert want  # the check has something to find
    findings = Findings("juki", "vstream", "validate")
    n = validate.file_orphans(paths[t.name], refs, kept, d, t, findings)
    assert n == len(want) == len(findings.items)
    hashes = keyed_hashes([k for _, k in want], purpose=f"record:juki:{t.name}")
    assert [(f.field, f.record_key) for f in findings.items] == [
        (c, h) for (c, _), h in zip(want, hashes)
    ]
    assert {f.severity for f in findings.items} == {"critical"}
