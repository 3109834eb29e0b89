"""API keys: created, listed and revoked with the CLI; the tenant comes from the key, and two
tenants asking the same questions never share the cache or memory."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from .conftest import Served, run_cli, serve_school


def _keys(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(served, "keys", *args)


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
        bad = [_keys(s, "create", "--tenant", "acme", flag, value)
               for flag, value in (("--budget-day", "-1"), ("--tpm", "0"))]  # fmt: skip
    assert r.returncode == 0 and "no keys" in r.stdout and "keys create" in r.stdout
    assert [b.returncode for b in bad] == [1, 1] and "Traceback" not in bad[0].stderr + bad[1].stderr
    assert "--budget-day must be greater than 0" in bad[0].stderr and "--tpm" in bad[1].stderr


def test_limits_hold_across_two_gateways(temporal_env: Any, tmp_path: Path,
                                        redis_url: str) -> None:  # fmt: skip
    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path / "school", auth="keys", counters=redis_url) as keyed:
        _limits_across_gateways(keyed, tmp_path)


def _ask(base: str, key: str, i: int) -> httpx.Response:
    return httpx.post(f"{base}/chat/completions", timeout=30, json={
        "model": "tutelage", "messages": [{"role": "user", "content": f"What is {i} + {i}?"}]},
        headers={"authorization": f"Bearer {key}"})  # fmt: skip


def _limits_across_gateways(keyed: Served, tmp_path: Path) -> None:
    from tutelage.workers.devserver import free_port

    from .conftest import start_gateway, stop, wait_serving

    made = {}
    for name, limit in (("rpm", ["--rpm", "2"]), ("tpm", ["--tpm", "1"]),
                        ("day", ["--budget-day", "0.000001"]),
                        ("month", ["--budget-month", "0.000001"])):  # fmt: skip
        r = _keys(keyed, "create", "--tenant", "globex", "--name", name, *limit)
        assert r.returncode == 0, r.stderr
        made[name] = r.stdout.strip().splitlines()[-1]
    port = free_port()
    log = tmp_path / "second.log"
    second = start_gateway(keyed.config.path, keyed.address, log, ["--port", str(port)])  # type: ignore[arg-type]
    other = f"http://127.0.0.1:{port}/v1"
    try:
        wait_serving(f"http://127.0.0.1:{port}", second, log)
        if time.time() % 60 > 40:  # keep each key's requests inside one minute's window
            time.sleep(61 - time.time() % 60)
        rpm = [_ask(base, made["rpm"], i) for i, base in enumerate([keyed.base_url, other,
                                                                       keyed.base_url])]  # fmt: skip
        tpm = [_ask(base, made["tpm"], 10 + i) for i, base in enumerate([keyed.base_url, other])]
        budgets = {name: [_ask(base, made[name], 20 + 2 * j + i) for i, base in  # no cache hits
                          enumerate([keyed.base_url, other])] for j, name in enumerate(("day", "month"))}  # fmt: skip
        # The openai SDK retries a 429 (twice here) unless told not to: a spent budget says so.
        sdk = openai.OpenAI(base_url=other, api_key=made["day"], max_retries=2)
        with pytest.raises(openai.RateLimitError) as spent:
            sdk.chat.completions.create(model="tutelage", messages=[{"role": "user",
                                                                      "content": "And 3 + 3?"}])  # fmt: skip
        admin = _keys(keyed, "create", "--tenant", "default", "--admin").stdout.strip().splitlines()[-1]
        closed = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10,
                            headers={"authorization": f"Bearer {admin}"}).text  # fmt: skip
    finally:
        stop(second)
    assert closed.status_code == 401  # /metrics wants an admin key (gateway.metrics_auth)
    assert [a.status_code for a in rpm] == [200, 200, 429], [a.text for a in rpm]
    err = rpm[2].json()["error"]
    assert err["code"] == "rate_limit_exceeded" and "2 requests per minute" in err["message"]
    assert 1 <= int(rpm[2].headers["retry-after"]) <= 60

    assert [a.status_code for a in tpm] == [200, 429], [a.text for a in tpm]
    err = tpm[1].json()["error"]
    assert err["code"] == "rate_limit_exceeded" and "1 tokens per minute" in err["message"]
    assert 1 <= int(tpm[1].headers["retry-after"]) <= 60

    for name, (first, over) in budgets.items():
        assert (first.status_code, over.status_code) == (200, 429), over.text
        err = over.json()["error"]
        assert err["code"] == "budget_exceeded" and err["type"] == "insufficient_quota"
        assert f"per {name} budget (budget_{name}_usd)" in err["message"], err["message"]
        assert over.headers["x-should-retry"] == "false" and "retry-after" not in over.headers
    assert spent.value.code == "budget_exceeded"
    refused = [line for line in metrics.splitlines() if line.startswith(
        "tutelage_rate_limited_total") and 'code="budget_exceeded"' in line]  # fmt: skip
    # Three budget refusals on this gateway: the day's, the month's, and the SDK's one call.
    assert sum(float(line.rsplit(" ", 1)[1]) for line in refused) == 3, refused

    listed = _keys(keyed, "list", "--tenant", "globex")
    assert listed.returncode == 0 and "$/day 1e-06" in listed.stdout
    as_json = json.loads(_keys(keyed, "list", "--json").stdout)
    day_key = next(k for k in as_json if k["key_id"] == made["day"].split("-")[1])
    assert day_key["usage"]["day_usd"] > 1e-06 and "sha256" not in day_key
    day_row = next(line for line in listed.stdout.splitlines() if made["day"].split("-")[1] in line)
    assert "$0.000000 / $0.000000" not in day_row and "$0.0" in day_row, listed.stdout


async def test_a_burst_on_a_limited_key_is_answered_and_leaves_every_tenant_up(
    temporal_env: Any, tmp_path: Path
) -> None:
    """200 requests at once on a key with a rate and a budget (the burst that used to put the
    keys workflow in a failed state and answer every tenant 503): all are answered; another
    tenant's key keeps working during and after; the spend is counted once per query."""
    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path, auth="keys") as keyed:
        await _burst(keyed)


