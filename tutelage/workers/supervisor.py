"""A child process kept running: restarted with back-off when it dies, stopped on close.

`tutelage up` runs the Temporal dev server this way (`DevServerProcess`), and `tutelage up` or
any school worker the local-model worker (`LocalWorkerProcess`): a native crash in llama.cpp
costs one process restart and a retried call, never the school's worker; a dev server killed
under `up` is started again on the same SQLite file, so the histories survive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from ..policy.backoff import failures_in_a_row, restart_delay
from . import pidfile
from .processes import describe_exit

log = logging.getLogger(__name__)

__all__ = ["Supervised", "child_env", "restart_delay"]


class Supervised:
    """`async with Supervised(...) as child:` starts `argv`, waits until it serves (`_ready`),
    and keeps it running until the block ends. Its output is appended to `log_file`; its pid is
    kept in `pid_file`. Subclasses hear of its deaths and returns (`_died`, `_serving`)."""

    # Raised by `async with` when the first start fails (it is not retried: a bad command line
    # or a port in use is for the user to fix).
    start_error: type[Exception] = RuntimeError

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_file: Path,
        pid_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        stable_after_s: float = 60.0,
        stop_grace_s: float = 2.0,
        new_session: bool = False,
        ready_timeout_s: float = 60.0,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_file = log_file
        self.pid_file = pid_file
        self.env = dict(env) if env is not None else None
        self.stable_after_s = stable_after_s
        self.stop_grace_s = stop_grace_s
        # Its own session (and process group): a terminal's Ctrl-C reaches only us, and we stop
        # the whole group.
        self.new_session = new_session
        self.ready_timeout_s = ready_timeout_s
        self.exits: list[int] = []  # return codes of the deaths it restarted after
        self._proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None
        self._closing = False
        self.started = asyncio.Event()  # set each time a process has been started

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def restarts(self) -> int:
        return len(self.exits)

    # Hooks for subclasses.
    async def _ready(self, proc: asyncio.subprocess.Process, timeout_s: float) -> str | None:
        """None once the started process serves, else why not (it exited, it did not answer
        within `timeout_s`). By default a started process serves."""
        return None

    def _died(self, what: str, restart_in_s: float) -> None:
        """The process died (`what`: "signal SIGKILL", "exit status 1"), or a restart did not
        serve (`what` says why); it is started again in `restart_in_s`."""

    def _serving(self, startup_s: float) -> None:
        """A (re)started process serves, `startup_s` after it was started."""

    def _where(self) -> str:
        """Appended to the line that says it is back, e.g. its address."""
        return ""

    async def _spawn(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=out,
                stderr=asyncio.subprocess.STDOUT, env=self.env,
                start_new_session=self.new_session,
            )  # fmt: skip
        if self.pid_file is not None:
            pidfile.write(self.pid_file, self._proc.pid)
        self.started.set()

    async def _start(self) -> str | None:
        """Start the process and wait until it serves; None, or why it does not (then it has
        been stopped)."""
        await self._spawn()
        assert self._proc is not None
        began = time.monotonic()
        try:
            problem = await self._ready(self._proc, self.ready_timeout_s)
        except BaseException:  # cancelled while it starts: it must not stay behind
            await self._stop_process()
            raise
        if problem is None:
            self._serving(time.monotonic() - began)
        else:
            await self._stop_process()
        return problem

    async def _keep_running(self) -> None:
        failures = 0
        while True:
            proc = self._proc
            assert proc is not None
            began = time.monotonic()
            code = await proc.wait()
            if self._closing:
                return
            died_at = time.monotonic()
            self.exits.append(code)
            self.started.clear()
            failures = failures_in_a_row(failures, died_at - began, self.stable_after_s)
            what = describe_exit(code)
            event = f"died with {what}"
            # Killed from outside (SIGKILL, SIGTERM): its log cannot say why; else its tail.
            tail = "" if -code in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT) else None
            while True:  # until a start serves
                delay = restart_delay(failures)
                log.warning("%s (pid %s) %s; restarting it in %.0fs. Its log: %s%s",
                            self.name, proc.pid, event, delay, self.log_file,
                            self._log_tail() if tail is None else tail)  # fmt: skip
                self._died(what, delay)
                await asyncio.sleep(delay)
                if self._closing:
                    return
                try:
                    problem = await self._start()
                except Exception as exc:  # noqa: BLE001 - e.g. its binary went away: try later
                    problem = f"{type(exc).__name__}: {exc}"
                if self._closing:
                    return
                if problem is None:
                    break
                assert self._proc is not None
                proc, what, failures = self._proc, problem, failures + 1
                event, tail = f"did not start again: {problem}", None
            log.info("%s is back (pid %s), %.1fs after it died%s", self.name, self.pid,
                     time.monotonic() - died_at, self._where())  # fmt: skip

    def _log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        tail = [line for line in text[-lines:] if line.strip()]
        return ("\n  " + "\n  ".join(tail)) if tail else ""

    def _signal(self, sig: signal.Signals) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.new_session:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)

    async def _stop_process(self) -> None:
        """SIGTERM, then SIGKILL after `stop_grace_s`; a cancelled stop kills at once."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.stop_grace_s)
            return
        except TimeoutError:
            log.warning("%s (pid %s) did not stop within %.0fs of SIGTERM; killing it",
                        self.name, proc.pid, self.stop_grace_s)  # fmt: skip
            self._signal(signal.SIGKILL)
        except asyncio.CancelledError:
            self._signal(signal.SIGKILL)
            raise
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 2.0)

    async def __aenter__(self) -> Supervised:
        problem = await self._start()
        if problem is not None:
            self._remove_pid_file()
            raise self.start_error(problem)
        self._watch = asyncio.create_task(self._keep_running())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop watching and stop the process (bounded: `stop_grace_s`, then SIGKILL)."""
        self._closing = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self._stop_process()
        self._remove_pid_file()

    def _remove_pid_file(self) -> None:
        if self.pid_file is not None and self._proc is not None:
            pidfile.remove(self.pid_file, self._proc.pid)


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
