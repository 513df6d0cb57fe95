"""The diff stage (ikou.stages.diff, the DAG task ``diff``): from the base snapshot's
validated output (its latest pointer) and this run's, it publishes the run's full hand-off and
the delta set, reports counts and column names only; skipped on a full load; refuses a base that
is not earlier or not validated. The load stage after it loads the base in full into its own
schema, then applies the delta (SQLite here; PostgreSQL: tests/integration/test_delta_dag.py)."""

from __future__ import annotations

import json
import uuid

import pytest
from tests_support import DELTA_DOMAIN, publish_validated, snapshot_pair

from ikou.load.delta import DeltaError
from ikou.load.delta_apply import APPLIED, load_delta
from ikou.load.target import Target
from ikou.pipeline import RunContext
from ikou.stages import diff, load
from ikou.stages.common import StageError, StageNotApplicable
from ikou.storage import Store, join, zone_uri
from ikou.storage.publication import point_latest_validated


@pytest.fixture
def env(s3_endpoint, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
    store = Store()
    base, new = snapshot_pair(300)
    runs = {"base": f"base-{uuid.uuid4().hex[:8]}", "delta": f"delta-{uuid.uuid4().hex[:8]}"}
    vbase = publish_validated(store, runs["base"], base, tmp_path / "vb", "2026-10-01")
    point_latest_validated(store, DELTA_DOMAIN, "2026-10-01", vbase.uri, runs["base"])
    vnew = publish_validated(store, runs["delta"], new, tmp_path / "vn", "2026-11-01")
    return {
        "url": url, "store": store, "vbase": vbase, "vnew": vnew, "base": base, "new": new,
        "runs": runs, "folder": tmp_path,
    }  # fmt: skip


def test_the_diff_stage_publishes_a_delta_the_load_applies(env):
    store = env["store"]
    base_ctx = RunContext(domain=DELTA_DOMAIN, run_id=env["runs"]["base"], snapshot="2026-10-01")
    loaded = load.run(base_ctx, env["vbase"], store=store, atena_map={})
    assert loaded.records_in == loaded.records_out and all(a.balanced for a in loaded.accounting)
    ctx = RunContext(domain=DELTA_DOMAIN, run_id=env["runs"]["delta"], snapshot="2026-11-01")
    res = diff.run(ctx, env["vnew"], base_snapshot="20261001", store=store, atena_map={})
    assert res.stage == "diff" and res.records_in == res.records_out
    assert all(a.balanced for a in res.accounting)
    assert res.delta["base_sha256"] == loaded.manifest_sha256
    assert res.delta["base_snapshot"] == "2026-10-01"
    report = store.get_bytes(
        join(zone_uri("reports", DELTA_DOMAIN, env["runs"]["delta"]), "diff.json")
    )
    text = report.decode("utf-8")
    assert json.loads(text)["tables"][0]["ops"]["I"] == 10
    for value in env["new"]["atena"].column("shimei").to_pylist():
        if value:
            assert value not in text
    out = load_delta(
        Target(env["url"], loaded.target_schema),
        DELTA_DOMAIN,
        store,
        res.uri,
        run_id=env["runs"]["delta"],
        mode="rehearsal",
    )
    assert out["status"] == APPLIED


def test_skipped_on_a_full_load_and_refused_without_a_validated_earlier_base(env):
    store = env["store"]
    ctx = RunContext(domain=DELTA_DOMAIN, run_id=env["runs"]["delta"], snapshot="2026-11-01")
    with pytest.raises(StageNotApplicable, match="full load"):
        diff.run(ctx, env["vnew"], base_snapshot=None, store=store)
    with pytest.raises(StageError, match="not earlier"):
        diff.run(ctx, env["vnew"], base_snapshot="2026-11-01", store=store)
    # a base snapshot nothing in the session's S3 ever validated (other tests validate juki
    # snapshots of 2026 in the same bucket)
    with pytest.raises(StageError, match="gate_standard"):
        diff.run(ctx, env["vnew"], base_snapshot="2019-05-01", store=store)
    # a validated base whose full hand-off was never published (never loaded)
    with pytest.raises(DeltaError, match="full load of its base"):
        diff.run(ctx, env["vnew"], base_snapshot="2026-10-01", store=store, atena_map={})


def test_the_load_stage_after_a_diff_applies_the_delta(env):
    from ikou.load.control import Control
    from ikou.load.delta_apply import DeltaRefused

    store = env["store"]
    base_ctx = RunContext(domain=DELTA_DOMAIN, run_id=env["runs"]["base"], snapshot="2026-10-01")
    base = load.run(base_ctx, env["vbase"], store=store, atena_map={})
    ctx = RunContext.build(
        domain=DELTA_DOMAIN,
        run_id=env["runs"]["delta"],
        snapshot="2026-11-01",
        base_snapshot="2026-10-01",
    )
    diffed = diff.run(ctx, env["vnew"], store=store, atena_map={})  # base from the RunContext
    loaded = load.run(ctx, env["vnew"], diffed, store=store)
    assert loaded.delta["status"] == APPLIED and loaded.delta["kind"] == "delta"
    assert loaded.delta["base_sha256"] == base.manifest_sha256
    assert loaded.manifest_sha256 == diffed.delta["result_sha256"]
    assert loaded.records_out == sum(env["new"][t].num_rows for t in ("atena", "jumin"))
    assert all(a.balanced for a in loaded.accounting)
    logged = [
        r["manifest_sha256"]
        for r in Control(env["url"]).loads_of(DELTA_DOMAIN)
        if r["target_schema"] == loaded.target_schema
    ]
    assert logged == [base.manifest_sha256, loaded.manifest_sha256]
    # a delta cutover onto a live schema that was never loaded ahead (the run's guard refuses it
    # first): the delta's own transaction refuses it too, by the load log — nothing changed
    cut = ctx.model_copy(update={"mode": "cutover", "run_id": "cut-1"})
    with pytest.raises(DeltaRefused, match="schema ikou holds nothing") as exc:
        load.run(cut, env["vnew"], diffed, store=store)
    assert exc.value.exit_code == 1


def test_a_no_go_delta_cutover_returns_the_live_schema_to_the_load_ahead(env):
    """load_ahead loads the base into the live schema; the delta cutover applies the delta there
    (no base load); its NO-GO loads the base again, so the live load log shows what
    loaded_ahead recorded and a later delta cutover may start from it. Nothing goes live."""
    from ikou.domains import registry
    from ikou.load.control import Control
    from ikou.load.cutover import ahead_reasons
    from ikou.load.target import LIVE_SCHEMA
    from ikou.rehearsal.reconcile import table_digest
    from ikou.stages.rehearse import finish_cutover

    store, url = env["store"], env["url"]
    control = Control(url)
    ahead_ctx = RunContext(
        domain=DELTA_DOMAIN, run_id=env["runs"]["base"], mode="load_ahead", snapshot="2026-10-01"
    )
    ahead = load.run(ahead_ctx, env["vbase"], store=store, atena_map={})
    assert ahead.target_schema == LIVE_SCHEMA
    control.record(
        "loaded_ahead", domain=DELTA_DOMAIN, snapshot="2026-10-01", run_id=ahead_ctx.run_id,
        manifest_sha256=ahead.manifest_sha256, source="load_ahead",
    )  # fmt: skip
    live = Target(url, LIVE_SCHEMA)
    tables = registry().get(DELTA_DOMAIN).layout.tables
    at_base = {t.name: table_digest(live, DELTA_DOMAIN, t) for t in tables}
    ctx = RunContext.build(
        domain=DELTA_DOMAIN, run_id=env["runs"]["delta"], mode="cutover", snapshot="2026-11-01",
        base_snapshot="2026-10-01", who="tester",
    )  # fmt: skip
    diffed = diff.run(ctx, env["vnew"], store=store, atena_map={})
    cut = load.run(ctx, env["vnew"], diffed, store=store)
    assert cut.target_schema == LIVE_SCHEMA and cut.delta["status"] == APPLIED
    assert cut.delta["base_load_seconds"] < 1  # no base load: the live schema held it
    assert control.live_load(DELTA_DOMAIN)["manifest_sha256"] == diffed.delta["result_sha256"]
    assert [e.status for e in control.events(DELTA_DOMAIN) if e.run_id == ctx.run_id] == ["loaded"]
    assert {t.name: table_digest(live, DELTA_DOMAIN, t) for t in tables} != at_base
    report = {"verdict": "NO-GO", "reasons": ["a mismatch"], "snapshot": "2026-11-01",
              "run_id": ctx.run_id}  # fmt: skip
    out = finish_cutover(DELTA_DOMAIN, report, live, control, cut, "tester", store)
    assert out["status"] == "rolled_back" and "stays loaded_ahead" in out["detail"]
    assert {t.name: table_digest(live, DELTA_DOMAIN, t) for t in tables} == at_base
    assert control.live_load(DELTA_DOMAIN)["manifest_sha256"] == ahead.manifest_sha256
    assert ahead_reasons(DELTA_DOMAIN, "2026-10-01", control) == []  # may cut over again
    assert DELTA_DOMAIN not in control.live()
    assert control.loaded_ahead(DELTA_DOMAIN).run_id == ahead_ctx.run_id
    live.dispose()


def test_a_delta_cutover_diffs_against_the_base_loaded_ahead_never_a_later_run_of_it(env):
    """The base snapshot run again after its load ahead (its latest validated output and hand-off
    are another run's): with other rows the diff refuses (the guard's rule, checked again: a run
    of the base between the guard and the diff); with the same rows it diffs against the load
    ahead's output, whose hand-off the live schema's load log holds, and the delta applies."""
    from ikou.load.control import Control
    from ikou.load.cutover import CutoverRefused
    from ikou.load.target import LIVE_SCHEMA
    from ikou.stages.cleanse import base_pointer

    store, url, runs = env["store"], env["url"], env["runs"]
    control = Control(url)
    ahead_ctx = RunContext(
        domain=DELTA_DOMAIN, run_id=runs["base"], mode="load_ahead", snapshot="2026-10-01"
    )
    ahead = load.run(ahead_ctx, env["vbase"], store=store, atena_map={})
    control.record(
        "loaded_ahead", domain=DELTA_DOMAIN, snapshot="2026-10-01", run_id=ahead_ctx.run_id,
        manifest_sha256=ahead.manifest_sha256, source="load_ahead",
    )  # fmt: skip
    ctx = RunContext.build(
        domain=DELTA_DOMAIN, run_id=runs["delta"], mode="cutover", snapshot="2026-11-01",
        base_snapshot="2026-10-01", who="tester",
    )  # fmt: skip

    def rerun_base(tables: dict, name: str) -> str:
        """A rehearsal of the base snapshot after the load ahead: validated, loaded, latest."""
        run = f"{name}-{uuid.uuid4().hex[:8]}"
        v = publish_validated(store, run, tables, env["folder"] / run, "2026-10-01")
        again = RunContext(domain=DELTA_DOMAIN, run_id=run, snapshot="2026-10-01")
        loaded = load.run(again, v, store=store, atena_map={})
        point_latest_validated(store, DELTA_DOMAIN, "2026-10-01", v.uri, run)
        return loaded.manifest_sha256

    other = rerun_base(env["new"], "rule")  # a cleansing rule changed: other rows
    with pytest.raises(CutoverRefused, match="was published again after its load ahead") as exc:
        diff.run(ctx, env["vnew"], store=store, atena_map={})
    assert exc.value.exit_code == 1 and other[:12] in str(exc.value)
    same = rerun_base(env["base"], "timing")  # rehearsed for timing: the same rows
    assert same != ahead.manifest_sha256  # another run's manifest, the same data
    # 名寄せ's carry-over (the cleanse stage) takes the same base as the diff: the load ahead
    assert base_pointer(ctx, "2026-10-01", store)["run_id"] == runs["base"]
    rehearsal = RunContext.build(
        domain=DELTA_DOMAIN, run_id=f"r-{uuid.uuid4().hex[:8]}", mode="rehearsal",
        snapshot="2026-11-01", base_snapshot="2026-10-01",
    )  # fmt: skip
    assert base_pointer(rehearsal, "2026-10-01", store)["run_id"] != runs["base"]  # the latest
    diffed = diff.run(ctx, env["vnew"], store=store, atena_map={})
    assert diffed.delta["base_handoff"] == zone_uri("handoff", DELTA_DOMAIN, runs["base"])
    assert diffed.delta["base_sha256"] == ahead.manifest_sha256
    cut = load.run(ctx, env["vnew"], diffed, store=store)
    assert cut.target_schema == LIVE_SCHEMA and cut.delta["status"] == APPLIED
    assert control.live_load(DELTA_DOMAIN)["manifest_sha256"] == diffed.delta["result_sha256"]
