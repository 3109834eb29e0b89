"""The dashboard in a real browser (Debian's chromium, driven by Playwright): behind an admin
key, no console errors, and the figures it shows equal the ledger's for a seeded stream. The
static report opens the same way. Its sign-in session (a signed token that expires, never the
key) over plain HTTP."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tutelage.dashboard.page import usd
from tutelage.models.keys import ApiKey
from tutelage.policy.keys import key_hash
from tutelage.policy.sessions import mint_session

from .conftest import Served, serve_school, start_gateway, stop, wait_serving
from .test_keys import _keys

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium: `make test` installs it with apt-get where it can "
    "(scripts/ensure_apt.sh); here it could not")  # fmt: skip
SESSION = "tutelage_session"


def _seed(served: Served) -> tuple[str, str]:
    """Queries from two tenants, one member moved by hand; an admin key and a tenant's key."""
    keys = {}
    for tenant, extra in (("acme", []), ("globex", []), ("default", ["--admin"])):
        r = _keys(served, "create", "--tenant", tenant, *extra)
        assert r.returncode == 0, r.stderr
        keys[tenant] = r.stdout.strip().splitlines()[-1]
    for tenant, n in (("acme", 5), ("globex", 3)):
        client = openai.OpenAI(base_url=served.base_url, api_key=keys[tenant], max_retries=0)
        for i in range(n):
            client.chat.completions.create(model="tutelage", messages=[
                {"role": "user", "content": f"{tenant} asks: what is {i} times {i + 3}?"}])  # fmt: skip
    moved = subprocess.run([sys.executable, "-m", "tutelage", "member", "promote", "stu",
                            "--domain", "math", "--config", str(served.config.path)],
                           capture_output=True, text=True, timeout=120,
                           env={**__import__("os").environ, "TEMPORAL_ADDRESS": served.address})  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    return keys["default"], keys["acme"]


