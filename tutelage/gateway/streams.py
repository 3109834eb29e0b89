"""Real token streaming: this gateway's own worker, and the channels its SSE responses read.

Each gateway process runs a small Temporal worker on a task queue of its own (samples-python's
worker-specific task queues). A streamed request's QueryWorkflow asks a member that answers
alone on that queue first; the activity streams the member's tokens into the channel of the
request's query id, which the SSE response reads as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import timedelta
from typing import Any

from temporalio.worker import Worker

from ..config import TutelageConfig
from .temporal import TemporalSource

log = logging.getLogger("tutelage.gateway")
# Events on a channel: ("start", member id), ("delta", text), ("failed", why).
Event = tuple[str, Any]
MAX_EVENTS = 100_000  # a channel nobody reads (its client left) stops growing here
_GRACE = timedelta(seconds=2)  # a stopping gateway's streams end; their runs go on elsewhere


class StreamHub:
    def __init__(self, config: TutelageConfig, source: TemporalSource) -> None:
        self.config = config
        self.source = source
        self.task_queue = f"{config.temporal.task_queue}-stream-{uuid.uuid4().hex[:10]}"
        self._channels: dict[str, asyncio.Queue[Event]] = {}
        self.ready = False

    def open(self, query_id: str) -> asyncio.Queue[Event]:
        channel: asyncio.Queue[Event] = asyncio.Queue(MAX_EVENTS)
        self._channels[query_id] = channel
        return channel

    def close(self, query_id: str) -> None:
        self._channels.pop(query_id, None)

    def publish(self, query_id: str, event: Event) -> None:
        channel = self._channels.get(query_id)
        if channel is not None:
            with contextlib.suppress(asyncio.QueueFull):
                channel.put_nowait(event)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve this gateway's queue until `stop`; no worker (Temporal unreachable) means
        streamed requests are answered as before, whole, until it can start."""
        from ..activities.streaming import StreamedCalls
        from ..providers.catalog import ConfigCatalog
        from ..providers.registry import register_providers

        register_providers(self.config.replay.data_dir, self.config.replay.latency_ms)
        calls = StreamedCalls(ConfigCatalog(self.config), self)
        while not stop.is_set():
            try:
                client = await self.source.client()
                worker = Worker(client, task_queue=self.task_queue, activities=calls.all(),
                                max_concurrent_activities=64,
                                graceful_shutdown_timeout=_GRACE)  # fmt: skip
                async with worker:
                    self.ready = True
                    await stop.wait()
            except Exception as exc:  # noqa: BLE001 - retried: streaming is an optimisation
                log.warning("the gateway's stream worker is not running (%s); retrying", exc)
                self.ready = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5)
        self.ready = False

