"""`tutelage up` and `tutelage worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from ..config import TutelageConfig, load_config
from ..workers.devserver import DevServer, DevServerError
from .app import UserError

if TYPE_CHECKING:
    from temporalio.client import Client

out = Console()


def _configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    # A member's failed call is an expected event, recorded in the ledger; no traceback here.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)


def _exit_now(code: int) -> None:
    """Leave without interpreter finalisation: native threads of the Temporal core and the
    embedder can abort the process while Python tears down, after our clean shutdown."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def _connect(cfg: TutelageConfig, address: str, timeout_s: float) -> Client:
    from ..workers.worker import connect

    try:
        return await asyncio.wait_for(connect(address, cfg.temporal.namespace), timeout_s)
    except Exception as exc:  # noqa: BLE001 - any connection failure is one line for the user
        raise UserError(
            f"cannot reach Temporal at {address} (namespace {cfg.temporal.namespace}): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


async def _serve(cfg: TutelageConfig, address: str, banner: str, sync: bool = False) -> None:
    from ..workers.schedules import sync_schedules
    from ..workers.worker import run_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = await _connect(cfg, address, cfg.temporal.startup_timeout_s)
    if sync:  # `tutelage up` keeps the learning cycles' schedules in line with the config
        for sid, what in await sync_schedules(client, cfg):
            out.print(f"schedule {sid} {what}", style="dim")
    task = asyncio.create_task(run_worker(cfg, client, stop))
    await asyncio.sleep(0)
    out.print(banner, highlight=False)
    out.print("Press Ctrl-C to stop.", style="dim")
    try:
        await task
    except RuntimeError as exc:  # e.g. the data directory is owned by another worker
        raise UserError(str(exc)) from None


def _banner(cfg: TutelageConfig, address: str, started: bool) -> str:
    where = "started" if started else "using"
    return (
        f"[green]tutelage is up[/]: {where} Temporal at {address}, namespace "
        f"{cfg.temporal.namespace}, task queue {cfg.temporal.task_queue}\n"
        f"  UI:   {cfg.temporal.effective_ui_url()}\n"
        f"  data: {cfg.data_dir}"
    )


def run_up(config_path: Path | None) -> None:
    cfg = load_config(config_path)
    _configure_logging()
    if not cfg.temporal.embedded():
        address = cfg.temporal.effective_address()
        asyncio.run(_serve(cfg, address, _banner(cfg, address, started=False), sync=True))
        return
    t = cfg.temporal
    server = DevServer(host=t.host, port=t.port, ui_port=t.ui_port,
                       db_file=cfg.data_dir / "temporal.db", namespace=t.namespace)  # fmt: skip
    # Until the worker is serving, Ctrl-C must still stop the server we started.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        try:
            out.print(f"starting the Temporal dev server on {server.address} ...", style="dim")
            server.start(t.startup_timeout_s)
        except DevServerError as exc:
            raise UserError(str(exc)) from None
        asyncio.run(_serve(cfg, server.address, _banner(cfg, server.address, started=True),
                           sync=True))  # fmt: skip
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, previous)
        server.stop()
        out.print("stopped.", style="dim")
    _exit_now(0)


def run_worker_only(config_path: Path | None) -> None:
    cfg = load_config(config_path)
    _configure_logging()
    address = cfg.temporal.effective_address()
    banner = (
        f"[green]worker running[/] against {address}, namespace {cfg.temporal.namespace}, "
        f"task queue {cfg.temporal.task_queue}"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(cfg, address, banner))
    out.print("worker stopped.", style="dim")
    _exit_now(0)
