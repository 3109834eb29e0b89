"""Reference workflows for benchmarks/query_path.py: an empty one and a bare 3-way fan-out."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def noop(x: int) -> int:
    return x


@workflow.defn
class EmptyWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        return x


@workflow.defn
class FanOutWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        results = await asyncio.gather(*[
            workflow.execute_activity(noop, x + i, start_to_close_timeout=timedelta(seconds=10))
            for i in range(3)
        ])  # fmt: skip
        return sum(results)


@workflow.defn
class AnswerOnceWorkflow:
    """One ANSWER activity on a given queue: how the query path asks a local model."""

    @workflow.run
    async def run(self, args: list[str]) -> dict:
        task_queue, member_id, model, text = args
        return await workflow.execute_activity(
            "tutelage.answer",
            {"query_id": "bench", "member_id": member_id, "model": model, "text": text},
            task_queue=task_queue, start_to_close_timeout=timedelta(minutes=5),
        )  # fmt: skip
