"""The target load and reconciliation against the machine's PostgreSQL: staging + swap in one
transaction, loading twice gives identical tables, the database-side aggregates, the cutover
load's in-transaction guard and state."""

from __future__ import annotations

import pytest

from ikou.domains import registry
from ikou.load import load_target, write_csv
from ikou.load.target import LIVE_SCHEMA, STAGING_SCHEMA, Target, rehearsal_schema
from ikou.rehearsal.reconcile import reconcile_table, table_digest
from ikou.rehearsal.reconcile_values import key_hash
from ikou_dev.bench.load import synthetic_table

pytestmark = [pytest.mark.integration]

DOMAIN = "juki"
SECRET = b"pg-secret"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pgload")
    tables, csvs = {}, {}
    for t in registry().get(DOMAIN).layout.tables:
        tables[t.name] = synthetic_table(DOMAIN, t.name, 2_000, seed=4)
        p = tmp / f"{t.name}.csv"
        write_csv(tables[t.name], p)
        csvs[t.name] = p
    return tables, csvs


@pytest.fixture
def pg(pg_url, monkeypatch):
    monkeypatch.setenv("IKOU_TARGET_DB_URL", pg_url)
    return pg_url


def _digests(target: Target) -> dict[str, str]:
    return {t.name: table_digest(target, DOMAIN, t) for t in registry().get(DOMAIN).layout.tables}


def test_loading_twice_gives_identical_tables(pg, data):
    _, csvs = data
    target = Target(pg, rehearsal_schema("pg-twice"))
    r1 = load_target(
        target,
        DOMAIN,
        csvs,
        run_id="pg-twice",
        snapshot="2026-10-01",
        manifest_sha256="1" * 64,
        mode="rehearsal",
    )
    d1 = _digests(target)
    r2 = load_target(
        target,
        DOMAIN,
        csvs,
        run_id="pg-twice",
        snapshot="2026-10-01",
        manifest_sha256="1" * 64,
        mode="rehearsal",
    )
    assert r1 == r2 == {"atena": 2_000, "jumin": 2_000}
    assert _digests(target) == d1
    assert sorted(target.tables()) == ["juki__atena", "juki__jumin"]
    assert target.sibling(STAGING_SCHEMA).tables() == []  # staging is empty between loads
    with target.engine().connect() as conn:
        pk = conn.exec_driver_sql(
            "SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = %s "
            "AND constraint_type = 'PRIMARY KEY'",
            (target.schema,),
        ).scalar()
        comment = conn.exec_driver_sql(
            f'SELECT obj_description(\'"{target.schema}"."juki__atena"\'::regclass)'
        ).scalar()
    assert pk == 2 and comment == "宛名"
    target.drop_schema()
    target.dispose()


