"""The gateway against the LiteLLM proxy: one load generator, one run, one machine.

Both serve mock deployments (litellm's `mock_response`, `mock_delay`) at 0 ms and 500 ms per
call, and both check a key on every request:
- the LiteLLM proxy (`litellm[proxy]` at the litellm version tutelage pins, in its own venv,
  `.venv-proxy`, which `make bench` creates): one model name per latency, no retries;
- tutelage: `tutelage up` against this run's Temporal dev server (worker and API in one process,
  so queries start eagerly), over each of the mocked schools of `tutelage/bench/mocked.py`:
  `novel`, where every query has its three members answer in parallel and be judged by
  agreement, and `familiar`, where a TA answers alone (one model call, as the proxy makes), the
  state a school reaches once it has learned a kind of question. Every request asks a question
  of its own (no cache hits).
At 1 and 32 concurrent clients (each sending its requests one after another): requests/s and
p50/p95 latency; the CPU each process this run started spent per request (from /proc: the
proxy; tutelage's `up` process, its worker and gateway in one; the Temporal dev server); the
Temporal history events per query on each route; and the gateway's added latency over a direct
QueryWorkflow (started from this process with the Temporal client and waited on, same school,
same concurrency). Prints the figures and the targets' verdicts; asserts nothing.

    python benchmarks/gateway_vs_litellm.py [--requests 32] [--proxy .venv-proxy/bin/litellm]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # noqa: E402
from served import wait_http  # noqa: E402  (benchmarks/served.py)
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402

from tutelage.bench.mocked import mocked_school_toml  # noqa: E402
from tutelage.models import QueryInput  # noqa: E402
from tutelage.options import query_workflow_id  # noqa: E402
from tutelage.workers.devserver import DevServer, free_port  # noqa: E402
from tutelage.workers.processes import die_with_parent  # noqa: E402
from tutelage.workflows import search_attributes as sa  # noqa: E402
from tutelage.workflows.query import QueryWorkflow  # noqa: E402

DELAYS_MS = (0, 500)
CONCURRENCY = (1, 32)
ROUTES = ("familiar", "novel")
TARGET_MS = 150.0


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    system: str
    delay_ms: int
    concurrency: int
    latencies_s: list[float]
    wall_s: float
    failures: int
    cpu_ms: dict[str, float] | None = None  # CPU ms per request, by process

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_s) * 1000 if self.latencies_s else float("nan")

    @property
    def p95_ms(self) -> float:
        lat = sorted(self.latencies_s)
        return lat[min(len(lat) - 1, int(0.95 * len(lat)))] * 1000 if lat else float("nan")

    def cpu_line(self) -> str:
        return ", ".join(f"{name} {ms:.1f}" for name, ms in (self.cpu_ms or {}).items())

    def line(self) -> str:
        rps = len(self.latencies_s) / self.wall_s if self.wall_s else 0.0
        failed = f"   {self.failures} failed" if self.failures else ""
        return (f"  {self.delay_ms:4d} ms  {self.concurrency:3d}   {self.system:22s} "
                f"{rps:7.1f}  {self.p50_ms:8.1f}  {self.p95_ms:8.1f}   cpu ms/req: "
                f"{self.cpu_line()}{failed}")  # fmt: skip


async def _load(send: Callable[[int], Awaitable[bool]], concurrency: int,
                per_client: int) -> tuple[list[float], float, int]:  # fmt: skip
    """`concurrency` clients, each sending `per_client` requests one after another."""
    latencies: list[float] = []
    failures = 0

    async def client(c: int) -> None:
        nonlocal failures
        for i in range(per_client):
            started = time.perf_counter()
            ok = await send(c * per_client + i)
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(concurrency)))
    return latencies, time.perf_counter() - started, failures


def _question(tag: str) -> str:
    """A question never asked before in this run (a repeat would be a cache hit)."""
    i = next(_asked)
    return f"{tag} question {i}: what is {i} plus {i * 7 % 97}?"


_asked = itertools.count()


def _http_sender(http: httpx.AsyncClient, url: str, key: str, model: str,
                 tag: str) -> Callable[[int], Awaitable[bool]]:  # fmt: skip
    async def send(i: int) -> bool:
        body = {"model": model, "messages": [{"role": "user", "content": _question(tag)}]}
        r = await http.post(url, json=body, headers={"authorization": f"Bearer {key}"})
        return r.status_code == 200

    return send


def _direct_sender(client: Client, queue: str, tag: str) -> Callable[[int], Awaitable[bool]]:
    async def send(i: int) -> bool:
        q = QueryInput(text=_question(tag), query_id=f"{tag}-{i}-{uuid.uuid4().hex[:6]}")
        result = await client.execute_workflow(
            QueryWorkflow.run, q, task_queue=queue,
            id=query_workflow_id(q.tenant, q.query_id, queue))  # fmt: skip
        return result.status == "ok"

    return send


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _start_proxy(binary: Path, root: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    master = f"sk-bench-{secrets.token_hex(16)}"
    models = "".join(
        f"  - model_name: mock-{d}\n    litellm_params:\n      model: openai/mock-{d}\n"
        f"      api_key: sk-mock\n      mock_response: \"42\"\n      mock_delay: {d / 1000}\n"
        for d in DELAYS_MS)  # fmt: skip
    config = root / "litellm.yaml"
    config.write_text(f"model_list:\n{models}litellm_settings:\n  num_retries: 0\n"
                      f"general_settings:\n  master_key: {master}\n")  # fmt: skip
    port = free_port()
    log = root / "litellm.log"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
    proc = subprocess.Popen(die_with_parent([str(binary), "--config", str(config), "--port",
                                             str(port), "--num_workers", "1"]),
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/health/liveliness", proc, log)
    return proc, f"{base}/v1/chat/completions", master


def _start_tutelage(address: str, root: Path, delay_ms: int,
                    route: str) -> tuple[subprocess.Popen[bytes], str, str, str]:  # fmt: skip
    queue = f"gw-bench-{route}-{delay_ms}-{uuid.uuid4().hex[:6]}"
    port = free_port()
    config = root / f"school-{route}-{delay_ms}" / "tutelage.toml"
    config.parent.mkdir(parents=True)
    config.write_text(mocked_school_toml(queue, delay_ms / 1000, route=route, extra=(
        f'\n[gateway]\nport = {port}\nauth = "keys"\n')))  # fmt: skip
    env = {**os.environ, "TEMPORAL_ADDRESS": address}
    log = config.parent / "up.log"
    proc = subprocess.Popen(die_with_parent([sys.executable, "-m", "tutelage", "up", "--config",
                                             str(config)]),
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/health/readiness", proc, log)
    made = subprocess.run([sys.executable, "-m", "tutelage", "keys", "create", "--tenant",
                           "default", "--config", str(config)], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    if made.returncode != 0:
        raise SystemExit(f"could not create a key: {made.stderr}")
    return proc, f"{base}/v1/chat/completions", made.stdout.strip().splitlines()[-1], queue


async def _measure(system: str, delay_ms: int, send: Callable[[int], Awaitable[bool]],
                   per_client_at_1: int, pids: dict[str, int]) -> list[Figures]:  # fmt: skip
    """Each concurrency's figures; `pids`: the processes whose CPU per request is counted."""
    await _load(send, 4, 2)  # connections open, caches and imports warm
    out = []
    for c in CONCURRENCY:
        per_client = per_client_at_1 if c == 1 else max(2, per_client_at_1 // 4)
        before = {name: cpu_s(pid) for name, pid in pids.items()}
        lat, wall, failed = await _load(send, c, per_client)
        n = max(1, len(lat) + failed)
        cpu = {name: (cpu_s(pid) - before[name]) * 1000 / n for name, pid in pids.items()}
        out.append(Figures(system, delay_ms, c, lat, wall, failed, cpu))
        print(out[-1].line(), flush=True)
    return out


async def _history_events(client: Client, queue: str, sample: int = 20) -> dict[str, float]:
    """Mean history events per query, by route, over up to `sample` runs of each."""
    by_route: dict[str, list[int]] = {}
    async for wf in client.list_workflows(f'TaskQueue="{queue}" AND WorkflowType="QueryWorkflow"'
                                          ' AND ExecutionStatus="Completed"'):  # fmt: skip
        route = wf.typed_search_attributes.get(sa.ROUTE) or "?"
        if len(by_route.setdefault(route, [])) < sample:
            history = await client.get_workflow_handle(wf.id).fetch_history()
            by_route[route].append(len(history.events))
    return {r: sum(v) / len(v) for r, v in sorted(by_route.items()) if v}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=32,
                        help="requests at 1 concurrent (each of 32 clients sends a quarter)")
    parser.add_argument("--proxy", type=Path, default=Path(".venv-proxy/bin/litellm"))
    args = parser.parse_args()
    if not args.proxy.exists():
        raise SystemExit(f"no LiteLLM proxy at {args.proxy}: `make bench` installs it "
                         "(litellm[proxy] at the pinned version, in .venv-proxy)")  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    server = DevServer(host="127.0.0.1", port=free_port(), ui_port=0, ui=False, persist=False,
                       db_file=root / "temporal.db")  # fmt: skip
    server.start(60)
    assert server.process is not None
    address = server.address
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    proxy, proxy_url, master = _start_proxy(args.proxy, root)
    print(f"== the gateway against the LiteLLM proxy: mock members at {DELAYS_MS} ms, "
          f"{os.cpu_count()} cores; tutelage familiar: a TA alone (1 call), novel: 3 members "
          "in parallel, judged")  # fmt: skip
    print("  member  conc   system                   req/s   p50 ms    p95 ms")
    figures: list[Figures] = []
    events: dict[str, dict[str, float]] = {}
    temporal_pid = server.process.pid
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    try:
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            for delay in DELAYS_MS:
                figures += await _measure("litellm proxy", delay, _http_sender(
                    http, proxy_url, master, f"mock-{delay}", "proxy"), args.requests,
                    {"proxy": proxy.pid})  # fmt: skip
                for route in ROUTES:
                    up, url, key, queue = _start_tutelage(address, root, delay, route)
                    pids = {"up": up.pid, "temporal": temporal_pid}
                    try:
                        figures += await _measure(f"tutelage {route}", delay, _http_sender(
                            http, url, key, "tutelage", route), args.requests, pids)  # fmt: skip
                        figures += await _measure(f"direct wf {route}", delay, _direct_sender(
                            client, queue, route), args.requests, pids)  # fmt: skip
                        events[f"{route} school, {delay} ms"] = await _history_events(client, queue)
                    finally:
                        _stop(up)
    finally:
        _stop(proxy)
        server.stop()
    print("\n  history events per query, by route (mean of up to 20 runs each):")
    for school, routes in events.items():
        print(f"    {school}: " + ", ".join(f"{r} {n:.0f}" for r, n in routes.items()))
    _verdict(figures)


