"""`tutelage up`, `tutelage worker` and `tutelage down`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from rich.console import Console

from ..config import TutelageConfig, load_config
from ..workers import pidfile
from ..workers.devserver import DevServer, DevServerError
from .common import UserError, connect

if TYPE_CHECKING:
    from temporalio.client import Client

out = Console()

# `tutelage up` records its pid here, in the data directory: `tutelage down` stops that process.
UP_PID_FILE = "up.pid"
ROLES = ("school", "store", "answer", "local")

Runner = Callable[[TutelageConfig, "Client", asyncio.Event], Coroutine[object, object, None]]


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


def _runner(role: str, local_worker: bool) -> Runner:
    if role == "local":
        from ..workers.local_worker import run_local_worker

        return run_local_worker
    from ..workers.worker import run_answer_worker, run_worker

    if role == "answer":
        return run_answer_worker

    async def store_owner(cfg: TutelageConfig, client: Client, stop: asyncio.Event) -> None:
        await run_worker(cfg, client, stop, local_worker, model_calls=role == "school")

    return store_owner


async def _serve(cfg: TutelageConfig, address: str, banner: str, run: Runner,
                 sync: bool = False, gateway: bool = False) -> None:  # fmt: skip
    from ..workers.schedules import sync_schedules

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if gateway:
        _check_port_free(cfg)
    client = await connect(cfg, address, cfg.temporal.startup_timeout_s)
    if sync:  # `tutelage up` keeps the learning cycles' schedules in line with the config
        for sid, what in await sync_schedules(client, cfg):
            out.print(f"schedule {sid} {what}", style="dim")
    if gateway:  # the API shares the worker's client: eager starts reach this worker
        from ..gateway.server import build_server, serve_until

        server = build_server(cfg, client)
        task = asyncio.create_task(_all(run(cfg, client, stop), serve_until(server, stop)))
        while not server.started and not task.done():  # the banner means the API answers
            await asyncio.sleep(0.05)
    else:
        task = asyncio.create_task(run(cfg, client, stop))
    await asyncio.sleep(0)
    out.print(banner, highlight=False)
    out.print("Press Ctrl-C to stop.", style="dim")
    try:
        await task
    except RuntimeError as exc:  # e.g. the data directory is owned by another worker
        raise UserError(str(exc)) from None


async def _all(*jobs: Coroutine[object, object, None]) -> None:
    await asyncio.gather(*jobs)


def _check_port_free(cfg: TutelageConfig) -> None:
    from ..workers.devserver import port_in_use

    gw = cfg.gateway
    if port_in_use(gw.host if gw.host not in ("0.0.0.0", "") else "127.0.0.1", gw.port):
        raise UserError(f"port {gw.port} (the API, gateway.port) on {gw.host} is already in use: "
                        "stop what holds it, or set gateway.port")  # fmt: skip


def _api_line(cfg: TutelageConfig) -> str:
    return (f"\n  API:  http://{cfg.gateway.host}:{cfg.gateway.port}/v1 (OpenAI-compatible; "
            "model: tutelage, tutelage-quality, tutelage-cheap or tutelage@W)")


def _banner(cfg: TutelageConfig, address: str, started: bool) -> str:
    where = "started" if started else "using"
    local = (f"\n  local models: {len(cfg.local_models)}, in their own worker process "
             f"(log: {cfg.data_dir / 'local-worker.log'})" if cfg.local_models else "")  # fmt: skip
    return (
        f"[green]tutelage is up[/]: {where} Temporal at {address}, namespace "
        f"{cfg.temporal.namespace}, task queue {cfg.temporal.task_queue}\n"
        f"  UI:   {cfg.temporal.effective_ui_url()}{_api_line(cfg)}\n"
        f"  data: {cfg.data_dir}{local}"
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_up(config_path: Path | None) -> None:
    cfg = load_config(config_path)
    _configure_logging()
    pid_path = cfg.data_dir / UP_PID_FILE
    try:
        pidfile.write(pid_path)
    except pidfile.AlreadyRunningError:
        holder = pidfile.read(pid_path)
        raise UserError(
            f"tutelage is already up on {cfg.data_dir} (pid {holder.pid if holder else '?'}); "
            "stop it with `tutelage down` (make down)"
        ) from None
    try:
        _up(cfg)
    finally:
        pidfile.remove(pid_path)
    _exit_now(0)


def _up(cfg: TutelageConfig) -> None:
    serve = _runner("school", local_worker=True)
    # Until the worker is serving, Ctrl-C and `tutelage down` (SIGTERM) must still stop the
    # server we started; then the event loop's handlers take over.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not cfg.temporal.embedded():
            address = cfg.temporal.effective_address()
            asyncio.run(_serve(cfg, address, _banner(cfg, address, started=False), serve,
                               sync=True, gateway=True))  # fmt: skip
            return
        t = cfg.temporal
        server = DevServer(host=t.host, port=t.port, ui_port=t.ui_port,
                           db_file=cfg.data_dir / "temporal.db", namespace=t.namespace)  # fmt: skip
        try:
            out.print(f"starting the Temporal dev server on {server.address} ...", style="dim")
            try:
                server.start(t.startup_timeout_s)
            except DevServerError as exc:
                raise UserError(str(exc)) from None
            asyncio.run(_serve(cfg, server.address, _banner(cfg, server.address, started=True),
                               serve, sync=True, gateway=True))  # fmt: skip
        finally:
            server.stop()
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        out.print("stopped.", style="dim")


def run_worker_only(config_path: Path | None, role: str, local_worker: bool) -> None:
    if role not in ROLES:
        raise UserError(f"unknown worker role '{role}' (one of: {', '.join(ROLES)})")
    cfg = load_config(config_path)
    _configure_logging()
    if role == "local" and not cfg.local_models:
        raise UserError(f"{cfg.path}: no [[local_models]] configured: nothing for a local "
                        "worker to serve")  # fmt: skip
    from ..options import calls_task_queue, local_task_queue

    address = cfg.temporal.effective_address()
    tq = cfg.temporal.task_queue
    what, queues = {
        "school": ("worker", f"{tq} and {calls_task_queue(tq)}"),
        "store": ("store owner", tq),
        "answer": ("answer worker", calls_task_queue(tq)),
        "local": ("local-model worker", local_task_queue(tq)),
    }[role]
    banner = (
        f"[green]{what} running[/] against {address}, namespace {cfg.temporal.namespace}, "
        f"task queue {queues}"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(cfg, address, banner, _runner(role, local_worker)))
    out.print(f"{what} stopped.", style="dim")
    _exit_now(0)


def run_down(config_path: Path | None, timeout_s: float) -> None:
    """Stop the `tutelage up` recorded in the data directory's pid file, and wait for it."""
    cfg = load_config(config_path)
    pid_path = cfg.data_dir / UP_PID_FILE
    rec = pidfile.read(pid_path)
    if rec is None:
        out.print(f"tutelage is not up on {cfg.data_dir} (no {UP_PID_FILE} there).",
                  soft_wrap=True)  # fmt: skip
        return
    if not rec.alive():
        pidfile.remove(pid_path, rec.pid)
        out.print(f"tutelage is not up on {cfg.data_dir}: removed a stale pid file "
                  f"(pid {rec.pid} is not running).", soft_wrap=True)  # fmt: skip
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(rec.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while rec.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if rec.alive():
        raise UserError(f"tutelage (pid {rec.pid}) did not stop within {timeout_s:g}s; "
                        f"its pid file: {pid_path}")  # fmt: skip
    out.print(f"stopped tutelage (pid {rec.pid}).", soft_wrap=True)


def run_serve(config_path: Path | None, host: str | None, port: int | None) -> None:
    """The API alone, against the configured Temporal (a school's workers run elsewhere)."""
    cfg = load_config(config_path)
    if host is not None:
        cfg.gateway.host = host
    if port is not None:
        cfg.gateway.port = port
    _configure_logging()
    address = cfg.temporal.effective_address()

    async def main() -> None:
        from ..gateway.server import build_server, serve_until

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        _check_port_free(cfg)
        server = build_server(cfg)
        task = asyncio.create_task(serve_until(server, stop))
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        out.print(f"[green]gateway listening[/] for the school on {address}, task queue "
                  f"{cfg.temporal.task_queue}{_api_line(cfg)}", highlight=False)  # fmt: skip
        out.print("Press Ctrl-C to stop.", style="dim")
        await task

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    out.print("gateway stopped.", style="dim")
    _exit_now(0)
