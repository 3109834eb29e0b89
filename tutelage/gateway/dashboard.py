"""GET /dashboard: the school's dashboard page, behind an admin key.

A browser signs in once with a form (POST /dashboard, the key in the body, never in a URL); the
key is then kept in an HttpOnly cookie. A script may send `Authorization: Bearer <key>` instead.
With `gateway.auth = "none"` the page is open, as the API is.
"""

from __future__ import annotations

import asyncio
import logging
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
from ..policy.keys import bearer
from .temporal import KeyCache, TemporalSource

log = logging.getLogger("tutelage.gateway")
COOKIE = "tutelage_key"


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


def install_dashboard(app: FastAPI, config: TutelageConfig, temporal: TemporalSource,
                      keys: KeyCache) -> None:  # fmt: skip
    gw = config.gateway

    async def refusal(presented: str | None) -> HTMLResponse | None:
        """None when the key may open the dashboard, else the page that says why not."""
        if gw.auth == "none":
            return None
        if not presented:
            return _sign_in("Sign in with an admin key.", 401)
        _, problem = await keys.authenticate(presented, admin=True)
        if problem is not None:
            return _sign_in(problem[1], 403 if problem[0] == "not_admin" else 401)
        return None

    @app.get("/dashboard")
    async def dashboard(request: Request, tenant: str = "", window: str = "all") -> Response:
        presented = bearer(request.headers.get("authorization")) or request.cookies.get(COOKIE)
        refused = await refusal(presented)
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
        return HTMLResponse(render(board, links(config), tenants=config.limits.tenants,
                                   window=window, bench=bench,
                                   school=config.temporal.task_queue))  # fmt: skip

    @app.post("/dashboard")
    async def sign_in(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        presented = (form.get("key") or [""])[0].strip()
        refused = await refusal(presented)
        if refused is not None:
            return refused
        response = RedirectResponse("/dashboard", status_code=303)
        response.set_cookie(COOKIE, presented, httponly=True, samesite="strict",
                            max_age=8 * 3600)  # fmt: skip
        return response
