"""Data Docs for auditors: one site over all domains and all runs, built in one serialised step.

Gates publish their (scrubbed) validation results to ``s3://{reports}/gx/validations/…`` — one
object per suite and run, so a run never overwrites another's. :func:`build_site` turns them into
the site under ``s3://{reports}/docs/``:

1. takes the **build lock** (below) — only one build at a time, whoever starts it;
2. downloads the results that have no page yet (small JSON documents, counts only), renders
   them with GX's own site builder (a validation page is never re-rendered: it describes one
   run), and the expectation-suite pages whose suite changed;
3. adds to each new validation page a banner with Ikou's gate verdict, the mode, the effective
   severities and any override (reason, who, when) — the override is part of the audit trail;
4. writes Ikou's own index (``docs/ikou/index.html``: domains → runs → gates, static HTML, from
   the entries kept in ``docs/_ikou_site.json``: the domains by their Japanese names in the
   plan's order, each domain's latest run first, with the gates' verdict and override marks and
   times in JST with their 和暦 date) and GX's index while the history is small enough (it
   needs every result), uploads what changed and releases the lock. The work grows with the
   new results, not with the history.

Offline: every page GX renders loads its scripts and stylesheets from public CDNs; before upload
each page's links are rewritten to the copies published under ``docs/static/vendor/``
(:mod:`ikou.quality.offline`: pinned npm packages collected at build time, with their licences).
Without those assets the build stops before it takes the lock (exit 4): no page is ever
published that needs the internet.

Run by the master DAG's ``publish_docs`` task (one per master run; ``max_active_runs=1``) and by
``ikou docs build``; the lock makes the two safe when they overlap.

**The lock** is an object, ``gx/_docs_build.lock`` in the reports bucket, created with a
conditional put (``If-None-Match: *``: S3, MinIO and moto refuse it when the object exists), so
exactly one builder holds it; the holder renews it (``If-Match`` its ETag) while it works, and
a lock older than its TTL (a builder that died) is taken over with ``If-Match`` on the stale
ETag, so two waiting builders cannot both take it. It needs no database shared by all machines
(the embedded stack's metadata DB is SQLite, the workers of the real deployment share only S3).

The lock is :mod:`ikou.quality.docs_lock`, the banner and Ikou's index :mod:`ikou.quality.docs_index`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
import time
from pathlib import Path

from ikou.config import settings
from ikou.quality.docs_index import banner, index_entry, inject_banner, render_index
from ikou.quality.docs_lock import BuildLock
from ikou.quality.offline import Assets, load_assets, rewrite_page, site_files
from ikou.quality.results import RESULTS_PREFIX
from ikou.storage import Store

DOCS_PREFIX = "docs/"
SITE_MANIFEST = "docs/_ikou_site.json"
IKOU_INDEX = "ikou/index.html"

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ the build


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _suite_pages(gx_project: Path) -> dict[str, tuple[str, str]]:
    """suite name -> (relative page path, sha256 of the suite JSON)."""
    out = {}
    base = gx_project / "expectations"
    for p in sorted(base.rglob("*.json")):
        rel = p.relative_to(base).with_suffix("")
        out[".".join(rel.parts)] = (
            "expectations/" + rel.as_posix() + ".html",
            _sha(p.read_bytes()),
        )
    return out


#: GX's own index page needs every result in the builder's store; up to this many results it is
#: rebuilt each time (all results downloaded), beyond it only Ikou's index is (see build_site).
GX_INDEX_LIMIT = 3000


def build_site(
    store: Store | None = None, lock_timeout: float = 20 * 60, gx_index: bool | None = None
) -> dict:
    """Build (incrementally) and publish the Data Docs site, holding the build lock.

    Only results without a page are downloaded and rendered; Ikou's index is made from the index
    entries kept in the site manifest (``docs/_ikou_site.json``) plus the new ones. GX's own index
    (``docs/index.html``) needs every result: it is rebuilt when ``gx_index`` is true, or (None)
    while the history holds at most :data:`GX_INDEX_LIMIT` results.
    """
    started = time.monotonic()
    assets = load_assets()  # no assets, no site: never a page that needs the internet
    store = store or Store()
    bucket = settings().reports_bucket
    lock = BuildLock(store, bucket, timeout=lock_timeout)
    with lock:
        figures = _build(store, bucket, lock, gx_index, assets)
    figures.update(seconds=round(time.monotonic() - started, 2), lock_waited_seconds=lock.waited)
    return figures


def _stand_in(path: Path) -> None:
    """An empty file in the builder's target store: GX lists the page in its index (never
    re-rendered, never uploaded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def _build(
    store: Store, bucket: str, lock: BuildLock, gx_index: bool | None, assets: Assets
) -> dict:
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from ikou.quality.gate import context, forget_context, gx_root

    try:
        site = json.loads(store.get_bytes(f"s3://{bucket}/{SITE_MANIFEST}"))
    except FileNotFoundError:
        site = {}
    known: dict[str, dict] = {e["page"]: e for e in site.get("entries", [])}
    have_static = bool(site.get("static"))
    suites_now = _suite_pages(gx_root() / "gx")
    last_renew = time.monotonic()

    def keep_lock() -> None:
        nonlocal last_renew
        if time.monotonic() - last_renew > 60:
            lock.renew()
            last_renew = time.monotonic()

    keys = [
        uri.split(RESULTS_PREFIX, 1)[1] for uri in store.list(f"s3://{bucket}/{RESULTS_PREFIX}")
    ]
    keys = [k for k in keys if k.endswith(".json")]
    page_of = {k: "validations/" + k[: -len(".json")] + ".html" for k in keys}
    new_keys = [k for k in keys if page_of[k] not in known]
    full_index = gx_index if gx_index is not None else len(keys) <= GX_INDEX_LIMIT
    with tempfile.TemporaryDirectory(prefix="ikou-docs-") as tmp:
        work = Path(tmp)
        results, docs = work / "validations", work / "docs"
        from great_expectations.core.expectation_validation_result import (
            ExpectationSuiteValidationResultSchema,
        )

        schema = ExpectationSuiteValidationResultSchema()
        new_ids, new_rel, invalid = [], {}, []
        for k in keys if full_index else new_keys:
            path = store.download(f"s3://{bucket}/{RESULTS_PREFIX}{k}", results / k)
            page = page_of[k]
            if page in known:
                _stand_in(docs / page)
            else:
                text = path.read_text(encoding="utf-8")
                try:
                    schema.loads(text)  # one malformed object must not stop the site
                except Exception:  # noqa: BLE001 - marshmallow / JSON errors
                    invalid.append(k)
                    path.unlink()
                    continue
                body = json.loads(text)
                known[page] = index_entry(k, body)
                new_ids.append(
                    ValidationResultIdentifier.from_tuple(tuple(k[: -len(".json")].split("/")))
                )
                new_rel[page] = body
            keep_lock()
        used = {".".join(e["page"].split("/")[1:4]) for e in known.values()}  # suites with results
        changed_suites = [
            n
            for n, (page, sha) in suites_now.items()
            if n in used and site.get("suites", {}).get(n) != sha
        ]
        for name, (page, _) in suites_now.items():
            if name not in changed_suites:
                _stand_in(docs / page)
        ids = new_ids + [ExpectationSuiteIdentifier(name=n) for n in changed_suites]
        if ids:  # (an empty list would make GX render every resource)
            forget_context()
            ctx = context("sqlite://", str(results), str(docs))
            ctx.build_data_docs(
                site_names=["ikou_docs"], resource_identifiers=ids, build_index=full_index
            )
            forget_context()
        for page, body in new_rel.items():
            p = docs / page
            if p.exists():
                inject_banner(p, banner(body.get("meta") or {}, body))
        built_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        (docs / IKOU_INDEX).parent.mkdir(parents=True, exist_ok=True)
        (docs / IKOU_INDEX).write_text(
            render_index(list(known.values()), built_at), encoding="utf-8"
        )
        upload = [docs / p for p in new_rel] + [docs / suites_now[n][0] for n in changed_suites]
        upload += [docs / IKOU_INDEX] + ([docs / "index.html"] if ids and full_index else [])
        if not have_static and ids:
            upload += [p for p in (docs / "static").rglob("*") if p.is_file()]
        for p in upload:  # GX's pages: CDN links -> the copies under static/vendor/
            if p.suffix == ".html" and p.is_file() and p.stat().st_size and p != docs / IKOU_INDEX:
                rel = p.relative_to(docs).as_posix()
                p.write_text(
                    rewrite_page(p.read_text(encoding="utf-8"), rel, assets), encoding="utf-8"
                )
        uploaded = 0
        for p in upload:
            if not p.is_file() or p.stat().st_size == 0:
                continue
            rel = p.relative_to(docs).as_posix()
            ctype = "text/html; charset=utf-8" if p.suffix == ".html" else None
            store.put_file(f"s3://{bucket}/{DOCS_PREFIX}{rel}", p, content_type=ctype)
            uploaded += 1
            keep_lock()
        vendor_uploaded = site.get("vendor") != assets.digest
        if vendor_uploaded:  # the scripts and stylesheets the pages load, with their licences
            for rel, path in site_files(assets):
                store.put_file(f"s3://{bucket}/{DOCS_PREFIX}{rel}", path)
                uploaded += 1
                keep_lock()
        republished = 0
        if site and not site.get("vendor"):
            # pages published before Ikou served the assets: rewritten once, in place
            done = {docs / p for p in upload}
            older = [p for p in site.get("pages", []) if docs / p not in done]
            older += [pg for pg, _ in suites_now.values() if docs / pg not in done]
            older += [] if docs / "index.html" in done else ["index.html"]
            for rel in older:
                uri = f"s3://{bucket}/{DOCS_PREFIX}{rel}"
                try:
                    text = store.get_bytes(uri).decode("utf-8")
                except FileNotFoundError:
                    continue
                new = rewrite_page(text, rel, assets)
                if new != text:
                    store.put_bytes(
                        uri, new.encode("utf-8"), content_type="text/html; charset=utf-8"
                    )
                    republished += 1
                keep_lock()
        rendered = dict(site.get("suites", {}))
        rendered.update({n: suites_now[n][1] for n in changed_suites})
        entries = sorted(known.values(), key=lambda e: e["page"])
        site = {
            "built_at": built_at,
            "validation_results": len(entries),
            "static": have_static or bool(ids),
            "vendor": assets.digest,
            "gx_index_complete": bool(full_index),
            "suites": rendered,
            "pages": [e["page"] for e in entries],
            "entries": entries,
        }
        store.put_bytes(
            f"s3://{bucket}/{SITE_MANIFEST}",
            json.dumps(site, ensure_ascii=False).encode("utf-8"),
            content_type="application/json",
        )
    return {
        "validation_results": len(entries),
        "new_pages": len(new_rel),
        "suite_pages": len(changed_suites),
        "uploaded": uploaded,
        "gx_index_rebuilt": bool(ids and full_index),
        "vendor_assets_uploaded": vendor_uploaded,
        "pages_rewritten_offline": republished,
        "invalid_results": invalid,
        "site": f"s3://{bucket}/{DOCS_PREFIX}{IKOU_INDEX}",
        "gx_index": f"s3://{bucket}/{DOCS_PREFIX}index.html",
    }
