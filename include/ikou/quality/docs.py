"""Data Docs for auditors: one site over all domains and all runs, built in one serialised step.

Gates publish their validation results to ``s3://{reports}/gx/validations/…`` (one object per
suite and run: a run never overwrites another's). :func:`build_site` — run by the master DAG's
``publish_docs`` task, one at a time — copies them into a private GX store, renders the site
with GX's own site builder, and uploads it under ``docs/`` in the reports bucket.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ikou.config import settings
from ikou.storage import Store

RESULTS_PREFIX = "gx/validations/"
DOCS_PREFIX = "docs/"


def build_site(store: Store | None = None) -> dict:
    from ikou.quality.gate import _context, gx_root

    started = time.monotonic()
    store = store or Store()
    bucket = settings().reports_bucket
    with tempfile.TemporaryDirectory(prefix="ikou-docs-") as tmp:
        work = Path(tmp)
        results, docs = work / "validations", work / "docs"
        n = 0
        for uri in store.list(f"s3://{bucket}/{RESULTS_PREFIX}"):
            rel = uri.split(RESULTS_PREFIX, 1)[1]
            store.download(uri, results / rel)
            n += 1
        _context.cache_clear()
        ctx = _context(str(gx_root()), "sqlite://",
                       str(results), str(docs))
        ctx.build_data_docs(site_names=["ikou_docs"])
        uploaded = 0
        for p in sorted(docs.rglob("*")):
            if p.is_file():
                rel = p.relative_to(docs).as_posix()
                ctype = "text/html; charset=utf-8" if p.suffix == ".html" else None
                store.put_file(f"s3://{bucket}/{DOCS_PREFIX}{rel}", p, content_type=ctype)
                uploaded += 1
        _context.cache_clear()
    return {"validation_results": n, "pages": uploaded, "site": f"s3://{bucket}/{DOCS_PREFIX}index.html",
            "seconds": round(time.monotonic() - started, 2)}
