"""A child process kept running: restarted with back-off when it dies, stopped on close.

`tutelage up` (and any school worker) runs the local-model worker this way, so a native crash
in llama.cpp costs one process restart and a retried call, never the school's worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from . import pidfile
from .processes import describe_exit

log = logging.getLogger(__name__)


def restart_delay(failures_in_a_row: int, max_s: float = 30.0) -> float:
    """1, 2, 4, ... seconds, at most `max_s`: a child that crashes at once is not spun."""
    return float(min(max_s, 2 ** max(0, failures_in_a_row - 1)))


class Supervised:
    """`async with Supervised(...) as child:` starts `argv` and keeps it running until the
    block ends. Its output is appended to `log_file`; its pid is kept in `pid_file`."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_file: Path,
        pid_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        stable_after_s: float = 60.0,
        stop_grace_s: float = 15.0,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_file = log_file
        self.pid_file = pid_file
        self.env = dict(env) if env is not None else None
        self.stable_after_s = stable_after_s
        self.stop_grace_s = stop_grace_s
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

    async def _spawn(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=out,
                stderr=asyncio.subprocess.STDOUT, env=self.env,
            )  # fmt: skip
        if self.pid_file is not None:
            pidfile.write(self.pid_file, self._proc.pid)
        self.started.set()

    async def _keep_running(self) -> None:
        failures = 0
        while True:
            assert self._proc is not None
            began = time.monotonic()
            code = await self._proc.wait()
            if self._closing:
                return
            self.exits.append(code)
            failures = 1 if time.monotonic() - began >= self.stable_after_s else failures + 1
            delay = restart_delay(failures)
            log.warning("%s (pid %s) died with %s; restarting in %.0fs. Its log: %s%s",
                        self.name, self._proc.pid, describe_exit(code), delay, self.log_file,
                        self._log_tail())  # fmt: skip
            self.started.clear()
            await asyncio.sleep(delay)
            if self._closing:
                return
            await self._spawn()

    def _log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        tail = [line for line in text[-lines:] if line.strip()]
        return ("\n  " + "\n  ".join(tail)) if tail else ""

    async def __aenter__(self) -> Supervised:
        await self._spawn()
        self._watch = asyncio.create_task(self._keep_running())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), self.stop_grace_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self.pid_file is not None and proc is not None:
            pidfile.remove(self.pid_file, proc.pid)


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
