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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import logging
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path

from ikou.config import settings
from ikou.quality.offline import Assets, load_assets, rewrite_page, site_files
from ikou.quality.results import RESULTS_PREFIX
from ikou.storage import Store
from ikou.wareki import format_jst_ja

DOCS_PREFIX = "docs/"
LOCK_KEY = "gx/_docs_build.lock"
SITE_MANIFEST = "docs/_ikou_site.json"
IKOU_INDEX = "ikou/index.html"
LOCK_TTL = 30 * 60  # seconds without renewal after which a lock counts as abandoned

log = logging.getLogger(__name__)


class LockTimeout(RuntimeError):
    pass


# ------------------------------------------------------------------------------ the lock


class BuildLock:
    """An exclusive lock held as an S3 object created with a conditional put."""

    def __init__(
        self,
        store: Store,
        bucket: str,
        key: str = LOCK_KEY,
        ttl: float = LOCK_TTL,
        timeout: float = 20 * 60,
        poll: float = 2.0,
    ):
        self.store, self.bucket, self.key = store, bucket, key
        self.ttl, self.timeout, self.poll = ttl, timeout, poll
        self.etag: str | None = None
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.waited = 0.0

    def _body(self) -> bytes:
        now = dt.datetime.now(dt.timezone.utc)
        return json.dumps(
            {
                "owner": self.owner,
                "renewed_at": now.isoformat(timespec="seconds"),
                "ttl_seconds": self.ttl,
            }
        ).encode()

    @staticmethod
    def _precondition_failed(exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")

    def _put(self, **condition) -> str | None:
        try:
            r = self.store.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=self._body(),
                ContentType="application/json",
                **condition,
            )
            return r["ETag"]
        except Exception as exc:  # botocore ClientError
            if self._precondition_failed(exc):
                return None
            raise

    def _current(self) -> tuple[str, dict] | None:
        try:
            r = self.store.client.get_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        try:
            return r["ETag"], json.loads(r["Body"].read())
        except ValueError:
            return r["ETag"], {}

    def acquire(self) -> BuildLock:
        started = time.monotonic()
        while True:
            self.etag = self._put(IfNoneMatch="*")
            if self.etag:
                break
            cur = self._current()
            if cur is not None:
                etag, body = cur
                try:
                    renewed = dt.datetime.fromisoformat(body["renewed_at"])
                    age = (dt.datetime.now(dt.timezone.utc) - renewed).total_seconds()
                except (KeyError, ValueError, TypeError):
                    age = float("inf")
                if age > float(body.get("ttl_seconds", self.ttl)):
                    self.etag = self._put(IfMatch=etag)  # take over an abandoned lock, atomically
                    if self.etag:
                        break
            if time.monotonic() - started > self.timeout:
                raise LockTimeout(
                    f"the Data Docs build lock s3://{self.bucket}/{self.key} is held by another "
                    f"build for more than {self.timeout:.0f}s"
                )
            time.sleep(self.poll)
        self.waited = round(time.monotonic() - started, 2)
        return self

    def renew(self) -> None:
        if self.etag:
            etag = self._put(IfMatch=self.etag)
            if etag is None:
                raise LockTimeout(
                    "the Data Docs build lock was taken over (this build was too slow)"
                )
            self.etag = etag

    def release(self) -> None:
        if not self.etag:
            return
        try:
            self.store.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except Exception as exc:
            if not self._precondition_failed(exc) and getattr(exc, "response", {}).get(
                "Error", {}
            ).get("Code") not in ("NoSuchKey", "404"):
                raise
        self.etag = None

    def __enter__(self) -> BuildLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


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


