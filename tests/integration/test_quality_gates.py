"""Gate semantics on a small synthetic city: the stages of 住民基本台帳 (and a tax domain referring
to its 宛名 master) run for real against the local S3 endpoint and PostgreSQL, then each gate is
exercised — pass, critical failure with a readable summary, warnings, mostly, override (recorded),
cutover refusing the override, critical-in-cutover rules, decode-error budget, trailer totals,
the reconciliation's time window, gate_target inside PostgreSQL, and the Data Docs build (lock,
incremental pages, banner with the override, Ikou's index).
"""

from __future__ import annotations

import json
import os
import threading

import pytest

from ikou.pipeline import RunContext, StageResult
from ikou.stages import cleanse, extract, gate, load, rehearse, validate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SNAPSHOT = "2026-08-01"
RESIDENTS = 150
SEED = 23


@pytest.fixture(scope="module")
def run(s3_endpoint, pg_url):
    """extract → cleanse → validate → load of juki, extract → validate of kojin_juminzei (no gates run yet)."""
    from ikou_dev.synth import synthesize

    synthesize(
        RESIDENTS, SEED, SNAPSHOT, "s3://ikou-restricted/landing", rates={"unmapped_gaiji": 0.05}
    )
    os.environ["IKOU_TARGET_DB_URL"] = pg_url
    try:
        out = {}
        rid = "quality_juki"
        ctx = _ctx("juki", rid)
        e = extract.run(ctx)
        c = cleanse.run(ctx, e)
        v = validate.run(ctx, c)
        out["juki"] = {"run_id": rid, "extract": e, "cleanse": c, "validate": v}
        yield out
    finally:
        os.environ.pop("IKOU_TARGET_DB_URL", None)


def _report(domain: str, run_id: str, gate: str) -> dict:
    from ikou.storage import Store, join, zone_uri

    return json.loads(
        Store().get_bytes(join(zone_uri("reports", domain, run_id), f"gates/{gate}.json"))
    )


def _ctx(domain: str, run_id: str, **kw) -> RunContext:
    return RunContext.build(domain=domain, run_id=run_id, snapshot=SNAPSHOT, **kw)


def _units(gate_name: str, stage_result: StageResult, tmp_path):
    from ikou.storage import Store

    return gate.frames_for_gate(gate_name, stage_result, tmp_path, Store())


def test_a_clean_run_passes_every_gate(run, pg_url):
    r = run["juki"]
    rid = r["run_id"]
    ctx = _ctx("juki", rid)
    for gate_name, stage in (
        ("gate_raw", "extract"),
        ("gate_cleansed", "cleanse"),
        ("gate_standard", "validate"),
    ):
        res = gate.run(ctx, gate_name, r[stage])
        assert res.gates[gate_name].verdict == "pass", _report("juki", rid, gate_name)[
            "critical_failures"
        ]
    os.environ["IKOU_TARGET_DB_URL"] = pg_url
    r["load"] = load.run(ctx, r["validate"])
    assert gate.run(ctx, "gate_target", r["load"]).gates["gate_target"].verdict == "pass"
    r["rehearsal"] = rehearse.run(ctx, r["extract"], r["cleanse"], r["validate"], r["load"])
    reconciled = gate.run(ctx, "gate_reconciliation", r["rehearsal"])
    assert reconciled.gates["gate_reconciliation"].verdict == "pass"
    raw = _report("juki", rid, "gate_raw")
    # warnings pass and show: the seeded unmapped 外字 (accounting and the text columns)
    assert any("unmapped_gaiji" in w for w in raw["warnings"])
    assert any("no_unmapped_gaiji" in w for w in raw["warnings"])
    assert raw["charset"].startswith("ikou.moji.standard") or raw["charset"].startswith("JIS")
    for u in raw["units"]:
        assert u["docs_url"].endswith(".html") and "/ikou/docs/validations/" in u["docs_url"]
        assert u["validation_result"].startswith("s3://ikou-reports/gx/validations/")


