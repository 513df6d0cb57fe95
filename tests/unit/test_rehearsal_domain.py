"""The rehearsal stage on an SQLite target with stage results as the DAG passes them: the verdict and
its reasons, the rollback of the rehearsal schema (reports kept, a retried task finds its report),
the durable rehearsal log, the trend read from the reports zone, and a cutover's end (live, or
rolled back)."""

from __future__ import annotations

import json

import pytest

from ikou.domains import registry
from ikou.load import load_target, write_csv
from ikou.load.target import LIVE_SCHEMA, Target, schema_for
from ikou.pipeline import RunContext, StageResult, UnitAccounting
from ikou.stages import rehearse
from ikou.storage import Store, join, publication, zone_uri
from ikou_dev.bench.load import synthetic_table

DOMAIN = (
    "kenko_kanri"  # a migration-phase domain no other test rehearses (its reports zone is ours)
)
ROWS = 50


@pytest.fixture
def env(s3_endpoint, tmp_path, monkeypatch):
    from ikou.rehearsal.timing import write_calibration

    monkeypatch.setenv("IKOU_TARGET_DB_URL", f"sqlite:///{tmp_path / 'target.sqlite'}")
    # last night's fixed overhead per stage: at 50 records a linear scale would put a 12 s
    # rehearsal far beyond the window at the city's 460,000 records
    write_calibration(
        Store(),
        {
            s: {"overhead_seconds": 5.0}
            for s in (
                "extract",
                "gate_raw",
                "cleanse",
                "gate_cleansed",
                "validate",
                "gate_standard",
                "load",
                "gate_target",
                "reconciliation",
            )
        },
        "scheduled__calibration",
    )
    yield tmp_path
    Store().delete_prefix("s3://ikou-reports/reports/_calibration/")


def _stage_results(tmp_path, run_id: str, mode: str = "rehearsal", seed: int = 1) -> dict:
    """Publish validated tables, load them like the load stage, return the results dict."""
    import pyarrow.parquet as pq

    store = Store()
    lay = registry().get(DOMAIN).layout
    files, csvs = {}, {}
    work = tmp_path / run_id
    work.mkdir()
    for t in lay.tables:
        table = synthetic_table(DOMAIN, t.name, ROWS, seed=seed)
        pq.write_table(table, work / f"{t.name}.parquet")
        files[f"{t.name}.parquet"] = work / f"{t.name}.parquet"
        write_csv(table, work / f"{t.name}.csv")
        csvs[t.name] = work / f"{t.name}.csv"
    vprefix = zone_uri("validated", DOMAIN, run_id)
    publication.publish(store, vprefix, files, {"zone": "validated"})
    target = Target(f"sqlite:///{tmp_path / 'target.sqlite'}", schema_for(mode, run_id))
    load_target(
        target,
        DOMAIN,
        csvs,
        run_id=run_id,
        snapshot="2026-10-01",
        manifest_sha256="f" * 64,
        mode=mode,
        who="tester",
    )
    for g in ("gate_raw", "gate_cleansed", "gate_standard", "gate_target"):
        store.put_bytes(
            join(zone_uri("reports", DOMAIN, run_id), f"gates/{g}.json"),
            json.dumps(
                {
                    "verdict": "pass",
                    "passed": True,
                    "warnings": [],
                    "critical_failures": [],
                    "override": None,
                    "started_at": "2026-10-01T01:00:00+00:00",
                    "finished_at": "2026-10-01T01:00:02+00:00",
                }
            ).encode(),
        )
    d = registry().get(DOMAIN)

    def result(stage: str, accounting: list[dict], **kw) -> StageResult:
        return StageResult(
            domain=DOMAIN,
            stage=stage,
            run_id=run_id,
            snapshot="2026-10-01",
            mode=mode,
            accounting=[UnitAccounting(**a) for a in accounting],
            **kw,
        )

    acc_x = [
        {
            "unit": lf.name,
            "records_in": ROWS + 2,
            "records_out": ROWS,
            "header": 1,
            "trailer": 1,
            "quarantined": 0,
        }
        for lf in d.legacy_files
    ]
    return {
        "extract": result(
            "extract",
            acc_x,
            seconds=1.5,
            findings={"decode_error": 0},
            gaiji_codes=1,
            gaiji_unmapped=2,
        ),
        "cleanse": result(
            "cleanse",
            [
                {"unit": lf.name, "records_in": ROWS, "records_out": ROWS, "merged": 0}
                for lf in d.legacy_files
            ],
            seconds=1.0,
            findings={"notation_variant": 3},
        ),
        "validate": result(
            "validate",
            [{"unit": t.name, "records_in": ROWS, "records_out": ROWS} for t in lay.tables],
            uri=vprefix,
            seconds=0.8,
        ),
        "load": result(
            "load",
            [],
            uri=zone_uri("handoff", DOMAIN, run_id),
            target_schema=target.schema,
            manifest_sha256="f" * 64,
            seconds=0.5,
        ),
    }


