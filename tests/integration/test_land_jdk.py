"""A vendor's file that Ikou did not write: 住民基本台帳's two legacy files written byte by byte
by the JDK (its own x-IBM930 charset; tests/integration/oracle/VendorFileWriter.java), landed
with ``ikou land`` and run through the whole domain DAG up to gate_reconciliation.

The records' values are a clean synthetic city (no seeded defects: the JDK cannot encode an
unmapped 外字) as Ikou decodes it; the bytes are the JDK's. The extract stage must read the
JDK's bytes back to the same values, and the run must pass every gate."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from prerequisites import require

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WRITER = Path(__file__).with_name("oracle") / "VendorFileWriter.java"
SOURCE_SNAPSHOT = "2026-05-01"
LANDED_SNAPSHOT = "2026-05-02"
KINDS = {"alphanumeric": "X", "dbcs": "N", "zoned": "9"}


def _layout_rows(lf) -> list[tuple[str, str, int, int, str]]:
    from ikou.stages.extract import load_copybook

    cb = load_copybook(lf)
    rows = []
    for layout in dict.fromkeys(lf.record_types.values()):
        for f in cb.record(layout).fields:
            if f.filler or f.name == lf.record_type_field:
                continue
            rows.append((layout, f.column, f.offset, f.size, KINDS[f.kind]))
    return rows


def _value(v) -> str:
    return "" if v is None else str(v)


@pytest.fixture(scope="module")
def jdk_files(s3_endpoint, tmp_path_factory):
    require("java")
    from ikou.domains import registry
    from ikou.mainframe.engine import decode_to_parquet
    from ikou.stages.extract import extract_options, load_copybook
    from ikou_dev.synth import synthesize
    from ikou_dev.synth.generate import DEFAULT_RATES

    work = tmp_path_factory.mktemp("jdk")
    synthesize(
        150, 51, SOURCE_SNAPSHOT, str(work / "synth"), rates={k: 0.0 for k in DEFAULT_RATES},
        domains=["juki"],
    )  # fmt: skip
    src = work / "synth" / "juki" / SOURCE_SNAPSHOT
    out, expected = {}, {}
    for lf in registry().get("juki").legacy_files:
        decoded = work / f"{lf.name}.ikou.parquet"
        decode_to_parquet(
            src / f"{lf.name}.dat", load_copybook(lf), extract_options(lf, lf.name, None), decoded
        )
        table = pq.read_table(decoded)
        expected[lf.name] = table
        rows = _layout_rows(lf)
        by_layout: dict[str, list[str]] = {}
        for layout, column, *_ in rows:
            by_layout.setdefault(layout, []).append(column)
        kinds = {v: k for k, v in lf.record_types.items()}  # layout -> record type
        data_layout = next(v for k, v in lf.record_types.items() if k not in ("H", "T"))
        lines = []
        header = {
            "HDR-FILE-ID": lf.name,
            "HDR-SNAPSHOT": LANDED_SNAPSHOT.replace("-", ""),
            "HDR-SYSTEM": "VENDOR",
        }
        hdr_layout = lf.record_types.get("H")
        if hdr_layout:
            lines.append(
                [hdr_layout]
                + [
                    header.get(c.replace("_", "-"), header.get(c, ""))
                    for c in by_layout[hdr_layout]
                ]
            )
        cols = {c: table.column(c).to_pylist() for c in by_layout[data_layout]}
        for i in range(table.num_rows):
            lines.append([data_layout] + [_value(cols[c][i]) for c in by_layout[data_layout]])
        trl_layout = lf.record_types.get("T")
        if trl_layout:
            lines.append(
                [trl_layout] + [str(table.num_rows)] + [""] * (len(by_layout[trl_layout]) - 1)
            )
        # the record type is the first byte of every layout: the writer gets it as a field
        layout_tsv = work / f"{lf.name}.layout.tsv"
        rt = [(lay, lf.record_type_field, 0, 1, "X") for lay in by_layout]
        layout_tsv.write_text(
            "".join(f"{a}\t{b}\t{c}\t{d}\t{e}\n" for a, b, c, d, e in rt + rows), encoding="utf-8"
        )
        values = work / f"{lf.name}.values.tsv"
        values.write_text(
            "".join("\t".join([line[0], kinds[line[0]], *line[1:]]) + "\n" for line in lines),
            encoding="utf-8",
        )
        target = work / f"{lf.dataset}"
        proc = subprocess.run(
            ["java", str(WRITER), str(layout_tsv), str(values), str(target), str(lf.lrecl)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert target.stat().st_size == lf.lrecl * len(lines)
        assert target.read_bytes() != (src / f"{lf.name}.dat").read_bytes()  # not synth's bytes
        out[lf.name] = target
    # the city's reference data (外字 table, town list) for the landed snapshot
    from ikou.storage import Store, reference_uri

    store = Store()
    for name in ("gaiji.csv", "towns.csv"):
        ref = work / "synth" / "_reference" / SOURCE_SNAPSHOT / name
        store.put_file(reference_uri(LANDED_SNAPSHOT) + name, ref)
    return out, expected


def test_jdk_written_files_land_and_pass_every_gate(
    jdk_files, pg_url, airflow_db, dagbag, capsys, tmp_path
):
    import os

    from ikou import cli
    from ikou.storage import Store, join, zone_uri

    files, expected = jdk_files
    argv = ["land", "--domain", "juki", "--snapshot", LANDED_SNAPSHOT, "--who", "vendor desk"]
    assert cli.main(argv + [str(p) for p in files.values()]) == 0, capsys.readouterr().err
    os.environ["IKOU_TARGET_DB_URL"] = pg_url
    try:
        run = dagbag.dags["migrate_juki"].test(run_conf={"snapshot": LANDED_SNAPSHOT})
    finally:
        os.environ.pop("IKOU_TARGET_DB_URL", None)
    states = {
        ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in run.get_task_instances()
    }
    assert states["gate_reconciliation"] == "success", states
    assert str(getattr(run.state, "value", run.state)) == "success", states
    # the extract stage read the JDK's bytes back to the values they were written from
    store = Store()
    raw = zone_uri("raw", "juki", run.run_id)
    for name, table in expected.items():
        got = pq.read_table(
            store.download(join(raw, f"{name}.parquet"), tmp_path / f"{name}.parquet")
        )
        cols = [c for c in table.column_names if not c.startswith("_")]
        assert got.select(cols).to_pylist() == table.select(cols).to_pylist(), name
