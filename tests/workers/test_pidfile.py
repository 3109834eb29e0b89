"""Pid files: live, stale and reused pids."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tutelage.workers import pidfile


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_written_pid_is_live_and_removed_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "up.pid"
    rec = pidfile.write(path)
    assert rec.pid == os.getpid() and pidfile.live(path) == rec
    pidfile.remove(path)
    assert not path.exists() and pidfile.read(path) is None


def test_a_live_holder_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "up.pid"
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
        try:
            pidfile.write(path, other.pid)
            with pytest.raises(pidfile.AlreadyRunningError, match=f"pid {other.pid}"):
                pidfile.write(path)
            pidfile.remove(path)  # not ours, and its process lives: kept
            assert pidfile.read(path) is not None
        finally:
            other.kill()


def test_stale_and_reused_pids_are_not_live(tmp_path: Path) -> None:
    path = tmp_path / "up.pid"
    path.write_text(f"{_dead_pid()} 12345\n")
    assert pidfile.read(path) is not None and pidfile.live(path) is None
    assert pidfile.write(path).pid == os.getpid()  # a stale record is replaced
    # A live pid with another start time: the kernel reused the pid for another process.
    path.write_text(f"{os.getpid()} 1\n")
    assert pidfile.live(path) is None
    path.write_text("not a pid\n")
    assert pidfile.read(path) is None
