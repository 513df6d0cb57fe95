"""Faults: a load killed mid-COPY and retried, a partitioned load killed in each phase (a
partition mid-COPY, the swap before its commit), a COPY failing midway on a bad row, and S3 going
away in the middle of the load stage. Each time the target ends complete and consistent (the
previous state, then exactly what a clean load gives) and no partial hand-off set is visible."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from tests_support import STAGE_PARTITION_CHILD, SWAP_PARTITIONS_CHILD, kill_while_reading

from ikou.domains import registry
from ikou.load import clean_load, load_target, write_csv
from ikou.load.control import Control
from ikou.load.target import STAGING_SCHEMA, Target, rehearsal_schema
from ikou.pipeline import StageResult
from ikou.rehearsal.reconcile import table_digest
from ikou.storage import publication
from ikou_dev.bench.load import synthetic_table

pytestmark = [pytest.mark.integration]

DOMAIN = "juki"
ROWS = 3_000


def _write_version(folder: Path, seed: int, rows: int = ROWS) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for t in registry().get(DOMAIN).layout.tables:
        p = folder / f"{t.name}.csv"
        write_csv(synthetic_table(DOMAIN, t.name, rows, seed=seed), p)
        out[t.name] = p
    return out


def _digests(target: Target) -> dict[str, str]:
    return {t.name: table_digest(target, DOMAIN, t) for t in registry().get(DOMAIN).layout.tables}


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    return {
        "v1": _write_version(tmp / "v1", 1),
        # jumin.csv must hold well over 1 MB (one COPY read): 3/4 of it is written before the kill
        "v2": _write_version(tmp / "v2", 2, rows=20_000),
        "tmp": tmp,
    }


@pytest.fixture(scope="module")
def reference(pg_url, versions):
    """What a clean load of v2 gives (its own schema)."""
    ref = Target(pg_url, "ikou_rehearsal_reference")
    clean_load(ref, DOMAIN, versions["v2"])
    yield _digests(ref)
    ref.drop_schema()
    ref.dispose()


CHILD = """
import json, sys
from ikou.load import load_target
from ikou.load.target import Target
url, schema, csvs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
load_target(Target(url, schema), "juki", csvs, run_id="killed-run", snapshot="2026-10-01",
            manifest_sha256="k" * 64, mode="rehearsal")
