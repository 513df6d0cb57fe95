"""The merge of a large file's extract parts: each part's files checked (the parts tile the file,
the sha256 is what ``extract_parts`` wrote) and concatenated into the file's raw Parquet,
quarantine and 外字 files, its decode summaries merged (:func:`ikou.stages.extract.run` calls it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from ikou.pipeline import ExtractPart, ExtractPartResult
from ikou.stages.common import StageError, tiled
from ikou.storage import Store, sha256_file


def concat_parquet(paths: list[Path], out: Path) -> None:
    """Part files -> one Parquet file, row group by row group (bounded memory)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(paths[0])
    tmp = out.with_name(out.name + ".tmp")
    with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
        for p in paths:
            pf = pq.ParquetFile(p)
            if not pf.schema_arrow.equals(schema):
                raise StageError(f"{p.name}: part schema differs from the first part's")
            for i in range(pf.num_row_groups):
                w.write_table(pf.read_row_group(i))
    tmp.replace(out)


def concat_files(paths: list[Path], out: Path) -> None:
    import shutil

    with open(out, "wb") as dst:
        for p in paths:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, dst, 8 << 20)


def merge_parts(
    lf,
    planned: list[ExtractPart],
    results: list[ExtractPartResult],
    work: Path,
    out: Path,
    qpath: Path,
    gpath: Path,
    store: Store,
    fpath: Path | None = None,
):
    """The parts of one file -> its merged summary and files (+ manifest entries of the parts);
    ``fpath``: the parts' field findings concatenated (a part without findings has none)."""
    from ikou.mainframe.engine_results import DecodeSummary, merge_summaries

    results = tiled(lf.name, "extract_parts", planned, results, planned[0].size, "byte")
    summaries = [
        DecodeSummary.from_dict(json.loads(store.get_bytes(r.summary_uri))) for r in results
    ]
    summary = merge_summaries(summaries)
    pdir = work / "_parts" / lf.name
    pdir.mkdir(parents=True, exist_ok=True)
    data, quar, gaiji, entries, finds = [], [], [], [], []
    for r in results:
        i = r.index
        dp = store.download(r.data_uri, pdir / f"part-{i:05d}.parquet")
        if sha256_file(dp) != r.data_sha256:
            raise StageError(f"{r.data_uri}: sha256 differs from what extract_parts wrote")
        data.append(dp)
        quar.append(store.download(r.quarantine_uri, pdir / f"part-{i:05d}.jsonl"))
        gaiji.append(store.download(r.gaiji_uri, pdir / f"part-{i:05d}.gaiji.parquet"))
        furi = part_findings_uri(r.quarantine_uri)
        if fpath is not None and store.exists(furi):
            finds.append(store.download(furi, pdir / f"part-{i:05d}.findings.jsonl"))
        entries.append(
            {
                "name": r.data_name,
                "bytes": r.data_bytes,
                "sha256": r.data_sha256,
                "part_of": lf.name,
                "part": i,
                "byte_range": [r.start, r.end],
                "records_in": r.records_in,
                "records_out": r.records_out,
                "quarantined": r.quarantined,
            }
        )
    concat_parquet(data, out)
    concat_files(quar, qpath)
    concat_parquet(gaiji, gpath)
    if fpath is not None:
        concat_files(finds, fpath)
    for p in data + quar + gaiji + finds:
        p.unlink()
    return summary, entries


def part_findings_uri(quarantine_uri: str) -> str:
    """A part's field findings beside its quarantine rows (``part-NNNNN.findings.jsonl``)."""
    stem = quarantine_uri[: -len(".jsonl")] if quarantine_uri.endswith(".jsonl") else quarantine_uri
    return stem + ".findings.jsonl"


def as_list(value, model) -> list:
    """An XCom of a mapped task: a (lazy) sequence, one value (a single map index) or nothing;
    each item a model or its dict."""
    if value is None:
        return []
    if isinstance(value, (dict, model)):
        value = [value]
    items: Iterable = value
    return [v if isinstance(v, model) else model.model_validate(v) for v in items if v is not None]
