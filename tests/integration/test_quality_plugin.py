"""The Ikou plugin inside Airflow's own API server app (in process, FastAPI's TestClient): every
route behind the Airflow login; the auditor (viewer) reads Data Docs, reports and gate pages and can
neither trigger a DAG nor open the restricted 名寄せ review pages; engineers (op) can."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [pytest.mark.integration]

RUN = "manual__2026-07-01T00:00:00+00:00"
PASSWORDS = {"admin": "admin-pw", "engineer": "engineer-pw", "auditor": "auditor-pw"}


@pytest.fixture(scope="module")
def app_client(s3_endpoint, airflow_db, tmp_path_factory):
    from fastapi.testclient import TestClient

    pw = tmp_path_factory.mktemp("auth") / "passwords.json"
    pw.write_text(json.dumps(PASSWORDS))
    env = {
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,engineer:op,auditor:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw),
        "AIRFLOW__API_AUTH__JWT_SECRET": "test-jwt-secret-not-for-production",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    seeded = _seed_reports()
    from airflow import plugins_manager
    from airflow.api_fastapi.app import create_app, purge_cached_app

    purge_cached_app()
    app = create_app()
    names = [a["name"] for a in plugins_manager.get_fastapi_plugins()[0]]
    assert any(n.startswith("Ikou") for n in names), names
    with TestClient(app, base_url="http://testserver") as client:
        yield client
    purge_cached_app()
    from ikou.storage import Store

    for uri in seeded:  # the session's bucket is shared: leave no hand-made objects behind
        Store().delete_prefix(uri)
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _seed_reports():
    """A run's reports, gate report and validation result as the pipeline writes them (no values)."""
    from ikou.storage import Store, join, run_key, zone_uri

    store = Store()
    rep = zone_uri("reports", "juki", RUN)
    store.put_bytes(
        join(rep, "rehearsal.html"),
        "<html><body>移行リハーサル GO</body></html>".encode(),
        content_type="text/html; charset=utf-8",
    )
    key = f"juki/ATENA/gate_raw/{run_key(RUN)}/20260701T000000.000000Z/ikou_stage-stage_output"
    result = {
        "success": False,
        "statistics": {"evaluated_expectations": 2, "successful_expectations": 1},
        "results": [
            {
                "success": False,
                "expectation_config": {
                    "type": "expect_column_values_to_be_valid_my_number",
                    "kwargs": {"column": "KOJIN-NO", "mostly": 0.9},
                    "meta": {"notes": "個人番号 check digit"},
                },
                "result": {"element_count": 10, "unexpected_count": 2},
            },
            {
                "success": True,
                "expectation_config": {
                    "type": "expect_column_to_exist",
                    "kwargs": {"column": "ATENA-NO"},
                },
                "result": {},
            },
        ],
        "meta": {
            "ikou": {
                "domain": "juki",
                "gate": "gate_raw",
                "unit": "ATENA",
                "run_id": RUN,
                "verdict": "overridden",
                "severity": ["critical", "critical"],
            }
        },
    }
    store.put_bytes(f"s3://ikou-reports/gx/validations/{key}.json", json.dumps(result).encode())
    gate = {
        "domain": "juki",
        "gate": "gate_raw",
        "run_id": RUN,
        "mode": "rehearsal",
        "verdict": "overridden",
        "override": {
            "reason": "known trailer issue",
            "by": "engineer",
            "at": "2026-07-01T00:00:00+00:00",
        },
        "critical_failures": [
            "juki.ATENA.gate_raw: expect_column_values_to_be_valid_my_number(KOJIN-NO) — 2 of 10"
        ],
        "warnings": [],
        "units": [
            {
                "unit": "ATENA",
                "docs_page": f"validations/{key}.html",
                "success": False,
                "expectations": [{"success": False}, {"success": True}],
            }
        ],
    }
    store.put_bytes(join(rep, "gates/gate_raw.json"), json.dumps(gate).encode())
    store.put_bytes(
        "s3://ikou-reports/docs/ikou/index.html",
        b"<html><body>Ikou Data Docs index</body></html>",
        content_type="text/html; charset=utf-8",
    )
    return [
        rep,
        f"s3://ikou-reports/gx/validations/{key}.json",
        "s3://ikou-reports/docs/ikou/index.html",
    ]


def _token(client, user: str) -> dict:
    r = client.post("/auth/token", json={"username": user, "password": PASSWORDS[user]})
    assert r.status_code in (200, 201), r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_every_route_needs_the_airflow_login(app_client):
    for path in (
        "/ikou/",
        "/ikou/docs/ikou/index.html",
        "/ikou/reports/",
        f"/ikou/gates/migrate_juki/{RUN}/gate_raw",
        f"/ikou/review/juki/{RUN}/",
    ):
        r = app_client.get(path, follow_redirects=False)
        assert r.status_code == 401, (path, r.status_code)
    r = app_client.get("/ikou/reports/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert (
        r.status_code == 302 and "login" in r.headers["location"]
    )  # a browser is sent to the login page


