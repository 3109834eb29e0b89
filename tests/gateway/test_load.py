"""Load is input: the request path under a burst, across tenants, with processes killed.

Real processes on loopback: a store owner, two answer workers and two gateways sharing a real
Redis for the keys' usage counters. Tenant A bursts 300 requests at once on a limited key while
tenant B sends 100 steadily; an answer worker and a gateway are SIGKILLed in the middle, and
each client retries a request its gateway dropped on the other one. Bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from tutelage.config import load_config
from tutelage.models.keys import KeyUsage
from tutelage.workers.devserver import free_port
from tutelage.workers.processes import die_with_parent

from .conftest import wait_serving, write_school

pytestmark = pytest.mark.slow

BURST = 300  # tenant A, at once
STEADY = 100  # tenant B, a few at a time
A_RPM = 250  # A's key admits 250 of its 300: the rest are 429s


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(die_with_parent([sys.executable, "-m", "tutelage", *args]), env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)  # fmt: skip


def _key(config: Path, env: dict[str, str], *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "tutelage", "keys", "create", "--config",
                        str(config), *args], capture_output=True, text=True, env=env,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


async def _ask(http: httpx.AsyncClient, bases: list[str], key: str, text: str,
               first: int) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """One request; a gateway that is gone (refused, or dropped the connection) is retried on
    the other, as a client behind a load balancer would be."""
    for attempt in range(4):
        base = bases[(first + attempt) % len(bases)]
        try:
            r = await http.post(f"{base}/chat/completions", json={
                "model": "tutelage", "messages": [{"role": "user", "content": text}]},
                headers={"authorization": f"Bearer {key}"})  # fmt: skip
        except httpx.TransportError:
            continue
        return r.status_code, r.json()
    raise AssertionError(f"no gateway answered {text!r}")


def _stops_within(proc: subprocess.Popen[bytes], seconds: float) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(seconds)
    return time.monotonic() - started


async def test_a_burst_and_killed_processes_leave_every_tenant_served_once(
    temporal_env: Any, tmp_path: Path, redis_url: str
) -> None:
    address = temporal_env.client.service_client.config.target_host
    ports = [free_port(), free_port()]
    path = write_school(tmp_path, ports[0], timeout=120, auth="keys", counters=redis_url,
                        sup_extra='params = { mock_response = "42", mock_delay = 0.2 }')  # fmt: skip
    cfg = load_config(path)
    env = {**os.environ, "TEMPORAL_ADDRESS": address}
    procs = {
        "store": _start(["worker", "--role", "store", "--config", str(path)], env,
                        tmp_path / "store.log"),
        "answer1": _start(["worker", "--role", "answer", "--config", str(path)], env,
                          tmp_path / "answer1.log"),
        "answer2": _start(["worker", "--role", "answer", "--config", str(path)], env,
                          tmp_path / "answer2.log"),
    }  # fmt: skip
    for i, port in enumerate(ports):
        procs[f"gateway{i + 1}"] = _start(["serve", "--config", str(path), "--port", str(port)],
                                          env, tmp_path / f"gateway{i + 1}.log")  # fmt: skip
    bases = [f"http://127.0.0.1:{p}/v1" for p in ports]
    try:
        for i, port in enumerate(ports):
            wait_serving(f"http://127.0.0.1:{port}", procs[f"gateway{i + 1}"],
                         tmp_path / f"gateway{i + 1}.log", "/health/readiness")  # fmt: skip
        key_a = _key(path, env, "--tenant", "acme", "--rpm", str(A_RPM), "--budget-day", "1000")
        key_b = _key(path, env, "--tenant", "globex", "--rpm", "1000")
        if time.time() % 60 > 20:  # A's burst inside one minute's window
            await asyncio.sleep(61 - time.time() % 60)

        limits = httpx.Limits(max_connections=BURST + 50, max_keepalive_connections=50)
        async with httpx.AsyncClient(timeout=180, limits=limits) as http:

            async def steady() -> list[tuple[int, dict[str, Any]]]:
                out = []
                for j in range(0, STEADY, 4):
                    out += await asyncio.gather(*[_ask(http, bases, key_b,
                                                       f"globex question {k}: what is {k} + 7?", k)
                                                  for k in range(j, j + 4)])  # fmt: skip
                return out

            async def chaos() -> None:
                await asyncio.sleep(3)
                procs["answer1"].send_signal(signal.SIGKILL)
                procs["gateway1"].send_signal(signal.SIGKILL)

            burst = [_ask(http, bases, key_a, f"acme question {k}: what is {k} times 3?", k)
                     for k in range(BURST)]  # fmt: skip
            began = time.time()
            results = await asyncio.gather(steady(), chaos(), *burst)
            # A's rate counts per minute: on a slow machine the burst may span two windows.
            windows = int(time.time() // 60) - int(began // 60) + 1
        b_results: list[tuple[int, dict[str, Any]]] = results[0]
        a_results: list[tuple[int, dict[str, Any]]] = list(results[2:])

        # B: every request answered. A: answered or refused by its rate (never a 5xx).
        assert [s for s, _ in b_results if s != 200] == [], [b for s, b in b_results if s != 200][:3]
        a_codes = [s for s, _ in a_results]
        assert set(a_codes) <= {200, 429}, [b for s, b in a_results if s not in (200, 429)][:3]
        assert 1 <= a_codes.count(200) <= A_RPM * windows, (a_codes.count(200), windows)
        if windows == 1:
            assert a_codes.count(429) >= BURST - A_RPM
        refused = [b["error"]["code"] for s, b in a_results if s == 429]
        assert set(refused) <= {"rate_limit_exceeded"}

        # Every run ends (those whose gateway died too), then the ledger is read.
        client = await Client.connect(address, data_converter=pydantic_data_converter)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = [w async for w in client.list_workflows(
                f'TaskQueue="{cfg.temporal.task_queue}" AND ExecutionStatus="Running" '
                'AND WorkflowType="QueryWorkflow"')]  # fmt: skip
            if not running:
                break
            await asyncio.sleep(1)
        assert not running, f"{len(running)} runs still going"
        b_ids = {b["tutelage"]["query_id"] for _, b in b_results}
        a_ids = {b["tutelage"]["query_id"] for s, b in a_results if s == 200}
        histories = [await client.get_workflow_handle(w.id).fetch_history()
                     async for w in client.list_workflows(
                         f'TaskQueue="{cfg.temporal.task_queue}" AND WorkflowType="QueryWorkflow"'
                         ' AND TutelageTenant="globex"')]  # fmt: skip
        key_a_id = key_a.split("-")[1]
        import redis.asyncio as aioredis

        from tutelage.options import school_scope

        r = aioredis.Redis.from_url(redis_url)
        raw = await r.get(f"tutelage:{school_scope(cfg.temporal.task_queue) or 'default'}:usage:{key_a_id}")
        await r.aclose()
        usage = KeyUsage.model_validate_json(raw)

        # `down`: each remaining process stops on SIGTERM within 10 s.
        stopped = {name: _stops_within(p, 10) for name, p in procs.items() if p.poll() is None}
        assert all(t < 10 for t in stopped.values()), stopped
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()

    from tutelage.store.ledger import Ledger

    ledger = Ledger(cfg.data_dir / "ledger.duckdb")
    try:
        rows = dict(ledger.rows("SELECT query_id, tenant FROM queries"))
        charged = ledger.rows("SELECT query_id, cost_usd FROM key_charges WHERE key_id = ?",
                              [key_a_id])  # fmt: skip
    finally:
        ledger.close()
    # Every answered query is in the ledger once, under its own tenant.
    assert all(rows.get(q) == "globex" for q in b_ids) and all(rows.get(q) == "acme" for q in a_ids)
    assert len(b_ids) == STEADY
    # A's usage counted once: the counters hold what the ledger charged (runs whose gateway died
    # included: the workflow settles), and what they still hold back is only for requests
    # admitted by the killed gateway that never started a run.
    assert usage.day_usd == pytest.approx(sum(c for _, c in charged), rel=1e-6, abs=1e-12)
    assert not set(usage.reserved) & set(rows)
    # B's prompts: every model call of every globex run carries no acme text.
    assert len(histories) >= STEADY
    for history in histories:
        sent = json.dumps([json.loads(p.data) for e in history.events
                           if e.HasField("activity_task_scheduled_event_attributes")
                           for p in e.activity_task_scheduled_event_attributes.input.payloads])  # fmt: skip
        assert "acme" not in sent
