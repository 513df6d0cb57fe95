"""Data Docs on a closed network: the auditor opens a GX validation page through the ``ikou_ui``
plugin in Debian's chromium while every request that does not go to the stack on 127.0.0.1 is
aborted, and finds the page styled (Bootstrap's computed styles, Font Awesome's font) and its
Vega chart drawn (pixels on the canvas) — everything served by Ikou from the reports bucket
(ikou.quality.offline), nothing from a CDN.

Set ``IKOU_UPDATE_SCREENSHOTS=1`` to refresh the README's screenshot (docs/img/).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "img" / "datadocs-offline.png"


def _offline_context(browser, stack):
    """The auditor logged in, in a browser that reaches nothing but 127.0.0.1 (Japan's time)."""
    base = stack.base_url
    blocked: list[str] = []
    ctx = browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="ja-JP", timezone_id="Asia/Tokyo"
    )

    def route(r):
        if r.request.url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    page.goto(base + "/ikou/")
    auditor = stack.user_of["viewer"]  # the stack's viewer (tests/browser/conftest.py)
    page.fill("input[name=username]", auditor)
    page.fill("input[name=password]", stack.passwords[auditor])
    page.click("button[type=submit]")
    page.wait_for_url(base + "/ikou/")
    return ctx, page, blocked


def test_a_validation_page_is_styled_and_draws_its_chart_offline(browser, stack, tmp_path):
    ctx, page, blocked = _offline_context(browser, stack)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        base = stack.base_url
        # Ikou's index: 住民基本台帳 first (the plan's order), its latest run first
        page.goto(base + "/ikou/docs/")
        page.locator("h2#juki", has_text="住民基本台帳").wait_for()
        assert page.locator("h2").first.get_attribute("id") == "juki"
        juki = page.locator("h2#juki + table")
        assert "✓" in juki.locator("tr.run").first.inner_text()
        # the 宛名 master's gate_raw page: its 宛名区分 distribution is drawn as a chart
        juki.locator("tr.run").first.locator("a", has_text="ATENA").first.click()
        page.wait_for_url("**/ikou/docs/validations/juki/ATENA/gate_raw/**")
        page.locator("#ikou-gate").wait_for()
        page.wait_for_load_state("networkidle")

        # styles applied: Bootstrap's spacing utility and its table rule, Font Awesome's font
        style = page.evaluate(
            """() => {
              const cs = (sel, prop) => { const e = document.querySelector(sel);
                return e ? getComputedStyle(e).getPropertyValue(prop) : null; };
              return {
                container: cs('.container-fluid.pl-5', 'padding-left'),
                table_collapse: cs('table.table', 'border-collapse'),
                icon_font: cs('.fas, .fa-solid, .far, .fa', 'font-family'),
                jquery: typeof window.jQuery, bootstrap_table: typeof (window.jQuery
                  && window.jQuery.fn.bootstrapTable), vega_embed: typeof window.vegaEmbed,
              };
            }"""
        )
        assert style["container"] == "48px", style  # .pl-5 {padding-left: 3rem !important}
        assert style["table_collapse"] == "collapse", style  # Bootstrap's reboot: tables collapse
        assert style["icon_font"] and "Font Awesome" in style["icon_font"], style
        assert style["jquery"] == "function" and style["bootstrap_table"] == "function", style
        assert style["vega_embed"] == "function", style
        assert page.evaluate("() => document.fonts.check('900 16px \"Font Awesome 6 Free\"')"), (
            "Font Awesome's web font loaded"
        )

        # the chart drawn: a Vega canvas (or svg) with marks on it
        chart = page.locator(".vega-embed canvas, .vega-embed svg").first
        chart.wait_for()
        chart.scroll_into_view_if_needed()
        drawn = page.evaluate(
            """() => {
              const c = document.querySelector('.vega-embed canvas');
              if (!c) return document.querySelectorAll('.vega-embed svg path, .vega-embed svg rect').length;
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
              return n;
            }"""
        )
        assert drawn > 1000, f"the chart has {drawn} painted pixels"

        # nothing was asked of the outside world, nothing local was missing
        assert blocked == [], blocked
        assert failed == [], failed
        assert not [e for e in errors if "vega" in e.lower() or "jquery" in e.lower()], errors
        html = page.content()
        assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html

        shot = tmp_path / "datadocs-offline.png"
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000
        chart_shot = tmp_path / "datadocs-offline-chart.png"
        # the row of the distribution: the expected shares beside the observed ones
        chart.locator("xpath=ancestor::tr[1]").screenshot(path=str(chart_shot))
        if os.environ.get("IKOU_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, SCREENSHOT)
            shutil.copyfile(chart_shot, SCREENSHOT.with_name("datadocs-offline-chart.png"))

        # the served scripts carry their licences
        r = page.request.get(base + "/ikou/docs/static/vendor/manifest.json")
        assert r.status == 200
        packages = r.json()["packages"]
        assert any(p["package"] == "vega" for p in packages.values())
        for p in packages.values():
            for lic in p["licence_files"]:
                assert page.request.get(f"{base}/ikou/docs/static/vendor/{lic}").status == 200
    finally:
        ctx.close()