def test_auditor_reads_docs_reports_and_gate_pages(app_client):
    h = _token(app_client, "auditor")
    r = app_client.get("/ikou/docs/", headers=h, follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"].endswith("/ikou/docs/ikou/index.html")
    r = app_client.get("/ikou/docs/ikou/index.html", headers=h)
    assert r.status_code == 200 and "Ikou Data Docs index" in r.text
    assert (
        r.headers["cache-control"] == "no-store"
        and r.headers["x-content-type-options"] == "nosniff"
    )
    r = app_client.get("/ikou/reports/", headers=h)
    assert r.status_code == 200 and "juki/" in r.text
    r = app_client.get("/ikou/reports/juki/", headers=h)
    assert r.status_code == 200
    from ikou.storage import run_key

    r = app_client.get(f"/ikou/reports/juki/{run_key(RUN)}/rehearsal.html", headers=h)
    assert (
        r.status_code == 200
        and "移行リハーサル" in r.text
        and r.headers["content-type"].startswith("text/html")
    )
    r = app_client.get(f"/ikou/gates/migrate_juki/{RUN}/gate_raw", headers=h)
    assert r.status_code == 200 and "overridden" in r.text and "known trailer issue" in r.text
    assert "/ikou/docs/validations/juki/ATENA/gate_raw/" in r.text


def test_a_validation_page_not_yet_in_the_site_is_shown_from_its_result(app_client):
    from ikou.storage import run_key

    h = _token(app_client, "auditor")
    page = f"validations/juki/ATENA/gate_raw/{run_key(RUN)}/20260701T000000.000000Z/ikou_stage-stage_output.html"
    r = app_client.get(f"/ikou/docs/{page}", headers=h)
    assert r.status_code == 200
    assert (
        "not in the data docs site yet" in r.text.replace("\n", " ").lower() and "2 / 10" in r.text
    )
    assert app_client.get("/ikou/docs/validations/none.html", headers=h).status_code == 404


def test_only_the_open_prefixes_are_served(app_client):
    h = _token(app_client, "auditor")
    for path in (
        "/ikou/reports/%2e%2e/gx/validations/x.json",
        "/ikou/docs/%2e%2e/reports/juki/",
        "/ikou/reports/..%2fgx/x",
    ):
        r = app_client.get(path, headers=h)
        assert r.status_code in (400, 404), (path, r.status_code)


def test_auditor_cannot_trigger_or_change_anything(app_client):
    h = _token(app_client, "auditor")
    r = app_client.post("/api/v2/dags/migrate_juki/dagRuns", json={"logical_date": None}, headers=h)
    assert r.status_code == 403, r.text
    r = app_client.patch("/api/v2/dags/migrate_juki", json={"is_paused": False}, headers=h)
    assert r.status_code == 403, r.text
    for method in ("post", "put", "delete", "patch"):
        r = getattr(app_client, method)("/ikou/docs/ikou/index.html", headers=h)
        assert r.status_code == 405, (method, r.status_code)  # the plugin is read-only


def test_review_pages_are_for_restricted_roles_only(app_client):
    for user in ("auditor",):
        r = app_client.get(f"/ikou/review/juki/{RUN}/", headers=_token(app_client, user))
        assert r.status_code == 403, (user, r.status_code)
        r = app_client.get(
            f"/ikou/review/juki/{RUN}/review-001.html", headers=_token(app_client, user)
        )
        assert r.status_code == 403
    for user in ("engineer", "admin"):
        r = app_client.get(f"/ikou/review/juki/{RUN}/", headers=_token(app_client, user))
        try:
            import ikou.cleanse.review  # noqa: F401
        except ImportError:
            assert r.status_code == 404
            continue
        assert r.status_code == 200, (user, r.text[:300])
        r = app_client.get(
            f"/ikou/review/juki/{RUN}/review-001.html", headers=_token(app_client, user)
        )
        assert (
            r.status_code == 200
            and "RESTRICTED" in r.text
            and r.headers["cache-control"] == "no-store"
        )
    r = app_client.get(f"/ikou/review/nosuchdomain/{RUN}/", headers=_token(app_client, "engineer"))
    assert r.status_code == 404


def test_navigation_entries(app_client):
    h = _token(app_client, "auditor")
    r = app_client.get("/api/v2/plugins", headers=h)
    assert r.status_code == 200
    views = [v for p in r.json()["plugins"] for v in p.get("external_views", [])]
    routes = {v.get("url_route"): v for v in views}
    assert (
        routes["ikou-data-docs"]["href"] == "ikou/docs/"
        and routes["ikou-data-docs"]["destination"] == "nav"
    )
    assert "ikou-reports" in routes
