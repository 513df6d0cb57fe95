"""ikou.domains.plan (the migration plan as data) and ikou.domains.graph."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from ikou.domains import RegistryError, load_registry, registry
from ikou.domains.graph import dependent_generations, find_cycle, longest_path, topological_order
from ikou.domains.schema import DATA_DIR

FIRST_WAVE = {"juki", "inkan"}


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "data"
    shutil.copytree(DATA_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    data = _copy(tmp_path_factory.mktemp("plan"))
    reg = load_registry(data)
    return reg, reg.plan


def _edit_plan(data: Path, fn) -> Path:
    path = data / "plan.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _wave(raw: dict, wave_id: int) -> dict:
    return next(w for w in raw["waves"] if w["id"] == wave_id)


def _plan_error(tmp_path: Path, fn, *needles: str) -> str:
    data = _copy(tmp_path)
    path = _edit_plan(data, fn)
    reg = load_registry(data)  # the registry itself is fine
    with pytest.raises(RegistryError) as exc:
        reg.plan  # noqa: B018 - the plan is loaded on first access
    msg = str(exc.value)
    assert str(path) in msg, msg
    for n in needles:
        assert n in msg, (n, msg)
    return msg


# ----------------------------------------------------------------------------- the shipped plan


def test_every_domain_is_planned_once(shipped):
    reg, plan = shipped
    assert set(plan.entries) == set(reg.ids)
    planned = [d for w in plan.waves for d in w.domains]
    assert len(planned) == len(set(planned)) == 20


def test_wave_one_is_juki_and_inkan_in_january_2025(shipped):
    _, plan = shipped
    waves = sorted(plan.waves, key=lambda w: w.target_date)
    first = waves[0]
    assert set(first.domains) == FIRST_WAVE
    assert (first.target_date.year, first.target_date.month) == (2025, 1)
    for d in FIRST_WAVE:
        assert plan[d].wave == first.id
        assert plan[d].target_date == first.target_date


def test_shugaku_next_and_the_other_17_later(shipped):
    _, plan = shipped
    first = plan["juki"].target_date
    second = plan["shugaku"].target_date
    assert first < second
    # 就学 in FY2024 (2024-04-01 .. 2025-03-31)
    assert dt.date(2024, 4, 1) <= second <= dt.date(2025, 3, 31)
    others = set(plan.entries) - FIRST_WAVE - {"shugaku"}
    assert len(others) == 17
    for d in others:
        assert plan[d].target_date > second, d
        assert plan[d].wave not in (plan["juki"].wave, plan["shugaku"].wave), d


def test_wave_dates_increase_with_the_wave_id(shipped):
    _, plan = shipped
    waves = sorted(plan.waves, key=lambda w: w.id)
    dates = [w.target_date for w in waves]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    for w in waves:
        assert w.name_ja and w.name_en


def test_phases_and_windows(shipped):
    _, plan = shipped
    for d, p in plan.entries.items():
        assert p.phase in ("preparation", "migration"), d
        assert p.cutover_window_hours > 0, d
        assert 0 <= p.reconciliation_tolerance <= 1
    for d in FIRST_WAVE | {"shugaku"}:
        assert plan[d].phase == "migration"
    # the 17 later domains prepare first: at least some of them are still in preparation
    assert any(p.phase == "preparation" for p in plan.entries.values())
    # the resident registry gets the long window
    assert plan["juki"].cutover_window_hours >= max(
        p.cutover_window_hours for p in plan.entries.values()
    )


def test_city(shipped):
    _, plan = shipped
    assert plan.city.name_ja and plan.city.name_en
    code = plan.city.local_government_code
    assert len(code) == 6 and code.isdigit()


def test_planned_entries_carry_the_registry_refers_to(shipped):
    reg, plan = shipped
    for d in reg:
        assert plan[d.id].refers_to == tuple(d.refers_to)
        assert plan[d.id].domain == d.id
    with pytest.raises(KeyError, match="nosuch"):
        plan["nosuch"]


def test_rehearsal_order_respects_refers_to(shipped):
    reg, plan = shipped
    order = plan.rehearsal_order()
    assert sorted(order) == sorted(reg.ids)
    pos = {d: i for i, d in enumerate(order)}
    for d in reg:
        for ref in d.refers_to:
            assert pos[ref] < pos[d.id], (ref, d.id)
    assert order[0] == "juki"


def test_rehearsal_order_of_a_subset_keeps_the_order(shipped):
    _, plan = shipped
    full = plan.rehearsal_order()
    subset = ["jido_teate", "juki", "kojin_juminzei"]
    assert plan.rehearsal_order(subset) == ["juki", "kojin_juminzei", "jido_teate"]
    for subset in (
        ["koseki_fuhyo", "koseki"],
        ["senkyo"],
        [],
        full[::-1],
        ["kokuho", "kaigo", "juki"],
    ):
        got = plan.rehearsal_order(subset)
        assert got == [d for d in full if d in subset]


def test_rehearsal_order_is_deterministic(shipped):
    _, plan = shipped
    assert plan.rehearsal_order() == plan.rehearsal_order()


def test_cutover_order_respects_cuts_over_after(shipped):
    _, plan = shipped
    order = plan.cutover_order()
    assert sorted(order) == sorted(plan.entries)
    pos = {d: i for i, d in enumerate(order)}
    for d, p in plan.entries.items():
        for other in p.cuts_over_after:
            assert pos[other] < pos[d], (other, d)
            assert plan[other].target_date <= p.target_date, (other, d)
    # the cutover order follows the calendar
    dates = [plan[d].target_date for d in order]
    assert dates == sorted(dates)


def test_refers_to_and_cuts_over_after_are_kept_apart(shipped):
    reg, plan = shipped
    # 児童手当 uses income data from 個人住民税 yet goes live before it
    assert "kojin_juminzei" in reg.get("jido_teate").refers_to
    assert "kojin_juminzei" in plan["jido_teate"].refers_to
    assert "kojin_juminzei" not in plan["jido_teate"].cuts_over_after
    assert plan["jido_teate"].target_date < plan["kojin_juminzei"].target_date
    cut = plan.cutover_order()
    assert cut.index("jido_teate") < cut.index("kojin_juminzei")
    rehearse = plan.rehearsal_order()
    assert rehearse.index("kojin_juminzei") < rehearse.index("jido_teate")


def test_the_plan_is_cached_on_the_registry(shipped):
    reg, plan = shipped
    assert reg.plan is plan
    assert plan.path == reg.data_dir / "plan.yaml"


# ----------------------------------------------------------------------------- plan errors


def test_cuts_over_after_cycle(tmp_path):
    def fn(raw):
        _wave(raw, 1)["domains"]["juki"]["cuts_over_after"] = [
            "inkan"
        ]  # inkan already follows juki

    _plan_error(tmp_path, fn, "cycle", "juki", "inkan", "wave 1", "entry ")


def test_longer_cuts_over_after_cycle(tmp_path):
    def fn(raw):
        w3 = _wave(raw, 3)["domains"]
        w3["koseki"]["cuts_over_after"] = ["senkyo"]
        w3["senkyo"]["cuts_over_after"] = ["koseki_fuhyo"]  # koseki_fuhyo follows koseki

    _plan_error(tmp_path, fn, "cycle", "koseki", "senkyo", "koseki_fuhyo", "wave 3")


def test_unknown_domain_in_the_plan(tmp_path):
    def fn(raw):
        _wave(raw, 2)["domains"]["nosuch"] = {"phase": "migration", "cutover_window_hours": 4}

    _plan_error(tmp_path, fn, "wave 2", "entry 'nosuch'", "unknown domain")


def test_domain_planned_twice(tmp_path):
    def fn(raw):
        _wave(raw, 4)["domains"]["juki"] = {"phase": "migration", "cutover_window_hours": 4}

    _plan_error(tmp_path, fn, "wave 4", "entry 'juki'", "twice", "wave 1")


def test_domain_missing_from_the_plan(tmp_path):
    def fn(raw):
        del _wave(raw, 6)["domains"]["seikatsu_hogo"]

    _plan_error(tmp_path, fn, "missing", "seikatsu_hogo")


def test_cutover_planned_before_one_it_must_follow(tmp_path):
    def fn(raw):
        _wave(raw, 1)["domains"]["inkan"]["cuts_over_after"] = ["juki", "koseki"]  # koseki: wave 3

    _plan_error(tmp_path, fn, "wave 1", "entry 'inkan'", "'koseki'", "before")


def test_cuts_over_after_an_unknown_domain(tmp_path):
    def fn(raw):
        _wave(raw, 1)["domains"]["inkan"]["cuts_over_after"] = ["nosuch"]

    _plan_error(tmp_path, fn, "wave 1", "entry 'inkan'", "'nosuch'")


def test_cuts_over_after_itself(tmp_path):
    def fn(raw):
        _wave(raw, 1)["domains"]["inkan"]["cuts_over_after"] = ["inkan"]

    _plan_error(tmp_path, fn, "wave 1", "entry 'inkan'", "itself")


def test_duplicate_wave_ids(tmp_path):
    def fn(raw):
        _wave(raw, 2)["id"] = 1

    _plan_error(tmp_path, fn, "duplicate wave")


def test_unknown_field_in_a_plan_entry(tmp_path):
    def fn(raw):
        _wave(raw, 1)["domains"]["juki"]["cutover_weekend"] = True

    _plan_error(tmp_path, fn, "juki", "cutover_weekend", "unknown field")


def test_bad_phase_and_window(tmp_path):
    def fn(raw):
        _wave(raw, 1)["domains"]["juki"]["phase"] = "golive"

    _plan_error(tmp_path, fn, "juki", "phase")

    def fn2(raw):
        _wave(raw, 1)["domains"]["inkan"]["cutover_window_hours"] = 0

    _plan_error(tmp_path / "again", fn2, "inkan", "cutover_window_hours")


def test_cutover_defaults_to_full(shipped):
    _, plan = shipped
    for d in plan.entries.values():
        assert (
            d.cutover == "full"
            and d.full_load_date is None
            and d.base_snapshot("2030-01-01") is None
        )


def test_full_ahead_then_delta_gives_the_base_snapshot(tmp_path):
    data = _copy(tmp_path)

    def fn(raw):
        _wave(raw, 1)["domains"]["juki"].update(
            cutover="full_ahead_then_delta", full_load_date="2024-12-01", change_rate_per_day=0.0005
        )

    _edit_plan(data, fn)
    juki = load_registry(data).plan["juki"]
    assert (juki.cutover, juki.full_load_date) == ("full_ahead_then_delta", dt.date(2024, 12, 1))
    assert juki.change_rate_per_day == 0.0005
    assert juki.base_snapshot("2024-12-28") == "2024-12-01"
    assert juki.base_snapshot("2024-12-01") is None  # the full load itself
    assert juki.base_snapshot("2024-11-01") is None


@pytest.mark.parametrize(
    ("entry", "needles"),
    [
        ({"cutover": "full_ahead_then_delta"}, ("juki", "needs full_load_date")),
        (
            {"cutover": "full_ahead_then_delta", "full_load_date": "2025-01-04"},
            ("juki", "before the wave's target_date 2025-01-04"),
        ),
        ({"full_load_date": "2024-12-01"}, ("juki", "only for cutover full_ahead_then_delta")),
        ({"cutover": "delta"}, ("juki", "cutover")),
        ({"change_rate_per_day": 2}, ("juki", "change_rate_per_day")),
    ],
)
def test_bad_cutover_keys(tmp_path, entry, needles):
    _plan_error(tmp_path, lambda raw: _wave(raw, 1)["domains"]["juki"].update(entry), *needles)


def test_full_ahead_then_delta_needs_the_migration_phase(tmp_path):
    def fn(raw):
        _wave(raw, 5)["domains"]["kei_jidoshazei"].update(
            cutover="full_ahead_then_delta", full_load_date="2027-09-01"
        )

    _plan_error(tmp_path, fn, "kei_jidoshazei", "needs phase migration")


def test_missing_plan_file(tmp_path):
    data = _copy(tmp_path)
    (data / "plan.yaml").unlink()
    reg = load_registry(data)
    with pytest.raises(RegistryError, match="plan.yaml"):
        reg.plan  # noqa: B018


# ----------------------------------------------------------------------------- graph helpers


def test_find_cycle_none_on_a_dag():
    assert find_cycle({}) is None
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None
    assert find_cycle({"a": ["x"]}) is None  # a prerequisite outside the graph is no cycle


def test_find_cycle_returns_a_closed_path():
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    cyc = find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []})
    assert cyc[0] == cyc[-1] and set(cyc) == {"a", "b", "c"} and len(cyc) == 4
    edges = {"a": [], "b": ["a", "d"], "c": ["b"], "d": ["c"]}
    cyc = find_cycle(edges)
    assert cyc[0] == cyc[-1] and set(cyc) == {"b", "c", "d"}
    for x, y in zip(cyc, cyc[1:]):
        assert y in edges[x]  # each step follows an edge


def test_topological_order_puts_prerequisites_first():
    edges = {"c": ["b"], "b": ["a"], "a": [], "d": ["a"]}
    order = topological_order(edges)
    assert sorted(order) == ["a", "b", "c", "d"]
    for n, pre in edges.items():
        for p in pre:
            assert order.index(p) < order.index(n)


def test_dependent_generations_count_the_longest_chain_waiting():
    # c waits for b and a, b for a; d for a; e stands alone; x is a prerequisite outside the graph
    edges = {"a": [], "b": ["a"], "c": ["b", "a"], "d": ["a"], "e": [], "f": ["x"]}
    assert dependent_generations(edges) == {"a": 2, "b": 1, "c": 0, "d": 0, "e": 0, "f": 0, "x": 1}
    assert dependent_generations({}) == {}
    with pytest.raises(ValueError, match="cycle"):
        dependent_generations({"a": ["b"], "b": ["a"]})


def test_referring_generations_of_the_registry():
    reg = registry()
    generations = {d: reg.referring_generations(d) for d in reg.ids}
    # 住民基本台帳: 個人住民税 refers to it, and 介護保険 to both; nothing refers to 介護保険
    assert generations["juki"] == 2
    assert generations["kojin_juminzei"] == 1 and generations["koseki"] == 1
    assert generations["kaigo"] == 0
    for d in reg:  # a domain outranks every domain referring to it
        for ref in d.refers_to:
            assert generations[ref] > generations[d.id]
    with pytest.raises(KeyError, match="unknown domain"):
        reg.referring_generations("nope")


def test_topological_order_breaks_ties_by_the_hint():
    edges = {"a": [], "b": [], "c": [], "d": ["c"]}
    assert topological_order(edges, ["d", "b", "a", "c"]) == ["c", "d", "b", "a"]
    assert topological_order(edges, ["b", "a", "c", "d"]) == ["b", "a", "c", "d"]
    assert topological_order(edges) == ["a", "b", "c", "d"]


def test_topological_order_ignores_outside_prerequisites_and_raises_on_a_cycle():
    assert topological_order({"a": ["zz"], "b": ["a"]}) == ["a", "b"]
    with pytest.raises(ValueError, match="cycle"):
        topological_order({"a": ["b"], "b": ["a"]})


def test_longest_path():
    edges = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    total, path = longest_path(edges, {"a": 1, "b": 5, "c": 2, "d": 1})
    assert total == 7.0 and path == ["a", "b", "d"]
    total, path = longest_path(edges, {"a": 1, "b": 1, "c": 9, "d": 1})
    assert total == 11.0 and path == ["a", "c", "d"]
    assert longest_path({}, {}) == (0.0, [])
    # missing weights count as zero; independent nodes form their own paths
    total, path = longest_path({"x": [], "y": []}, {"y": 3})
    assert (total, path) == (3.0, ["y"])
    with pytest.raises(ValueError):
        longest_path({"a": ["b"], "b": ["a"]}, {})


def test_longest_path_over_the_plan_windows(shipped):
    _, plan = shipped
    edges = {d: list(p.cuts_over_after) for d, p in plan.entries.items()}
    weight = {d: p.cutover_window_hours for d, p in plan.entries.items()}
    total, path = longest_path(edges, weight)
    assert path[0] == "juki"
    assert total == sum(weight[d] for d in path)
    for x, y in zip(path, path[1:]):
        assert x in edges[y]
