"""Ikou inside the Airflow UI: Data Docs, reports and gate pages for auditors; 名寄せ review pages
for restricted roles only.

A FastAPI app mounted by the api-server at ``/ikou`` (``fastapi_apps``) and two entries in the
UI's navigation (``external_views``, category *Browse*, shown in an iframe under
``/plugin/ikou-data-docs`` and ``/plugin/ikou-reports``). Every route requires the Airflow login:
the UI's JWT cookie (a page opened from the navigation) or a bearer token; without one the
browser is sent to the login page.

==============================================  ==============================================
``/ikou/``                                      home: links to all of the below
``/ikou/docs/…``                                the Data Docs site (``s3://{reports}/docs/``);
                                                ``/ikou/docs/`` opens Ikou's index of all runs;
                                                ``/ikou/docs/static/vendor/…`` the scripts,
                                                stylesheets and fonts GX's pages load (pinned npm
                                                packages with their licences: no CDN, see
                                                ikou.quality.offline)
``/ikou/reports/…``                             the reports zone (``s3://{reports}/reports/``):
                                                listings, rehearsal and cleansing reports
``/ikou/gates/{dag_id}/{run_id}/{task_id}``     one gate of a run: verdict, failures, warnings,
                                                override, links to its validation pages (the
                                                gate tasks' extra link points here)
``/ikou/review/{domain}/{run_id}/[page]``       名寄せ review pages (personal data, restricted
                                                zone): roles that may read the connections
                                                (simple auth manager: op, admin) — never viewers
==============================================  ==============================================

Read-only: no route changes anything, so the ``auditor`` (viewer) can read docs and reports and
trigger nothing (Airflow's own API refuses a viewer's POST). Only the ``docs/`` and ``reports/``
prefixes of the reports bucket are served (never ``gx/`` or another bucket), paths with ``..``
are refused, and responses are ``no-store`` with ``nosniff``.
"""

from __future__ import annotations

import html
import json
import logging
import mimetypes
import os
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

PREFIX = "/ikou"


def _store():
    """A Store on plain boto3 (AWS_* / AWS_ENDPOINT_URL of the api-server's environment)."""
    import boto3
    from botocore.config import Config

    from ikou.storage import Store

    global _STORE
    if _STORE is None:
        _STORE = Store(
            _client=boto3.client(
                "s3",
                config=Config(
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=30,
                ),
            )
        )
    return _STORE


_STORE = None


def _buckets() -> tuple[str, str]:
    from ikou.config import settings

    s = settings()
    return s.reports_bucket, s.restricted_bucket


