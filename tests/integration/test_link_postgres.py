"""``ikou link`` (データ連携) on the machine's PostgreSQL, as a user meets it: 住民基本台帳 live on
the local target (a load of the base, then a delta applied: two load-log entries of the live
schema), ``ikou link`` over the day between them writes a linkage file that ``ikou decode`` reads
back to the delta's change records, with the header's period, the trailer's control totals and
the manifest last; refused (exit 1, nothing written) while the domain is not live. The live
tables are read back from PostgreSQL (VARCHAR, NUMERIC, DATE) and compared with the base's
hand-off CSV: a type that came back differently would make every row an update.
(SQLite: tests/unit/test_link.py.)"""

from __future__ import annotations

import json
import uuid

import pytest
from tests_support import (
    DELTA_DOMAIN,
    apply_scenario,
    check_linkage_is_the_delta,
    delta_scenario,
    load_snapshot,
    own_database,
    publish_base_handoff,
)

from ikou.cli import main
from ikou.load.control import Control
from ikou.load.control_tables import today_in_japan
from ikou.load.target import LIVE_SCHEMA, Target

pytestmark = [pytest.mark.integration]


@pytest.fixture
def live_pg(monkeypatch):
    """A PostgreSQL target of this test's own: juki goes live in it (a live state in the shared
    database would refuse other tests' cutovers)."""
    with own_database("ikou_link") as url:
        monkeypatch.setenv("IKOU_TARGET_DB_URL", url)
        yield url


def test_link_on_postgresql_decodes_back_to_the_delta(live_pg, tmp_path, capsys, s3_endpoint):
    from ikou.storage import Store

    url = live_pg
    scenario = delta_scenario(tmp_path / "scenario", 400, base_run=f"base-{uuid.uuid4().hex[:8]}")
    publish_base_handoff(Store(), scenario)
    live = Target(url, LIVE_SCHEMA)
    try:
        load_snapshot(live, scenario, scenario["base_run"])
        apply_scenario(live, scenario, f"delta-{uuid.uuid4().hex[:8]}")
    finally:
        live.dispose()
    control = Control(url)
    logged = [r for r in control.loads_of(DELTA_DOMAIN) if r["target_schema"] == LIVE_SCHEMA]
    assert [r["manifest_sha256"] for r in logged] == [scenario["base_sha"], scenario["new_sha"]]
    today = today_in_japan().isoformat()
    out = tmp_path / "linkage"
    args = ["link", "--domain", DELTA_DOMAIN, "--from", today, "--to", today, "--out", str(out)]
    assert main(args) == 1  # not live yet: refused in one line, nothing written
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{DELTA_DOMAIN}: not live" in err
    assert not out.exists()
    control.record_live(DELTA_DOMAIN, "2026-10-01", "link test")
    assert main([*args, "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    manifest = check_linkage_is_the_delta(out, m, scenario, today, tmp_path / "decoded")
    assert manifest["source"]["result_run_id"] == logged[-1]["run_id"]
    capsys.readouterr()  # the decode's own output (a 外字 the decode has no table for: a warning)
    # a period before the first load (dates in Asia/Tokyo): nothing to link from, exit 1
    past = ["link", "--domain", DELTA_DOMAIN, "--from", "2026-01-05", "--to", "2026-01-05"]
    assert main([*past, "--out", str(tmp_path / "past")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no load into the live schema up to 2026-01-05" in err
    assert not (tmp_path / "past").exists()
