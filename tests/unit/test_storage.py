"""ikou.storage.Store on local paths (publication, manifests, verification) and ikou.hashing."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from ikou.config import ConfigError
from ikou.hashing import DIGEST_HEX, keyed_hash, keyed_hashes, record_key
from ikou.storage import (
    MANIFEST,
    NotPublished,
    StorageError,
    Store,
    join,
    local_path,
    publication,
    run_key,
    sha256_file,
    zone_uri,
)


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    src = tmp_path / "src"
    src.mkdir()
    out = {}
    for name, data in (
        ("a.parquet", b"PAR1 synthetic a"),
        ("b.csv", "宛名番号,x\r\n1,架空\r\n".encode()),
        ("sub/c.jsonl", b'{"n": 1}\n'),
    ):
        p = src / name.replace("/", "_")
        p.write_bytes(data)
        out[name] = p
    return out


@pytest.fixture
def prefix(tmp_path) -> str:
    return str(tmp_path / "zone" / "raw" / "juki" / "run_1") + "/"


def test_publish_writes_files_then_the_manifest(files, prefix):
    store = Store()
    m = publication.publish(store, prefix, files, {"zone": "raw", "domain": "juki"})
    root = local_path(prefix)
    for name, p in files.items():
        assert (root / name).read_bytes() == p.read_bytes()
    on_disk = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    assert on_disk == m
    assert m["zone"] == "raw" and m["domain"] == "juki" and m["prefix"] == prefix
    assert m["published_at"] and m["code_version"]
    entries = {f["name"]: f for f in m["files"]}
    assert set(entries) == set(files)
    for name, p in files.items():
        assert (
            entries[name]["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest() == sha256_file(p)
        )
        assert entries[name]["bytes"] == p.stat().st_size
    # no temporary files left behind
    assert not list(root.rglob("*.part"))


def test_publish_order_manifest_last(files, prefix, monkeypatch):
    store = Store()
    order: list[str] = []
    put_file, put_bytes = store.put_file, store.put_bytes

    def rec_file(uri, path, content_type=None):
        order.append(uri)
        return put_file(uri, path, content_type)

    def rec_bytes(uri, data, content_type=None):
        order.append(uri)
        return put_bytes(uri, data, content_type)

    monkeypatch.setattr(store, "put_file", rec_file)
    monkeypatch.setattr(store, "put_bytes", rec_bytes)
    publication.publish(store, prefix, files, {})
    assert order[-1] == join(prefix, MANIFEST)
    assert sorted(order[:-1]) == sorted(join(prefix, n) for n in files)


def test_a_handoff_manifest_json_goes_after_the_files_it_describes(tmp_path, prefix, monkeypatch):
    src = tmp_path / "h"
    src.mkdir()
    names = ["zeta.csv", "manifest.json", "alpha.csv", "nyuu.csv"]
    files = {}
    for n in names:
        (src / n).write_text(n, encoding="utf-8")
        files[n] = src / n
    store = Store()
    order: list[str] = []
    put_file, put_bytes = store.put_file, store.put_bytes
    monkeypatch.setattr(
        store,
        "put_file",
        lambda uri, path, content_type=None: (order.append(uri), put_file(uri, path))[1],
    )
    monkeypatch.setattr(
        store,
        "put_bytes",
        lambda uri, data, content_type=None: (
            order.append(uri),
            put_bytes(uri, data, content_type),
        )[1],
    )
    publication.publish(store, prefix, files, {})
    assert order[-2] == join(prefix, "manifest.json")
    assert order[-1] == join(prefix, MANIFEST)
    assert set(order[:-2]) == {join(prefix, n) for n in names if n != "manifest.json"}


def test_unpublished_prefix_raises_not_published(files, prefix):
    store = Store()
    with pytest.raises(NotPublished):
        publication.read_manifest(store, prefix)
    # files without a manifest are still not published (a writer that did not finish)
    root = local_path(prefix)
    root.mkdir(parents=True)
    (root / "a.parquet").write_bytes(b"half")
    with pytest.raises(NotPublished, match="not published"):
        publication.read_manifest(store, prefix)
    with pytest.raises(NotPublished):
        publication.fetch(store, prefix, "a.parquet", root.parent / "work")
    assert issubclass(NotPublished, StorageError)


def test_read_manifest(files, prefix):
    store = Store()
    m = publication.publish(store, prefix, files, {"run_id": "r1", "counts": {"ATENA": 3}})
    assert publication.read_manifest(store, prefix) == m
    assert publication.read_manifest(store, prefix.rstrip("/")) == m


def test_fetch_verifies_sha256(files, prefix, tmp_path):
    store = Store()
    publication.publish(store, prefix, files, {})
    got = publication.fetch(store, prefix, "a.parquet", tmp_path / "w1")
    assert got.read_bytes() == files["a.parquet"].read_bytes()
    assert got.parent == tmp_path / "w1"
    # tamper with the published file: same size, other bytes
    published = local_path(join(prefix, "a.parquet"))
    data = bytearray(published.read_bytes())
    data[0] ^= 0xFF
    published.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="sha256"):
        publication.fetch(store, prefix, "a.parquet", tmp_path / "w2")


def test_fetch_of_a_file_the_manifest_does_not_list(files, prefix, tmp_path):
    store = Store()
    publication.publish(store, prefix, files, {})
    (local_path(prefix) / "smuggled.csv").write_bytes(b"x")
    with pytest.raises(StorageError, match="smuggled.csv"):
        publication.fetch(store, prefix, "smuggled.csv", tmp_path / "w")


def test_fetch_with_a_given_manifest(files, prefix, tmp_path):
    store = Store()
    m = publication.publish(store, prefix, files, {})
    assert (
        publication.fetch(store, prefix, "b.csv", tmp_path / "w", manifest=m).read_bytes()
        == files["b.csv"].read_bytes()
    )


def test_publish_is_idempotent(files, prefix, tmp_path):
    store = Store()
    first = publication.publish(store, prefix, files, {"attempt": 1})
    root = local_path(prefix)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    mtimes = {p: p.stat().st_mtime_ns for p in before}
    # a retried task publishes other content: nothing is overwritten, the first manifest is returned
    other = tmp_path / "other.bin"
    other.write_bytes(b"different")
    second = publication.publish(
        store, prefix, {"a.parquet": other, "new.csv": other}, {"attempt": 2}
    )
    assert second == first
    assert second["attempt"] == 1
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before
    assert {p: p.stat().st_mtime_ns for p in after} == mtimes


def test_manifest_given_files_are_kept(files, prefix):
    store = Store()
    extra = [{"name": "elsewhere.parquet", "sha256": "0" * 64, "bytes": 0}]
    m = publication.publish(store, prefix, files, {"files": extra})
    names = [f["name"] for f in m["files"]]
    assert names[-1] == "elsewhere.parquet" and len(names) == len(files) + 1


def test_primitives(tmp_path):
    store = Store()
    uri = str(tmp_path / "x" / "y" / "z.bin")
    assert not store.exists(uri)
    store.put_bytes(uri, b"abc")
    assert store.exists(uri) and store.get_bytes(uri) == b"abc"
    assert store.get_bytes("file://" + uri) == b"abc"
    assert list(store.list(str(tmp_path / "x"))) == [uri]
    assert store.list_dirs(str(tmp_path / "x")) == ["y"]
    assert store.list_dirs(str(tmp_path / "nope")) == []
    assert store.delete_prefix(str(tmp_path / "x")) == 1
    assert not store.exists(uri)
    with pytest.raises(FileNotFoundError):
        store.get_bytes(uri)


@pytest.mark.parametrize(
    "run_id, expected",
    [
        ("manual__2026-11-28T01:00:00+09:00", "manual__2026-11-28T01_00_00_09_00"),
        ("scheduled__2026-11-27T16:00:00+00:00", "scheduled__2026-11-27T16_00_00_00_00"),
        ("plain-run.1", "plain-run.1"),
        ("a/b\\c", "a_b_c"),
        ("../../etc", "____etc"),
        ("  spaced  id ", "spaced_id"),
        ("宛名", "run"),
        (":::", "run"),
        ("", "run"),
    ],
)
def test_run_key(run_id, expected):
    key = run_key(run_id)
    assert key == expected
    assert "/" not in key and ":" not in key and "+" not in key and " " not in key


def test_zone_uri(monkeypatch):
    monkeypatch.setenv("IKOU_RESTRICTED_BUCKET", "restricted-b")
    monkeypatch.setenv("IKOU_REPORTS_BUCKET", "reports-b")
    assert (
        zone_uri("raw", "juki", "manual__2026-11-28T01:00:00+09:00")
        == "s3://restricted-b/raw/juki/manual__2026-11-28T01_00_00_09_00/"
    )
    assert zone_uri("reports", "juki", "r1") == "s3://reports-b/reports/juki/r1/"
    with pytest.raises(ValueError):
        zone_uri("elsewhere", "juki", "r1")


# ----------------------------------------------------------------------------- hashing


S1, S2 = b"unit-secret-one", b"unit-secret-two"


def test_keyed_hash_is_an_hmac():
    h = keyed_hash("9000000001", purpose="record", secret=S1)
    assert h == hmac.new(S1, b"record\x1f9000000001", hashlib.sha256).hexdigest()[:DIGEST_HEX]
    assert len(h) == DIGEST_HEX and int(h, 16) >= 0
    assert h != hashlib.sha256(b"9000000001").hexdigest()[:DIGEST_HEX]  # not a plain hash


def test_keyed_hash_differs_by_purpose_and_secret():
    v = "1975-04-01"
    hashes = {
        keyed_hash(v, purpose=p, secret=s)
        for p in ("record", "ledger-value", "record:juki:ATENA")
        for s in (S1, S2)
    }
    assert len(hashes) == 6
    assert keyed_hash(v, secret=S1) == keyed_hash(v, secret=S1)
    assert keyed_hash(v, secret=S1) != keyed_hash(v + " ", secret=S1)


def test_keyed_hashes_matches_keyed_hash():
    values = ["9000000001", "架空　太郎", "", None, 42, "1975-04-01", "ｶｸｳ"]
    for purpose in ("record", "ledger-value"):
        assert keyed_hashes(values, purpose=purpose, secret=S1) == [
            keyed_hash(v, purpose=purpose, secret=S1) for v in values
        ]
    assert keyed_hashes([], secret=S1) == []


def test_record_key():
    assert record_key("juki", "ATENA", [9000000001], secret=S1) == keyed_hash(
        "9000000001", purpose="record:juki:ATENA", secret=S1
    )
    assert record_key("juki", "ATENA", ["a", "b"], secret=S1) == keyed_hash(
        "a\x1eb", purpose="record:juki:ATENA", secret=S1
    )
    assert record_key("juki", "ATENA", [1], secret=S1) != record_key("juki", "JUKI", [1], secret=S1)


def test_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("IKOU_HMAC_SECRET", S2.decode())
    assert keyed_hash("x") == keyed_hash("x", secret=S2)
    assert keyed_hashes(["x"]) == [keyed_hash("x", secret=S2)]


def test_no_secret_is_a_config_error(monkeypatch):
    monkeypatch.delenv("IKOU_HMAC_SECRET", raising=False)
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_IKOU_HMAC", raising=False)
    with pytest.raises(ConfigError, match="IKOU_HMAC_SECRET"):
        keyed_hash("x")
    with pytest.raises(ConfigError):
        keyed_hashes(["x"])
    monkeypatch.setenv("IKOU_HMAC_SECRET", "")
    with pytest.raises(ConfigError):
        keyed_hash("x")


@pytest.mark.parametrize("run_id", ["..", "."])
def test_run_key_never_names_a_parent_folder(run_id):
    assert run_key(run_id) not in (".", "..")
