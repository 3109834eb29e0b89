"""The dashboard in a real browser (Debian's chromium, driven by Playwright): behind an admin
key, no console errors, and the figures it shows equal the ledger's for a seeded stream. The
static report opens the same way."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tutelage.dashboard.page import usd

from .conftest import Served, serve_school
from .test_keys import _keys

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium: `make test` installs it with apt-get where it can "
    "(scripts/ensure_chromium.sh); here it could not")  # fmt: skip


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
            page.select_option('select[name="tenant"]', "acme")
            page.select_option('select[name="window"]', "24h")
            page.click("header button")
            page.wait_for_url("**tenant=acme**")
            acme = _figures(page)
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
