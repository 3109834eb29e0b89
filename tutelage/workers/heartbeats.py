"""Heartbeats for every activity that asks for them, without code in each activity.

An activity scheduled with a heartbeat timeout (the model calls, the learning cycles' steps)
heartbeats while it runs, so when the worker running it dies (SIGKILL, a native crash, a lost
machine) Temporal retries it elsewhere after that timeout instead of after its whole
start-to-close timeout (minutes for a cycle step).
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)


class _Heartbeating(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        timeout = info.heartbeat_timeout
        if info.is_local or not timeout:
            return await super().execute_activity(input)

        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(timeout.total_seconds() / 4)

        task = asyncio.create_task(beat())
        try:
            return await super().execute_activity(input)
        finally:
            task.cancel()


class HeartbeatInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Heartbeating(next)


INTERCEPTORS = [HeartbeatInterceptor()]
