"""Data Docs offline (ikou.quality.offline): CDN URLs -> npm packages, the collector, the link
rewriting at publication, and a real GX validation page rewritten against the collected assets."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from ikou.quality import offline
from ikou.quality.offline import (
    AssetsMissing,
    ExternalResource,
    collect,
    external_loads,
    load_assets,
    parse_cdn_url,
    rewrite_page,
    satisfies,
)

# ---------------------------------------------------------------------------- URL -> package


@pytest.mark.parametrize(
    ("url", "package", "spec", "path"),
    [
        ("https://cdn.jsdelivr.net/npm/vega@5", "vega", "5", None),
        ("https://cdn.jsdelivr.net/npm/vega-embed@6", "vega-embed", "6", None),
        (
            "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
            "@forevolve/bootstrap-dark",
            "1.1.0",
            "dist/css/bootstrap-prefers-dark.css",
        ),
        (
            "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css",
            "bootstrap-table",
            "1.19.0",
            "dist/extensions/filter-control/bootstrap-table-filter-control.css",
        ),
        (
            "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
            "@fortawesome/fontawesome-free",
            "6.6.0",
            "css/all.min.css",
        ),
        (
            "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js",
            "popper.js",
            "1.12.9",
            "dist/umd/popper.min.js",
        ),
        ("https://code.jquery.com/jquery-3.7.1.min.js", "jquery", "3.7.1", "dist/jquery.min.js"),
        (
            "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js",
            "bootstrap",
            "4.3.1",
            "dist/js/bootstrap.min.js",
        ),
        (
            "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css",
            "bootstrap",
            "4.3.1",
            "dist/css/bootstrap.min.css",
        ),
    ],
)
def test_cdn_urls_name_an_npm_package_a_version_and_a_file(url, package, spec, path):
    w = parse_cdn_url(url)
    assert (w.package, w.spec, w.path) == (package, spec, path)


def test_an_unknown_cdn_library_is_refused():
    with pytest.raises(ExternalResource, match="no npm package known"):
        parse_cdn_url("https://cdnjs.cloudflare.com/ajax/libs/leaflet/1.9.4/leaflet.js")


def test_version_specs():
    assert satisfies("5.33.1", "5") and satisfies("5.33.1", "^5") and satisfies("5.33.1", "5.x")
    assert not satisfies("6.0.0", "5") and not satisfies("15.0.0", "1")
    assert satisfies("1.19.1", "1.19.1") and not satisfies("1.19.1", "1.19.0")
    assert satisfies("1.19.0", "1.19")


# ---------------------------------------------------------------------------- the collector


def _pkg(nm: Path, folder: str, name: str, version: str, files: dict, **meta) -> Path:
    d = nm / folder
    d.mkdir(parents=True)
    (d / "package.json").write_text(json.dumps({"name": name, "version": version, **meta}))
    for rel, body in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(body if isinstance(body, bytes) else body.encode())
    return d


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@pytest.fixture()
def node_modules(tmp_path):
    nm = tmp_path / "node_modules"
    _pkg(
        nm,
        "vega",
        "vega",
        "5.33.1",
        {"build/vega.min.js": "/*vega*/", "build/vega.js": "x"},
        jsdelivr="build/vega.min.js",
        license="BSD-3-Clause",
        dependencies={"d3-array": "^3"},
    )
    _pkg(nm, "d3-array", "d3-array", "3.2.4", {"LICENSE": "ISC licence of d3-array"})
    _pkg(
        nm,
        "@fortawesome/fontawesome-free",
        "@fortawesome/fontawesome-free",
        "6.6.0",
        {
            "css/all.min.css": "@font-face{src:url(../webfonts/fa-solid-900.woff2) format('woff2')}",
            "webfonts/fa-solid-900.woff2": b"\x00font",
            "webfonts/unused.ttf": b"\x00",
            "LICENSE.txt": "Font Awesome Free License",
        },
    )
    _pkg(
        nm, "bootstrap-table", "bootstrap-table", "1.19.1", {"dist/t.css": "a{}", "LICENSE": "MIT"}
    )
    _pkg(
        nm,
        "bootstrap-table-1.19.0",
        "bootstrap-table",
        "1.19.0",
        {"dist/t.css": "b{}", "LICENSE": "MIT"},
    )
    _pkg(nm, "popper.js", "popper.js", "1.12.9", {"dist/umd/popper.min.js": "/*popper*/"})
    return nm


URLS = {
    "https://cdn.jsdelivr.net/npm/vega@5": None,
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": None,
    "https://unpkg.com/bootstrap-table@1.19.1/dist/t.css": None,
    "https://unpkg.com/bootstrap-table@1.19.0/dist/t.css": None,
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": _sri(
        b"/*popper*/"
    ),
}


def test_collect_copies_the_exact_files_their_fonts_and_licences(node_modules, tmp_path):
    out = tmp_path / "assets"
    m = collect(node_modules, out, dict(URLS))
    assert m["urls"]["https://cdn.jsdelivr.net/npm/vega@5"] == "npm/vega@5.33.1/build/vega.min.js"
    # two versions of one package side by side (an npm alias in package.json)
    assert (
        out / m["urls"]["https://unpkg.com/bootstrap-table@1.19.0/dist/t.css"]
    ).read_text() == "b{}"
    assert (
        out / m["urls"]["https://unpkg.com/bootstrap-table@1.19.1/dist/t.css"]
    ).read_text() == "a{}"
    # the font the stylesheet refers to, relatively; not the unused one
    fa = out / "npm/@fortawesome/fontawesome-free@6.6.0"
    assert (fa / "webfonts/fa-solid-900.woff2").read_bytes() == b"\x00font"
    assert not (fa / "webfonts/unused.ttf").exists()
    assert (fa / "LICENSE.txt").read_text() == "Font Awesome Free License"
    # a package without a licence file: its package.json's licence; a bundle: its dependencies'
    assert "BSD-3-Clause" in (out / "npm/vega@5.33.1/LICENSE.txt").read_text()
    third = (out / "npm/vega@5.33.1/THIRD-PARTY-LICENSES.txt").read_text()
    assert "d3-array 3.2.4" in third and "ISC licence of d3-array" in third
    assert m["packages"]["npm/vega@5.33.1"]["license"] == "BSD-3-Clause"
    assert "npm/vega@5.33.1/build/vega.js" not in m["files"]  # only what a page loads
    for rel, sha in m["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == sha
    assets = load_assets(out)
    assert assets.urls == m["urls"] and len(assets.digest) == 64


def test_collect_refuses_what_the_lock_does_not_pin(node_modules, tmp_path):
    urls = {**URLS, "https://cdn.jsdelivr.net/npm/vega-lite@5": None}
    urls["https://unpkg.com/bootstrap-table@1.20.0/dist/t.css"] = None
    with pytest.raises(ExternalResource) as exc:
        collect(node_modules, tmp_path / "assets", urls)
    msg = str(exc.value)
    assert "vega-lite@5" in msg and "no such package" in msg
    assert "bootstrap-table@1.20.0" in msg and "1.19.0, 1.19.1" in msg
    assert not (tmp_path / "assets").exists()  # nothing half-collected


def test_collect_checks_the_templates_integrity_hashes(node_modules, tmp_path):
    urls = dict(URLS)
    urls["https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js"] = _sri(
        b"another file"
    )
    with pytest.raises(ExternalResource, match="integrity"):
        collect(node_modules, tmp_path / "assets", urls)


def test_collect_without_node_modules_fails_clearly(tmp_path):
    with pytest.raises(AssetsMissing, match="npm ci") as exc:
        collect(tmp_path / "nothing", tmp_path / "assets", dict(URLS))
    assert exc.value.exit_code == 4


def test_missing_or_incomplete_assets_fail_clearly(node_modules, tmp_path):
    with pytest.raises(AssetsMissing, match="make venv") as exc:
        load_assets(tmp_path / "none")
    assert exc.value.exit_code == 4
    out = tmp_path / "assets"
    collect(node_modules, out, dict(URLS))
    (out / "npm/vega@5.33.1/build/vega.min.js").unlink()
    with pytest.raises(AssetsMissing, match="incomplete"):
        load_assets(out)


# ---------------------------------------------------------------------------- the rewriting


@pytest.fixture()
def assets(node_modules, tmp_path):
    out = tmp_path / "assets"
    collect(node_modules, out, dict(URLS))
    return load_assets(out)


PAGE = """<html><head>
<link rel="stylesheet" href="https://unpkg.com/bootstrap-table@1.19.1/dist/t.css">
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" integrity="sha384-x" crossorigin="anonymous"></script>
<style>.dark{background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png') 0 0}</style>
</head><body><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20261204T000000Z">
<a href="https://greatexpectations.io/newsletter">Subscribe</a>
<script>vlSpec = {'$schema': 'https://vega.github.io/schema/vega-lite/v5.json'}</script></body></html>"""


def test_links_are_rewritten_relative_to_the_page(assets):
    page = "validations/juki/ATENA/gate_raw/run/20261204T000000.000000Z/batch.html"
    out = rewrite_page(PAGE, page, assets)
    up = "../" * 6
    assert f'href="{up}static/vendor/npm/bootstrap-table@1.19.1/dist/t.css"' in out
    assert f'src="{up}static/vendor/npm/vega@5.33.1/build/vega.min.js"' in out
    assert f'src="{up}static/vendor/npm/popper.js@1.12.9/dist/umd/popper.min.js"' in out
    assert f'src="{up}static/images/logo-long.png"' in out  # GX ships its logo
    assert f"url('{up}static/images/logo-long.png')" in out  # (and not the dark one)
    assert 'href="https://greatexpectations.io/newsletter"' in out  # a hyperlink stays
    assert "unpkg.com" not in out and "jsdelivr" not in out and "amazonaws" not in out
    assert external_loads(out) == []
    # at the top of the site
    assert 'href="static/vendor/npm/bootstrap-table@1.19.1/dist/t.css"' in rewrite_page(
        PAGE, "index.html", assets
    )


def test_a_cdn_url_that_was_not_collected_fails_publication(assets):
    page = PAGE.replace("vega@5", "vega@6")
    with pytest.raises(ExternalResource, match="vega@6") as exc:
        rewrite_page(page, "validations/x.html", assets)
    assert exc.value.exit_code == 1


@pytest.mark.parametrize(
    "load",
    [
        '<script src="https://example.org/x.js"></script>',
        '<link rel="stylesheet" href="//fonts.example.org/css">',
        "<style>@import 'https://fonts.example.org/css';</style>",
        "<style>body{background:url(https://example.org/bg.png)}</style>",
        '<img src="http://example.org/a.png">',
    ],
)
def test_anything_else_loaded_from_outside_fails_publication(assets, load):
    with pytest.raises(ExternalResource, match="would load from outside"):
        rewrite_page(PAGE.replace("</body>", load + "</body>"), "validations/x.html", assets)


# ------------------------------------------------------------ a real GX page, the real assets


def _gx_validation_page() -> str:
    """A validation page rendered by the installed GX, with a chart (KL divergence)."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    part = {"values": ["1", "2", "3"], "weights": [0.5, 0.3, 0.2]}
    cfg = ExpectationConfiguration(
        type="expect_column_kl_divergence_to_be_less_than",
        kwargs={"column": "KBN", "partition_object": part, "threshold": None},
    )
    res = ExpectationValidationResult(
        success=True,
        expectation_config=cfg,
        result={
            "observed_value": 0.0,
            "details": {"observed_partition": part, "expected_partition": part},
        },
    )
    vr = ExpectationSuiteValidationResult(
        success=True,
        results=[res],
        suite_name="juki.ATENA.gate_raw",
        statistics={
            "evaluated_expectations": 1,
            "successful_expectations": 1,
            "unsuccessful_expectations": 0,
            "success_percent": 100.0,
        },
        meta={"run_id": {"run_name": "r1", "run_time": "2026-12-04T00:00:00+00:00"}},
    )
    return DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(vr))


