"""How the gateway should start a QueryWorkflow: start-and-wait latency of an empty workflow
(client and worker in one process, as in `tutelage up`) for a plain start, eager start, and
Update-with-Start (the update answering as soon as the run has begun). Sequential, so it is
latency, not throughput. Prints figures; asserts nothing.

    python benchmarks/start_latency.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

from temporalio import workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker


@workflow.defn
class Echo:
    def __init__(self) -> None:
        self.ready = False

    @workflow.run
    async def run(self, x: str) -> str:
        self.ready = True
        return x

    @workflow.update
    async def answer(self, x: str) -> str:
        await workflow.wait_condition(lambda: self.ready)
        return x


async def _plain(client: Client, q: str) -> None:
    await client.execute_workflow(Echo.run, "x", id=f"p-{uuid.uuid4()}", task_queue=q)


async def _eager(client: Client, q: str) -> None:
    handle = await client.start_workflow(Echo.run, "x", id=f"e-{uuid.uuid4()}", task_queue=q,
                                         request_eager_start=True)  # fmt: skip
    await handle.result()


async def _update_with_start(client: Client, q: str) -> None:
    op = WithStartWorkflowOperation(Echo.run, "x", id=f"u-{uuid.uuid4()}", task_queue=q,
                                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL)  # fmt: skip
    await client.execute_update_with_start_workflow(Echo.answer, "x", start_workflow_operation=op)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"), ui=False)  # fmt: skip
    q = "start-latency"
    ways = {"execute_workflow (start, then result)": _plain, "eager start, then result": _eager,
            "Update-with-Start (early return)": _update_with_start}  # fmt: skip
    try:
        async with Worker(env.client, task_queue=q, workflows=[Echo]):
            print(f"== start-and-wait latency of an empty workflow, {args.runs} sequential runs "
                  "each, client and worker in one process, local dev server")  # fmt: skip
            for _ in range(20):  # warm every path
                for way in ways.values():
                    await way(env.client, q)
            for name, way in ways.items():
                times = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    await way(env.client, q)
                    times.append((time.perf_counter() - started) * 1000)
                times.sort()
                print(f"  {name:40s} p50 {statistics.median(times):6.1f} ms   "
                      f"p95 {times[int(0.95 * len(times))]:6.1f} ms")  # fmt: skip
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