"""


def _load(target: Target, csvs: dict, run_id: str, sha: str) -> None:
    load_target(target, DOMAIN, csvs, run_id=run_id, snapshot="2026-10-01", manifest_sha256=sha,
                mode="rehearsal")  # fmt: skip


def _copy_progress(target: Target) -> int:
    with target.engine().connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT coalesce(max(tuples_processed), -1) FROM pg_stat_progress_copy WHERE datname = current_database()"
            ).scalar()
        )


def test_a_load_killed_mid_copy_leaves_the_previous_state_and_a_retry_completes(
    pg_url, versions, reference, monkeypatch
):
    monkeypatch.setenv("IKOU_TARGET_DB_URL", pg_url)
    schema = rehearsal_schema("killed-run")
    target = Target(pg_url, schema)
    _load(target, versions["v1"], "killed-run", "1" * 64)
    before = _digests(target)
    logged = [r["manifest_sha256"] for r in Control(pg_url).loads_of(DOMAIN)]
    # the load spans two tables: atena is staged whole, then v2's jumin.csv arrives through a
    # pipe (the COPY reads what the test writes, then waits for more) and the load is killed
    fifo = versions["tmp"] / "jumin.fifo"
    csvs = {"atena": str(versions["v2"]["atena"]), "jumin": str(fifo)}
    data = versions["v2"]["jumin"].read_bytes()  # the loader reads 1 MB at a time
    # (a read of 1 MB from the pipe returns only once 1 MB has arrived)
    assert len(data) * 3 // 4 > 1 << 20, "the test CSV is too small for a mid-COPY kill"

    def mid_copy() -> None:
        deadline = time.monotonic() + 30
        while _copy_progress(target) <= 0:
            assert time.monotonic() < deadline, "COPY did not start"
            time.sleep(0.05)
        # mid-COPY: readers still see the previous tables, whole
        with target.engine().connect() as conn:
            assert (
                conn.exec_driver_sql(f'SELECT count(*) FROM "{schema}"."juki__atena"').scalar()
                == ROWS
            )

    kill_while_reading(CHILD, [pg_url, schema, json.dumps(csvs)], fifo, data, then=mid_copy)
    deadline = time.monotonic() + 30
    while _copy_progress(target) >= 0:  # the server notices the dead client and rolls back
        assert time.monotonic() < deadline, "the killed COPY is still running"
        time.sleep(0.1)
    assert _digests(target) == before  # neither table of the killed load was committed
    assert target.sibling(STAGING_SCHEMA).tables() == []
    # the load-log row is written in the load's transaction: none for the killed load
    assert [r["manifest_sha256"] for r in Control(pg_url).loads_of(DOMAIN)] == logged
    # the retry (Airflow's task retry) loads v2 completely
    _load(target, versions["v2"], "killed-run", "2" * 64)
    assert _digests(target) == reference
    assert [r["manifest_sha256"] for r in Control(pg_url).loads_of(DOMAIN)] == logged + ["2" * 64]
    target.drop_schema()
    target.dispose()


def test_a_copy_failing_on_a_bad_row_rolls_back_and_a_retry_completes(
    pg_url, versions, reference, monkeypatch
):
    import psycopg2

    monkeypatch.setenv("IKOU_TARGET_DB_URL", pg_url)
    target = Target(pg_url, rehearsal_schema("bad-row-run"))
    _load(target, versions["v1"], "bad-row-run", "1" * 64)
    before = _digests(target)
    bad_dir = versions["tmp"] / "bad"
    bad_dir.mkdir(exist_ok=True)
    bad = {"atena": versions["v2"]["atena"], "jumin": bad_dir / "jumin.csv"}
    lines = versions["v2"]["jumin"].read_bytes().split(b"\r\n")
    fields = lines[2_000].split(b",")
    fields[5] = (
        b"2026-13-45"  # jumin_ymd: no such date, after 1,999 good rows (atena loaded already)
    )
    lines[2_000] = b",".join(fields)
    bad["jumin"].write_bytes(b"\r\n".join(lines))
    from ikou.load.control import Control

    logged = len(Control(pg_url).loads_of(DOMAIN))
    with pytest.raises(psycopg2.Error, match="date"):
        _load(target, bad, "bad-row-run", "b" * 64)
    assert _digests(target) == before  # atena's new rows went with the failed transaction
    assert target.sibling(STAGING_SCHEMA).tables() == []
    assert len(Control(pg_url).loads_of(DOMAIN)) == logged  # a failed load is not logged as loaded
    _load(target, versions["v2"], "bad-row-run", "2" * 64)
    assert _digests(target) == reference
    target.drop_schema()
    target.dispose()


# ------------------------------------------------------- a partitioned load killed in each phase


@pytest.fixture
def partitioned(pg_url, versions, monkeypatch):
    """v1 loaded into the run's schema, and a plan of v2 (the reference's rows) in 2 partitions."""
    from tests_support import load_partitions

    from ikou.load.staging import Staging

    monkeypatch.setenv("IKOU_TARGET_DB_URL", pg_url)
    tables = {
        t.name: synthetic_table(DOMAIN, t.name, 20_000, seed=2)
        for t in registry().get(DOMAIN).layout.tables
    }
    plan, csvs = load_partitions(versions["tmp"] / "parts", tables, 2, manifest_sha256="2" * 64)
    target = Target(pg_url, rehearsal_schema("part-run"))
    _load(target, versions["v1"], "part-run", "1" * 64)
    staging = Staging(target, DOMAIN, registry().get(DOMAIN).layout, "part-run")
    yield target, staging, plan, csvs
    staging.discard()
    target.drop_schema()
    target.dispose()


def _logged(pg_url) -> list[str]:
    return [
        r["manifest_sha256"]
        for r in Control(pg_url).loads_of(DOMAIN)
        if r["target_schema"] == rehearsal_schema("part-run")
    ]


def test_a_partition_killed_mid_copy_stages_nothing_and_its_retry_completes(
    pg_url, partitioned, reference
):
    from ikou.load.partitioned import swap_partitions
    from ikou.load.staging import StagingError

    target, staging, plan, csvs = partitioned
    before, logged = _digests(target), _logged(pg_url)
    assert staging.stage(0, csvs[0], plan[0].sha256) == plan[0].rows
    fifo = csvs[1]["jumin"].with_name("jumin.fifo")
    files = {"atena": str(csvs[1]["atena"]), "jumin": str(fifo)}
    args = [pg_url, target.schema, "1", json.dumps(files), json.dumps(plan[1].sha256)]

    def mid_copy() -> None:  # partition 2/2 is in its COPY, side by side with nothing committed
        deadline = time.monotonic() + 30
        while _copy_progress(target) < 0:
            assert time.monotonic() < deadline, "COPY did not start"
            time.sleep(0.05)

    kill_while_reading(
        STAGE_PARTITION_CHILD, args, fifo, csvs[1]["jumin"].read_bytes(), then=mid_copy
    )
    deadline = time.monotonic() + 30
    while _copy_progress(target) >= 0:  # the server notices the dead client and rolls back
        assert time.monotonic() < deadline, "the killed COPY is still running"
        time.sleep(0.1)
    # partition 1 is staged, the killed partition 2 not at all: the swap refuses, nothing moves
    with pytest.raises(StagingError, match=r"2/2 not staged"):
        swap_partitions(DOMAIN, plan, [], run_id="part-run", mode="rehearsal")
    assert _digests(target) == before and _logged(pg_url) == logged
    # the retry (and a retry of a partition that had finished) stages each row once
    assert staging.stage(1, csvs[1], plan[1].sha256) == plan[1].rows
    assert staging.stage(0, csvs[0], plan[0].sha256) == plan[0].rows
    res = swap_partitions(DOMAIN, plan, [], run_id="part-run", mode="rehearsal")
    assert res["rows"] == {"atena": 20_000, "jumin": 20_000}
    assert _digests(target) == reference  # the partitioned load equals the single-task load
    assert _logged(pg_url) == logged + ["2" * 64]
    assert not staging.exists()
    assert target.sibling(STAGING_SCHEMA).tables() == []


def test_a_swap_killed_before_commit_leaves_the_target_and_its_retry_completes(
    pg_url, partitioned, reference
):
    from sqlalchemy.exc import OperationalError

    from ikou.load.partitioned import swap_partitions

    target, staging, plan, csvs = partitioned
    before, logged = _digests(target), _logged(pg_url)
    for i in range(2):
        staging.stage(i, csvs[i], plan[i].sha256)
    fifo = csvs[0]["atena"].with_name("swap.fifo")
    seen = {}

    def read_target() -> str:
        with target.engine().connect() as conn:
            conn.exec_driver_sql("SET lock_timeout = '300ms'")
            try:
                conn.exec_driver_sql(f'SELECT count(*) FROM "{target.schema}"."juki__atena"')
                return "read"
            except OperationalError as exc:
                return "blocked" if "lock timeout" in str(exc) else str(exc)

    def mid_swap() -> None:  # swapped and logged, not committed: readers wait for the swap
        seen["mid"] = read_target()

    parts = json.dumps([p.model_dump() for p in plan])
    kill_while_reading(SWAP_PARTITIONS_CHILD, [parts, str(fifo)], fifo, b"x" * 4096, then=mid_swap)
    deadline = time.monotonic() + 30
    while read_target() != "read":  # the server rolls the dead client's transaction back
        assert time.monotonic() < deadline, "the killed swap still holds its locks"
    assert seen == {"mid": "blocked"}
    assert _digests(target) == before and _logged(pg_url) == logged
    assert staging.exists()  # the partitions' work is kept for the retry
    res = swap_partitions(DOMAIN, plan, [], run_id="part-run", mode="rehearsal")
    assert res["rows"] == {"atena": 20_000, "jumin": 20_000}
    assert _digests(target) == reference
    assert _logged(pg_url) == logged + ["2" * 64]
    assert target.sibling(STAGING_SCHEMA).tables() == []


# ----------------------------------------------------------------------------- S3 going away


class FlakyProxy:
    """A TCP proxy in front of the S3 endpoint that can be switched off: while down it accepts
    connections and closes them at once (and cuts the open ones), as a dying endpoint does."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.is_down = False
        self.refused = 0
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def down(self) -> None:
        with self.lock:
            self.is_down = True
            for s in list(self.open):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.open.clear()

    def up(self) -> None:
        self.is_down = False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.is_down:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.down()
        self.sock.close()