def _banner(meta: dict, result: dict) -> str:
    """Ikou's gate verdict (and any override) for the top of a validation page. No data values."""
    ik = meta.get("ikou") or {}
    verdict = ik.get("verdict", "?")
    colour = {"pass": "#1e7b34", "overridden": "#9a6700", "fail": "#b3261e"}.get(verdict, "#555")
    stats = result.get("statistics") or {}
    rows = [
        ("分野 / domain", ik.get("domain")),
        ("ゲート / gate", ik.get("gate")),
        ("単位 / unit", ik.get("unit")),
        ("実行 / run", ik.get("run_id")),
        ("日時 / time", format_jst_ja((meta.get("run_id") or {}).get("run_time") or "", True)),
        ("モード / mode", ik.get("mode")),
        ("判定 / gate verdict", verdict),
        (
            "期待値 / expectations",
            f"{stats.get('successful_expectations', '?')} of "
            f"{stats.get('evaluated_expectations', '?')} met",
        ),
    ]
    ov = ik.get("override")
    if ov:
        rows.append(
            (
                "上書き / override",
                f"by {ov.get('by')} at {format_jst_ja(ov.get('at'), seconds=True)}: "
                f"{ov.get('reason')}",
            )
        )
    if ik.get("override_refused"):
        rows.append(("上書き拒否 / override refused", ik["override_refused"]))
    sev = ik.get("severity") or []
    if sev:
        rows.append(
            (
                "重大度 / severities",
                f"{sev.count('critical')} critical, {sev.count('warning')} warning",
            )
        )
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(str(k))}</th>"
        f"<td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return (
        f"<div id='ikou-gate' style='border:3px solid {colour};margin:12px;padding:8px 12px;"
        f"font-family:sans-serif'><b style='color:{colour}'>Ikou 品質ゲート / quality gate: "
        f"{html.escape(verdict)}</b> — <a href='../../../../../../ikou/index.html'>一覧 / index</a>"
        f"<table>{body}</table></div>"
    )


def _inject_banner(page: Path, banner: str) -> None:
    text = page.read_text(encoding="utf-8")
    i = text.find("<body")
    if i >= 0:
        j = text.find(">", i) + 1
        text = text[:j] + banner + text[j:]
    else:
        text = banner + text
    page.write_text(text, encoding="utf-8")


def _index_entry(rel: str, result: dict) -> dict:
    meta = result.get("meta") or {}
    ik = meta.get("ikou") or {}
    parts = rel.split("/")  # domain/unit/gate/run/time/batch.json
    stats = result.get("statistics") or {}
    return {
        "page": "validations/" + rel[: -len(".json")] + ".html",
        "domain": ik.get("domain") or parts[0],
        "unit": ik.get("unit") or parts[1],
        "gate": ik.get("gate") or parts[2],
        "run_id": ik.get("run_id") or parts[3],
        "run_time": parts[4] if len(parts) > 4 else "",
        "mode": ik.get("mode"),
        "verdict": ik.get("verdict") or ("pass" if result.get("success") else "fail"),
        "success": bool(result.get("success")),
        "override": ik.get("override"),
        "evaluated": stats.get("evaluated_expectations"),
        "met": stats.get("successful_expectations"),
    }


GATE_ORDER = ("gate_raw", "gate_cleansed", "gate_standard", "gate_target", "gate_reconciliation")


#: verdict -> (mark, text) in the index; a run's verdict is the worst of its gates'
VERDICT_MARKS = {
    "pass": ("✓", "合格 / pass"),
    "overridden": ("⚠", "上書き合格 / passed by override"),
    "fail": ("✗", "不合格 / fail"),
}
_WORST = ("fail", "overridden", "pass")


def run_time_iso(run_time: str) -> str | None:
    """GX's run time in a result's path (``20261204T134028.123456Z``) as ISO 8601 (UTC)."""
    try:
        t = dt.datetime.strptime(run_time, "%Y%m%dT%H%M%S.%fZ")
    except (TypeError, ValueError):
        return None
    return t.replace(tzinfo=dt.timezone.utc).isoformat(timespec="seconds")