def test_critical_failure_fails_with_a_readable_summary(run, tmp_path):
    from ikou.quality.gate import GateFailed, run_gate

    r = run["juki"]
    units = [u for u in _units("gate_standard", r["validate"], tmp_path) if u.unit == "jumin"]
    frame = units[0].frame
    n = len(frame)
    kept = [str(v) for v in frame["atena_no"][n // 4 : n // 4 + 3]]
    frame.loc[frame.index[: n // 4], "atena_no"] = [
        f"X{i:09d}" for i in range(n // 4)
    ]  # no such addressee
    with pytest.raises(GateFailed) as info:
        run_gate(
            "juki", "gate_standard", units, run_id="quality_fail", parameters={"snapshot": SNAPSHOT}
        )
    msg = str(info.value)
    assert "gate_standard of juki failed" in msg
    assert (
        f"expect_column_values_to_exist_in_addressee_master(atena_no) — {n // 4:,} of {n:,} records"
        in msg
    )
    assert (
        "/ikou/docs/validations/juki/jumin/gate_standard/quality_fail/" in msg
    )  # the validation page
    assert (
        "gate report: s3://ikou-reports/reports/juki/quality_fail/gates/gate_standard.json" in msg
    )
    assert "gate_override_reason" in msg
    for value in ["X000000000", "X000000001", *kept]:
        assert value not in msg  # counts, never values
    assert info.value.report["verdict"] == "fail" and not info.value.report["passed"]


def test_override_in_rehearsal_is_recorded_and_cutover_cannot_override(run, tmp_path):
    from ikou.quality.gate import GateFailed, run_gate
    from ikou.storage import Store

    r = run["juki"]

    def broken():
        units = _units("gate_raw", r["extract"], tmp_path)
        acc = next(u for u in units if u.unit == "accounting")
        acc.frame["trailer_sums_ok"] = False  # the trailer's control totals do not match
        return units

    report = run_gate(
        "juki",
        "gate_raw",
        broken(),
        run_id="quality_override",
        mode="rehearsal",
        override_reason="trailer of the test extract known wrong (ticket 42)",
        who="engineer",
        parameters={"snapshot": SNAPSHOT},
    )
    assert report["passed"] and report["verdict"] == "overridden"
    assert report["override"]["by"] == "engineer" and "ticket 42" in report["override"]["reason"]
    assert any("trailer_sums_ok" in f for f in report["critical_failures"])
    acc_unit = next(u for u in report["units"] if u["unit"] == "accounting")
    published = json.loads(Store().get_bytes(acc_unit["validation_result"]))
    assert published["meta"]["ikou"]["override"]["by"] == "engineer"
    assert published["meta"]["ikou"]["verdict"] == "overridden"

    with pytest.raises(GateFailed) as info:
        run_gate(
            "juki",
            "gate_raw",
            broken(),
            run_id="quality_cutover",
            mode="cutover",
            override_reason="please",
            who="engineer",
            parameters={"snapshot": SNAPSHOT},
        )
    assert "override refused: cutover runs cannot override a critical gate" in str(info.value)
    assert info.value.report["override"] is None
    assert "gate_override_reason" not in str(info.value)


def test_unmapped_gaiji_is_a_warning_in_rehearsal_and_critical_in_cutover(run, tmp_path):
    from ikou.quality.gate import GateFailed, run_gate

    r = run["juki"]
    assert r["extract"].gaiji_unmapped > 0  # seeded
    report = run_gate(
        "juki",
        "gate_raw",
        _units("gate_raw", r["extract"], tmp_path),
        run_id="quality_gaiji_r",
        mode="rehearsal",
        parameters={"snapshot": SNAPSHOT},
    )
    assert report["passed"] and any("unmapped_gaiji" in w for w in report["warnings"])
    with pytest.raises(GateFailed) as info:
        run_gate(
            "juki",
            "gate_raw",
            _units("gate_raw", r["extract"], tmp_path),
            run_id="quality_gaiji_c",
            mode="cutover",
            parameters={"snapshot": SNAPSHOT},
        )
    assert "unmapped_gaiji" in str(info.value) and "cutover" in str(info.value)


def test_decode_error_budget(run, tmp_path):
    from ikou.quality.gate import GateFailed, run_gate

    units = _units("gate_raw", run["juki"]["extract"], tmp_path)
    acc = next(u for u in units if u.unit == "accounting")
    acc.frame["quarantine_rate"] = 0.05  # 5 % of the records could not be decoded (budget 1 %)
    with pytest.raises(GateFailed) as info:
        run_gate(
            "juki", "gate_raw", units, run_id="quality_budget", parameters={"snapshot": SNAPSHOT}
        )
    assert "expect_column_values_to_be_between(quarantine_rate)" in str(info.value)


def test_mostly_lets_single_bad_records_pass_as_counted_exceptions(run, tmp_path):
    from ikou.quality.gate import GateFailed, run_gate

    units = [u for u in _units("gate_raw", run["juki"]["extract"], tmp_path) if u.unit == "ATENA"]
    frame = units[0].frame
    n = len(frame)
    idx = frame.index[:2]
    frame.loc[idx, "KOJIN-NO"] = "123456789012"  # wrong check digits in two records (< 10 %)
    report = run_gate(
        "juki", "gate_raw", units, run_id="quality_mostly", parameters={"snapshot": SNAPSHOT}
    )
    assert any(
        "valid_my_number(KOJIN-NO)" in w and "within its threshold" in w for w in report["warnings"]
    )
    frame.loc[frame.index[: n // 2], "KOJIN-NO"] = (
        "123456789012"  # half the field garbled: systematic
    )
    with pytest.raises(GateFailed) as info:
        run_gate(
            "juki", "gate_raw", units, run_id="quality_mostly2", parameters={"snapshot": SNAPSHOT}
        )
    assert "valid_my_number(KOJIN-NO)" in str(info.value)


def test_reconciliation_time_window(run, tmp_path):
    from ikou.quality.gate import GateFailed, run_gate
    from ikou.storage import Store

    rec = StageResult(
        domain="juki",
        stage="rehearsal",
        run_id="quality_window",
        reconciliation=[{"unit": "ATENA", "balanced": True, "mismatches": 0, "counts_match": True}],
        projected_hours=60.0,
        window_hours=48.0,
    )
    units = gate.frames_for_gate("gate_reconciliation", rec, tmp_path, Store())
    report = run_gate(
        "juki", "gate_reconciliation", units, run_id="quality_window", mode="rehearsal"
    )
    assert report["passed"] and any("within_window" in w for w in report["warnings"])
    with pytest.raises(GateFailed) as info:
        run_gate("juki", "gate_reconciliation", units, run_id="quality_window_c", mode="cutover")
    assert "within_window" in str(info.value)
    rec.reconciliation[0]["mismatches"] = 3
    rec.projected_hours = 1.0
    with pytest.raises(GateFailed) as info:
        run_gate(
            "juki",
            "gate_reconciliation",
            gate.frames_for_gate("gate_reconciliation", rec, tmp_path, Store()),
            run_id="quality_mismatch",
        )
    assert "mismatches" in str(info.value)


def test_references_of_another_domain_checked_against_the_snapshots_master(run, tmp_path):
    """kojin_juminzei's 宛名番号 are checked against juki's validated 宛名 master of the same snapshot."""
    from ikou.quality.gate import GateFailed, run_gate
    from ikou.storage import Store

    # juki's gate_standard (test_a_clean_run_passes_every_gate) has published the snapshot's master
    rid = "quality_kojin"
    ctx = _ctx("kojin_juminzei", rid)
    e = extract.run(ctx)
    c = cleanse.run(ctx, e)
    v = validate.run(ctx, c)
    assert gate.run(ctx, "gate_standard", v).gates["gate_standard"].verdict == "pass"
    units = gate.frames_for_gate("gate_standard", v, tmp_path, Store())
    table = next(u for u in units if u.unit == "kojin_juminzei")
    ((key, ids),) = table.references.items()
    assert (
        key == ("juki__atena", "atena_no") and len(ids) > RESIDENTS
    )  # residents + 住登外者 + corporations
    table.frame.loc[table.frame.index[:3], "atena_no"] = "0000000000"
    with pytest.raises(GateFailed) as info:
        run_gate(
            "kojin_juminzei",
            "gate_standard",
            units,
            run_id="quality_kojin_bad",
            parameters={"snapshot": SNAPSHOT},
        )
    assert "exist_in_addressee_master(atena_no) — 3 of" in str(info.value)


def test_gate_target_runs_inside_postgresql(run, pg_url):
    """The target suite is SQL inside PostgreSQL: no statement returns more than a handful of rows."""
    import sqlalchemy as sa

    r = run["juki"]
    os.environ["IKOU_TARGET_DB_URL"] = pg_url
    rid = r["run_id"] + "_target"  # its own load: the rehearsal rolled the first one back
    ctx = _ctx("juki", rid)
    loaded = load.run(ctx, r["validate"])
    statements: list[tuple[str, int]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if conn.engine.url.get_backend_name() == "postgresql":
            statements.append((statement, cursor.rowcount))

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", record)
    try:
        res = gate.run(ctx, "gate_target", loaded)
    finally:
        sa.event.remove(sa.engine.Engine, "after_cursor_execute", record)
    assert res.gates["gate_target"].verdict == "pass"
    on_tables = [(s, n) for s, n in statements if "juki__" in s]
    assert on_tables, "GX ran its metrics in the database"
    rows = loaded.units
    assert max(n for _, n in on_tables) < min(rows.values()) // 4, sorted(
        on_tables, key=lambda x: -x[1]
    )[:3]
    report = _report("juki", rid, "gate_target")
    types = [
        e
        for u in report["units"]
        for e in u["expectations"]
        if e["expectation"].startswith("expect_column_to_have_layout_type")
    ]
    assert types and all(e["success"] for e in types)


def test_published_results_hold_no_values(run):
    import datetime as dt

    from ikou.storage import Store
    from ikou_dev.synth.population import build

    pop = build(RESIDENTS, SEED, dt.date.fromisoformat(SNAPSHOT))
    needles = {p.name for p in pop.people if p.kind != "3"} | {
        p.kana for p in pop.people if p.kind != "3"
    }
    needles |= {p.my_number for p in pop.people if p.my_number}
    store = Store()
    hits = []
    for uri in store.list("s3://ikou-reports/gx/validations/"):
        text = store.get_bytes(uri).decode("utf-8")
        assert "pandas_data_fingerprint" not in text  # GX's plain md5 of the rows is never computed
        assert "postgresql" not in text and "sqlite:" not in text  # no connection strings either
        hits += [(uri, n) for n in needles if n in text]
    assert not hits, hits[:3]


def test_data_docs_build_is_serialised_incremental_and_shows_overrides(run):
    from ikou.config import settings
    from ikou.quality import docs, docs_lock
    from ikou.storage import Store

    store = Store()
    bucket = settings().reports_bucket
    results = []

    def build():
        results.append(docs.build_site(lock_timeout=300))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    first, second = sorted(results, key=lambda r: r["lock_waited_seconds"])
    assert second["lock_waited_seconds"] > 0  # the second build waited for the first
    assert first["new_pages"] > 0 and second["new_pages"] == 0  # the second found the pages built
    assert not store.exists(f"s3://{bucket}/{docs_lock.LOCK_KEY}")  # released
    index = store.get_bytes(f"s3://{bucket}/docs/{docs.IKOU_INDEX}").decode("utf-8")
    assert "quality_juki" in index and "juki" in index and "<script" not in index
    site = json.loads(store.get_bytes(f"s3://{bucket}/{docs.SITE_MANIFEST}"))
    override_pages = [p for p in site["pages"] if "/quality_override/" in p and "accounting" in p]
    assert override_pages
    page = store.get_bytes(f"s3://{bucket}/docs/{override_pages[0]}").decode("utf-8")
    assert "id='ikou-gate'" in page and "ticket 42" in page and "by engineer" in page


def test_a_malformed_result_does_not_stop_the_site(run):
    from ikou.quality import docs
    from ikou.storage import Store

    store = Store()
    bad = (
        "s3://ikou-reports/gx/validations/juki/ATENA/gate_raw/broken/20260101T000000.000000Z/x.json"
    )
    store.put_bytes(bad, b'{"not": "a validation result"}')
    try:
        figures = docs.build_site(lock_timeout=300)
        assert any(
            k.endswith("/broken/20260101T000000.000000Z/x.json") for k in figures["invalid_results"]
        )
    finally:
        store.delete_prefix(bad)


def test_docs_lock_excludes_and_abandoned_locks_are_taken_over(s3_endpoint):
    import datetime as dt

    from ikou.config import settings
    from ikou.quality.docs_lock import BuildLock, LockTimeout
    from ikou.storage import Store

    store = Store()
    bucket = settings().reports_bucket
    key = "gx/_test.lock"
    holder = BuildLock(store, bucket, key=key).acquire()
    with pytest.raises(LockTimeout):
        BuildLock(store, bucket, key=key, timeout=1, poll=0.2).acquire()
    holder.release()
    assert not store.exists(f"s3://{bucket}/{key}")
    # a builder that died an hour ago left its lock: it is taken over
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).isoformat(timespec="seconds")
    store.put_bytes(
        f"s3://{bucket}/{key}",
        json.dumps({"owner": "dead", "renewed_at": old, "ttl_seconds": 60}).encode(),
    )
    lock = BuildLock(store, bucket, key=key, timeout=5, poll=0.2).acquire()
    assert json.loads(store.get_bytes(f"s3://{bucket}/{key}"))["owner"] == lock.owner
    lock.release()
