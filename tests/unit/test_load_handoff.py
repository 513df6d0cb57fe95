"""The standard-layout hand-off (ikou.load): files, manifest contents, CSV dialect, publication
with the manifest last — a writer that dies between two files leaves no manifest — and a
retried load that finds (and loads) exactly the published set."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest

from ikou.pipeline import StageResult
from ikou.storage import MANIFEST, Store, join, publication, zone_uri
from ikou_dev.bench.load import synthetic_table

DOMAIN = "juki"


def _publish_validated(
    store: Store, run_id: str, tmp_path, rows: int = 40, seed: int = 3
) -> StageResult:
    import pyarrow.parquet as pq

    from ikou.domains import registry

    d = registry().get(DOMAIN)
    files = {}
    units = {}
    for t in d.layout.tables:
        table = synthetic_table(DOMAIN, t.name, rows, seed=seed)
        p = tmp_path / f"{t.name}.parquet"
        pq.write_table(table, p)
        files[p.name] = p
        units[t.name] = table.num_rows
    prefix = zone_uri("validated", DOMAIN, run_id)
    publication.publish(
        store, prefix, files, {"zone": "validated", "domain": DOMAIN, "run_id": run_id}
    )
    landing = tmp_path / "landing.bin"
    landing.write_bytes(b"\xc1\xc2\xc3 synthetic legacy bytes")
    raw = zone_uri("raw", DOMAIN, run_id)
    publication.publish(
        store,
        raw,
        {"x.parquet": landing},
        {
            "zone": "raw",
            "landing_files": [
                {
                    "name": "JUKI.ATENA.D261001",
                    "legacy_file": "ATENA",
                    "sha256": "a" * 64,
                    "bytes": 1234,
                    "records": 42,
                },
                {
                    "name": "JUKI.JUKI.D261001",
                    "legacy_file": "JUKI",
                    "sha256": "b" * 64,
                    "bytes": 999,
                    "records": 40,
                },
            ],
        },
    )
    return StageResult(
        domain=DOMAIN,
        stage="validate",
        run_id=run_id,
        uri=prefix,
        snapshot="2026-10-01",
        units=units,
    )


@pytest.fixture
def env(s3_endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("IKOU_TARGET_DB_URL", f"sqlite:///{tmp_path / 'target.sqlite'}")
    monkeypatch.setenv("IKOU_CODE_VERSION", "0123456789abcdef0123456789abcdef01234567")
    return tmp_path


def _objects(store: Store, prefix: str) -> set[str]:
    return {u.rsplit("/", 1)[1] for u in store.list(prefix)}


def test_manifest_describes_the_set(env):
    from ikou.load import load_domain

    store = Store()
    run = "unit_handoff_1"
    v = _publish_validated(store, run, env)
    res = load_domain(
        DOMAIN,
        v,
        run_id=run,
        mode="rehearsal",
        store=store,
        atena_map={"0000000042": "0000000007", "0000000043": "0000000007"},
    )
    prefix = zone_uri("handoff", DOMAIN, run)
    names = _objects(store, prefix)
    assert names == {
        "atena.csv",
        "atena.parquet",
        "jumin.csv",
        "jumin.parquet",
        "manifest.json",
        MANIFEST,
    }
    body = store.get_bytes(join(prefix, "manifest.json"))
    m = json.loads(body)
    assert hashlib.sha256(body).hexdigest() == res["manifest_sha256"]
    assert (
        json.loads(store.get_bytes(join(prefix, MANIFEST)))["handoff_manifest_sha256"]
        == res["manifest_sha256"]
    )
    assert (m["spec_version"], m["layout_version"]) == ("2.1", 1)
    assert m["code_version"] == "0123456789abcdef0123456789abcdef01234567"
    assert [f["sha256"] for f in m["input_files"]] == ["a" * 64, "b" * 64]
    assert m["atena_no_map"]["count"] == 2
    assert {"old": "0000000042", "new": "0000000007"} in m["atena_no_map"]["entries"]
    d = m["csv_dialect"]
    assert (d["encoding"], d["line_terminator"], d["bom"], d["header"]) == (
        "UTF-8",
        "CRLF",
        False,
        True,
    )
    for t in m["tables"]:
        data = store.get_bytes(join(prefix, t["file"]))
        assert hashlib.sha256(data).hexdigest() == t["sha256"] and len(data) == t["bytes"]
        pq_bytes = store.get_bytes(join(prefix, t["parquet"]["file"]))
        assert hashlib.sha256(pq_bytes).hexdigest() == t["parquet"]["sha256"]
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        assert rows[0] == [c["name"] for c in t["columns"]]
        assert len(rows) - 1 == t["rows"] == v.units[t["table"]]
        assert data.count(b"\r\n") == t["rows"] + 1  # CRLF everywhere
        assert all(
            c["type"] in ("string", "code", "integer", "decimal", "date") for c in t["columns"]
        )
    assert res["rows"] == v.units


def test_csv_dialect_quotes_text_and_leaves_nulls_empty(tmp_path):
    import pyarrow as pa

    from ikou.load import write_csv

    t = pa.table(
        {
            "a": pa.array(["x", None, 'say "hi"', "", "改行\nあり"]),
            "n": pa.array([1, 2, None, 4, 5]),
        }
    )
    p = tmp_path / "t.csv"
    write_csv(t, p)
    raw = p.read_bytes()
    assert raw.split(b"\r\n")[0] == b'"a","n"'
    lines = raw.decode("utf-8").split("\r\n")
    assert lines[1] == '"x",1'
    assert lines[2] == ",2"  # null: empty and unquoted
    assert lines[3] == '"say ""hi""",'  # quotes doubled; null integer empty
    assert lines[4] == '"",4'  # an empty string is quoted, so it stays distinct from null
    write_csv(t, p, bom=True)
    assert p.read_bytes().startswith(b"\xef\xbb\xbf")


