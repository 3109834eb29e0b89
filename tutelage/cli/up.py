"""`tutelage up`, `tutelage worker` and `tutelage down`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ..config import TutelageConfig, load_config
from ..workers import pidfile
from ..workers.processes import kill_children
from .common import UserError, connect

if TYPE_CHECKING:
    from temporalio.client import Client

    from ..workers.stack_status import StackStatus

out = Console()
log = logging.getLogger(__name__)

# `tutelage up` records its pid here, in the data directory: `tutelage down` stops that process.
UP_PID_FILE = "up.pid"
ROLES = ("school", "store", "answer", "local")

Runner = Callable[[TutelageConfig, "Client", asyncio.Event], Coroutine[object, object, None]]

# Stopping (`tutelage down`'s SIGTERM, Ctrl-C) is bounded at every step, well within `tutelage
# down`'s wait (DOWN_TIMEOUT_S): the API first (requests in flight get API_GRACE_S to finish
# while the worker still serves them; then they are cut, and their runs go on in Temporal),
# then the worker (its activities are cancelled, the local-model worker gets SIGTERM; it is
# cancelled after WORKER_GRACE_S), then the dev server, once the worker is done or
# DEV_SERVER_AFTER_S into the worker's stop (SIGTERM; SIGKILL after DEV_SERVER_GRACE_S). Should
# all that overrun HARD_STOP_S, a thread kills what is left and the process leaves (status 1).
API_GRACE_S = 1
WORKER_GRACE_S = 2.0
DEV_SERVER_AFTER_S = 1.0
DEV_SERVER_GRACE_S = 2.0
HARD_STOP_S = 7.0
DOWN_TIMEOUT_S = 8.0


class _CutRequests(logging.Filter):
    """uvicorn logs a traceback for each request its bounded shutdown cancels; it has already
    said how many it cut."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


def _configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("uvicorn.error").addFilter(_CutRequests())
    # A member's failed call is an expected event, recorded in the ledger; no traceback here.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    # A supervised child (the dev server, the local-model worker) that died says so, and that
    # it is back.
    logging.getLogger("tutelage.workers.supervisor").setLevel(logging.INFO)
    logging.getLogger(__name__).setLevel(logging.INFO)  # how long stopping took


def _exit_now(code: int) -> None:
    """Leave without interpreter finalisation: native threads of the Temporal core and the
    embedder can abort the process while Python tears down, after our clean shutdown."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run(main: Coroutine[object, object, None]) -> None:
    """`asyncio.run(main)`, minus closing the loop: that would wait for the default executor's
    threads (a model call in flight), and the process leaves next (`_exit_now`)."""
    asyncio.Runner().run(main)


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


class _Stop:
    """SIGINT and SIGTERM. Until the stack `serves`, they cancel its start; then they set
    `event`, and the stack stops in order. The first one also arms a timer: past HARD_STOP_S,
    `_hard_stop` kills what is left; a second one kills at once."""

    def __init__(self, pid_path: Path | None = None) -> None:
        self.event = asyncio.Event()
        self.serves = False
        self.pid_path = pid_path
        self._task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._signalled)

    def _signalled(self) -> None:
        if self.event.is_set():
            _hard_stop(self.pid_path, "a second signal")
        self.event.set()
        timer = threading.Timer(HARD_STOP_S, _hard_stop,
                                (self.pid_path, f"stopping took over {HARD_STOP_S:g}s"))  # fmt: skip
        timer.daemon = True
        timer.start()
        if not self.serves and self._task is not None:
            self._task.cancel()


def _hard_stop(pid_path: Path | None, why: str) -> None:
    """SIGKILL this process's children (the dev server, the local-model worker) and leave."""
    log.warning("%s: killing what is left of the stack (SIGKILL) and leaving", why)
    kill_children()
    if pid_path is not None:
        pidfile.remove(pid_path)
    _exit_now(1)


async def _bounded(task: asyncio.Task[Any], timeout_s: float, what: str) -> None:
    """Wait for `task` at most `timeout_s`, then cancel it (and wait a moment more)."""
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        log.warning("%s did not stop within %gs; cancelling it", what, timeout_s)
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)