@pytest.fixture
def proxied(s3_endpoint, tmp_path, monkeypatch):
    """(proxy, a Store through the proxy with N client attempts, a Store straight to S3)."""
    import boto3
    from botocore.config import Config

    from ikou.storage import Store

    monkeypatch.setenv("IKOU_TARGET_DB_URL", f"sqlite:///{tmp_path / 'target.sqlite'}")
    proxy = FlakyProxy(int(s3_endpoint.rsplit(":", 1)[1]))

    def through(attempts: int) -> Store:
        # botocore's standard retry mode (what Ikou's client uses): jittered exponential backoff
        return Store(
            _client=boto3.client(
                "s3",
                endpoint_url=proxy.url,
                config=Config(
                    retries={"max_attempts": attempts, "mode": "standard"},
                    connect_timeout=2,
                    read_timeout=5,
                ),
            )
        )

    yield proxy, through, Store()
    proxy.close()


def _validated(store, run_id: str, tmp_path: Path) -> StageResult:
    import pyarrow.parquet as pq

    from ikou.storage import zone_uri

    files = {}
    for t in registry().get(DOMAIN).layout.tables:
        p = tmp_path / f"{t.name}.parquet"
        pq.write_table(synthetic_table(DOMAIN, t.name, 200, seed=8), p)
        files[p.name] = p
    prefix = zone_uri("validated", DOMAIN, run_id)
    publication.publish(store, prefix, files, {"zone": "validated"})
    return StageResult(
        domain=DOMAIN,
        stage="validate",
        run_id=run_id,
        uri=prefix,
        snapshot="2026-10-01",
        units={"atena": 200, "jumin": 200},
    )


