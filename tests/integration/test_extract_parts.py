"""The extract stage splits large F/FB files into byte ranges decoded by mapped tasks.

With a tiny part size (``IKOU_EXTRACT_PART_BYTES``) ``migrate_juki`` runs ``extract_plan``, the
mapped ``extract_parts`` (one task instance per byte range) and ``extract`` (merge + publish),
then ``gate_raw`` on the merged output; a second run with the default part size takes the
single-task path (no mapped instance at all). Both publish the same raw tables, quarantine rows,
accounting and 外字 worklist. A snapshot whose file ends in a cut-off record checks the
accounting across parts at the stage level (no Airflow).
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from tests_support import plain

from ikou.pipeline import RunContext
from ikou.stages import extract
from ikou.stages.common import StageError
from ikou.storage import publication

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SNAPSHOT = "2026-10-05"
TRUNCATED_SNAPSHOT = "2026-10-06"
RESIDENTS = 300
SEED = 13
PART_BYTES = (
    32768  # JUKI (200-byte records, ~60 KB) and ATENA (350, ~120 KB) both become several parts
)
# (load_plan runs: it plans nothing without a validated result, and its mapped load_parts
# expand to none — a mapped task cannot expand over a task marked success)
LATER = r"^(cleanse|gate_cleansed|validate|gate_standard|load|gate_target|rehearsal|gate_reconciliation)$"
PART_KEYS = {
    "file",
    "index",
    "parts",
    "snapshot",
    "start",
    "end",
    "size",
    "planned_at",
    "data_uri",
    "data_name",
    "data_sha256",
    "data_bytes",
    "gaiji_uri",
    "summary_uri",
    "quarantine_uri",
    "records_in",
    "records_out",
    "header",
    "trailer",
    "quarantined",
    "bytes",
    "decode_seconds",
    "seconds",
    "cpu_seconds",
}


@pytest.fixture(scope="module")
def city(s3_endpoint):
    from ikou_dev.synth import synthesize

    return synthesize(
        RESIDENTS,
        SEED,
        SNAPSHOT,
        "s3://ikou-restricted/landing",
        rates={"unmapped_gaiji": 0.03, "corrupt_record": 0.005},
    )


def _run(dagbag, part_bytes: int):
    os.environ["IKOU_EXTRACT_PART_BYTES"] = str(part_bytes)
    try:
        return dagbag.dags["migrate_juki"].test(
            run_conf={"mode": "rehearsal", "snapshot": SNAPSHOT}, mark_success_pattern=LATER
        )
    finally:
        os.environ.pop("IKOU_EXTRACT_PART_BYTES", None)


@pytest.fixture(scope="module")
def split_run(city, airflow_db, dagbag):
    return _run(dagbag, PART_BYTES)


@pytest.fixture(scope="module")
def whole_run(city, airflow_db, dagbag, split_run):
    return _run(dagbag, 1 << 40)


def _tis(run) -> list:
    return list(run.get_task_instances())


def _state(ti) -> str:
    return str(getattr(ti.state, "value", ti.state))


def _xcom(run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id == run.dag_id,
            XComModel.run_id == run.run_id,
            XComModel.task_id == task_id,
            XComModel.key == "return_value",
        )
        return {
            r.map_index: plain(
                json.loads(r.value) if isinstance(r.value, (str, bytes)) else r.value
            )
            for r in rows
        }


def _extract_result(run) -> dict:
    return _xcom(run, "extract")[-1]


def _raw(result: dict) -> dict:
    """unit -> pyarrow Table, read the way gate_raw and cleanse read raw/ (the manifest)."""
    import tempfile
    from pathlib import Path

    import pyarrow.parquet as pq

    from ikou.storage import Store

    with tempfile.TemporaryDirectory() as tmp:
        _, paths = publication.fetch_tables(Store(), result["uri"], Path(tmp))
        return {unit: pq.read_table(p) for unit, p in paths.items()}


def _quarantine_rows(result: dict) -> dict:
    from ikou.storage import Store, join

    store = Store()
    manifest = publication.read_manifest(store, result["quarantine"])
    out = {}
    for f in manifest["files"]:
        body = store.get_bytes(join(result["quarantine"], f["name"])).decode("utf-8")
        out[f["name"]] = [json.loads(line) for line in body.splitlines() if line]
    return out


def _report(result: dict, name: str) -> dict:
    from ikou.storage import Store, join, zone_uri

    return json.loads(Store().get_bytes(join(zone_uri("reports", "juki", result["run_id"]), name)))


def _same_accounting(a: dict, b: dict) -> None:
    keys = (
        "unit",
        "records_in",
        "records_out",
        "header",
        "trailer",
        "quarantined",
        "trailer_count_ok",
        "trailer_sums_ok",
        "unmapped_gaiji",
        "gaiji_mapped",
        "bytes",
        "balanced",
    )
    assert [{k: x[k] for k in keys} for x in a["accounting"]] == [
        {k: x[k] for k in keys} for x in b["accounting"]
    ]


# ------------------------------------------------------------------------------------ the DAG


def test_split_run_maps_one_task_instance_per_part(split_run, city):
    states = {}
    parts = []
    for ti in _tis(split_run):
        if ti.task_id == "extract_parts":
            parts.append((ti.map_index, _state(ti)))
        else:
            states[ti.task_id] = _state(ti)
    assert states["extract_plan"] == states["extract"] == "success", states
    plan = _xcom(split_run, "extract_plan")[-1]
    assert len(parts) == len(plan) > 2
    assert sorted(i for i, _ in parts) == list(range(len(plan)))
    assert {s for _, s in parts} == {"success"}
    by_file = {}
    for p in plan:
        by_file.setdefault(p["file"], []).append(p)
    assert set(by_file) == {"ATENA", "JUKI"}
    for _f, ps in by_file.items():
        assert len(ps) >= 2
        assert ps[0]["start"] == 0 and ps[-1]["end"] == ps[0]["size"]
        assert all(a["end"] == b["start"] for a, b in zip(ps, ps[1:]))  # record-aligned, no gap
    res = _extract_result(split_run)
    assert res["parts"] == {f: len(ps) for f, ps in by_file.items()}
    assert all(a["parts"] == len(by_file[a["unit"]]) for a in res["accounting"])


def test_part_xcoms_hold_uris_and_counts_only(split_run):
    values = _xcom(split_run, "extract_parts")
    assert values
    for v in values.values():
        assert set(v) == PART_KEYS
        for k, x in v.items():
            assert isinstance(x, (int, float, str)) or x is None, k
            if isinstance(x, str) and k.endswith("_uri"):
                assert x.startswith("s3://ikou-restricted/")


def test_whole_run_takes_the_single_task_path(whole_run):
    states = {}
    mapped = []
    for ti in _tis(whole_run):
        if ti.task_id == "extract_parts":
            mapped.append(_state(ti))
        else:
            states[ti.task_id] = _state(ti)
    assert _xcom(whole_run, "extract_plan")[-1] == []
    assert all(s in ("skipped", "removed") for s in mapped), mapped  # no part ran
    assert states["extract"] == "success", states
    res = _extract_result(whole_run)
    assert res["parts"] == {} and all(a["parts"] == 1 for a in res["accounting"])


def test_gate_raw_passes_on_the_merged_output(split_run, whole_run):
    for run in (split_run, whole_run):
        assert {_state(t) for t in _tis(run) if t.task_id == "gate_raw"} == {"success"}
        assert str(getattr(run.state, "value", run.state)) == "success"


def test_split_output_is_identical_to_the_whole_file_output(split_run, whole_run, city):
    split, whole = _extract_result(split_run), _extract_result(whole_run)
    assert split["run_id"] != whole["run_id"]
    _same_accounting(split, whole)
    for a in split["accounting"]:
        assert a["balanced"]
        assert a["records_in"] == a["records_out"] + a["header"] + a["trailer"] + a["quarantined"]
        assert a["trailer_count_ok"] and a["trailer_sums_ok"]
    assert split["quarantined"] > 0  # the seeded corrupt records were quarantined in some part
    rs, rw = _raw(split), _raw(whole)
    assert set(rs) == set(rw) == {"ATENA", "JUKI"}
    for unit in rs:
        assert rs[unit].schema == rw[unit].schema
        assert rs[unit].num_rows == city["records"]["juki"][unit] - next(
            a["quarantined"] for a in split["accounting"] if a["unit"] == unit
        )  # data records
        assert rs[unit].combine_chunks().equals(rw[unit].combine_chunks()), unit
    assert _quarantine_rows(split) == _quarantine_rows(whole)
    ws, ww = _report(split, "gaiji_worklist.json"), _report(whole, "gaiji_worklist.json")
    assert ws["codes"] and ws["codes"] == ww["codes"]
    assert (
        _report(split, "findings/extract.json")["summary"]
        == _report(whole, "findings/extract.json")["summary"]
    )


def test_raw_manifest_lists_the_parts(split_run):
    from ikou.storage import Store, join

    res = _extract_result(split_run)
    store = Store()
    manifest = publication.read_manifest(store, res["uri"])
    names = [f["name"] for f in manifest["files"]]
    assert "ATENA.parquet" in names and "JUKI.parquet" in names
    for unit, n in res["parts"].items():
        mine = [f for f in manifest["files"] if f.get("part_of") == unit]
        assert [f["name"] for f in mine] == [
            f"_parts/{unit}/part-{i:05d}.parquet" for i in range(n)
        ]
        acc = next(a for a in res["accounting"] if a["unit"] == unit)
        assert sum(f["records_in"] for f in mine) == acc["records_in"]
        assert sum(f["records_out"] for f in mine) == acc["records_out"]
        assert manifest["parts"][unit] and len(manifest["parts"][unit]) == n
        body = store.get_bytes(join(res["uri"], mine[0]["name"]))
        assert hashlib.sha256(body).hexdigest() == mine[0]["sha256"]


# ------------------------------------------------------------------- accounting across parts


def _truncated_snapshot(city) -> int:
    """A copy of the snapshot whose JUKI file ends with 57 bytes of a cut-off record."""
    from ikou.storage import Store, join, landing_uri

    store = Store()
    src, dst = landing_uri("juki", SNAPSHOT), landing_uri("juki", TRUNCATED_SNAPSHOT)
    manifest = publication.read_manifest(store, src)
    files = []
    for f in manifest["files"]:
        body = store.get_bytes(join(src, f["name"]))
        if f.get("legacy_file") == "JUKI":
            body += body[200:257]
        store.put_bytes(join(dst, f["name"]), body)
        files.append({**f, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()})
    store.put_bytes(
        join(dst, "_manifest.json"),
        json.dumps({**manifest, "snapshot": TRUNCATED_SNAPSHOT, "files": files}).encode(),
    )
    return next(f["bytes"] for f in files if f.get("legacy_file") == "JUKI")


def _ctx(run_id: str, snapshot: str = SNAPSHOT) -> RunContext:
    return RunContext.build(domain="juki", run_id=run_id, snapshot=snapshot)


def test_truncated_last_record_is_accounted_across_parts(city, monkeypatch):
    size = _truncated_snapshot(city)
    monkeypatch.setenv("IKOU_EXTRACT_PART_BYTES", "20000")
    ctx = _ctx("parts-truncated", TRUNCATED_SNAPSHOT)
    plan = extract.plan(ctx)
    juki = [p for p in plan if p.file == "JUKI"]
    assert len(juki) >= 3 and juki[-1].end == size and all(p.start % 200 == 0 for p in juki)
    parts = [extract.part(ctx, p) for p in reversed(plan)]  # any order
    split = extract.run(ctx, plan, parts).model_dump()
    monkeypatch.setenv("IKOU_EXTRACT_PART_BYTES", str(1 << 40))
    whole_ctx = _ctx("whole-truncated", TRUNCATED_SNAPSHOT)
    assert extract.plan(whole_ctx) == []
    whole = extract.run(whole_ctx).model_dump()
    _same_accounting(split, whole)
    acc = next(a for a in split["accounting"] if a["unit"] == "JUKI")
    assert (
        acc["records_in"] == city["records"]["juki"]["JUKI"] + 2 + 1
    )  # header, trailer, the cut-off one
    assert (
        acc["records_in"]
        == acc["records_out"] + acc["header"] + acc["trailer"] + acc["quarantined"]
    )
    assert acc["trailer_count_ok"]  # the trailer still counts the data records it knew of
    q = _quarantine_rows(split)["JUKI.quarantine.jsonl"]
    assert q == _quarantine_rows(whole)["JUKI.quarantine.jsonl"]
    assert q[-1]["reason"] == "truncated_record" and q[-1]["raw_length"] == 57
    rs, rw = _raw(split), _raw(whole)
    assert all(rs[u].combine_chunks().equals(rw[u].combine_chunks()) for u in rs)
    _check_provenance(split, TRUNCATED_SNAPSHOT)
    _check_provenance(whole, TRUNCATED_SNAPSHOT)
    _check_part_provenance(parts, TRUNCATED_SNAPSHOT)


def _check_part_provenance(parts, snapshot: str) -> None:
    """Each part's own decode summary reproduces the part alone: the whole landed file's path
    and sha256, the part's byte range in the options, the copybook's sha256."""
    from ikou.storage import Store, join, landing_uri

    store = Store()
    landing = landing_uri("juki", snapshot)
    landed = {f["name"]: f for f in publication.read_manifest(store, landing)["files"]}
    for p in parts:
        d = json.loads(store.get_bytes(p.summary_uri))
        name = next(n for n, f in landed.items() if f.get("legacy_file") == p.file)
        assert d["input"] == {
            "path": join(landing, name),
            "sha256": landed[name]["sha256"],
            "bytes": landed[name]["bytes"],
        }
        assert d["options"]["byte_range"] == [p.start, p.end]
        assert d["registry"]["file"] == p.file and len(d["copybook"]["sha256"]) == 64
        assert d["copybook"]["members"] == []  # the juki copybooks COPY nothing
        assert d["records_in"] == p.records_in


def _check_provenance(result: dict, snapshot: str) -> None:
    """The raw manifest's decode entry of each file says what reproduces it (issue 14 §1): the
    registry's effective options, the landed input's and the copybook's sha256, the code."""
    import ikou
    from ikou.domains import registry
    from ikou.storage import Store, join, landing_uri

    store = Store()
    landing = landing_uri("juki", snapshot)
    landed = {f["legacy_file"]: f for f in publication.read_manifest(store, landing)["files"]}
    decode = publication.read_manifest(store, result["uri"])["decode"]
    for lf in registry().get("juki").legacy_files:
        d, f = decode[lf.name], landed[lf.name]
        body = store.get_bytes(join(landing, f["name"]))
        assert d["input"] == {
            "path": join(landing, f["name"]),
            "sha256": hashlib.sha256(body).hexdigest(),
            "bytes": len(body),
        }
        assert d["copybook"]["sha256"] == hashlib.sha256(lf.copybook_path.read_bytes()).hexdigest()
        assert d["options"]["encoding"] == lf.encoding and d["options"]["lrecl"] == lf.lrecl
        assert d["options"]["record_types"] == dict(lf.record_types)
        assert d["options"]["byte_range"] is None  # the whole file's options, parts or not
        assert d["registry"] == {"domain": "juki", "file": lf.name, "dataset": lf.dataset}
        assert d["gaiji_table"] is None  # the copied snapshot has no 外字 reference table
        assert d["code"]["ikou"] == ikou.__version__


def test_missing_part_result_is_refused(city, monkeypatch):
    monkeypatch.setenv("IKOU_EXTRACT_PART_BYTES", str(PART_BYTES))
    ctx = _ctx("parts-missing")
    plan = extract.plan(ctx)
    parts = [extract.part(ctx, p) for p in plan[1:]]
    with pytest.raises(StageError, match="returned parts"):
        extract.run(ctx, plan, parts)