def _verdict(figures: list[Figures]) -> None:
    def p50(system: str, delay: int, c: int) -> float:
        return next(f.p50_ms for f in figures
                    if (f.system, f.delay_ms, f.concurrency) == (system, delay, c))  # fmt: skip

    def fig(system: str, delay: int, c: int) -> Figures:
        return next(f for f in figures if (f.system, f.delay_ms, f.concurrency) == (system, delay, c))

    print()
    for route, rate_bar, cpu_bar in (("familiar", 30.0, 30.0), ("novel", 25.0, 45.0)):
        f = fig(f"tutelage {route}", 500, 32)
        rps = len(f.latencies_s) / f.wall_s
        up_ms, temporal_ms = (f.cpu_ms or {}).get("up", 0.0), (f.cpu_ms or {}).get("temporal", 0.0)
        gap = f.p50_ms - fig("litellm proxy", 500, 32).p50_ms
        # With the Temporal server on another machine its CPU is not this machine's: the rate
        # two cores would carry at the school's own CPU per request alone.
        alone = 2000.0 / up_ms if up_ms else float("nan")
        print(f"  500 ms, 32 concurrent, {route:8s}: {rps:.1f} req/s (target >= {rate_bar:.0f}: "
              f"{'met' if rps >= rate_bar else 'MISSED'}), p50 {gap:+.0f} ms over the proxy "
              f"(target <= 300: {'met' if gap <= 300 else 'MISSED'}), up {up_ms:.1f} CPU ms/req "
              f"(target <= {cpu_bar:.0f}: {'met' if up_ms <= cpu_bar else 'MISSED'}), Temporal "
              f"server {temporal_ms:.1f} CPU ms/req; CPU-bound rate with the server elsewhere: "
              f"{alone:.0f} req/s")  # fmt: skip
    for route in ROUTES:
        for c in CONCURRENCY:
            gap = p50(f"tutelage {route}", 500, c) - p50("litellm proxy", 500, c)
            verdict = "met" if gap <= TARGET_MS else "MISSED"
            print(f"  500 ms, {c:2d} concurrent, {route:8s}: tutelage p50 {gap:+7.1f} ms over the "
                  f"proxy's (target within {TARGET_MS:.0f} ms: {verdict})")  # fmt: skip
    for route in ROUTES:
        for c in CONCURRENCY:
            ratio = p50(f"tutelage {route}", 0, c) / p50("litellm proxy", 0, c)
            print(f"    0 ms, {c:2d} concurrent, {route:8s}: tutelage p50 / proxy p50 = {ratio:.1f}x")
    for delay in DELAYS_MS:
        for c in CONCURRENCY:
            added = [p50(f"tutelage {r}", delay, c) - p50(f"direct wf {r}", delay, c)
                     for r in ROUTES]  # fmt: skip
            print(f"  the gateway over a direct QueryWorkflow ({delay} ms, {c:2d} concurrent): "
                  + ", ".join(f"{r} p50 {a:+.1f} ms" for r, a in zip(ROUTES, added, strict=True)))


if __name__ == "__main__":
    asyncio.run(main())
    # No interpreter finalisation: the Temporal runtime's native threads can abort it.
    sys.stdout.flush()
    os._exit(0)
