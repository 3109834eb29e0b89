"""Streamed answers: time to first token and total time, directly from a member, through the
LiteLLM proxy and through tutelage, in one run on one machine.

The member is a loopback OpenAI-compatible server that streams 64 tokens, one every 20 ms
(about 1.3 s an answer). tutelage serves it as a familiar TA answering alone (`tutelage up`,
its gateway's stream worker streaming the member's tokens as they come); the LiteLLM proxy
(`litellm[proxy]` at the pinned version, in `.venv-proxy`, which `make bench` creates) serves
it as one deployment. At 1 and 32 concurrent clients: TTFT and total p50/p95 for each, and the
targets' verdicts (tutelage's TTFT within 100 ms of the proxy's at 1 concurrent and within
250 ms at 32; total within 10%). Asserts nothing.

    python benchmarks/streaming.py [--requests 24] [--proxy .venv-proxy/bin/litellm]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import StreamingResponse  # noqa: E402
from served import wait_http  # noqa: E402  (benchmarks/served.py)
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from tutelage.workers.devserver import free_port  # noqa: E402
from tutelage.workers.processes import die_with_parent  # noqa: E402
from tutelage.workflows import search_attributes as sa  # noqa: E402

TOKENS, EVERY_S = 64, 0.02
ANSWER = [f" t{i}" for i in range(TOKENS - 1)] + [" 42"]
CONCURRENCY = (1, 32)


def member_server() -> tuple[uvicorn.Server, str]:
    app = FastAPI()

    async def sse(model: str) -> AsyncIterator[str]:
        base = {"id": f"m-{uuid.uuid4().hex[:6]}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}  # fmt: skip
        for i, token in enumerate(ANSWER):
            delta = {"role": "assistant", "content": token} if i == 0 else {"content": token}
            yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': delta}]})}\n\n"
            await asyncio.sleep(EVERY_S)
        yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n"
        usage = {"prompt_tokens": 20, "completion_tokens": TOKENS, "total_tokens": 20 + TOKENS}
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"

    @app.post("/v1/chat/completions", response_model=None)
    async def complete(request: Request) -> object:
        body = await request.json()
        if body.get("stream"):
            return StreamingResponse(sse(body["model"]), media_type="text/event-stream")
        await asyncio.sleep(EVERY_S * TOKENS)
        return {"id": "m", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": "".join(ANSWER).strip()}}],
                "usage": {"prompt_tokens": 20, "completion_tokens": TOKENS, "total_tokens": 84}}  # fmt: skip

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}/v1"


def start_proxy(binary: Path, root: Path, member: str) -> tuple[subprocess.Popen[bytes], str, str]:
    master = f"sk-bench-{uuid.uuid4().hex}"
    (root / "litellm.yaml").write_text(
        f"model_list:\n  - model_name: member\n    litellm_params:\n      model: openai/member\n"
        f"      api_base: {member}\n      api_key: sk-none\n"
        f"litellm_settings:\n  num_retries: 0\ngeneral_settings:\n  master_key: {master}\n")  # fmt: skip
    port, log = free_port(), root / "litellm.log"
    env = {**os.environ, "LITELLM_TELEMETRY": "False"}
    proc = subprocess.Popen(die_with_parent([str(binary), "--config", str(root / "litellm.yaml"),
                                             "--port", str(port), "--num_workers", "1"]),
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/health/liveliness", proc, log)
    return proc, f"http://127.0.0.1:{port}/v1", master


def start_tutelage(address: str, root: Path, member: str) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    answer = "".join(ANSWER).strip()
    config = root / "tutelage.toml"
    config.write_text(f"""supervisor = "sup"