def rehearse_domain(domain, res, *, run_id, mode, store, who=""):
    """The rehearsal stage as the DAG calls it, on these stage results."""
    ctx = RunContext.build(domain=domain, run_id=run_id, mode=mode, who=who)
    return rehearse.run(
        ctx, res["extract"], res["cleanse"], res["validate"], res.get("load"), store=store
    )


def test_go_then_rollback_with_reports_kept(env):
    from ikou.load.control import Control

    store = Store()
    res = _stage_results(env, "reh-1")
    schema = res["load"].target_schema
    out = rehearse_domain(DOMAIN, res, run_id="reh-1", mode="rehearsal", store=store)
    assert out.verdict == "GO", out.reasons
    assert (
        out.rollback["done"]
        and not Target(f"sqlite:///{env / 'target.sqlite'}", schema).schema_exists()
    )
    rep = json.loads(store.get_bytes(join(zone_uri("reports", DOMAIN, "reh-1"), "rehearsal.json")))
    assert rep["rollback"] == out.rollback and rep["reconciliation"][0]["rows_target"] == ROWS
    assert set(rep["timing"]["stage_seconds"]) == {
        "extract",
        "gate_raw",
        "cleanse",
        "gate_cleansed",
        "validate",
        "gate_standard",
        "load",
        "gate_target",
        "reconciliation",
    }
    assert (
        rep["timing"]["projection_methods"] == ["overhead"]
        and rep["timing"]["linear_hours"] > rep["timing"]["window_hours"]
    )
    html = store.get_bytes(join(zone_uri("reports", DOMAIN, "reh-1"), "rehearsal.html")).decode()
    assert "GO" in html and "<svg" in html
    logged = Control().rehearsals_of(DOMAIN, "2026-10-01")
    assert [(r["run_id"], r["verdict"]) for r in logged] == [("reh-1", "GO")]
    # the task retried after its rollback: the report stands (no NO-GO for a schema it dropped itself)
    again = rehearse_domain(DOMAIN, res, run_id="reh-1", mode="rehearsal", store=store)
    assert again.verdict == "GO" and again.reasons == out.reasons


def test_no_go_on_a_corrupted_target_lists_reasons_and_the_trend_grows(env):

    store = Store()
    rehearse_domain(
        DOMAIN, _stage_results(env, "reh-a"), run_id="reh-a", mode="rehearsal", store=store
    )
    res = _stage_results(env, "reh-b")
    t = Target(f"sqlite:///{env / 'target.sqlite'}", res["load"].target_schema)
    with t.engine().begin() as conn:
        conn.exec_driver_sql(
            "DELETE FROM kenko_kanri__kenko_kanri WHERE rowid IN "
            "(SELECT rowid FROM kenko_kanri__kenko_kanri LIMIT 2)"
        )
    t.dispose()
    out = rehearse_domain(DOMAIN, res, run_id="reh-b", mode="rehearsal", store=store)
    assert out.verdict == "NO-GO"
    assert any("reconciliation mismatches in kenko_kanri (2 missing" in r for r in out.reasons)
    assert any("accounting does not close" in r and "KENKO" in r for r in out.reasons)
    rep = json.loads(store.get_bytes(join(zone_uri("reports", DOMAIN, "reh-b"), "rehearsal.json")))
    assert [p["run_id"] for p in rep["trend"]][-2:] == ["reh-a", "reh-b"] and rep["trend"][-1][
        "mismatches"
    ] == 2
    assert rep["trend"][-1]["current"] and rep["trend"][-2]["verdict"] == "GO"
    table = next(x for x in rep["reconciliation"] if x["unit"] == "kenko_kanri")
    assert len(table["mismatches_by_kind"]["missing"]) == 2
    assert next(r for r in out.reconciliation if r["unit"] == "KENKO")["mismatches"] == 2


