"""The Ikou plugin inside Airflow's own API server app (in process, FastAPI's TestClient): every
route behind the Airflow login; the auditor (viewer) reads Data Docs, reports and gate pages and can
neither trigger a DAG nor open the restricted 名寄せ review pages; engineers (op) can.

Who has which role is the stack's configuration (``ikou_dev.localstack_env.USER_ROLES``, the
``simple_auth_manager_users`` the stack and docker-compose.yml give Airflow), read back from the
configuration Airflow runs with; this file only says what each role may do (``RIGHTS``)."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [pytest.mark.integration]

RUN = "manual__2026-07-01T00:00:00+00:00"
#: what each role may do in the UI (the expectation; which user has which role is the stack's)
RIGHTS = {
    "viewer": {"read": True, "review": False, "trigger": False},
    "op": {"read": True, "review": True, "trigger": True},
    "admin": {"read": True, "review": True, "trigger": True},
}


def _stack_users() -> dict[str, str]:
    from ikou_dev.localstack_env import parse_simple_auth_users, simple_auth_users

    return parse_simple_auth_users(simple_auth_users())


PASSWORDS = {user: f"{user}-pw" for user in _stack_users()}


@pytest.fixture(scope="module")
def app_client(s3_endpoint, airflow_db, tmp_path_factory):
    from fastapi.testclient import TestClient

    pw = tmp_path_factory.mktemp("auth") / "passwords.json"
    pw.write_text(json.dumps(PASSWORDS))
    env = {
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{u}:{r}" for u, r in _stack_users().items()
        ),
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


@pytest.fixture(scope="module")
def roles(app_client) -> dict[str, str]:
    """user → role as the running Airflow reads them from its configuration."""
    from airflow.configuration import conf

    from ikou_dev.localstack_env import parse_simple_auth_users

    return parse_simple_auth_users(conf.get("core", "simple_auth_manager_users"))


def _user(roles: dict[str, str], role: str) -> str:
    users = [u for u, r in roles.items() if r == role]
    assert users, f"the stack's configuration has no {role} user: {roles}"
    return users[0]


def test_the_role_map_is_the_stacks_and_every_role_is_specified(roles):
    from ikou_dev.localstack_env import USER_ROLES

    assert roles == USER_ROLES
    assert set(roles.values()) <= set(RIGHTS), (
        "a role of the stack without an expectation here: say what it may do in RIGHTS"
    )
    # both sides of the restriction are exercised
    assert {r for r in roles.values() if RIGHTS[r]["review"]} and {
        r for r in roles.values() if not RIGHTS[r]["review"]
    }


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


def test_auditor_reads_docs_reports_and_gate_pages(app_client, roles):
    h = _token(app_client, _user(roles, "viewer"))
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


def test_a_validation_page_not_yet_in_the_site_is_shown_from_its_result(app_client, roles):
    from ikou.storage import run_key

    h = _token(app_client, _user(roles, "viewer"))
    page = f"validations/juki/ATENA/gate_raw/{run_key(RUN)}/20260701T000000.000000Z/ikou_stage-stage_output.html"
    r = app_client.get(f"/ikou/docs/{page}", headers=h)
    assert r.status_code == 200
    assert (
        "not in the data docs site yet" in r.text.replace("\n", " ").lower() and "2 / 10" in r.text
    )
    assert app_client.get("/ikou/docs/validations/none.html", headers=h).status_code == 404


def test_only_the_open_prefixes_are_served(app_client, roles):
    h = _token(app_client, _user(roles, "viewer"))
    for path in (
        "/ikou/reports/%2e%2e/gx/validations/x.json",
        "/ikou/docs/%2e%2e/reports/juki/",
        "/ikou/reports/..%2fgx/x",
    ):
        r = app_client.get(path, headers=h)
        assert r.status_code in (400, 404), (path, r.status_code)


def test_each_role_may_trigger_only_what_it_should(app_client, roles):
    """Per role of the stack: a viewer's POST is refused (403); an op's passes the authorization
    (404: a DAG that does not exist, so nothing is triggered in the shared metadata DB)."""
    for user, role in roles.items():
        h = _token(app_client, user)
        r = app_client.post(
            "/api/v2/dags/ikou_no_such_dag/dagRuns", json={"logical_date": None}, headers=h
        )
        if RIGHTS[role]["trigger"]:
            assert r.status_code == 404, (user, role, r.status_code, r.text[:200])
        else:
            assert r.status_code == 403, (user, role, r.status_code, r.text[:200])
            r = app_client.patch("/api/v2/dags/migrate_juki", json={"is_paused": False}, headers=h)
            assert r.status_code == 403, r.text
        for method in ("post", "put", "delete", "patch"):
            r = getattr(app_client, method)("/ikou/docs/ikou/index.html", headers=h)
            assert r.status_code == 405, (user, method, r.status_code)  # the plugin is read-only


def test_review_pages_are_for_restricted_roles_only(app_client, roles):
    for user, role in roles.items():
        h = _token(app_client, user)
        index = app_client.get(f"/ikou/review/juki/{RUN}/", headers=h)
        page = app_client.get(f"/ikou/review/juki/{RUN}/review-001.html", headers=h)
        if not RIGHTS[role]["review"]:
            assert index.status_code == 403 and page.status_code == 403, (user, role)
            continue
        assert index.status_code == 200, (user, role, index.text[:300])
        assert (
            page.status_code == 200
            and "RESTRICTED" in page.text
            and page.headers["cache-control"] == "no-store"
        ), (user, role, page.status_code)
    r = app_client.get(
        f"/ikou/review/nosuchdomain/{RUN}/", headers=_token(app_client, _user(roles, "op"))
    )
    assert r.status_code == 404


def test_navigation_entries(app_client, roles):
    h = _token(app_client, _user(roles, "viewer"))
    r = app_client.get("/api/v2/plugins", headers=h)
    assert r.status_code == 200
    views = [v for p in r.json()["plugins"] for v in p.get("external_views", [])]
    routes = {v.get("url_route"): v for v in views}
    assert (
        routes["ikou-data-docs"]["href"] == "ikou/docs/"
        and routes["ikou-data-docs"]["destination"] == "nav"
    )
    assert "ikou-reports" in routes