def _uploads_then(monkeypatch, after: int, action) -> None:
    from ikou.storage import Store

    real = Store.put_file
    count = {"n": 0}

    def put_file(self, uri, path, content_type=None):
        if count["n"] == after:
            action()
        count["n"] += 1
        return real(self, uri, path, content_type)

    monkeypatch.setattr(Store, "put_file", put_file)


def _names(store, prefix: str) -> set[str]:
    return {u.rsplit("/", 1)[1] for u in store.list(prefix)}


def test_s3_blip_mid_stage_is_retried(proxied, tmp_path, monkeypatch):
    from ikou.load import load_domain
    from ikou.storage import MANIFEST, zone_uri

    proxy, through, direct = proxied
    flaky = through(8)  # 7 retries: their backoff adds up to well over the outage
    v = _validated(direct, "s3-blip", tmp_path)

    def blip():
        proxy.down()
        threading.Timer(0.5, proxy.up).start()

    _uploads_then(monkeypatch, 2, blip)
    res = load_domain(DOMAIN, v, run_id="s3-blip", mode="rehearsal", store=flaky)
    assert proxy.refused >= 1  # the client retried through the outage
    assert {"manifest.json", MANIFEST, "atena.csv", "jumin.csv"} <= _names(
        direct, zone_uri("handoff", DOMAIN, "s3-blip")
    )
    assert res["rows"] == {"atena": 200, "jumin": 200}


def test_s3_down_mid_stage_fails_clearly_without_a_partial_set(proxied, tmp_path, monkeypatch):
    from ikou.load import HandoffError, load_domain
    from ikou.load.control import Control
    from ikou.storage import MANIFEST, zone_uri

    proxy, through, direct = proxied
    flaky = through(3)
    v = _validated(direct, "s3-down", tmp_path)
    _uploads_then(monkeypatch, 2, proxy.down)
    with pytest.raises(HandoffError) as exc:
        load_domain(DOMAIN, v, run_id="s3-down", mode="rehearsal", store=flaky)
    msg = str(exc.value)
    assert "nothing was published" in msg and "AWS_ENDPOINT_URL" in msg
    assert proxy.refused >= 2  # it failed after the client's retries, not on the first refusal
    prefix = zone_uri("handoff", DOMAIN, "s3-down")
    names = _names(direct, prefix)
    assert (
        "manifest.json" not in names and MANIFEST not in names
    )  # no reader trusts the partial files
    assert Control().loads_of(DOMAIN) == []  # and nothing reached the target
    # S3 is back: the task's retry publishes the whole set and loads it
    proxy.up()
    monkeypatch.undo()
    monkeypatch.setenv("IKOU_TARGET_DB_URL", f"sqlite:///{tmp_path / 'target.sqlite'}")
    res = load_domain(DOMAIN, v, run_id="s3-down", mode="rehearsal", store=flaky)
    assert {"manifest.json", MANIFEST} <= _names(direct, prefix) and res["rows"]["atena"] == 200