async def _serve(cfg: TutelageConfig, address: str, banner: str, run: Runner, stop: _Stop,
                 sync: bool = False, gateway: bool = False,
                 stack_status: StackStatus | None = None,
                 server_stop: Callable[[], Awaitable[None]] | None = None) -> None:  # fmt: skip
    """Connect, start the worker (and the API), print the banner, serve until `stop`, then
    stop the API, then the worker and `server_stop` (the dev server), each step bounded."""
    from ..workers.schedules import sync_schedules

    if gateway:
        _check_port_free(cfg)
    client = await connect(cfg, address, cfg.temporal.startup_timeout_s)
    if sync:  # `tutelage up` keeps the learning cycles' schedules in line with the config
        for sid, what in await sync_schedules(client, cfg):
            out.print(f"schedule {sid} {what}", style="dim")
    worker_stop = asyncio.Event()  # set once the API has stopped: it serves the API's runs
    worker = asyncio.create_task(run(cfg, client, worker_stop))
    tasks = {worker}
    api: asyncio.Task[None] | None = None
    if gateway:  # the API shares the worker's client: eager starts reach this worker
        from ..gateway.server import build_server, serve_until

        server = build_server(cfg, client, stack_status=stack_status)
        server.config.timeout_graceful_shutdown = API_GRACE_S
        api = asyncio.create_task(serve_until(server, stop.event))
        tasks.add(api)
        while not server.started and not any(t.done() for t in tasks):  # the banner: it answers
            await asyncio.sleep(0.05)
    await asyncio.sleep(0)
    stopping = asyncio.create_task(stop.event.wait())
    if not any(t.done() for t in tasks):
        out.print(banner, highlight=False)
        out.print("Press Ctrl-C to stop.", style="dim")
        await asyncio.wait({*tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stop.event.set()  # also when the worker or the API ended by itself: stop the other
    stopping.cancel()
    await _stop_in_order(api, worker, worker_stop, server_stop)
    for task in (worker, api):
        if task is not None and task.done() and not task.cancelled() and task.exception():
            try:
                task.result()
            except RuntimeError as exc:  # e.g. the data directory is owned by another worker
                raise UserError(str(exc)) from None


async def _stop_in_order(api: asyncio.Task[None] | None, worker: asyncio.Task[None],
                         worker_stop: asyncio.Event,
                         server_stop: Callable[[], Awaitable[None]] | None) -> None:  # fmt: skip
    """The API (it was told to stop), then the worker, then the dev server: once the worker
    is done, or DEV_SERVER_AFTER_S into its stop, whichever comes first (under load the
    worker's last replies could keep it for seconds, and what they would report Temporal
    redoes anyway). Logs how long each took."""
    began = time.monotonic()
    took: list[str] = []

    async def step(what: str, job: Awaitable[None]) -> None:
        await job
        took.append(f"{what} {time.monotonic() - began:.1f}s")

    if api is not None:
        await step("the API", _bounded(api, API_GRACE_S + 1.0, "the API"))
    worker_stop.set()
    stopping = asyncio.create_task(step("the worker", _bounded(worker, WORKER_GRACE_S,
                                                               "the worker")))  # fmt: skip
    if server_stop is not None:
        await asyncio.wait({stopping}, timeout=DEV_SERVER_AFTER_S)
        await step("the dev server", server_stop())
    await stopping
    log.info("stopped in %.1fs (%s)", time.monotonic() - began, ", ".join(took))


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
        _up(cfg, pid_path)
    finally:
        pidfile.remove(pid_path)
    _exit_now(0)


def _up(cfg: TutelageConfig, pid_path: Path) -> None:
    # Until the event loop's handlers are installed, Ctrl-C and `tutelage down` (SIGTERM) stop
    # `up` with a KeyboardInterrupt.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _run(_up_stack(cfg, pid_path))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        out.print("stopped.", style="dim")


async def _up_stack(cfg: TutelageConfig, pid_path: Path) -> None:
    from ..workers.devserver import DevServer, DevServerError, DevServerProcess
    from ..workers.stack_status import StackStatus

    serve = _runner("school", local_worker=True)
    stop = _Stop(pid_path)
    if not cfg.temporal.embedded():
        stop.serves = True
        address = cfg.temporal.effective_address()
        await _serve(cfg, address, _banner(cfg, address, started=False), serve, stop,
                     sync=True, gateway=True)  # fmt: skip
        return
    t = cfg.temporal
    status = StackStatus()  # kept current by the dev server's supervisor, read by the API
    server = DevServerProcess(
        DevServer(host=t.host, port=t.port, ui_port=t.ui_port,
                  db_file=cfg.data_dir / "temporal.db", namespace=t.namespace),
        t.startup_timeout_s, status, stop_grace_s=DEV_SERVER_GRACE_S,
    )  # fmt: skip
    out.print(f"starting the Temporal dev server on {server.address} ...", style="dim")
    try:
        async with server:
            stop.serves = True
            await _serve(cfg, server.address, _banner(cfg, server.address, started=True),
                         serve, stop, sync=True, gateway=True, stack_status=status,
                         server_stop=server.close)  # fmt: skip
    except DevServerError as exc:  # it did not start: a port in use, no binary, no answer
        raise UserError(str(exc)) from None


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

    async def main() -> None:
        stop = _Stop()
        stop.serves = True
        await _serve(cfg, address, banner, _runner(role, local_worker), stop)

    with contextlib.suppress(KeyboardInterrupt):
        _run(main())
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
    # `up` stops itself within HARD_STOP_S, whatever it is doing; past `timeout_s` it is stuck
    # beyond that (e.g. SIGSTOPped): it is killed, and its children get SIGTERM from the kernel.
    if not _gone(rec, timeout_s):
        with contextlib.suppress(ProcessLookupError):
            os.kill(rec.pid, signal.SIGKILL)
        _gone(rec, 2.0)
        pidfile.remove(pid_path, rec.pid)
        out.print(f"[yellow]tutelage (pid {rec.pid}) did not stop within {timeout_s:g}s of "
                  "SIGTERM: killed it (SIGKILL).[/] Its log says what it was doing.",
                  soft_wrap=True)  # fmt: skip
        return
    out.print(f"stopped tutelage (pid {rec.pid}).", soft_wrap=True)


def _gone(rec: pidfile.PidRecord, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while rec.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    return not rec.alive()


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

        stop = _Stop()
        stop.serves = True
        _check_port_free(cfg)
        server = build_server(cfg)
        server.config.timeout_graceful_shutdown = API_GRACE_S
        task = asyncio.create_task(serve_until(server, stop.event))
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        out.print(f"[green]gateway listening[/] for the school on {address}, task queue "
                  f"{cfg.temporal.task_queue}{_api_line(cfg)}", highlight=False)  # fmt: skip
        out.print("Press Ctrl-C to stop.", style="dim")
        await task

    with contextlib.suppress(KeyboardInterrupt):
        _run(main())
    out.print("gateway stopped.", style="dim")
    _exit_now(0)
