"""The master benchmark's harness on the session's embedded stack (``ikou_stack``: ``ikou stack
run`` of 300 residents over three related domains, started with the session): the memory sampler
on the stack's processes and the collection of the master's run (per domain and stage wall and
CPU seconds, verdicts, accounting) that ``python -m ikou_dev.bench master`` records per city. The
benchmark's own quick profile (``ikou bench --quick master``: a stack of its own, 2,000
residents, juki and inkan) takes minutes on this machine, so the suite reads the stack it already
runs instead. The real figures come from ``python -m ikou_dev.bench master`` (500k, 1M, 2M
residents, all 20 domains); no timing is asserted here."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest


def test_master_benchmark_harness_on_the_session_stack(ikou_stack):
    from ikou_dev.bench.master import Sampler, collect

    # memory: the stack's process groups (its pid files), sampled as the benchmark samples them
    sampler = Sampler(None, ikou_stack.home / "run")
    for _ in range(3):
        sampler.sample()
    assert sampler.samples == 3 and len(sampler.load) == 3
    assert 0 < sampler.peak_process <= sampler.peak_total
    assert 0 < sampler.peak_total_pss <= sampler.peak_total
    assert sampler.peak_process_name in sampler.peak_by_name
    assert {"scheduler", "localserver"} <= set(sampler.peak_by_name)  # Airflow and the local S3

    api_port = urlparse(ikou_stack.base_url).port
    city = collect(ikou_stack.env, ikou_stack.home, api_port, int(ikou_stack.env["IKOU_S3_PORT"]))
    assert city["completed"] and city["master_state"] == "success", city
    assert set(city["domains"]) == set(ikou_stack.domains)
    for d in city["domains"].values():
        assert d["state"] == "success" and d["report"]
        # every timed stage has its CPU seconds beside its wall seconds
        assert d["stage_seconds"] and set(d["stage_cpu_seconds"]) == set(d["stage_seconds"])
        assert d["task_peak_rss_gb"] == {}  # the sampler began after the run: no task seen
        # the accounting closes for every legacy file: in = out + quarantined + merged
        assert d["accounting_closes"] and d["accounting"]
        for a in d["accounting"]:
            assert a["legacy_records"] == a["output_records"] + a["quarantined"] + a["merged"]
    assert city["legacy_records"] == sum(d["legacy_records"] for d in city["domains"].values())
    assert city["legacy_records"] > 0 and city["master_seconds"] > 0


def test_ratios_between_cities():
    from ikou_dev.bench.master import ratios

    cities = [
        {"residents": 500, "completed": True, "master_seconds": 100, "peak_pss_total_gb": 2.0},
        {"residents": 700, "completed": False, "reason": "timeout"},
        {"residents": 1000, "completed": True, "master_seconds": 230, "peak_pss_total_gb": 3.0},
    ]
    (r,) = ratios(cities)  # the city that did not complete is skipped, not invented
    assert (r["from"], r["to"], r["size"]) == (500, 1000, 2.0)
    assert r["master_seconds"] == 2.3 and r["peak_pss_total_gb"] == 1.5 and r["allowed"] == 2.1
    assert r["peak_rss_process_gb"] is None
    assert r["within_bound"] is False  # 2.3× the time for a doubling: over 2.1×


def test_model_check_rests_on_small_cities_only():
    from ikou_dev.bench.master_model import domain_ratios, model_check, with_slot_waits

    def city(n: int, extract: float, load: float) -> dict:
        row = {
            "run_id": f"r{n}",
            "report": True,
            "legacy_records": 2 * n,
            "stage_seconds": {"extract": extract, "load": load},
            "stage_cpu_seconds": {"extract": extract, "load": load},
        }
        return {"residents": n, "completed": True, "domains": {"juki": row}}

    # extract: 2 s + 10 µs a record (exactly linear); load: the 1M city measured twice the line
    cities = [city(100_000, 4.0, 1.2), city(500_000, 12.0, 5.2), city(1_000_000, 22.0, 20.4)]
    m = model_check(cities)
    assert m["checked"] and m["fit_residents"] == [100_000, 500_000]
    st = m["domains"]["juki"]["stages"]
    assert st["extract"]["predicted"] == 22.0 and st["extract"]["error"] == 0.0
    assert st["load"]["predicted"] == 10.2 and st["load"]["error"] == -0.5
    assert [(x["stage"], x["error"]) for x in m["misses"]] == [("load", -0.5)]
    assert m["stages_within_tolerance"] == 1 and m["stages_checked"] == 2
    total = m["domains"]["juki"]["total"]
    # the domain's total: 32.2 s projected, 42.4 s measured (−24 %)
    assert (m["domains_checked"], m["domains_within_tolerance"]) == (1, 1)
    assert m["domain_misses"] == {} and total["error"] == -0.241
    # the same cities checked on the spans: the 1M load's parts had waited 9.6 s for a slot
    waited = [c | {"domains": {"juki": c["domains"]["juki"] | {"stage_slot_wait_seconds": {}}}}
              for c in cities]  # fmt: skip
    waited[2]["domains"]["juki"]["stage_slot_wait_seconds"] = {"load": 9.6}
    spans = model_check(with_slot_waits(waited))
    load = spans["domains"]["juki"]["stages"]["load"]
    assert load["measured"] > st["load"]["measured"] and load["predicted"] == 10.2
    assert list(spans["domain_misses"]) == ["juki"]
    # per domain, the 1M city over the 500k one (and 500k over 100k)
    r = domain_ratios(cities)
    assert [(x["from"], x["to"]) for x in r] == [(100_000, 500_000), (500_000, 1_000_000)]
    assert r[1]["domains"]["juki"] == {"records": 2.0, "wall_seconds": None, "cpu_seconds": 2.47}
    # without the 1M city nothing is checked (and nothing is invented)
    assert model_check(cities[:2]) == {
        "checked": False,
        "reason": "needs domain runs of a city of 1,000,000 and of one of ≤ 500,000 residents",
    }


def test_capacity_plan_against_the_measured_masters():
    """The capacity plan of each measured city (its domains' stage costs from the cities of
    ≤ 500k residents) against the master's wall time; the orchestration a task adds is
    calibrated on the small cities and predicts the large one out of sample."""
    from ikou.rehearsal.capacity import schedule
    from ikou_dev.bench.master_model import capacity_check, task_overhead

    def city(n: int, master: float) -> dict:
        row = {
            "run_id": f"r{n}",
            "report": True,
            "legacy_records": 2 * n,
            # extract: 2 s + 10 µs a record; exactly linear, so the model is exact
            "stage_seconds": {"extract": 2 + 2e-5 * n, "load": 1.0},
            "stage_cpu_seconds": {"extract": 2 + 2e-5 * n, "load": 1.0},
        }
        return {
            "residents": n,
            "completed": True,
            "master_seconds": master,
            "domains": {"juki": row, "inkan": row | {"run_id": f"i{n}"}},
        }

    # stages: extract 2 + 2e-5·n, load 1 s; inkan refers to juki: it starts once juki's
    # extract (a stage publishing the validated data) is done, beside juki's load on the
    # second slot: the chain juki extract, inkan extract, inkan load = 5 + 4e-5·n s; each
    # city's master took 10 s a task more (3 stage tasks on the chain)
    cities = [city(n, 5 + 4e-5 * n + 30) for n in (100_000, 500_000, 1_000_000)]
    c = capacity_check(cities, workers=2)
    assert c["checked"] and c["fit_residents"] == [100_000, 500_000]
    assert c["task_overhead_seconds"] == pytest.approx(10, abs=0.01)
    big = c["cities"][-1]
    assert big["residents"] == 1_000_000 and not big["in_sample"]
    assert big["stages_only_seconds"] == pytest.approx(45.0)
    assert big["planned_seconds"] == pytest.approx(75.0, abs=0.1) and abs(big["error"]) < 0.01
    assert big["critical_path"] == ["juki", "inkan"] and big["tasks"] == 4
    # costs fitted on the domains run alone (uncontended: here half the master's stage seconds),
    # planned at the master cities' records: the stages alone take half as long
    alone = [city(n, 0.0) for n in (100_000, 500_000)]
    for a in alone:
        for d in a["domains"].values():
            for key in ("stage_seconds", "stage_cpu_seconds"):
                d[key] = {k: v / 2 for k, v in d[key].items()}
    masters = [city(n, 5 + 4e-5 * n + 30) for n in (100_000, 500_000, 1_000_000)]
    masters[-1]["domains"] = {
        d: row | {"stage_seconds": {}, "legacy_records": 2_000_000}
        for d, row in masters[-1]["domains"].items()
    }  # the 1M master's own stage seconds are never read: only its records
    ca = capacity_check(masters, workers=2, costs_from=alone)
    assert ca["fit_residents"] == [100_000, 500_000]
    assert ca["cities"][-1]["stages_only_seconds"] == pytest.approx(22.5)
    assert ca["cities"][-1]["planned_seconds"] > ca["cities"][-1]["stages_only_seconds"]
    # stages alone as long as the master: no overhead left to calibrate
    assert task_overhead({}, 0.0, 2) == 0.0 and schedule({}, 1.0, 2) == 0.0
    # without a completed master nothing is planned against
    assert capacity_check([{"residents": 1, "completed": False}])["checked"] is False


def test_timeline_of_a_run():
    """Busy = the union of the tasks' runs; idle = the rest of the wall; a resumed deferred task
    and a task skipped before it ran (start = end) add no queue wait and no run."""
    from ikou_dev.bench.master import timeline

    def t(s, e, q=None, sc=None):
        at = "2026-12-04T10:00:{:02d}+00:00".format
        return {
            "start_date": at(s) if s is not None else None,
            "end_date": at(e) if e is not None else None,
            "queued_when": at(q) if q is not None else None,
            "scheduled_when": at(sc) if sc is not None else None,
        }

    tis = [
        t(1, 5, q=0, sc=0),  # 4 s, queued 1 s before it ran
        t(3, 8, q=2, sc=1),  # overlaps the first: busy 1..8
        t(10, 30, q=28),  # deferred at 10, resumed (queued again) at 28: no queue wait
        t(12, 12),  # skipped: never ran
        t(None, None),  # not run
    ]
    tl = timeline(tis, "2026-12-04T10:00:00+00:00", "2026-12-04T10:00:40+00:00")
    assert tl == {
        "tasks_run": 3,
        "task_seconds": 29.0,
        "busy_seconds": 27.0,
        "idle_seconds": 13.0,
        "scheduled_to_queued_seconds": 1.0,
        "queued_to_running_seconds": 2.0,
    }
    assert timeline([], None, None)["idle_seconds"] is None


def test_peak_memory_per_task_from_the_process_titles():
    """A task process is titled ``airflow worker -- <task instance id>``: the sampler keeps its
    peak by that id and the collection names the task (a mapped one with its index)."""
    from ikou_dev.bench.master import largest_tasks, task_instance_id, task_memory

    a, b, c = (
        "01a243f7-6fa9-7fa8-aa0f-c1c4f757b105",
        "01a243f7-60eb-7ee2-9eb0-55f81bd5618c",
        "01a243f7-0000-7000-8000-000000000001",
    )
    assert task_instance_id("task", [f"airflow worker -- {a}"]) == a
    assert task_instance_id("task", ["airflow", "worker", "--", b]) == b
    assert task_instance_id("task", ["airflow worker -- LocalExecutor: <idle>"]) is None
    assert task_instance_id("scheduler", [f"airflow scheduler {a}"]) is None
    tis = [
        {"id": a, "task_id": "cleanse", "map_index": -1},
        {"id": b, "task_id": "load_parts", "map_index": 3},
        {"id": c, "task_id": "validate", "map_index": -1},  # not seen by the sampler
    ]
    mem = task_memory(tis, {a: 5_087_000_000, b: 1_200_000_000})
    assert mem == {"cleanse": 5.087, "load_parts[3]": 1.2}
    top = largest_tasks({"juki": {"task_peak_rss_gb": mem}, "inkan": {"task_peak_rss_gb": {}}})
    assert top[0] == {"domain": "juki", "task": "cleanse", "peak_rss_gb": 5.087}
    assert [r["task"] for r in top] == ["cleanse", "load_parts[3]"]


def test_a_city_of_domains_run_alone_is_one_master_run_per_domain(monkeypatch):
    """IKOU_BENCH_MASTER_ALONE=1: the city's figures from one master run per domain — complete
    only when every run succeeded, their seconds summed, each run listed; one run as before. A
    value other than 0 or 1 is refused, not read as either."""
    from ikou_dev.bench.master import alone_from_env, master_figures

    def master(run_id, state, start, end):
        at = "2026-12-05T10:{:02d}:00+00:00".format
        return (
            {"dag_run_id": run_id, "state": state, "start_date": at(start), "end_date": at(end)},
            [],
        )

    def domain(records, verdict="GO"):
        acc = {"legacy_records": records, "output_records": records, "quarantined": 0}
        return {
            "report": True,
            "verdict": verdict,
            "legacy_records": records,
            "accounting": [acc | {"merged": 0}],
            "accounting_closes": True,
        }

    doms = {"juki": domain(100), "inkan": domain(20)}
    both = master_figures([master("m1", "success", 0, 2), master("m2", "success", 3, 4)], doms)
    assert both["completed"] and both["master_state"] == "success"
    assert both["master_run_id"] == ["m1", "m2"] and both["master_seconds"] == 180.0
    assert both["master_timeline"] is None  # each domain's run keeps its own timeline
    assert both["legacy_records"] == 120 and both["verdicts"] == {"GO": 2}
    failed = master_figures([master("m1", "success", 0, 2), master("m2", "failed", 3, 4)], doms)
    assert not failed["completed"] and failed["master_state"] == ["failed", "success"]
    one = master_figures([master("m1", "success", 0, 2)], {"juki": domain(100)})
    assert one["master_run_id"] == "m1" and one["master_timeline"]["tasks_run"] == 0

    monkeypatch.delenv("IKOU_BENCH_MASTER_ALONE", raising=False)
    assert alone_from_env() is False
    monkeypatch.setenv("IKOU_BENCH_MASTER_ALONE", "1")
    assert alone_from_env() is True
    monkeypatch.setenv("IKOU_BENCH_MASTER_ALONE", "yes")
    with pytest.raises(SystemExit, match="allowed are 0"):
        alone_from_env()