def test_history_reads_previous_reports_of_the_domain(env):
    from ikou.rehearsal import history

    store = Store()
    for i, run in enumerate(("h-1", "h-2", "h-3")):
        store.put_bytes(
            join(zone_uri("reports", "kei_jidoshazei", run), "rehearsal.json"),
            json.dumps(
                {"run_id": run, "generated_at": f"2026-10-0{i + 1}T01:00:00+00:00"}
            ).encode(),
        )
    store.put_bytes(
        join(zone_uri("reports", "kei_jidoshazei", "h-3"), "gates/gate_raw.json"), b"{}"
    )
    assert [r["run_id"] for r in history("kei_jidoshazei", store)] == ["h-1", "h-2", "h-3"]
    assert [r["run_id"] for r in history("kei_jidoshazei", store, exclude_run="h-3", limit=1)] == [
        "h-2"
    ]


def test_cutover_go_goes_live_and_no_go_rolls_back(env, monkeypatch):
    from ikou.load.control import Control

    store = Store()
    res = _stage_results(env, "cut-1", mode="cutover")
    assert res["load"].target_schema == LIVE_SCHEMA
    out = rehearse_domain(DOMAIN, res, run_id="cut-1", mode="cutover", store=store, who="tester")
    assert out.verdict == "GO" and out.cutover["status"] == "live"
    assert Control().live()[DOMAIN].manifest_sha256 == "f" * 64
    rep = json.loads(store.get_bytes(join(zone_uri("reports", DOMAIN, "cut-1"), "rehearsal.json")))
    assert rep["timing"]["projection_methods"] == ["measured"]  # a cutover is at real volume
    # a second domain whose cutover reconciliation fails: its live tables go again
    monkeypatch.setattr(
        "ikou.stages.rehearse.accounting_rows",
        lambda *a, **k: [
            {
                "unit": "KENKO",
                "legacy_records": ROWS + 1,
                "quarantined": 0,
                "merged": 0,
                "output_records": ROWS,
                "tables": ["kenko_kanri"],
                "balanced": False,
            }
        ],
    )
    with Control().target.engine().begin() as conn:  # pretend it is not live, to cut over again
        conn.exec_driver_sql("DELETE FROM ikou_cutover")
    res2 = _stage_results(env, "cut-2", mode="cutover")
    out2 = rehearse_domain(DOMAIN, res2, run_id="cut-2", mode="cutover", store=store, who="tester")
    assert out2.verdict == "NO-GO" and out2.cutover["status"] == "rolled_back"
    assert Target(f"sqlite:///{env / 'target.sqlite'}", LIVE_SCHEMA).tables() == sorted(
        ["ikou_cutover", "ikou_load_log", "ikou_rehearsal_log"]
    )  # the live tables were dropped
    assert Control().events(DOMAIN)[-1].status == "rolled_back" and DOMAIN not in Control().live()


def test_first_night_overhead_is_fitted_across_the_other_domains(env):
    """No calibration yet: the latest rehearsals of other domains (at other volumes) give a_s."""

    store = Store()
    store.delete_prefix("s3://ikou-reports/reports/_calibration/")
    stages = (
        "extract",
        "gate_raw",
        "cleanse",
        "gate_cleansed",
        "validate",
        "gate_standard",
        "load",
        "gate_target",
        "reconciliation",
    )
    for d, n in (("inkan", 400), ("senkyo", 1_500)):
        store.put_bytes(
            join(zone_uri("reports", d, f"peer-{d}"), "rehearsal.json"),
            json.dumps(
                {
                    "domain": d,
                    "mode": "rehearsal",
                    "run_id": f"peer-{d}",
                    "timing": {
                        "legacy_records": n,
                        "stage_seconds": {s: 2.0 + 0.001 * n for s in stages},
                    },
                }
            ).encode(),
        )
    out = rehearse_domain(
        DOMAIN, _stage_results(env, "reh-first"), run_id="reh-first", mode="rehearsal", store=store
    )
    rep = json.loads(
        store.get_bytes(join(zone_uri("reports", DOMAIN, "reh-first"), "rehearsal.json"))
    )
    t = rep["timing"]
    assert (
        t["projection_methods"] == ["overhead"]
        and "other domains' latest rehearsals" in t["calibration"]
    )
    assert t["projected_hours"] < t["linear_hours"]
    assert out.verdict in ("GO", "NO-GO")


