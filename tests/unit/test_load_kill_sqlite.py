"""The SQLite default target killed mid-load (SIGKILL, like the PostgreSQL test in
tests/integration/test_faults.py): the load spans two tables and neither is committed, the
load log has no row for it, and the retry completes — and its load-log row is written in the
load's own transaction (inside the rehearsal schema's file)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests_support import STAGE_PARTITION_CHILD, SWAP_PARTITIONS_CHILD, kill_while_reading

from ikou.domains import registry
from ikou.load import load_target, write_csv
from ikou.load.control import Control
from ikou.load.target import LOAD_LOG, Target, rehearsal_schema
from ikou_dev.bench.load import synthetic_table

DOMAIN = "juki"
ROWS = 2_000

CHILD = """
import json, sys
from ikou.load import load_target
from ikou.load.target import Target
url, schema, csvs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
load_target(Target(url, schema), "juki", csvs, run_id="killed-run", snapshot="2026-10-01",
            manifest_sha256="k" * 64, mode="rehearsal")
"""


def _version(folder: Path, seed: int, rows: int) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for t in registry().get(DOMAIN).layout.tables:
        p = folder / f"{t.name}.csv"
        write_csv(synthetic_table(DOMAIN, t.name, rows, seed=seed), p)
        out[t.name] = p
    return out


def _state(path: Path) -> dict:
    with sqlite3.connect(path) as conn:
        return {
            t: conn.execute(
                f'SELECT count(*), sum(length(quote("atena_no"))) FROM "{t}"'
            ).fetchone()
            for t in ("juki__atena", "juki__jumin")
        }


def _file_log(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f'SELECT run_id, manifest_sha256, "rows" FROM "{LOAD_LOG}"').fetchall()


def test_sqlite_load_killed_mid_second_table_commits_neither(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    v1 = _version(tmp_path / "v1", 1, ROWS)
    v2 = _version(tmp_path / "v2", 2, ROWS * 10)
    schema = rehearsal_schema("killed-run")
    target = Target(url, schema)
    load_target(
        target,
        DOMAIN,
        v1,
        run_id="killed-run",
        snapshot="2026-10-01",
        manifest_sha256="1" * 64,
        mode="rehearsal",
    )
    path = target.sqlite_path
    before = _state(path)
    assert _file_log(path) == [("killed-run", "1" * 64, 2 * ROWS)]
    # the second table (jumin) arrives through a pipe: atena is staged whole first, then the
    # load reads jumin as the test writes it
    fifo = tmp_path / "jumin.fifo"
    csvs = {"atena": str(v2["atena"]), "jumin": str(fifo)}
    # the loader is inside the second table's inserts when killed, the first one staged,
    # nothing committed
    kill_while_reading(CHILD, [url, schema, json.dumps(csvs)], fifo, v2["jumin"].read_bytes())
    # neither table changed, no staging table is left, the load log has no row for the kill
    assert _state(path) == before
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not any(n.startswith("staging__") for n in names)
    assert _file_log(path) == [("killed-run", "1" * 64, 2 * ROWS)]
    assert [r["manifest_sha256"] for r in Control(url).loads_of(DOMAIN)] == ["1" * 64]
    # the retry loads v2 completely and logs it once
    rows = load_target(
        target,
        DOMAIN,
        v2,
        run_id="killed-run",
        snapshot="2026-10-01",
        manifest_sha256="2" * 64,
        mode="rehearsal",
    )
    assert rows == {"atena": 10 * ROWS, "jumin": 10 * ROWS}
    assert _state(path)["juki__jumin"][0] == 10 * ROWS
    assert _file_log(path)[-1] == ("killed-run", "2" * 64, 20 * ROWS)
    assert [r["manifest_sha256"] for r in Control(url).loads_of(DOMAIN)] == ["1" * 64, "2" * 64]
    target.dispose()


def test_a_load_logged_only_in_its_schema_file_is_still_listed(tmp_path, monkeypatch):
    """A crash after the load committed but before the row reached the control file."""
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    v1 = _version(tmp_path / "v1", 1, 50)
    control = Control(url).ensure()
    monkeypatch.setattr(Control, "copy_load_row", lambda self, row: None)  # the crash
    target = Target(url, rehearsal_schema("crash-run"))
    load_target(
        target,
        DOMAIN,
        v1,
        run_id="crash-run",
        snapshot="20261001",
        manifest_sha256="3" * 64,
        mode="rehearsal",
    )
    (log,) = control.loads_of(DOMAIN)
    assert (log["run_id"], log["snapshot"], log["rows"]) == ("crash-run", "2026-10-01", 100)
    target.dispose()


# -- a partitioned load: partitions staged into their own files, merged by one swap -------------


PARTS = 3


def _partitioned(tmp_path, monkeypatch):
    from tests_support import load_partitions

    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    tables = {
        t.name: synthetic_table(DOMAIN, t.name, ROWS * 3, seed=2)
        for t in registry().get(DOMAIN).layout.tables
    }
    plan, csvs = load_partitions(tmp_path / "parts", tables, PARTS, manifest_sha256="2" * 64)
    target = Target(url, rehearsal_schema("part-run"))
    load_target(
        target,
        DOMAIN,
        _version(tmp_path / "v1", 1, ROWS),
        run_id="part-run",
        snapshot="2026-10-01",
        manifest_sha256="1" * 64,
        mode="rehearsal",
    )
    return url, target, plan, csvs


def _stage(target, plan, csvs, index: int) -> dict:
    from ikou.load.staging import Staging

    staging = Staging(target, DOMAIN, registry().get(DOMAIN).layout, "part-run")
    return staging.stage(index, csvs[index], plan[index].sha256)


def test_sqlite_partition_killed_mid_stage_leaves_no_file_and_its_retry_completes(
    tmp_path, monkeypatch
):
    import pytest

    from ikou.load.partitioned import swap_partitions
    from ikou.load.staging import Staging, StagingError

    url, target, plan, csvs = _partitioned(tmp_path, monkeypatch)
    before = _state(target.sqlite_path)
    staging = Staging(target, DOMAIN, registry().get(DOMAIN).layout, "part-run")
    for i in (0, 2):
        assert _stage(target, plan, csvs, i) == plan[i].rows
    # partition 2/3 reads its jumin rows through a pipe and is killed inside its inserts
    fifo = tmp_path / "jumin.fifo"
    files = {**{t: str(p) for t, p in csvs[1].items()}, "jumin": str(fifo)}
    args = [url, target.schema, "1", json.dumps(files), json.dumps(plan[1].sha256)]
    kill_while_reading(STAGE_PARTITION_CHILD, args, fifo, csvs[1]["jumin"].read_bytes())
    assert not staging.part_file(1).exists()  # the killed partition left no file to merge
    with pytest.raises(StagingError, match=r"2/3 not staged"):
        swap_partitions(DOMAIN, plan, [], run_id="part-run", mode="rehearsal")
    assert _state(target.sqlite_path) == before
    # the retry stages it; a partition staged twice (a retry after it finished) is not doubled
    assert _stage(target, plan, csvs, 1) == plan[1].rows
    assert _stage(target, plan, csvs, 1) == plan[1].rows
    res = swap_partitions(DOMAIN, plan, [], run_id="part-run", mode="rehearsal")
    assert res["rows"] == {"atena": 3 * ROWS, "jumin": 3 * ROWS} and res["partitions"] == PARTS
    assert _state(target.sqlite_path)["juki__jumin"][0] == 3 * ROWS
    assert staging.part_files() == []  # merged and deleted
    assert [r["manifest_sha256"] for r in Control(url).loads_of(DOMAIN)] == ["1" * 64, "2" * 64]
    # a swap retried after it committed finds its load in the log and loads nothing again
    again = swap_partitions(DOMAIN, plan, [], run_id="part-run", mode="rehearsal")
    assert again["rows"] == res["rows"]
    assert len(Control(url).loads_of(DOMAIN)) == 2
    target.dispose()


def test_sqlite_swap_killed_before_commit_leaves_the_target_and_its_retry_completes(
    tmp_path, monkeypatch
):
    from ikou.load.partitioned import swap_partitions
    from ikou.load.staging import Staging

    url, target, plan, csvs = _partitioned(tmp_path, monkeypatch)
    path = target.sqlite_path
    before = _state(path)
    for i in range(PARTS):
        _stage(target, plan, csvs, i)
    fifo = tmp_path / "swap.fifo"

    def mid_swap() -> None:  # the swap has merged and logged, uncommitted: readers see before
        assert _state(path) == before

    parts = json.dumps([p.model_dump() for p in plan])
    kill_while_reading(SWAP_PARTITIONS_CHILD, [parts, str(fifo)], fifo, b"x" * 4096, then=mid_swap)
    assert _state(path) == before  # the killed swap committed nothing
    assert _file_log(path) == [("part-run", "1" * 64, 2 * ROWS)]
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not any(n.startswith("staging__") for n in names)
    staging = Staging(target, DOMAIN, registry().get(DOMAIN).layout, "part-run")
    assert len(staging.part_files()) == PARTS  # the partitions' work is kept for the retry
    res = swap_partitions(DOMAIN, plan, [], run_id="part-run", mode="rehearsal")
    assert res["rows"] == {"atena": 3 * ROWS, "jumin": 3 * ROWS}
    assert _file_log(path)[-1] == ("part-run", "2" * 64, 6 * ROWS)
    target.dispose()


def test_a_partitioned_cutover_swaps_into_the_live_schema_and_refuses_a_live_domain(
    tmp_path, monkeypatch
):
    """The swap's transaction holds the cutover's guard and its ``loaded`` event too."""
    import pytest

    from ikou.load.control_tables import AlreadyLive
    from ikou.load.partitioned import swap_partitions
    from ikou.load.staging import Staging
    from ikou.load.target import LIVE_SCHEMA

    url, _, plan, csvs = _partitioned(tmp_path, monkeypatch)
    live = Target(url, LIVE_SCHEMA)
    staging = Staging(live, DOMAIN, registry().get(DOMAIN).layout, "part-run")
    for i in range(PARTS):
        staging.stage(i, csvs[i], plan[i].sha256)
    res = swap_partitions(DOMAIN, plan, [], run_id="part-run", mode="cutover", who="tester")
    assert res["schema"] == LIVE_SCHEMA and res["rows"]["atena"] == 3 * ROWS
    control = Control(url)
    ev = control.events(DOMAIN)[-1]
    assert (ev.status, ev.run_id, ev.manifest_sha256, ev.who) == (
        "loaded",
        "part-run",
        "2" * 64,
        "tester",
    )
    control.record("live", domain=DOMAIN, snapshot="2026-10-01", run_id="part-run", who="tester")
    before = _state(live.sqlite_path)
    for i in range(PARTS):
        staging.stage(i, csvs[i], plan[i].sha256)
    with pytest.raises(AlreadyLive, match="already live"):
        swap_partitions(DOMAIN, plan, [], run_id="part-run", mode="cutover")
    assert _state(live.sqlite_path) == before  # refused inside the swap: nothing changed
    assert [e.status for e in control.events(DOMAIN)] == ["loaded", "live"]
    live.dispose()
