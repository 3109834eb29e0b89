"""API keys: created, listed and revoked with the CLI; the tenant comes from the key, and two
tenants asking the same questions never share the cache or memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from .conftest import Served, serve_school


def _keys(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEMPORAL_ADDRESS": served.address}
    return subprocess.run([sys.executable, "-m", "tutelage", "keys", *args, "--config",
                           str(served.config.path)], capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip


@pytest.fixture(scope="module")
def keyed(temporal_env: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path_factory.mktemp("keys"), auth="keys") as s:
        yield s


def test_keys_carry_the_tenant_and_revocation_holds(keyed: Served) -> None:
    made = {}
    for tenant in ("acme", "globex"):
        r = _keys(keyed, "create", "--tenant", tenant, "--name", f"{tenant} app", "--rpm", "60")
        assert r.returncode == 0, r.stderr
        made[tenant] = r.stdout.strip().splitlines()[-1]
        assert made[tenant].startswith("tut-") and "shown once" in r.stdout
    listed = _keys(keyed, "list")
    assert listed.returncode == 0 and "acme" in listed.stdout and "globex" in listed.stdout
    assert made["acme"] not in listed.stdout and "req/min 60" in listed.stdout  # no secrets
    unknown = _keys(keyed, "create", "--tenant", "initech")
    assert unknown.returncode == 1 and "unknown tenant 'initech'" in unknown.stderr

    question = [{"role": "user", "content": "What is six times seven?"}]
    seen: dict[str, list[dict[str, Any]]] = {}
    for tenant in ("acme", "globex"):  # the same question twice, in each tenant in turn
        client = openai.OpenAI(base_url=keyed.base_url, api_key=made[tenant], max_retries=0)
        seen[tenant] = [client.chat.completions.create(model="tutelage", messages=question)
                        .model_extra["tutelage"] for _ in range(2)]  # type: ignore[index]
    # Within a tenant the repeat is answered from the cache; across tenants never.
    assert [t["cache_hit"] for t in seen["acme"]] == [False, True]
    assert [t["cache_hit"] for t in seen["globex"]] == [False, True]
    assert seen["globex"][0]["route"] == "novel"  # acme's question is no neighbour of globex's

    with pytest.raises(openai.AuthenticationError) as wrong:
        openai.OpenAI(base_url=keyed.base_url, api_key="sk-wrong", max_retries=0
                      ).chat.completions.create(model="tutelage", messages=question)  # fmt: skip
    assert wrong.value.code == "invalid_api_key"
    acme = made["acme"]
    tampered = acme[:-1] + ("y" if acme.endswith("x") else "x")  # the right id, a wrong secret
    for bad in ("nonsense", tampered, "tut-000000000000-" + "a" * 32):
        r = httpx.post(f"{keyed.base_url}/chat/completions", timeout=30, json={
            "model": "tutelage", "messages": question}, headers={"authorization": f"Bearer {bad}"})  # fmt: skip
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key", r.text
    r = httpx.post(f"{keyed.base_url}/chat/completions", timeout=30,
                   json={"model": "tutelage", "messages": question})  # fmt: skip
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"

    key_id = made["acme"].split("-")[1]
    revoked = _keys(keyed, "revoke", key_id)
    assert revoked.returncode == 0 and f"revoked key {key_id}" in revoked.stdout
    time.sleep(keyed.config.gateway.key_cache_s + 0.5)
    r = httpx.post(f"{keyed.base_url}/chat/completions", timeout=30, json={
        "model": "tutelage", "messages": question}, headers={"authorization": f"Bearer {made['acme']}"})  # fmt: skip
    assert r.status_code == 401 and r.json()["error"]["code"] == "api_key_revoked"
    assert "revoked" in _keys(keyed, "list", "--tenant", "acme").stdout
    rows = keyed.ledger_rows("SELECT tenant, count(*) FROM queries GROUP BY 1 ORDER BY 1")
    assert rows == [("acme", 2), ("globex", 2)]


def test_list_with_no_keys_says_how_to_make_one(tmp_path: Path, temporal_env: Any) -> None:
    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path, auth="keys") as s:
        r = _keys(s, "list")
    assert r.returncode == 0 and "no keys" in r.stdout and "keys create" in r.stdout


def test_a_rate_limit_holds_across_two_gateways(temporal_env: Any, tmp_path: Path) -> None:
    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path / "school", auth="keys") as keyed:
        _rate_limited_across_gateways(keyed, tmp_path)


def _rate_limited_across_gateways(keyed: Served, tmp_path: Path) -> None:
    from tutelage.workers.devserver import free_port

    from .conftest import start_gateway, stop, wait_serving

    r = _keys(keyed, "create", "--tenant", "globex", "--rpm", "2")
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    port = free_port()
    log = tmp_path / "second.log"
    second = start_gateway(keyed.config.path, keyed.address, log, ["--port", str(port)])  # type: ignore[arg-type]
    try:
        wait_serving(f"http://127.0.0.1:{port}", second, log)
        if time.time() % 60 > 45:  # keep the three requests inside one minute's window
            time.sleep(61 - time.time() % 60)
        bases = [keyed.base_url, f"http://127.0.0.1:{port}/v1", keyed.base_url]
        answers = [httpx.post(f"{base}/chat/completions", timeout=30, json={
            "model": "tutelage", "messages": [{"role": "user", "content": f"What is {i} + {i}?"}]},
            headers={"authorization": f"Bearer {key}"}) for i, base in enumerate(bases)]  # fmt: skip
    finally:
        stop(second)
    assert [a.status_code for a in answers] == [200, 200, 429], [a.text for a in answers]
    err = answers[2].json()["error"]
    assert err["code"] == "rate_limit_exceeded" and "2 requests per minute" in err["message"]
    assert 1 <= int(answers[2].headers["retry-after"]) <= 60