def domain_order(domains: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """(id, Japanese name) of every domain in the plan's order (the rehearsal order: by wave,
    each domain after the ones whose data it refers to)."""
    if domains is not None:
        return list(domains)
    try:
        from ikou.domains import registry

        reg = registry()
        return [(d, reg.get(d).name_ja) for d in reg.plan.rehearsal_order()]
    except Exception:  # noqa: BLE001 - an index without names beats no index
        log.warning("Data Docs index: the registry could not be read; domains by id")
        return []


def render_index(
    entries: list[dict], built_at: str, domains: list[tuple[str, str]] | None = None
) -> str:
    """Ikou's Data Docs index: static HTML (no scripts). Domains by their Japanese names in the
    plan's order (``domains``: (id, name) pairs; default: the registry's plan; domains outside
    the plan follow by id), each domain's latest run first; every gate's units with a verdict
    mark (✓ pass, ⚠ overridden, ✗ fail) and ``*`` where an engineer overrode the gate; each run's
    verdict (the worst of its gates) and time in JST with the 和暦 date beside the ISO one."""
    from collections import defaultdict

    by_domain: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        by_domain[e["domain"]][e["run_id"]].append(e)
    known = domain_order(domains)
    names = dict(known)
    order_ids = [d for d, _ in known if d in by_domain]
    order_ids += sorted(d for d in by_domain if d not in names)

    def title(d: str) -> str:
        return f"{names[d]} ({d})" if d in names else d

    parts = []
    for domain in order_ids:
        runs = by_domain[domain]
        order = sorted(runs, key=lambda r: max(x["run_time"] for x in runs[r]), reverse=True)
        parts.append(
            f"<h2 id='{html.escape(domain)}'>{html.escape(title(domain))}</h2><table><tr>"
            "<th>実行 / run</th><th>日時 / time (JST)</th><th>モード / mode</th>"
            "<th>ゲート判定 / gate verdict</th>"
            + "".join(f"<th>{g}</th>" for g in GATE_ORDER)
            + "</tr>"
        )
        for run in order:
            cells = []
            es = runs[run]
            for g in GATE_ORDER:
                ge = sorted((x for x in es if x["gate"] == g), key=lambda x: x["unit"])
                if not ge:
                    cells.append("<td>·</td>")
                    continue
                links = " ".join(
                    f"<a class='{html.escape(x['verdict'])}' href='../{html.escape(x['page'])}' "
                    f"title='{html.escape(x['unit'])}: {x['met']}/{x['evaluated']} met"
                    f"{' — overridden: see the banner' if x['override'] else ''}'>"
                    f"{VERDICT_MARKS.get(x['verdict'], ('?',))[0]} {html.escape(x['unit'])}"
                    f"{'*' if x['override'] else ''}</a>"
                    for x in ge
                )
                cells.append(f"<td>{links}</td>")
            mode = next((x["mode"] for x in es if x["mode"]), "")
            verdicts = {x["verdict"] for x in es}
            worst = next((v for v in _WORST if v in verdicts), min(verdicts))
            mark, text = VERDICT_MARKS.get(worst, ("?", worst))
            overridden = any(x["override"] for x in es)
            when = run_time_iso(max(x["run_time"] for x in es))
            parts.append(
                f"<tr class='run'><td>{html.escape(run)}</td>"
                f"<td>{html.escape(format_jst_ja(when) if when else '')}</td>"
                f"<td>{html.escape(str(mode or ''))}</td>"
                f"<td class='verdict {html.escape(worst)}'>{mark} {html.escape(text)}"
                f"{' *' if overridden else ''}</td>{''.join(cells)}</tr>"
            )
        parts.append("</table>")
    body = "".join(parts) or "<p>検証結果はまだありません / no validation results yet.</p>"
    toc = " · ".join(
        f"<a href='#{html.escape(d)}'>{html.escape(names.get(d, d))}</a>" for d in order_ids
    )
    built = format_jst_ja(built_at, seconds=True) or built_at
    return f"""<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">
<title>Ikou Data Docs — 品質検証結果 / validation results</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #ccc;padding:3px 6px;font-size:13px;vertical-align:top}} a.pass{{color:#1e7b34}}
a.fail,td.fail{{color:#b3261e;font-weight:bold}} a.overridden,td.overridden{{color:#9a6700;font-weight:bold}}
td.pass{{color:#1e7b34}} td a{{white-space:nowrap}}</style></head><body>
<h1>Ikou Data Docs — 品質検証結果 / validation results</h1>
<p>全分野・全実行の検証結果（件数のみ、個人データなし）。 All domains and runs: counts only, no personal data.
作成 / built {html.escape(built)}. <a href="../index.html">Great Expectations の索引 / GX index</a>
· ✓ 合格 / pass · ⚠ 上書き合格 / passed by override · ✗ 不合格 / fail · * ゲート上書き / gate overridden
(see the page's banner) · <a href="../static/vendor/manifest.json">ライセンス / licences of the served scripts</a></p>
<p>{toc}</p>
{body}</body></html>
"""


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
                known[page] = _index_entry(k, body)
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
                _inject_banner(p, _banner(body.get("meta") or {}, body))
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
