"""A supervised child is restarted when it dies and stopped when the block ends."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tutelage.workers import pidfile
from tutelage.workers.processes import describe_exit
from tutelage.workers.supervisor import Supervised, restart_delay

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(120)"]


async def _until_started(log: Path, times: int) -> None:
    for _ in range(200):
        if log.exists() and log.read_text().count("up") >= times:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the child did not start {times} times")


async def test_a_killed_child_is_restarted_and_stopped_at_the_end(tmp_path: Path) -> None:
    pid_file, log = tmp_path / "child.pid", tmp_path / "child.log"
    async with Supervised("sleeper", SLEEPER, log, pid_file) as child:
        first = child.pid
        assert first is not None and pidfile.live(pid_file).pid == first  # type: ignore[union-attr]
        await _until_started(log, 1)
        os.kill(first, signal.SIGKILL)
        await _until_started(log, 2)
        second = child.pid
        assert second is not None and second != first
        assert child.exits == [-signal.SIGKILL]
        assert pidfile.live(pid_file).pid == second  # type: ignore[union-attr]
    assert not pidfile.read(pid_file)  # removed at the end
    await asyncio.sleep(0.1)
    assert not Path(f"/proc/{second}").exists() or "Z" in Path(f"/proc/{second}/stat").read_text()


def test_restart_delay_backs_off_and_is_capped() -> None:
    assert [restart_delay(n) for n in (1, 2, 3, 4, 9)] == [1, 2, 4, 8, 30]


def test_exits_are_described_by_signal() -> None:
    assert describe_exit(-11) == "signal SIGSEGV (a native crash)"
    assert describe_exit(-9) == "signal SIGKILL"
    assert describe_exit(3) == "exit status 3"


STUBBORN = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
            "signal.SIG_IGN); print('up', flush=True); time.sleep(120)"]  # fmt: skip


class _Observed(Supervised):
    """Serves once its log says so; records what the supervisor told it."""

    def __init__(self, argv: list[str], log: Path, **kwargs: float) -> None:
        super().__init__("observed", argv, log, ready_timeout_s=10, **kwargs)
        self.events: list[tuple[str, float]] = []
        self.spawns = 0

    async def _spawn(self) -> None:
        self.spawns += 1
        await super()._spawn()

    async def _ready(self, proc: asyncio.subprocess.Process, timeout_s: float) -> str | None:
        for _ in range(int(timeout_s / 0.05)):
            if proc.returncode is not None:
                return f"it exited ({describe_exit(proc.returncode)})"
            if self.log_file.exists() and self.log_file.read_text().count("up") >= self.spawns:
                return None
            await asyncio.sleep(0.05)
        return "it did not answer"

    def _died(self, what: str, restart_in_s: float) -> None:
        self.events.append((what, restart_in_s))

    def _serving(self, startup_s: float) -> None:
        self.events.append(("serving", startup_s))


async def test_the_hooks_hear_of_a_start_a_death_and_the_return(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    async with _Observed(SLEEPER, log) as child:
        assert [e[0] for e in child.events] == ["serving"]
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        for _ in range(100):
            if len(child.events) == 3:
                break
            await asyncio.sleep(0.05)
        assert [e[0] for e in child.events] == ["serving", "signal SIGKILL", "serving"]
        assert child.events[1][1] == 1.0  # the first death in a row waits 1 s


async def test_a_first_start_that_does_not_serve_raises(tmp_path: Path) -> None:
    dies = [sys.executable, "-c", "raise SystemExit(3)"]
    with pytest.raises(RuntimeError, match=r"it exited \(exit status 3\)"):
        async with _Observed(dies, tmp_path / "child.log"):
            raise AssertionError("not reached")


async def test_closing_a_child_that_ignores_sigterm_is_bounded(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    child = _Observed(STUBBORN, log, stop_grace_s=0.5)
    async with child:
        pid = child.pid
        began = time.monotonic()
    assert 0.4 < time.monotonic() - began < 3.0  # SIGTERM, 0.5 s, SIGKILL
    await child.close()  # a second close is harmless
    assert child.exits == []  # its stop is not a death it was restarted after
    assert pid is not None and (not Path(f"/proc/{pid}").exists()
                                or "Z" in Path(f"/proc/{pid}/stat").read_text())  # fmt: skip


async def test_a_start_cancelled_midway_stops_the_child(tmp_path: Path) -> None:
    never = [sys.executable, "-c", "import time; time.sleep(120)"]  # never says "up"
    child = _Observed(never, tmp_path / "child.log")
    entering = asyncio.create_task(child.__aenter__())
    for _ in range(100):
        if child.pid is not None:
            break
        await asyncio.sleep(0.02)
    pid = child.pid
    entering.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await entering
    assert pid is not None
    await asyncio.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
