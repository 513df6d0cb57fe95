"""The master's plan passes a base snapshot (差分) to the domains the plan cuts over by
``full_ahead_then_delta`` (their ``full_load_date``), none to the others."""

from __future__ import annotations

import shutil

import yaml

from ikou.domains.schema import DATA_DIR
from ikou.stages import master
from ikou.storage import MANIFEST, Store, join, landing_uri

SNAPSHOT = "2024-12-28"


def test_full_ahead_then_delta_domains_get_their_base_snapshot(s3_endpoint, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data, ignore=shutil.ignore_patterns("__pycache__"))
    raw = yaml.safe_load((data / "plan.yaml").read_text(encoding="utf-8"))
    wave = next(w for w in raw["waves"] if w["id"] == 1)
    wave["domains"]["juki"].update(cutover="full_ahead_then_delta", full_load_date="2024-12-01")
    (data / "plan.yaml").write_text(
        yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    monkeypatch.setenv("IKOU_REGISTRY_DIR", str(data))
    store = Store()
    for d in ("juki", "inkan"):
        store.put_bytes(join(landing_uri(d, SNAPSHOT), MANIFEST), b"{}")
    planned = master.plan(["juki", "inkan"], SNAPSHOT, store)
    assert planned.domains == ["juki", "inkan"]
    assert planned.base_snapshots == {"juki": "2024-12-01"}
    # a run of the full load's own snapshot (or an earlier one) is a full load
    for d in ("juki", "inkan"):
        store.put_bytes(join(landing_uri(d, "2024-12-01"), MANIFEST), b"{}")
    assert master.plan(["juki", "inkan"], "2024-12-01", store).base_snapshots == {}


def test_a_run_base_snapshot_makes_every_migration_phase_domain_a_delta_run(s3_endpoint):
    """IKOU_DELTA=1 make run passes base_snapshot in the master's conf: every migration-phase
    domain of the run gets it (a preparation-phase one loads nothing); not earlier: exit 2."""
    import pytest

    from ikou.domains import registry
    from ikou.errors import BadArgument

    store = Store()
    domains = ["juki", "inkan", "kojin_juminzei"]
    for d in domains:
        store.put_bytes(join(landing_uri(d, SNAPSHOT), MANIFEST), b"{}")
    planned = master.plan(domains, SNAPSHOT, store, base_snapshot="2024-11-28")
    phases = {d: registry().plan[d].phase for d in domains}
    assert phases["kojin_juminzei"] == "preparation"
    assert planned.base_snapshots == {d: "2024-11-28" for d in domains if phases[d] == "migration"}
    with pytest.raises(BadArgument, match="must be earlier"):
        master.plan(domains, SNAPSHOT, store, base_snapshot=SNAPSHOT)
