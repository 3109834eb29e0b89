"""Serving the gateway with uvicorn: alone (`tutelage serve`) or inside `tutelage up`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from ..config import TutelageConfig
from ..workers.stack_status import StackStatus
from .app import create_app
from .temporal import TemporalSource


class _Server(uvicorn.Server):
    """uvicorn, minus its own signal handling: the process that embeds it owns the signals and
    stops it through `serve_until`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def build_server(config: TutelageConfig, client: Client | None = None,
                 stack_status: StackStatus | None = None) -> uvicorn.Server:  # fmt: skip
    """A uvicorn server for the gateway; `client`: share this process's Temporal client (eager
    workflow start then reaches the worker in this process)."""
    source = TemporalSource(config.temporal.effective_address(), config.temporal.namespace,
                            client, stack=stack_status)  # fmt: skip
    app = create_app(config, source)
    gw = config.gateway
    return _Server(uvicorn.Config(app, host=gw.host, port=gw.port, log_level="warning",
                                         access_log=False, lifespan="off"))  # fmt: skip


async def serve_until(server: uvicorn.Server, stop: asyncio.Event) -> None:
    """Serve until `stop` is set, then finish the requests in flight and stop. The gateway's
    own stream worker (real token streaming) runs alongside."""
    app = server.config.app
    assert isinstance(app, FastAPI)
    streams_stop = asyncio.Event()
    streams = asyncio.create_task(app.state.streams.run(streams_stop))
    task = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await task
    stopping.cancel()
    streams_stop.set()
    # Bounded: a stopping gateway's streams end (their runs go on elsewhere).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(streams, 3)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(app.state.admissions.close(), 2)
