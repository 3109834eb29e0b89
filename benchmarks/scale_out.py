"""Scale-out: one all-in-one worker against one store owner with 1, 2 and 4 answer workers, in
one run, on one local Temporal server. Members are mocked at --delay seconds per call (three
per query: every query is novel, so every member answers); --in-flight queries at a time.
Prints queries/s, p50/p95 latency, the store owner's CPU per query and the answer workers' CPU
per model call (from /proc): what a cluster is sized by. Asserts nothing.

    python benchmarks/scale_out.py [--queries 384] [--in-flight 128] [--delay 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from tutelage.bench.mocked import mocked_school_toml  # noqa: E402
from tutelage.models import QueryInput  # noqa: E402
from tutelage.options import query_workflow_id  # noqa: E402
from tutelage.workers.processes import die_with_parent  # noqa: E402
from tutelage.workflows import search_attributes as sa  # noqa: E402
from tutelage.workflows.query import QueryWorkflow  # noqa: E402


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _stream(client: Client, queue: str, n: int, in_flight: int, tag: str) -> list[float]:
    gate = asyncio.Semaphore(in_flight)
    latencies: list[float] = []

    async def one(i: int) -> None:
        q = QueryInput(text=f"{tag} question {i}: what is {i} plus {i * 7 % 97}?",
                       query_id=f"{tag}-{i}-{uuid.uuid4().hex[:6]}")  # fmt: skip
        async with gate:
            started = time.perf_counter()
            await client.execute_workflow(QueryWorkflow.run, q, task_queue=queue,
                                          id=query_workflow_id(q.tenant, q.query_id, queue))  # fmt: skip
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(one(i) for i in range(n)))
    return latencies


async def _deployment(client: Client, address: str, answerers: int, args: argparse.Namespace) -> str:
    root = Path(tempfile.mkdtemp())
    queue = f"scale-{uuid.uuid4().hex[:6]}"
    config = root / "tutelage.toml"
    config.write_text(mocked_school_toml(queue, args.delay))
    env = {**os.environ, "TEMPORAL_ADDRESS": address}

    def start(role: str, name: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            die_with_parent([sys.executable, "-m", "tutelage", "worker", "--role", role,
                             "--no-local-worker", "--config", str(config)]),
            env=env, stdout=(root / f"{name}.log").open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip

    procs = [start("school" if not answerers else "store", "store")]
    procs += [start("answer", f"answer{i}") for i in range(answerers)]
    try:
        await _stream(client, queue, 16, 16, "warm")  # every process up and warm
        store, answer = procs[0].pid, [p.pid for p in procs[1:]]
        cpu0, acpu0, t0 = _cpu_s(store), sum(map(_cpu_s, answer)), time.perf_counter()
        lat = await _stream(client, queue, args.queries, args.in_flight, "run")
        wall, cpu = time.perf_counter() - t0, _cpu_s(store) - cpu0
        calls_cpu = sum(map(_cpu_s, answer)) - acpu0
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(60)
    lat.sort()
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    label = "all-in-one worker" if not answerers else f"store owner + {answerers} answer worker(s)"
    return (f"  {label:34s} {args.queries / wall:6.1f} q/s   p50 {statistics.median(lat):5.2f} s"
            f"   p95 {p95:5.2f} s   store owner CPU {cpu / args.queries * 1000:5.1f} ms/query"
            + (f"   answer workers' CPU {calls_cpu / (3 * args.queries) * 1000:4.1f} ms/call"
               if answerers else ""))  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=384)
    parser.add_argument("--in-flight", type=int, default=128)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per model call")
    args = parser.parse_args()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter, search_attributes=sa.ALL, ui=False,
    )  # fmt: skip
    address = env.client.service_client.config.target_host
    print(f"== scale-out: {args.queries} queries, {args.in_flight} in flight, 3 calls per query "
          f"of {args.delay:g} s each, {os.cpu_count()} cores")  # fmt: skip
    try:
        for answerers in (0, 1, 2, 4):
            print(await _deployment(env.client, address, answerers, args), flush=True)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    # No interpreter finalisation: the Temporal runtime's native threads can abort it.
    sys.stdout.flush()
    os._exit(0)
