"""A supervised child is restarted when it dies and stopped when the block ends."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

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
