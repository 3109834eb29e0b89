"""GET /dashboard: the school's dashboard page, behind an admin key.

A browser signs in once with a form (POST /dashboard, the key in the body, never in a URL); it
then holds a session, never the key: an HttpOnly cookie with a signed token that expires
(policy/sessions.py), which any gateway of the school accepts. POST /dashboard/sign-out clears
it. A script may send `Authorization: Bearer <key>` instead. With `gateway.auth = "none"` the
page is open, as the API is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from html import escape
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from ..config import TutelageConfig
from ..dashboard.page import CSS, render, window_request
from ..dashboard.sources import fetch_dashboard, latest_bench_report, links
from ..models.dashboard import DashboardRequest
from ..models.keys import ApiKey
from ..policy.keys import bearer
from ..policy.sessions import mint_session, session_key_id, session_problem
from .body import read_body
from .errors import APIError
from .temporal import KeyCache, TemporalSource

log = logging.getLogger("tutelage.gateway")
COOKIE = "tutelage_session"
COOKIE_PATH = "/dashboard"
# Earlier versions kept the admin key itself in this cookie (Path=/): every sign-in and
# sign-out clears it.
OLD_COOKIE = "tutelage_key"
FORM_LIMIT = 4096  # bytes: the sign-in form holds one key
SIGN_OUT = ('<form method="post" action="/dashboard/sign-out" style="margin:16px 0">'
            "<button>sign out</button></form>")  # fmt: skip


def _page(title: str, body: str, status: int) -> HTMLResponse:
    return HTMLResponse(f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                        '<link rel="icon" href="data:,">'
                        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
                        f'<div class="panel" style="max-width:560px;margin:40px auto">{body}'
                        "</div></main></body></html>", status_code=status)  # fmt: skip


def _sign_in(message: str, status: int) -> HTMLResponse:
    return _page("tutelage: sign in", f"<h2>The school's dashboard</h2><p>{escape(message)}</p>"
                 '<form method="post" action="/dashboard"><input type="password" name="key" '
                 'placeholder="tut-..." aria-label="admin key" style="width:70%" autofocus> '
                 "<button>open</button></form><p class=muted>An admin key: <code>tutelage keys "
                 "create --tenant default --admin</code></p>", status)  # fmt: skip


def _keep(response: Response, token: str, ttl_s: float, secure: bool) -> None:
    response.set_cookie(COOKIE, token, max_age=int(ttl_s), path=COOKIE_PATH, secure=secure,
                        httponly=True, samesite="strict")  # fmt: skip
    response.delete_cookie(OLD_COOKIE, path="/")


def _clear(response: Response, secure: bool) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=secure, httponly=True,
                           samesite="strict")  # fmt: skip
    response.delete_cookie(OLD_COOKIE, path="/")


def _unavailable(exc: APIError) -> HTMLResponse:
    return _page("tutelage: the school did not answer", f"<p>{escape(exc.message)}</p>",
                 exc.status)  # fmt: skip


def install_dashboard(app: FastAPI, config: TutelageConfig, temporal: TemporalSource,
                      keys: KeyCache) -> None:  # fmt: skip
    gw = config.gateway

    async def admin_key(presented: str) -> ApiKey | HTMLResponse:
        """The record of a key that may open the dashboard, else the page that says why not."""
        if not presented:
            return _sign_in("Sign in with an admin key.", 401)
        try:
            record, problem = await keys.authenticate(presented, admin=True)
        except APIError as exc:
            return _unavailable(exc)
        if problem is not None:
            return _sign_in(problem[1], 403 if problem[0] == "not_admin" else 401)
        assert record is not None
        return record

    async def session_refusal(request: Request) -> HTMLResponse | None:
        """None when the request's session cookie opens the dashboard, else the sign-in page
        (which clears a cookie that no longer does)."""
        token = request.cookies.get(COOKIE)
        if not token:
            return _sign_in("Sign in with an admin key.", 401)
        key_id = session_key_id(token)
        try:
            record = await keys.lookup(key_id) if key_id else None
        except APIError as exc:
            return _unavailable(exc)
        problem = session_problem(token, record, time.time(), gw.session_ttl_s)
        if problem is None:
            return None
        page = _sign_in(f"{problem[1]} Sign in again with an admin key.",
                        403 if problem[0] == "not_admin" else 401)  # fmt: skip
        _clear(page, request.url.scheme == "https")
        return page

    async def refusal(request: Request) -> HTMLResponse | None:
        """None when the request may open the dashboard, else the page that says why not."""
        if gw.auth == "none":
            return None
        presented = bearer(request.headers.get("authorization"))
        if presented is not None:
            got = await admin_key(presented)
            return got if isinstance(got, HTMLResponse) else None
        return await session_refusal(request)

    @app.get("/dashboard")
    async def dashboard(request: Request, tenant: str = "", window: str = "all") -> Response:
        refused = await refusal(request)
        if refused is not None:
            return refused
        if tenant and tenant not in config.limits.tenants:
            return _page("tutelage: unknown tenant", f"<p>No tenant '{escape(tenant)}'; the "
                         f"school's tenants: {escape(', '.join(config.limits.tenants))}.</p>",
                         400)  # fmt: skip
        since, window = window_request(window, datetime.now(UTC))
        req = DashboardRequest(tenant=tenant or None, since=since)
        try:
            client = await temporal.client()
            board = await asyncio.wait_for(fetch_dashboard(client, config, req),
                                           gw.request_timeout_s)  # fmt: skip
        except (TimeoutError, RPCError, WorkflowFailureError) as exc:
            log.warning("request %s: dashboard failed: %s", request.state.request_id, exc)
            return _page("tutelage: the school did not answer", "<p>The school did not answer "
                         f"the dashboard's DashboardWorkflow: {escape(str(exc) or 'timeout')}. Is "
                         "a worker serving its task queue?</p>", 503)  # fmt: skip
        bench = await asyncio.to_thread(latest_bench_report, config)
        html = render(board, links(config), tenants=config.limits.tenants, window=window,
                      bench=bench, school=config.temporal.task_queue)  # fmt: skip
        if gw.auth != "none" and bearer(request.headers.get("authorization")) is None:
            head, _, tail = html.rpartition("</main>")  # opened with a session: it may end it
            html = f"{head}{SIGN_OUT}</main>{tail}"
        return HTMLResponse(html)

    @app.post("/dashboard")
    async def sign_in(request: Request) -> Response:
        try:
            body = await read_body(request, FORM_LIMIT)
        except APIError as exc:
            return _sign_in(f"The sign-in form is larger than {FORM_LIMIT:,} bytes: send only "
                            "the key.", exc.status)  # fmt: skip
        form = parse_qs(body.decode("utf-8", "replace"))
        presented = (form.get("key") or [""])[0].strip()
        response: Response = RedirectResponse("/dashboard", status_code=303)
        if gw.auth == "none":
            return response
        got = await admin_key(presented)
        if isinstance(got, HTMLResponse):
            return got
        token = mint_session(got, time.time(), gw.session_ttl_s)
        _keep(response, token, gw.session_ttl_s, request.url.scheme == "https")
        return response

    @app.post("/dashboard/sign-out")
    async def sign_out(request: Request) -> Response:
        response = RedirectResponse("/dashboard", status_code=303)
        _clear(response, request.url.scheme == "https")
        return response