def _figures(page: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for el in page.locator("[data-figure]").all():
        out.setdefault(el.get_attribute("data-figure"), []).append(el.inner_text())
    return out


def _open(browser: Any, url: str, shots: Path, name: str, sign_in: str | None = None) -> tuple[
        Any, dict[str, list[str]]]:  # fmt: skip
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    if sign_in is not None:
        assert "Sign in with an admin key" in page.content()
        errors.clear()  # the sign-in page itself answers 401, which the browser logs
        page.fill('input[name="key"]', sign_in)
        page.click("button")
        page.wait_for_selector('[data-figure="spend"]')
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert errors == [], errors
    return page, _figures(page)


@needs_chromium
def test_the_dashboard_in_a_browser_shows_the_ledgers_figures(
    temporal_env: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path / "school", auth="keys") as served:
        admin, tenant_key = _seed(served)
        root = served.base_url.removesuffix("/v1")
        # Behind the admin key: none is 401, a tenant's key 403.
        assert httpx.get(f"{root}/dashboard", timeout=30).status_code == 401
        assert httpx.get(f"{root}/dashboard", timeout=30, headers={
            "authorization": f"Bearer {tenant_key}"}).status_code == 403  # fmt: skip
        static = tmp_path / "report.html"
        made = subprocess.run([sys.executable, "-m", "tutelage", "report", "--html", str(static),
                               "--config", str(served.config.path)], capture_output=True,
                              text=True, timeout=120,
                              env={**__import__("os").environ, "TEMPORAL_ADDRESS": address})  # fmt: skip
        assert made.returncode == 0, made.stderr
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page, live = _open(browser, f"{root}/dashboard?window=all", tmp_path, "dashboard",
                               sign_in=admin)  # fmt: skip
            # The browser holds a session, never the key.
            (cookie,) = page.context.cookies()
            assert cookie["name"] == SESSION and cookie["httpOnly"] and not cookie["secure"]
            assert cookie["sameSite"] == "Strict" and cookie["path"] == "/dashboard"
            assert not _shares_a_part(cookie["value"], admin)
            page.select_option('select[name="tenant"]', "acme")
            page.select_option('select[name="window"]', "24h")
            page.click("header button")
            page.wait_for_url("**tenant=acme**")
            acme = _figures(page)
            page.click('form[action="/dashboard/sign-out"] button')
            page.wait_for_selector('input[name="key"]')
            assert "Sign in with an admin key" in page.content()
            assert page.context.cookies() == []
            _, offline = _open(browser, static.as_uri(), tmp_path, "report")
            browser.close()
        spend, alone, per_tenant = served.ledger_rows(
            "SELECT sum(cost_usd), sum(supervisor_only_cost_usd), NULL FROM queries")[0]  # fmt: skip
        calls = dict(served.ledger_rows("SELECT member_id, count(*) FROM calls GROUP BY 1"))
        transitions = served.ledger_rows("SELECT member_id, action, from_role, to_role "
                                         "FROM transitions")  # fmt: skip
    del per_tenant
    for shown in (live, offline):
        assert shown["queries"] == ["8"]
        assert shown["spend"] == [usd(spend)]
        assert shown["supervisor_only"] == [usd(alone)]
        assert shown["saved"] == [usd(alone - spend)]
        assert {k.split(":", 1)[1]: int(v[0]) for k, v in shown.items()
                if k.startswith("calls:")} == calls  # fmt: skip
        assert shown["transition"] == [f"{a}: {f} -> {t}" for _, a, f, t in transitions]
    assert transitions == [("stu", "promote", "ta", "teacher")]
    assert acme["queries"] == ["5"]


def _shares_a_part(cookie: str, key: str) -> bool:
    """Whether the cookie holds the key, its hash, or any 8 characters of its secret."""
    secret = key.split("-", 2)[2]
    parts = [key, key_hash(key), *(secret[i : i + 8] for i in range(len(secret) - 7))]
    return any(p in cookie for p in parts)


def _session(response: httpx.Response) -> Any:
    """The session cookie the response sets (a Morsel)."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar[SESSION]


def _signed_in(root: str, key: str) -> httpx.Client:
    web = httpx.Client(base_url=root, timeout=30)
    r = web.post("/dashboard", data={"key": key})
    assert r.status_code == 303 and r.headers["location"] == "/dashboard", r.text
    return web


def _chunked(size: int) -> Iterator[bytes]:
    yield b"key="
    for _ in range(size // 1024):
        yield b"a" * 1024


def test_a_sign_in_is_a_session_that_expires_never_the_key(
    temporal_env: Any, tmp_path: Path
) -> None:
    from tutelage.workers.devserver import free_port

    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path / "school", auth="keys") as served:
        made = [_keys(served, "create", "--tenant", "default", "--admin") for _ in range(2)]
        assert all(m.returncode == 0 for m in made), [m.stderr for m in made]
        admin, doomed = (m.stdout.strip().splitlines()[-1] for m in made)
        root = served.base_url.removesuffix("/v1")
        ttl = served.config.gateway.session_ttl_s

        signed = httpx.post(f"{root}/dashboard", data={"key": admin}, timeout=30)
        assert signed.status_code == 303, signed.text
        cookie = _session(signed)
        assert cookie.value and not _shares_a_part(cookie.value, admin)
        assert cookie["httponly"] and cookie["samesite"].lower() == "strict"
        assert cookie["path"] == "/dashboard" and not cookie["secure"]  # plain http here
        assert int(cookie["max-age"]) == int(ttl)
        opened = httpx.get(f"{root}/dashboard", cookies={SESSION: cookie.value}, timeout=60)
        assert opened.status_code == 200 and 'data-figure="spend"' in opened.text, opened.text
        assert 'action="/dashboard/sign-out"' in opened.text

        # Any gateway of the school takes the session: it needs no secret of its own.
        port = free_port()
        log = tmp_path / "second.log"
        second = start_gateway(served.config.path, address, log, ["--port", str(port)])  # type: ignore[arg-type]
        try:
            wait_serving(f"http://127.0.0.1:{port}", second, log)
            there = httpx.get(f"http://127.0.0.1:{port}/dashboard", timeout=60,
                              cookies={SESSION: cookie.value})  # fmt: skip
        finally:
            stop(second)
        assert there.status_code == 200 and 'data-figure="spend"' in there.text, there.text

        # Expired, tampered, a key as the cookie, nonsense: the sign-in page, and the cookie
        # cleared.
        key_id = admin.split("-")[1]
        record = ApiKey(key_id=key_id, tenant="default", sha256=key_hash(admin), admin=True)
        expired = mint_session(record, time.time() - ttl - 60, ttl)
        head, expires, mac = cookie.value.split(".")
        tampered = f"{head}.{int(expires) + 3600}.{mac}"
        for bad in (expired, tampered, admin, "nonsense"):
            r = httpx.get(f"{root}/dashboard", cookies={SESSION: bad}, timeout=30)
            assert r.status_code == 401 and 'name="key"' in r.text, (bad, r.text)
            assert r.headers["content-type"].startswith("text/html")
            assert _session(r).value == "" and _session(r)["max-age"] == "0"
        assert "expired" in httpx.get(f"{root}/dashboard", cookies={SESSION: expired},
                                      timeout=30).text  # fmt: skip

        # Revoking the key ends its sessions once the gateway has read the keys again
        # (gateway.key_cache_s, plus the read itself).
        web = _signed_in(root, doomed)
        assert web.get("/dashboard").status_code == 200
        assert _keys(served, "revoke", doomed.split("-")[1]).returncode == 0
        revoked = time.monotonic()
        while (r := web.get("/dashboard")).status_code == 200:
            assert time.monotonic() - revoked < served.config.gateway.key_cache_s + 10, r.text
            time.sleep(0.2)
        assert r.status_code == 401 and "revoked" in r.text, r.text

        # A chunked sign-in form (no Content-Length) is refused once it passes its limit.
        big = httpx.post(f"{root}/dashboard", content=_chunked(100 * 1024), timeout=30,
                         headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert "content-length" not in big.request.headers
        assert big.status_code == 413 and big.headers["content-type"].startswith("text/html")
        assert "larger than 4,096 bytes" in big.text and 'name="key"' in big.text
        assert SESSION not in big.headers.get("set-cookie", "")

        # Signing out clears the cookie.
        web = _signed_in(root, admin)
        assert web.get("/dashboard").status_code == 200
        out = web.post("/dashboard/sign-out")
        assert out.status_code == 303 and _session(out)["max-age"] == "0"
        assert SESSION not in web.cookies
        after = web.get("/dashboard")
        assert after.status_code == 401 and "Sign in with an admin key" in after.text