def test_the_swap_is_one_transaction(pg, data):
    """Before COMMIT another session sees no staging table and cannot read a half-swapped target
    (it waits for the swap's lock); after COMMIT it sees every new table at once."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    _, csvs = data
    target = Target(pg, rehearsal_schema("pg-atomic"))
    load_target(
        target,
        DOMAIN,
        csvs,
        run_id="pg-atomic",
        snapshot="2026-10-01",
        manifest_sha256="1" * 64,
        mode="rehearsal",
    )
    small = {}
    for name, path in csvs.items():
        lines = path.read_bytes().split(b"\r\n")
        p = path.with_name(f"small_{name}.csv")
        p.write_bytes(b"\r\n".join(lines[:11]) + b"\r\n")
        small[name] = p
    seen = {}
    other = create_engine(pg)

    def after(cur, dialect, rows):
        with other.connect() as conn:
            seen["staging"] = conn.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ikou_staging'"
            ).scalar()
            conn.exec_driver_sql("SET lock_timeout = '300ms'")
            try:
                conn.exec_driver_sql(
                    f'SELECT count(*) FROM "{target.schema}"."juki__atena"'
                ).scalar()
                seen["read"] = "read"
            except OperationalError as exc:
                seen["read"] = "blocked" if "lock timeout" in str(exc) else str(exc)

    target._load_postgresql(DOMAIN, registry().get(DOMAIN).layout, small, None, after)
    with other.connect() as conn:
        seen["after"] = [
            conn.exec_driver_sql(f'SELECT count(*) FROM "{target.schema}"."juki__{t}"').scalar()
            for t in ("atena", "jumin")
        ]
    other.dispose()
    assert seen == {"staging": 0, "read": "blocked", "after": [10, 10]}
    target.drop_schema()
    target.dispose()


def test_reconcile_on_postgresql_finds_corruption_by_keyed_hash(pg, data):
    tables, csvs = data
    target = Target(pg, rehearsal_schema("pg-recon"))
    load_target(
        target,
        DOMAIN,
        csvs,
        run_id="pg-recon",
        snapshot="2026-10-01",
        manifest_sha256="1" * 64,
        mode="rehearsal",
    )
    lay = registry().get(DOMAIN).layout
    atena = lay.table("atena")
    clean = reconcile_table(DOMAIN, atena, tables["atena"], target, SECRET)
    assert clean["mismatches"] == 0 and clean["aggregates_match"], clean["aggregate_mismatches"]
    keys = tables["atena"].column("atena_no").to_pylist()
    t = f'"{target.schema}"."juki__atena"'
    with target.engine().begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE {t} SET seinengappi = seinengappi + 1 WHERE atena_no = %s", (keys[5],)
        )
        conn.exec_driver_sql(f"DELETE FROM {t} WHERE atena_no = %s", (keys[6],))
        conn.exec_driver_sql(f"INSERT INTO {t} (atena_no) VALUES ('9999999999')")
    r = reconcile_table(DOMAIN, atena, tables["atena"], target, SECRET)
    assert r["mismatches_by_kind"] == {
        "changed": [key_hash(DOMAIN, "atena", [keys[5]], SECRET)],
        "missing": [key_hash(DOMAIN, "atena", [keys[6]], SECRET)],
        "extra": [key_hash(DOMAIN, "atena", ["9999999999"], SECRET)],
    }
    assert r["mismatches"] == 3 and r["counts_match"]
    assert "atena_no" in r["aggregate_mismatches"]  # the extra key moves max(atena_no)
    target.drop_schema()
    target.dispose()


def test_cutover_load_refuses_a_live_domain_inside_its_transaction(pg, data):
    from ikou.load.control import Control
    from ikou.load.control_tables import AlreadyLive

    _, csvs = data
    control = Control(pg).ensure()
    live = Target(pg, LIVE_SCHEMA)
    rows = load_target(
        live,
        DOMAIN,
        csvs,
        run_id="cut-1",
        snapshot="2026-10-01",
        manifest_sha256="c" * 64,
        mode="cutover",
        who="tester",
    )
    ev = control.events(DOMAIN)[-1]
    assert rows["atena"] == 2_000 and (ev.status, ev.run_id, ev.manifest_sha256, ev.who) == (
        "loaded",
        "cut-1",
        "c" * 64,
        "tester",
    )
    before = _digests(live)
    control.record(
        "live",
        domain=DOMAIN,
        snapshot="2026-10-01",
        run_id="cut-1",
        who="tester",
        manifest_sha256="c" * 64,
    )
    small = {k: v for k, v in csvs.items()}
    with pytest.raises(AlreadyLive, match="already live"):
        load_target(
            live,
            DOMAIN,
            small,
            run_id="cut-2",
            snapshot="2026-10-02",
            manifest_sha256="d" * 64,
            mode="cutover",
        )
    assert _digests(live) == before  # the live tables were not touched
    assert [e.status for e in control.events(DOMAIN)] == ["loaded", "live"]
    live.drop_domain(DOMAIN, registry().get(DOMAIN).layout)
    with control.target.engine().begin() as conn:
        conn.exec_driver_sql('DELETE FROM "ikou"."ikou_cutover"')
    live.dispose()


def test_a_partitioned_load_stages_side_by_side_and_equals_the_single_task_load(
    pg, data, s3_endpoint, tmp_path, monkeypatch
):
    """The stage's three steps as the DAG runs them (load_plan, the mapped load_parts, load): the
    hand-off set published once, three partitions staged into the run's UNLOGGED staging
    tables, one swap; the target equals a single-task load of the same rows."""
    from tests_support import publish_validated

    from ikou.pipeline import RunContext
    from ikou.stages import load
    from ikou.storage import MANIFEST, Store, zone_uri

    monkeypatch.setenv("IKOU_LOAD_PARTITIONS", "3")
    tables, csvs = data
    store = Store()
    v = publish_validated(store, "pg-parts", tables, tmp_path / "validated", "2026-10-01")
    ctx = RunContext(domain=DOMAIN, run_id="pg-parts")
    # a run that died between its partitions and its swap left its staging: the next plan drops it
    from ikou.load.staging import Staging

    dead = Staging(
        Target(pg, rehearsal_schema("pg-dead")), DOMAIN, registry().get(DOMAIN).layout, "pg-dead"
    )
    dead.stage(0, csvs, {"atena": "a", "jumin": "j"})
    assert dead.exists()
    plan = load.plan(ctx, v, store=store)
    assert not dead.exists()
    dead.target.dispose()
    assert [p.index for p in plan] == [0, 1, 2] and {p.parts for p in plan} == {3}
    for t in ("atena", "jumin"):
        assert sum(p.rows[t] for p in plan) == plan[0].total_rows[t] == 2_000
    prefix = zone_uri("handoff", DOMAIN, "pg-parts")
    names = {u[len(prefix) :] for u in store.list(prefix)}
    assert {"manifest.json", MANIFEST, "atena.csv", "_parts/atena.p00002.csv"} <= names
    staged = [load.part(ctx, p, store=store) for p in plan]
    target = Target(pg, rehearsal_schema("pg-parts"))
    with target.engine().connect() as conn:  # the run's staging: unlogged, one table per table
        kinds = dict(
            conn.exec_driver_sql(
                "SELECT relname, relpersistence FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE nspname = %s AND relkind = 'r'",
                (STAGING_SCHEMA,),
            ).fetchall()
        )
    assert {k.split("__r")[0] for k in kinds} == {"juki__atena", "juki__jumin", "juki__parts"}
    assert set(kinds.values()) == {"u"}
    # XCom hands the stage plain dicts
    res = load.run(ctx, v, store=store, plan=[p.model_dump() for p in plan], parts=staged)
    assert res.records_in == res.records_out == 4_000 and res.balanced
    assert res.parts == {"atena": 3, "jumin": 3} and res.target_schema == target.schema
    # the stage's cost (the timing model's input) counts the plan and every partition's task
    assert res.cpu_seconds >= plan[0].plan_cpu_seconds + sum(r.cpu_seconds for r in staged)
    # and what its tasks ran (the plan, every partition, the swap: what the model fits), within
    # the span from the plan's start
    assert plan[0].plan_seconds > 0
    assert plan[0].plan_seconds + sum(r.seconds for r in staged) < res.task_seconds <= res.seconds
    assert target.sibling(STAGING_SCHEMA).tables() == []
    with target.engine().connect() as conn:  # the loaded tables are logged (crash-safe) again
        assert (
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE nspname = %s AND relkind = 'r' AND relpersistence = 'p'",
                (target.schema,),
            ).scalar()
            == 2
        )
    partitioned = _digests(target)
    # (a rehearsal load sweeps the domain's other rehearsal schemas: one at a time)
    single = Target(pg, rehearsal_schema("pg-single"))
    load_target(single, DOMAIN, csvs, run_id="pg-single", snapshot="2026-10-01",
                manifest_sha256="1" * 64, mode="rehearsal")  # fmt: skip
    assert partitioned == _digests(single)
    for t in (target, single):
        t.drop_schema()
        t.dispose()
