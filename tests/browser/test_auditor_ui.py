"""The Airflow UI in Debian's chromium (Playwright, sync API), on the session's embedded stack after
its master run (tests/conftest.py ``ikou_stack``): the auditor logs in, opens Data Docs from the
navigation and reads a validation page of a domain run, and cannot trigger anything nor open a
restricted review page; an engineer triggers a domain DAG from its trigger form.
(tests/browser/test_datadocs_offline.py: a validation page styled and its chart drawn offline.)

No browser is ever downloaded: chromium is the Debian package (``make deps``), launched headless
without its sandbox (the tests run as root) and without background networking; every request that
does not go to the stack on 127.0.0.1 is aborted (the city's network reaches no CDN either). A
missing chromium or Playwright fails these tests: they never skip.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _login(browser, stack, user: str, path: str = "/"):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    base = stack.base_url
    ctx.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith(base) else route.abort(),
    )
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    page.goto(base + path)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", stack.passwords[user])
    page.click("button[type=submit]")
    page.wait_for_url(base + path)
    return ctx, page


def test_auditor_reads_a_validation_page_from_the_navigation(browser, stack):
    ctx, page = _login(browser, stack, stack.user_of["viewer"])
    try:
        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name="Data Docs（品質検証）").click()
        page.wait_for_url("**/plugin/ikou-data-docs**")
        docs = page.frame_locator("iframe")
        docs.locator("h1", has_text="Ikou Data Docs").wait_for()
        juki = docs.locator("h2#juki + table")
        assert juki.locator("tr").count() >= 2  # a run of 住民基本台帳 from the master run
        juki.locator("a", has_text="ATENA").first.click()  # gate_raw of the 宛名 master
        docs.locator("#ikou-gate").wait_for()
        body = docs.locator("body").inner_text()
        assert "Expectation Validation Result" in body
        assert "quality gate: pass" in body and "juki" in body and "gate_raw" in body
        assert "/plugin/ikou-data-docs/ikou/docs/validations/juki/ATENA/gate_raw/" in page.url

        # the reports, from the same navigation
        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name="移行レポート / Reports").click()
        page.wait_for_url("**/plugin/ikou-reports**")
        page.frame_locator("iframe").locator("a", has_text="juki/").wait_for()
    finally:
        ctx.close()


def test_auditor_cannot_trigger_or_open_review_pages(browser, stack):
    ctx, page = _login(browser, stack, stack.user_of["viewer"])
    try:
        base = stack.base_url
        # the browser session's own cookie: Airflow's API refuses a viewer's trigger
        r = page.request.post(
            base + "/api/v2/dags/migrate_juki/dagRuns", data={"logical_date": None}
        )
        assert r.status == 403, r.text()
        r = page.request.patch(base + "/api/v2/dags/migrate_juki", data={"is_paused": True})
        assert r.status == 403
        runs = page.request.get(base + "/api/v2/dags/migrate_juki/dagRuns").json()["dag_runs"]
        run_id = runs[0]["dag_run_id"]
        r = page.request.get(f"{base}/ikou/review/juki/{quote(run_id, safe='')}/")
        assert r.status == 403  # 名寄せ review pages hold personal data: restricted roles only
        page.goto(f"{base}/ikou/review/juki/{quote(run_id, safe='')}/review-001.html")
        assert "restricted" in page.locator("body").inner_text()
        # the gate task's extra link leads to its gate page
        links = page.request.get(
            f"{base}/api/v2/dags/migrate_juki/dagRuns/{quote(run_id, safe='')}"
            "/taskInstances/gate_standard/links"
        ).json()["extra_links"]
        (url,) = links.values()
        page.goto(url)
        assert "品質ゲート / quality gate: pass" in page.locator("h1").inner_text()
    finally:
        ctx.close()


def test_engineer_triggers_a_domain_dag_from_its_form(browser, stack):
    dag = "migrate_inkan"
    ctx, page = _login(browser, stack, stack.user_of["op"], f"/dags/{dag}")
    try:
        base = stack.base_url
        before = {
            r["dag_run_id"]
            for r in page.request.get(f"{base}/api/v2/dags/{dag}/dagRuns").json()["dag_runs"]
        }
        page.get_by_role("button", name="Trigger").first.click()
        form = page.get_by_role("dialog")
        form.locator("input[name=element_snapshot]").fill(stack.snapshot)
        submit = form.locator("[data-testid=trigger-dag-submit]")
        # optional Params (snapshot, gate_override_reason) must not block the form
        assert not form.locator("input[name=element_gate_override_reason][required]").count()
        submit.click()
        deadline = time.monotonic() + 30
        new = []
        while time.monotonic() < deadline and not new:
            runs = page.request.get(f"{base}/api/v2/dags/{dag}/dagRuns").json()["dag_runs"]
            new = [r for r in runs if r["dag_run_id"] not in before]
            time.sleep(0.5)
        assert new, "the form created a run"
        assert new[0]["conf"].get("snapshot") == stack.snapshot
        assert new[0].get("triggering_user_name") in (stack.user_of["op"], None)
    finally:
        ctx.close()