def test_failure_between_files_leaves_no_manifest_and_a_retry_completes(env, monkeypatch):
    from ikou.load import load_domain

    store = Store()
    run = "unit_handoff_2"
    v = _publish_validated(store, run, env)
    prefix = zone_uri("handoff", DOMAIN, run)
    real_put = Store.put_file
    calls = {"n": 0}

    def dying_put(self, uri, path, content_type=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected: the writer died between two files")
        return real_put(self, uri, path, content_type)

    monkeypatch.setattr(Store, "put_file", dying_put)
    with pytest.raises(RuntimeError, match="injected"):
        load_domain(DOMAIN, v, run_id=run, mode="rehearsal", store=store)
    names = _objects(store, prefix)
    assert (
        names and "manifest.json" not in names and MANIFEST not in names
    )  # half a set, no manifest
    from ikou.load.control import Control
    from ikou.load.target import Target, rehearsal_schema

    # nothing reached the target either: the hand-off is published before the load
    assert not Target(f"sqlite:///{env / 'target.sqlite'}", rehearsal_schema(run)).schema_exists()
    assert Control().loads_of(DOMAIN) == []
    monkeypatch.setattr(Store, "put_file", real_put)
    res = load_domain(DOMAIN, v, run_id=run, mode="rehearsal", store=store)
    assert "manifest.json" in _objects(store, prefix) and MANIFEST in _objects(store, prefix)
    assert res["rows"] == v.units


def test_retry_after_publication_loads_the_published_files(env, monkeypatch):
    """Published once, the set is never rewritten: a retry loads the published files."""
    from ikou.load import load_domain

    store = Store()
    run = "unit_handoff_3"
    v = _publish_validated(store, run, env)
    first = load_domain(DOMAIN, v, run_id=run, mode="rehearsal", store=store)
    marker = store.get_bytes(join(zone_uri("handoff", DOMAIN, run), MANIFEST))
    # the validated input changes under the retry's feet (it must not matter)
    v2 = _publish_validated(store, run + "_other", env, seed=99)
    second = load_domain(
        DOMAIN, v.model_copy(update={"uri": v2.uri}), run_id=run, mode="rehearsal", store=store
    )
    assert second["manifest_sha256"] == first["manifest_sha256"]
    assert store.get_bytes(join(zone_uri("handoff", DOMAIN, run), MANIFEST)) == marker
    from ikou.domains import registry
    from ikou.load.target import Target
    from ikou.rehearsal.reconcile import table_digest

    t = Target(f"sqlite:///{env / 'target.sqlite'}", first["schema"])

    lay = registry().get(DOMAIN).layout
    digests = {x.name: table_digest(t, DOMAIN, x) for x in lay.tables}
    # a clean load of the published files gives the same tables
    from ikou.load import clean_load

    tmp = env / "pub"
    tmp.mkdir()
    csvs = {}
    for x in lay.tables:
        p = tmp / f"{x.name}.csv"
        p.write_bytes(store.get_bytes(join(zone_uri("handoff", DOMAIN, run), f"{x.name}.csv")))
        csvs[x.name] = p
    ref = Target(f"sqlite:///{env / 'ref.sqlite'}", "ikou")
    clean_load(ref, DOMAIN, csvs)
    assert digests == {x.name: table_digest(ref, DOMAIN, x) for x in lay.tables}


def test_bom_option_loads_into_sqlite(env, monkeypatch):
    from ikou.load import load_domain

    monkeypatch.setenv("IKOU_CSV_BOM", "1")
    store = Store()
    run = "unit_handoff_bom"
    v = _publish_validated(store, run, env, rows=10)
    res = load_domain(DOMAIN, v, run_id=run, mode="rehearsal", store=store)
    prefix = zone_uri("handoff", DOMAIN, run)
    assert store.get_bytes(join(prefix, "atena.csv")).startswith(b"\xef\xbb\xbf")
    assert json.loads(store.get_bytes(join(prefix, "manifest.json")))["csv_dialect"]["bom"] is True
    assert res["rows"] == v.units