data_dir = "data"
[temporal]
task_queue = "stream-bench-{uuid.uuid4().hex[:6]}"
[embedder]
low_threshold = 0.5
high_threshold = 0.6
cache_threshold = 0.99999
[routing]
shadow_rate = 0.0
ta_audit_rate = 0.0
teacher_audit_rate = 0.0
[judge]
mode = "agreement"
[gateway]
port = {port}
auth = "keys"
[[members]]
id = "sup"
model = "openai/sup-model"
role = "teacher"
input_price = 0.00001
output_price = 0.00003
params = {{ mock_response = "{answer}" }}
[[members]]
id = "stu"
model = "openai/member"
role = "ta"
api_base = "{member}"
input_price = 0.0000001
output_price = 0.0000001
params = {{ api_key = "sk-none" }}
""")
    env = {**os.environ, "TEMPORAL_ADDRESS": address}
    log = root / "up.log"
    proc = subprocess.Popen(die_with_parent([sys.executable, "-m", "tutelage", "up", "--config",
                                             str(config)]), env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)  # fmt: skip
    wait_http(f"http://127.0.0.1:{port}/health/readiness", proc, log)
    made = subprocess.run([sys.executable, "-m", "tutelage", "keys", "create", "--tenant",
                           "default", "--config", str(config)], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    return proc, f"http://127.0.0.1:{port}/v1", made.stdout.strip().splitlines()[-1]


async def one(http: httpx.AsyncClient, base: str, key: str, model: str,
              question: str) -> tuple[float, float, int]:  # fmt: skip
    """(TTFT, total, content chunks) of one streamed request."""
    started = time.perf_counter()
    first, chunks = None, 0
    async with http.stream("POST", f"{base}/chat/completions", headers={
            "authorization": f"Bearer {key}"}, json={"model": model, "stream": True, "messages": [
            {"role": "user", "content": question}]}) as r:  # fmt: skip
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data: {"):
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                first = first or time.perf_counter()
                chunks += 1
    ended = time.perf_counter()
    return (first or ended) - started, ended - started, chunks


async def load(http: httpx.AsyncClient, base: str, key: str, model: str, concurrency: int,
               total: int, tag: str) -> list[tuple[float, float, int]]:  # fmt: skip
    todo = iter(range(total))
    out: list[tuple[float, float, int]] = []

    async def client() -> None:
        for i in todo:
            out.append(await one(http, base, key, model, f"{tag} {i}: count to 42, please."))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return out


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=24, help="per case at 1 concurrent")
    parser.add_argument("--proxy", type=Path, default=Path(".venv-proxy/bin/litellm"))
    args = parser.parse_args()
    if not args.proxy.exists():
        raise SystemExit(f"no LiteLLM proxy at {args.proxy}: `make bench` installs it")
    root = Path(tempfile.mkdtemp(prefix="stream-bench-"))
    server, member = member_server()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter, search_attributes=sa.ALL, ui=False)  # fmt: skip
    proxy, proxy_url, master = start_proxy(args.proxy, root, member)
    up, url, key = start_tutelage(env.client.service_client.config.target_host, root, member)
    systems = {"direct": (member, "sk-none", "member"), "litellm proxy": (proxy_url, master, "member"),
               "tutelage": (url, key, "tutelage")}  # fmt: skip
    print(f"== streamed answers: {TOKENS} tokens, one every {EVERY_S * 1000:.0f} ms, "
          f"{os.cpu_count()} cores; tutelage: a familiar TA answering alone")
    print("  conc  system           TTFT p50  TTFT p95  total p50  total p95  chunks")
    figures: dict[tuple[str, int], list[tuple[float, float, int]]] = {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    try:
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            await load(http, url, key, "tutelage", 1, 2, "warm")  # the TA earns the route
            for name, (base, k, model) in systems.items():
                await load(http, base, k, model, 4, 4, f"warm-{name}")
            for c in CONCURRENCY:
                for name, (base, k, model) in systems.items():
                    total = args.requests if c == 1 else 2 * c
                    res = await load(http, base, k, model, c, total, f"{name}-{c}")
                    figures[(name, c)] = res
                    ttft, tot = [r[0] for r in res], [r[1] for r in res]
                    print(f"  {c:>4}  {name:<15} {pct(ttft, .5):>8.0f} {pct(ttft, .95):>9.0f} "
                          f"{pct(tot, .5):>10.0f} {pct(tot, .95):>10.0f} "
                          f"{statistics.median(r[2] for r in res):>7.0f}", flush=True)
    finally:
        for proc in (up, proxy):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await env.shutdown()
        server.should_exit = True
    print()
    for c, bound in ((1, 100.0), (32, 250.0)):
        t, p = figures[("tutelage", c)], figures[("litellm proxy", c)]
        d_ttft = pct([r[0] for r in t], .5) - pct([r[0] for r in p], .5)
        ratio = pct([r[1] for r in t], .5) / pct([r[1] for r in p], .5)
        print(f"  {c:>2} concurrent: TTFT p50 {d_ttft:+.0f} ms vs the proxy (target <= "
              f"{bound:.0f}: {'met' if d_ttft <= bound else 'MISSED'}); total p50 x{ratio:.2f} "
              f"(target <= 1.10: {'met' if ratio <= 1.10 else 'MISSED'})")


if __name__ == "__main__":
    asyncio.run(main())
    # No interpreter finalisation: the Temporal runtime's native threads can abort it.
    sys.stdout.flush()
    os._exit(0)