def test_every_script_and_stylesheet_of_a_real_gx_page_is_served_by_ikou():
    """Against the assets `make venv` collected from vendor/datadocs' lock (they must exist:
    without them Data Docs cannot be published offline, and this test says so)."""
    assets = load_assets()
    page = _gx_validation_page()
    assert "vegaEmbed(" in page and "cdn.jsdelivr.net/npm/vega@5" in page
    rel = "validations/juki/ATENA/gate_raw/r1/20261204T000000.000000Z/b.html"
    out = rewrite_page(page, rel, assets)
    assert external_loads(out) == []
    site = Path("/site") / rel
    local = re.findall(r"(?:src|href)=\"(\.\./[^\"]+)\"", out)
    vendored = [u for u in local if "/static/vendor/" in u]
    assert len(vendored) >= 15  # every script and stylesheet of the template
    files = {f"static/vendor/{r}" for r in assets.files}
    for u in vendored:
        target = (site.parent / u).resolve().relative_to("/site").as_posix()
        assert target in files, u
    # the templates' SRI hashes still hold for the served copies
    for url, sri in re.findall(r'src="([^"]+)" integrity="([^"]+)"', out):
        target = (site.parent / url).resolve().relative_to("/site").as_posix()
        data = (assets.root / target.removeprefix("static/vendor/")).read_bytes()
        assert _sri(data) == sri
    # the versions GX asks for
    pkgs = {
        p["package"]: p["version"]
        for p in assets.packages.values()
        if p["package"] != "bootstrap-table"
    }
    assert pkgs["vega"].startswith("5.") and pkgs["vega-lite"].startswith("5.")
    assert pkgs["vega-embed"].startswith("6.") and pkgs["jquery"] == "3.7.1"
    assert pkgs["bootstrap"] == "4.3.1" and pkgs["@fortawesome/fontawesome-free"] == "6.6.0"


def test_the_lock_pins_exact_versions_and_names_no_registry_host():
    root = Path(offline.__file__).resolve().parents[3] / "vendor" / "datadocs"
    pj = json.loads((root / "package.json").read_text())
    assert all(
        re.fullmatch(r"(npm:[\w@/.-]+@)?\d+\.\d+\.\d+", v) for v in pj["dependencies"].values()
    )
    lock = json.loads((root / "package-lock.json").read_text())
    assert all("integrity" in p for k, p in lock["packages"].items() if k)
    assert "resolved" not in (root / "package-lock.json").read_text()


def test_publication_stops_before_the_lock_without_assets(tmp_path, monkeypatch):
    from ikou.quality import docs

    monkeypatch.setenv("IKOU_DATADOCS_ASSETS", str(tmp_path / "not-installed"))
    with pytest.raises(AssetsMissing, match="not installed"):
        docs.build_site(store=object())  # never reaches the store (nor its lock)