def test_contention_on_a_shared_machine_does_not_make_a_no_go(env):
    """Every stage took 400× its CPU time (the machine was busy with other work): projected on
    CPU time the rehearsal fits the window and the report says CPU time was the basis; the same
    run with wall time only (no CPU figures) would have been NO-GO on time."""
    store = Store()
    res = _stage_results(env, "reh-busy")
    busy = {
        k: r.model_copy(update={"seconds": 400 * r.seconds, "cpu_seconds": r.seconds})
        for k, r in res.items()
    }
    out = rehearse_domain(DOMAIN, busy, run_id="reh-busy", mode="rehearsal", store=store)
    assert out.verdict == "GO", out.reasons
    rep = json.loads(
        store.get_bytes(join(zone_uri("reports", DOMAIN, "reh-busy"), "rehearsal.json"))
    )
    t = rep["timing"]
    assert t["projection_stages"]["cleanse"]["basis"] == "uncontended"
    assert t["stage_cpu_seconds"]["extract"] == 1.5 and t["wall_over_cpu"] > 10
    assert t["contention"] == 400 and "κ = 400" in t["projection"] and "reh-busy" in t["projection"]
    assert t["projection_points"][0]["run_id"] == "reh-busy"

    res = _stage_results(env, "reh-busy-wall")
    wall_only = {k: r.model_copy(update={"seconds": 400 * r.seconds}) for k, r in res.items()}
    out = rehearse_domain(DOMAIN, wall_only, run_id="reh-busy-wall", mode="rehearsal", store=store)
    assert out.verdict == "NO-GO" and any("exceeds" in r for r in out.reasons)


def test_a_stage_of_mapped_parts_costs_what_its_tasks_ran_not_its_wait_for_a_slot(env):
    """A cleanse whose parts waited 300 s for a free slot (other domains' tasks in a master run)
    but ran 2 s: the rehearsal's stage seconds (what the model fits and remembers) are the 2 s,
    the wait is reported apart; the same result in a cutover counts its whole span (a cutover's
    time is measured, not projected)."""
    store = Store()
    res = _stage_results(env, "reh-slot")
    res["cleanse"] = res["cleanse"].model_copy(
        update={"seconds": 302.0, "cpu_seconds": 1.5, "task_seconds": 2.0}
    )
    rehearse_domain(DOMAIN, res, run_id="reh-slot", mode="rehearsal", store=store)
    t = json.loads(
        store.get_bytes(join(zone_uri("reports", DOMAIN, "reh-slot"), "rehearsal.json"))
    )["timing"]
    assert t["stage_seconds"]["cleanse"] == 2.0
    assert t["stage_slot_wait_seconds"] == {"cleanse": 300.0}
    assert t["projection_stages"]["cleanse"]["measured_seconds"] == 2.0
    html = store.get_bytes(join(zone_uri("reports", DOMAIN, "reh-slot"), "rehearsal.html"))
    assert "cleanse 300.0 s" in html.decode()

    from ikou.rehearsal import run_timing

    cut = run_timing(DOMAIN, res, {}, None, 1000, [], store, mode="cutover")
    assert cut["stage_seconds"]["cleanse"] == 302.0 and cut["stage_slot_wait_seconds"] == {}


def test_an_uncalibrated_projection_from_a_tiny_run_decides_nothing(env, monkeypatch):
    """The first rehearsal anywhere (no calibration, no other domain, no earlier volume) of a
    tiny city: linear scaling multiplies the run's fixed per-task costs by the city's volume, an
    upper bound that says nothing about the window. The verdict does not rest on it (GO, saying
    why time was not assessed); the same run allowed to decide on it would be NO-GO."""
    import ikou.rehearsal as rehearsal

    store = Store()
    store.delete_prefix("s3://ikou-reports/reports/")  # nothing to calibrate from
    res = _stage_results(env, "reh-tiny")
    slow = {k: r.model_copy(update={"seconds": 400 * r.seconds}) for k, r in res.items()}
    out = rehearse_domain(DOMAIN, slow, run_id="reh-tiny", mode="rehearsal", store=store)
    assert out.verdict == "GO", out.reasons
    (why,) = [r for r in out.reasons if r.startswith("timing against the window not assessed")]
    assert "linear scaling would say" in why and "second volume" in why
    rep = json.loads(
        store.get_bytes(join(zone_uri("reports", DOMAIN, "reh-tiny"), "rehearsal.json"))
    )
    t = rep["timing"]
    assert t["projection_methods"] == ["linear"] and not t["within_window"]
    assert t["assessed"] is False and t["not_assessed_because"] in why
    html = store.get_bytes(join(zone_uri("reports", DOMAIN, "reh-tiny"), "rehearsal.html"))
    assert "not assessed" in html.decode()

    store.delete_prefix("s3://ikou-reports/reports/")
    monkeypatch.setattr(rehearsal, "MAX_UNCALIBRATED_SCALE", float("inf"))
    out = rehearse_domain(DOMAIN, slow, run_id="reh-tiny-2", mode="rehearsal", store=store)
    assert out.verdict == "NO-GO" and any("exceeds" in r for r in out.reasons)