def create_app():
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user, requires_authenticated
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import HTMLResponse, RedirectResponse, Response
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app = FastAPI(
        title="Ikou",
        description="Data Docs, reports and review pages of Ikou behind the Airflow login",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    authenticated = [Depends(requires_authenticated())]

    def requires_restricted_role(user=Depends(get_user)) -> None:  # noqa: B008 - FastAPI's idiom
        """Restricted zones: whoever may read Airflow's connections (the credentials of those zones).
        Simple auth manager: op and admin; viewers (auditors) and users never."""
        if not get_auth_manager().is_authorized_connection(method="GET", user=user):
            raise HTTPException(
                403, "restricted: personal data (名寄せ review) — restricted roles only"
            )

    HEADERS = {
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }

    @app.exception_handler(StarletteHTTPException)
    async def _errors(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 401 and "text/html" in request.headers.get("accept", ""):
            login = get_auth_manager().get_url_login()
            nxt = quote(str(request.url), safe="")
            return RedirectResponse(
                f"{login}{'&' if '?' in login else '?'}next={nxt}", status_code=302
            )
        body = _page("Error", f"<h1>{exc.status_code}</h1><p>{html.escape(str(exc.detail))}</p>")
        return HTMLResponse(body, status_code=exc.status_code, headers=HEADERS)

    def _key(path: str) -> str:
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if any(p == ".." or "\\" in p for p in parts):
            raise HTTPException(400, "bad path")
        return "/".join(parts)

    def _object(bucket: str, key: str) -> bytes | None:
        try:
            return _store().get_bytes(f"s3://{bucket}/{key}")
        except FileNotFoundError:
            return None

    def _serve(bucket: str, key: str) -> Response:
        body = _object(bucket, key)
        if body is None:
            raise HTTPException(404, f"not found: {key}")
        ctype = mimetypes.guess_type(key)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/json", "application/javascript"):
            ctype += "; charset=utf-8"
        return Response(body, media_type=ctype, headers=HEADERS)

    def _listing(bucket: str, prefix: str, title: str, base: str) -> HTMLResponse:
        store = _store()
        dirs = store.list_dirs(f"s3://{bucket}/{prefix}")
        files = []
        client = store.client
        resp = client.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
        for o in resp.get("Contents", []):
            files.append(o["Key"][len(prefix) :])
        items = [
            f"<li><a href='{html.escape(quote(d))}/'>{html.escape(d)}/</a></li>"
            for d in sorted(dirs, reverse=True)
        ]
        items += [
            f"<li><a href='{html.escape(quote(f))}'>{html.escape(f)}</a></li>"
            for f in sorted(files)
            if f
        ]
        if not items:
            items = ["<li>(空 / empty)</li>"]
        up = "" if prefix.count("/") <= 1 else "<p><a href='../'>↑ 上へ / up</a></p>"
        return HTMLResponse(
            _page(
                title,
                f"<h1>{html.escape(title)}</h1><p><code>{html.escape(base)}</code></p>{up}"
                f"<ul>{''.join(items)}</ul>",
            ),
            headers=HEADERS,
        )

    @app.get("/", dependencies=authenticated, response_class=HTMLResponse)
    def home():
        return HTMLResponse(_page("Ikou", HOME), headers=HEADERS)

    @app.get("/docs", dependencies=authenticated, include_in_schema=False)
    @app.get("/docs/", dependencies=authenticated, include_in_schema=False)
    def docs_home():
        return RedirectResponse(f"{PREFIX}/docs/ikou/index.html", status_code=302)

    @app.get("/docs/{path:path}", dependencies=authenticated)
    def docs(path: str):
        reports, _ = _buckets()
        key = _key(path)
        body = _object(reports, f"docs/{key}")
        if body is not None:
            return _serve(reports, f"docs/{key}")
        if key.startswith("validations/") and key.endswith(".html"):
            # not in the site yet (it is built by the master's publish_docs / `ikou docs build`):
            # a summary from the published validation result (counts only)
            result = _object(reports, "gx/" + key[: -len(".html")] + ".json")
            if result is not None:
                return HTMLResponse(_result_page(json.loads(result), key), headers=HEADERS)
        if key == "ikou/index.html":
            return HTMLResponse(
                _page(
                    "Data Docs",
                    "<h1>Data Docs</h1><p>まだ作成されていません / not built yet: "
                    "run <code>ikou docs build</code> or a master run.</p>",
                ),
                headers=HEADERS,
            )
        raise HTTPException(404, f"not found in the Data Docs: {key}")

    @app.get("/reports", dependencies=authenticated, include_in_schema=False)
    def reports_root():
        return RedirectResponse(f"{PREFIX}/reports/", status_code=302)

    @app.get("/reports/{path:path}", dependencies=authenticated)
    def reports(path: str):
        bucket, _ = _buckets()
        key = _key(path)
        if path == "" or path.endswith("/"):
            prefix = f"reports/{key}/" if key else "reports/"
            return _listing(
                bucket,
                prefix,
                "移行レポート / reports" + (f": {key}" if key else ""),
                f"s3://{bucket}/{prefix}",
            )
        return _serve(bucket, f"reports/{key}")

    @app.get(
        "/gates/{dag_id}/{run_id}/{task_id}",
        dependencies=authenticated,
        response_class=HTMLResponse,
    )
    def gate_page(dag_id: str, run_id: str, task_id: str):
        from ikou.storage import join, zone_uri

        domain = dag_id.removeprefix("migrate_")
        if not task_id.startswith("gate_") or dag_id == domain:
            raise HTTPException(404, "not a gate task of a domain DAG")
        uri = join(zone_uri("reports", domain, run_id), f"gates/{task_id}.json")
        try:
            report = json.loads(_store().get_bytes(uri))
        except FileNotFoundError:
            raise HTTPException(404, f"no gate report yet ({task_id} of {run_id})") from None
        return HTMLResponse(_gate_page(report), headers=HEADERS)

    @app.get(
        "/review/{domain}/{run_id}",
        dependencies=[Depends(requires_restricted_role)],
        response_class=HTMLResponse,
    )
    @app.get(
        "/review/{domain}/{run_id}/",
        dependencies=[Depends(requires_restricted_role)],
        response_class=HTMLResponse,
    )
    def review_index(domain: str, run_id: str):
        pages = _review_pages(domain, run_id)
        items = "".join(
            f"<li><a href='{html.escape(name)}'>{html.escape(name)}</a></li>" for name, _ in pages
        )
        return HTMLResponse(
            _page(
                "名寄せ確認 / review",
                f"<h1>名寄せ確認 / duplicate review: {html.escape(domain)}"
                f" — {html.escape(run_id)}</h1><ul>{items}</ul>",
            ),
            headers=HEADERS,
        )

    @app.get(
        "/review/{domain}/{run_id}/{page}",
        dependencies=[Depends(requires_restricted_role)],
        response_class=HTMLResponse,
    )
    def review_page(domain: str, run_id: str, page: str):
        for name, body in _review_pages(domain, run_id):
            if name == page:
                return HTMLResponse(body, headers={**HEADERS, "X-Robots-Tag": "noindex"})
        raise HTTPException(404, "no such review page")

    def _review_pages(domain: str, run_id: str):
        try:
            from ikou.cleanse.review import review_pages
        except ImportError:
            raise HTTPException(
                404, "名寄せ review pages are not available in this version"
            ) from None
        from ikou.domains import registry

        if domain not in registry():
            raise HTTPException(404, "unknown domain")
        return review_pages(domain, run_id, store=_store())

    return app


# ---------------------------------------------------------------------------------- pages

CSS = """body{font-family:sans-serif;margin:1.2em 1.5em;color:#1d1d1f} table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 7px;font-size:13px;text-align:left;vertical-align:top}
.pass{color:#1e7b34} .fail{color:#b3261e;font-weight:bold} .overridden,.warning{color:#9a6700;font-weight:bold}
code{background:#f3f3f5;padding:0 3px}"""

HOME = """<h1>Ikou 移行 — 監査 / audit</h1><ul>
<li><a href='docs/'>Data Docs — 品質検証結果（全分野・全実行） / validation results of all domains and runs</a></li>
<li><a href='reports/'>移行レポート / reports</a> — リハーサル・データ整理・ゲート / rehearsal, cleansing, gates
(<a href='reports/_city/'>全市 / city-wide</a>)</li>
<li><a href='docs/static/vendor/manifest.json'>Data Docs の表示に使うスクリプトとライセンス / the scripts and stylesheets
Data Docs pages load, served by Ikou (no CDN), with their licences</a></li></ul>
<p>個人データは含まれません（件数と鍵付きハッシュのみ）。 No personal data: counts and keyed hashes only.</p>"""


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html lang='ja'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>"
    )


def _jst(ts) -> str:
    """A stored UTC timestamp as JST with its 和暦 date (ikou.wareki)."""
    from ikou.wareki import format_jst_ja

    return format_jst_ja(ts, seconds=True) if ts else ""


def _gate_page(r: dict) -> str:
    verdict = r.get("verdict", "?")
    rows = [
        ("分野 / domain", r.get("domain")),
        ("ゲート / gate", r.get("gate")),
        ("実行 / run", r.get("run_id")),
        ("モード / mode", r.get("mode")),
        ("開始 / started", _jst(r.get("started_at"))),
        ("所要 / seconds", r.get("seconds_total", r.get("seconds"))),
    ]
    ov = r.get("override")
    if ov:
        rows.append(
            ("上書き / override", f"by {ov.get('by')} at {_jst(ov.get('at'))}: {ov.get('reason')}")
        )
    if r.get("override_refused"):
        rows.append(("上書き拒否 / override refused", r["override_refused"]))
    head = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    units = []
    for u in r.get("units", []):
        page = u.get("docs_page", "")
        units.append(
            f"<li><a href='{html.escape(PREFIX)}/docs/{html.escape(page)}'>{html.escape(u.get('unit', ''))}"
            f"</a> — {'✓' if u.get('success') else '✗'} ({sum(1 for e in u.get('expectations', []) if e.get('success'))}"
            f" / {len(u.get('expectations', []))} met)</li>"
        )
    crit = "".join(
        f"<li class='fail'>{html.escape(x)}</li>" for x in r.get("critical_failures", [])
    )
    warn = "".join(f"<li class='warning'>{html.escape(x)}</li>" for x in r.get("warnings", []))
    return _page(
        f"{r.get('gate')} {r.get('domain')}",
        f"""
<h1>品質ゲート / quality gate: <span class='{html.escape(verdict)}'>{html.escape(verdict)}</span></h1>
<table>{head}</table>
<h2>検証結果 / validation pages</h2><ul>{"".join(units) or "<li>—</li>"}</ul>
<h2>重大な不合格 / critical failures</h2><ul>{crit or "<li>なし / none</li>"}</ul>
<h2>警告 / warnings</h2><ul>{warn or "<li>なし / none</li>"}</ul>
<p><a href='{html.escape(PREFIX)}/docs/'>Data Docs</a> · <a href='{html.escape(PREFIX)}/reports/{html.escape(quote(str(r.get("domain", ""))))}/'>reports</a></p>""",
    )


def _result_page(result: dict, key: str) -> str:
    """A validation result not yet in the Data Docs site, shown from its JSON (counts only)."""
    meta = result.get("meta") or {}
    ik = meta.get("ikou") or {}
    rows = []
    for i, r in enumerate(result.get("results", [])):
        cfg = r.get("expectation_config") or {}
        res = r.get("result") or {}
        kw = cfg.get("kwargs") or {}
        sev = (
            (ik.get("severity") or [None] * (i + 1))[i]
            if i < len(ik.get("severity") or [])
            else cfg.get("severity")
        )
        count = res.get("unexpected_count")
        total = res.get("element_count")
        obs = res.get("observed_value")
        what = (
            f"{count} / {total}"
            if count is not None
            else ("" if obs is None else f"observed {obs}")
        )
        rows.append(
            f"<tr><td class='{'pass' if r.get('success') else 'fail'}'>{'✓' if r.get('success') else '✗'}</td>"
            f"<td>{html.escape(str(cfg.get('type')))}</td><td>{html.escape(str(kw.get('column', '')))}</td>"
            f"<td>{html.escape(str(sev or ''))}</td><td>{html.escape(str(kw.get('mostly', '')))}</td>"
            f"<td>{html.escape(what)}</td><td>{html.escape(str((cfg.get('meta') or {}).get('notes', '')))}</td></tr>"
        )
    stats = result.get("statistics") or {}
    return _page(
        "validation result",
        f"""
<h1>検証結果 / validation result: {html.escape(ik.get("domain", ""))} {html.escape(ik.get("unit", ""))}
{html.escape(ik.get("gate", ""))}</h1>
<p>Data Docs にはまだ載っていません（次回の作成で追加）/ Not in the Data Docs site yet (added by the next build).
実行 / run {html.escape(str(ik.get("run_id", "")))} — gate verdict {html.escape(str(ik.get("verdict", "")))} —
{stats.get("successful_expectations")} / {stats.get("evaluated_expectations")} met.</p>
<table><tr><th></th><th>expectation</th><th>column</th><th>severity</th><th>mostly</th><th>unexpected / rows</th>
<th>notes</th></tr>{"".join(rows)}</table>""",
    )


_APP: list = []


def _app():
    """The FastAPI app, created on first use: only the api-server asks for it (importing FastAPI
    and Airflow's security module costs seconds, which the scheduler and the CLI do not pay)."""
    if not _APP:
        try:
            _APP.append(create_app())
        except Exception:  # pragma: no cover - never break the api-server over this plugin
            log.exception("ikou: the Ikou UI plugin could not be created")
            _APP.append(None)
    return _APP[0]


class _LazyFastApiApps:
    def __get__(self, obj, owner) -> list:
        if os.environ.get("IKOU_UI_PLUGIN", "1") != "1":
            return []
        app = _app()
        return (
            [{"app": app, "url_prefix": PREFIX, "name": "Ikou: Data Docs, reports, review"}]
            if app
            else []
        )


class IkouUiPlugin(AirflowPlugin):
    name = "ikou_ui"
    fastapi_apps = _LazyFastApiApps()
    external_views = (
        [
            {
                "name": "Data Docs（品質検証）",
                "href": "ikou/docs/",
                "url_route": "ikou-data-docs",
                "destination": "nav",
                "category": "browse",
            },
            {
                "name": "移行レポート / Reports",
                "href": "ikou/reports/",
                "url_route": "ikou-reports",
                "destination": "nav",
                "category": "browse",
            },
        ]
        if os.environ.get("IKOU_UI_PLUGIN", "1") == "1"
        else []
    )
