"""Data Docs that work on a closed network: every script and stylesheet served by Ikou.

GX's page templates load Bootstrap, bootstrap-table (two versions), the datepicker, jQuery,
Popper, Font Awesome and Vega / Vega-Lite / Vega-Embed from public CDNs, which a municipal closed
network (LGWAN) does not reach: the pages fall apart into unstyled text and lose their charts.
Ikou serves them itself:

**At build time** (``make venv``; the Dockerfile's ``datadocs`` stage), ``npm ci
--ignore-scripts`` installs ``vendor/datadocs/package.json`` exactly as its lock says (the npm
registry, nothing run), then :func:`collect` (``python -m ikou.quality.offline collect``) scans
the *installed* GX's templates for every CDN URL (:data:`CDN_URL`), resolves each one to a package
of ``node_modules`` whose version satisfies what the URL asks for (``vega@5``: a 5.x; ``jquery-
3.7.1``: exactly 3.7.1), copies the exact file — and what its CSS refers to (Font Awesome's web
fonts) — with the package's licence files and the licences of the packages its bundle is built
from, checks the ``integrity`` hashes GX's templates carry, and writes ``manifest.json``. A URL
that no pinned package satisfies fails the build: a GX upgrade that asks for a new library is
seen at build time, never in front of an auditor.

**At run time** nothing is downloaded. :func:`build_site` (ikou.quality.docs) publishes the
collected files under ``docs/static/vendor/`` of the reports bucket (served by the ``ikou_ui``
plugin like every Data Docs page) and :func:`rewrite_page` rewrites every page's links to them
(relative links, so the site also works from a copy on disk). Without the collected assets
publication fails with one line (:class:`AssetsMissing`, exit 4) — there is no silent fallback
to a CDN — and a page that still loads anything from outside after rewriting is refused
(:class:`ExternalResource`, exit 1). GX's logo, which its navbar takes from a public web-assets
bucket, is pointed at the copy GX itself ships in ``static/images/``.

Where the assets are: ``$IKOU_DATADOCS_ASSETS`` (the Docker image sets it: the compose file
mounts ``./include`` over the image's), else this package's ``datadocs_vendor/`` folder.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ikou.errors import Refused, Unreadable

#: Where the collected assets are published inside the Data Docs site (docs/ of the reports bucket).
SITE_DIR = "static/vendor"
MANIFEST = "manifest.json"

#: Every CDN a GX template refers to (the hosts GX 1.x uses; ``collect`` scans the templates).
CDN_URL = re.compile(
    r"https?://(?:cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|code\.jquery\.com|"
    r"(?:maxcdn|stackpath|netdna)\.bootstrapcdn\.com)/[^\s\"'<>()]+"
)
#: GX's navbar logo comes from a public bucket; GX ships the same images in its static folder.
GX_WEB_ASSETS = re.compile(
    r"https://great-expectations-web-assets\.s3[.\w-]*\.amazonaws\.com/([\w.-]+?)(?:\?[^\"'\s<>]*)?(?=[\"'])"
)
#: cdnjs library names -> (npm package, folder of the npm package that cdnjs serves)
CDNJS = {
    "font-awesome": ("@fortawesome/fontawesome-free", ""),
    "popper.js": ("popper.js", "dist/"),
    "bootstrap-datepicker": ("bootstrap-datepicker", "dist/"),
    "jquery": ("jquery", "dist/"),
    "twitter-bootstrap": ("bootstrap", "dist/"),
}
_NPM_CDN = re.compile(
    r"^https?://(?:cdn\.jsdelivr\.net/npm|unpkg\.com)/((?:@[\w.-]+/)?[\w.-]+)@([\w.^~-]+)(/.*)?$"
)
_CDNJS = re.compile(r"^https?://cdnjs\.cloudflare\.com/ajax/libs/([\w.-]+)/([\w.-]+)/(.+)$")
_JQUERY = re.compile(r"^https?://code\.jquery\.com/jquery-(\d+\.\d+\.\d+)(\.min)?\.js$")
_BOOTSTRAPCDN = re.compile(
    r"^https?://(?:maxcdn|stackpath|netdna)\.bootstrapcdn\.com/bootstrap/([\d.]+)/(.+)$"
)
_LICENCE_FILE = re.compile(r"^(licen[cs]e|copying|notice)([.-].*)?$", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+?)['\"]?\s*\)")
#: resources a browser loads by itself (not hyperlinks): script/img src, link href, CSS url()
_LOADED = re.compile(
    r"<(?:script|img|iframe|source|embed)\b[^>]*?\bsrc\s*=\s*[\"']?(https?:)?//[^\"'\s>]+"
    r"|<link\b[^>]*?\bhref\s*=\s*[\"']?(https?:)?//[^\"'\s>]+"
    r"|url\(\s*[\"']?(?:https?:)?//[^\"')]+"
    r"|@import\s+[\"'](?:https?:)?//[^\"']+",
    re.IGNORECASE,
)
_URL_IN = re.compile(r"(?:https?:)?//[^\"'\s>)]+")
_INTEGRITY = re.compile(
    r"""(?:src|href)\s*=\s*["']([^"']+)["'][^>]*?\bintegrity\s*=\s*["']([^"']+)["']""",
    re.IGNORECASE,
)


class AssetsMissing(Unreadable):
    """The collected browser assets are not installed (exit 4)."""


class ExternalResource(Refused):
    """A Data Docs page would load something from outside Ikou (exit 1)."""


@dataclass(frozen=True)
class Wanted:
    """What a CDN URL asks for: an npm package, a version spec and a file (None: the package's
    CDN entry point, ``jsdelivr`` / ``unpkg`` / ``browser`` / ``main`` of its package.json)."""

    package: str
    spec: str
    path: str | None
    cdn: str  # "jsdelivr" or "unpkg" (which entry point field applies)


def parse_cdn_url(url: str) -> Wanted:
    """The npm package, version spec and file a CDN URL of a GX template names."""
    m = _NPM_CDN.match(url)
    if m:
        cdn = "unpkg" if "unpkg.com" in url else "jsdelivr"
        path = (m.group(3) or "").lstrip("/") or None
        return Wanted(m.group(1), m.group(2), path, cdn)
    m = _CDNJS.match(url)
    if m:
        lib, version, path = m.groups()
        if lib not in CDNJS:
            raise ExternalResource(
                f"Data Docs: no npm package known for the cdnjs library {lib!r} ({url}); "
                f"known: {', '.join(sorted(CDNJS))}"
            )
        package, folder = CDNJS[lib]
        return Wanted(package, version, folder + path, "jsdelivr")
    m = _JQUERY.match(url)
    if m:
        return Wanted("jquery", m.group(1), f"dist/jquery{m.group(2) or ''}.js", "jsdelivr")
    m = _BOOTSTRAPCDN.match(url)
    if m:
        return Wanted("bootstrap", m.group(1), "dist/" + m.group(2), "jsdelivr")
    raise ExternalResource(f"Data Docs: a CDN URL Ikou cannot map to an npm package: {url}")


def satisfies(version: str, spec: str) -> bool:
    """``5`` / ``5.x`` / ``^5`` -> any 5.x.y; ``1.19`` -> 1.19.z; ``1.19.1`` -> exactly that."""
    spec = spec.lstrip("^~=v").removesuffix(".x")
    want = spec.split(".")
    have = version.split("-")[0].split(".")
    return len(want) <= len(have) and have[: len(want)] == want


def cdn_urls(text: str) -> list[str]:
    """The CDN URLs in a template or page, in order, each once."""
    return list(dict.fromkeys(m.group(0) for m in CDN_URL.finditer(text)))


def gx_templates() -> Path:
    from great_expectations.render import view

    return Path(view.__file__).parent / "templates"


def gx_image(name: str) -> str:
    """The image of GX's public web-assets bucket as shipped in GX's ``static/images/`` (which
    the site builder copies into the site); the long logo for one GX does not ship (the dark
    theme's ``full_logo_dark.png``)."""
    from great_expectations.render import view

    images = Path(view.__file__).parent / "static" / "images"
    return name if (images / name).is_file() else "logo-long.png"


def template_urls() -> dict[str, str | None]:
    """Every CDN URL in the installed GX's templates -> the integrity hash a template gives it."""
    out: dict[str, str | None] = {}
    for p in sorted(gx_templates().rglob("*")):
        if not p.is_file():
            continue
        text = p.read_text(encoding="utf-8", errors="replace")
        integrity = dict(_INTEGRITY.findall(text))
        for url in cdn_urls(text):
            out[url] = out.get(url) or integrity.get(url)
    return out


# ------------------------------------------------------------------------------ build time


def _installed(node_modules: Path) -> list[tuple[str, str, Path]]:
    """(name, version, folder) of the top-level packages of node_modules (aliases included)."""
    out = []
    for d in sorted(node_modules.iterdir()):
        dirs = sorted(d.iterdir()) if d.name.startswith("@") and d.is_dir() else [d]
        for p in dirs:
            pj = p / "package.json"
            if pj.is_file():
                meta = json.loads(pj.read_text(encoding="utf-8"))
                out.append((meta.get("name", p.name), meta.get("version", "0"), p))
    return out


def _package_json(folder: Path) -> dict:
    return json.loads((folder / "package.json").read_text(encoding="utf-8"))


def _entry_point(folder: Path, cdn: str) -> str:
    meta = _package_json(folder)
    for key in (cdn, "jsdelivr", "unpkg", "browser", "main"):
        v = meta.get(key)
        if isinstance(v, str) and v:
            return v.removeprefix("./")
    return "index.js"


def _dependency(name: str, within: Path, node_modules: Path) -> Path | None:
    """Node's resolution: the package's own node_modules, then the top level."""
    for base in (within / "node_modules", node_modules):
        p = base / name
        if (p / "package.json").is_file():
            return p
    return None


def _closure(folder: Path, node_modules: Path) -> list[Path]:
    """A package's production dependencies, transitively (what its bundle is built from)."""
    seen: dict[Path, None] = {}
    todo = [folder]
    while todo:
        f = todo.pop()
        for dep in sorted(_package_json(f).get("dependencies") or {}):
            p = _dependency(dep, f, node_modules)
            if p is not None and p.resolve() not in seen and p.resolve() != folder.resolve():
                seen[p.resolve()] = None
                todo.append(p)
    return sorted(seen, key=lambda p: str(p))


def _licence_text(folder: Path) -> tuple[str, list[Path]]:
    meta = _package_json(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and _LICENCE_FILE.match(p.name))
    return str(meta.get("license") or meta.get("licenses") or "UNKNOWN"), files


def _sri(data: bytes, algo: str) -> str:
    return f"{algo}-" + base64.b64encode(hashlib.new(algo, data).digest()).decode()


def collect(node_modules: Path, out: Path, urls: dict[str, str | None] | None = None) -> dict:
    """Copy the files GX's CDN URLs name from ``node_modules`` into ``out`` (with licences and a
    manifest). Raises :class:`ExternalResource` for a URL no pinned package satisfies."""
    node_modules = Path(node_modules)
    if not node_modules.is_dir():
        raise AssetsMissing(
            f"Data Docs assets: {node_modules} does not exist: run `npm ci --ignore-scripts` in "
            "vendor/datadocs (make venv does)"
        )
    urls = template_urls() if urls is None else urls
    installed = _installed(node_modules)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files: dict[str, str] = {}
    mapping: dict[str, str] = {}
    packages: dict[str, dict] = {}
    problems: list[str] = []

    def copy(src: Path, rel: str) -> None:
        dst = tmp / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        files[rel] = hashlib.sha256(dst.read_bytes()).hexdigest()

    for url, integrity in sorted(urls.items()):
        want = parse_cdn_url(url)
        found = [(v, f) for n, v, f in installed if n == want.package and satisfies(v, want.spec)]
        if not found:
            have = sorted(v for n, v, _ in installed if n == want.package)
            problems.append(
                f"{url}: needs {want.package}@{want.spec}, vendor/datadocs/package.json pins "
                + (", ".join(have) if have else "no such package")
            )
            continue
        version, folder = max(found, key=lambda x: [int(p) for p in re.findall(r"\d+", x[0])])
        path = want.path or _entry_point(folder, want.cdn)
        src = folder / path
        if not src.is_file():
            problems.append(f"{url}: {want.package}@{version} has no file {path}")
            continue
        base = f"npm/{want.package}@{version}"
        rel = f"{base}/{path}"
        if integrity:
            algo = integrity.split("-", 1)[0]
            if _sri(src.read_bytes(), algo) != integrity:
                problems.append(f"{url}: {rel} does not match the template's integrity hash")
                continue
        copy(src, rel)
        mapping[url] = rel
        if src.suffix == ".css":  # fonts and images the stylesheet refers to, relatively
            for ref in _CSS_URL.findall(src.read_text(encoding="utf-8", errors="replace")):
                ref = ref.split("?")[0].split("#")[0]
                if not ref or ref.startswith(("data:", "http:", "https:", "//", "/")):
                    continue
                dep = (src.parent / ref).resolve()
                if dep.is_file() and dep.is_relative_to(folder.resolve()):
                    copy(dep, f"{base}/{dep.relative_to(folder.resolve()).as_posix()}")
        if base not in packages:
            spdx, lic = _licence_text(folder)
            names = []
            for f in lic:
                copy(f, f"{base}/{f.name}")
                names.append(f"{base}/{f.name}")
            if not lic:  # (popper.js, vega ship none: their package.json names the licence)
                meta = _package_json(folder)
                note = tmp / base / "LICENSE.txt"
                note.parent.mkdir(parents=True, exist_ok=True)
                note.write_text(
                    f"{want.package} {version}: licence {spdx} (from its package.json; the npm "
                    f"package ships no licence file)\nauthor: {meta.get('author')}\n"
                    f"repository: {json.dumps(meta.get('repository'))}\n",
                    encoding="utf-8",
                )
                files[f"{base}/LICENSE.txt"] = hashlib.sha256(note.read_bytes()).hexdigest()
                names.append(f"{base}/LICENSE.txt")
            third = []
            for dep in _closure(folder, node_modules):
                dspdx, dlic = _licence_text(dep)
                dmeta = _package_json(dep)
                body = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in dlic)
                third.append(
                    f"==== {dmeta.get('name')} {dmeta.get('version')} ({dspdx})\n"
                    + (body or "(no licence file in the package)")
                )
            if third:
                t = tmp / base / "THIRD-PARTY-LICENSES.txt"
                t.write_text(
                    f"Packages {want.package} {version} is built from (its npm dependencies):\n\n"
                    + "\n\n".join(third)
                    + "\n",
                    encoding="utf-8",
                )
                files[f"{base}/THIRD-PARTY-LICENSES.txt"] = hashlib.sha256(
                    t.read_bytes()
                ).hexdigest()
                names.append(f"{base}/THIRD-PARTY-LICENSES.txt")
            packages[base] = {
                "package": want.package,
                "version": version,
                "license": spdx,
                "licence_files": names,
            }
    if problems:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExternalResource(
            "Data Docs assets: GX's templates ask for what vendor/datadocs does not pin: "
            + "; ".join(problems)
        )
    manifest = {
        "urls": dict(sorted(mapping.items())),
        "packages": dict(sorted(packages.items())),
        "files": dict(sorted(files.items())),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return manifest


# ------------------------------------------------------------------------------ run time


def assets_dir() -> Path:
    env = os.environ.get("IKOU_DATADOCS_ASSETS")
    return Path(env) if env else Path(__file__).resolve().parent / "datadocs_vendor"


@dataclass(frozen=True)
class Assets:
    root: Path
    urls: dict[str, str]
    files: dict[str, str]
    packages: dict[str, dict]
    digest: str  # sha256 of the manifest: the site re-publishes the assets when it changes


@functools.lru_cache(maxsize=4)
def _load(root: str, stamp: float) -> Assets:
    path = Path(root) / MANIFEST
    raw = path.read_bytes()
    m = json.loads(raw)
    missing = [rel for rel in m["files"] if not (Path(root) / rel).is_file()]
    if missing:
        raise AssetsMissing(
            f"Data Docs assets in {root} are incomplete ({len(missing)} files missing, e.g. "
            f"{missing[0]}): run `make venv` (npm ci + collect) again"
        )
    return Assets(Path(root), m["urls"], m["files"], m["packages"], hashlib.sha256(raw).hexdigest())


def load_assets(root: Path | None = None) -> Assets:
    """The collected assets, or :class:`AssetsMissing` — never a fallback to a CDN."""
    root = Path(root) if root is not None else assets_dir()
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise AssetsMissing(
            f"Data Docs cannot be published offline: the browser assets are not installed "
            f"({manifest} missing); run `make venv` (npm ci --ignore-scripts in vendor/datadocs, "
            "then python -m ikou.quality.offline collect) or set IKOU_DATADOCS_ASSETS"
        )
    return _load(str(root), manifest.stat().st_mtime)


def rewrite_page(text: str, page: str, assets: Assets) -> str:
    """A Data Docs page (``page``: its path inside the site, e.g. ``validations/a/b.html``) with
    every CDN link pointing at the published copy, relatively. Raises :class:`ExternalResource`
    for a CDN URL that was not collected, or for anything else the page would load from outside."""
    up = "../" * page.count("/")
    unknown: list[str] = []

    def local(m: re.Match) -> str:
        rel = assets.urls.get(m.group(0))
        if rel is None:
            unknown.append(m.group(0))
            return m.group(0)
        return f"{up}{SITE_DIR}/{rel}"

    text = CDN_URL.sub(local, text)
    if unknown:
        raise ExternalResource(
            f"Data Docs page {page}: CDN URLs that were not collected at build time: "
            f"{', '.join(dict.fromkeys(unknown))} (rebuild the assets: make venv)"
        )
    text = GX_WEB_ASSETS.sub(lambda m: f"{up}static/images/{gx_image(m.group(1))}", text)
    left = external_loads(text)
    if left:
        raise ExternalResource(
            f"Data Docs page {page} would load from outside Ikou: {', '.join(left[:5])}"
        )
    return text


def external_loads(text: str) -> list[str]:
    """URLs outside the site that a browser would load for this page (not plain hyperlinks)."""
    out = []
    for m in _LOADED.finditer(text):
        u = _URL_IN.search(m.group(0))
        if u:
            out.append(u.group(0))
    return list(dict.fromkeys(out))


def site_files(assets: Assets) -> list[tuple[str, Path]]:
    """(path inside the Data Docs site, local file) of every collected file, plus the manifest."""
    out = [(f"{SITE_DIR}/{rel}", assets.root / rel) for rel in assets.files]
    out.append((f"{SITE_DIR}/{MANIFEST}", assets.root / MANIFEST))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m ikou.quality.offline",
        description="Collect the browser assets of GX's Data Docs pages from node_modules.",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect", help="copy the files GX's CDN URLs name, with their licences")
    here = Path(__file__).resolve()
    default_nm = here.parents[3] / "vendor" / "datadocs" / "node_modules"
    c.add_argument("--node-modules", type=Path, default=default_nm)
    c.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: $IKOU_DATADOCS_ASSETS or the package's datadocs_vendor/",
    )
    sub.add_parser("check", help="exit 4 unless the collected assets are complete")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "collect":
            m = collect(args.node_modules, args.out or assets_dir())
            print(
                f"Data Docs assets: {len(m['urls'])} CDN URLs -> {len(m['packages'])} packages, "
                f"{len(m['files'])} files in {args.out or assets_dir()}"
            )
        else:
            a = load_assets()
            print(f"Data Docs assets: {len(a.urls)} URLs, {len(a.files)} files in {a.root}")
    except (AssetsMissing, ExternalResource) as exc:
        print(f"ikou: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