async def _burst(keyed: Served) -> None:
    import asyncio

    burst_key = _keys(keyed, "create", "--tenant", "acme", "--rpm", "100000", "--budget-day",
                      "1000").stdout.strip().splitlines()[-1]  # fmt: skip
    other_key = _keys(keyed, "create", "--tenant", "globex").stdout.strip().splitlines()[-1]
    burst = openai.AsyncOpenAI(base_url=keyed.base_url, api_key=burst_key, max_retries=0,
                               timeout=120)  # fmt: skip
    other = openai.AsyncOpenAI(base_url=keyed.base_url, api_key=other_key, max_retries=0,
                               timeout=120)  # fmt: skip

    async def ask(client: openai.AsyncOpenAI, text: str) -> Any:
        r = await client.chat.completions.create(model="tutelage", messages=[
            {"role": "user", "content": text}])  # fmt: skip
        return r.model_extra["tutelage"]  # type: ignore[index]

    answers = await asyncio.gather(
        *[ask(burst, f"Burst question {i}: what is {i} plus {i}?") for i in range(200)],
        *[ask(other, f"Other question {i}: what is {i} minus 1?") for i in range(5)],
        return_exceptions=True,
    )  # fmt: skip
    failed = [a for a in answers if isinstance(a, BaseException)]
    assert failed == [], failed[:3]
    after = await ask(other, "And after the burst: what is 2 plus 2?")
    assert after["route"] in {"novel", "hybrid", "familiar", "cache"}
    listed = json.loads(_keys(keyed, "list", "--json").stdout)
    row = next(k for k in listed if k["key_id"] == burst_key.split("-")[1])
    spent = sum(a["cost_usd"] for a in answers[:200])  # type: ignore[index]
    assert row["usage"]["day_usd"] == pytest.approx(spent, rel=1e-6)
