"""Pid files in the data directory: which process runs the stack, so `tutelage down` stops
exactly that one (never a process found by its name).

A pid file holds the pid and the process's start time (from /proc where there is one): a pid
the kernel has since given to another process does not match, so a stale file is recognised
and never leads to signalling a stranger.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path


class AlreadyRunningError(RuntimeError):
    """Another live process holds the pid file."""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc has none)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A process that has exited but not been reaped by its parent (a zombie) is gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


@dataclass(frozen=True)
class PidRecord:
    pid: int
    started: str

    def alive(self) -> bool:
        """The same process is still running (not merely a process with the same pid)."""
        if not _alive(self.pid):
            return False
        now = _start_time(self.pid)
        return not (self.started and now and now != self.started)


def read(path: Path) -> PidRecord | None:
    """The record in `path`, or None when there is none or it is unreadable."""
    try:
        fields = path.read_text().split()
        return PidRecord(int(fields[0]), fields[1] if len(fields) > 1 else "")
    except (OSError, ValueError, IndexError):
        return None


def live(path: Path) -> PidRecord | None:
    """The record in `path` when its process is still running."""
    rec = read(path)
    return rec if rec is not None and rec.alive() else None


def write(path: Path, pid: int | None = None) -> PidRecord:
    """Record `pid` (default: this process) in `path`, replacing a stale record.

    Raises AlreadyRunningError when a live process holds it. Written to a temporary file and
    renamed, so a reader never sees half a record.
    """
    pid = pid or os.getpid()
    holder = live(path)
    if holder is not None and holder.pid != pid:
        raise AlreadyRunningError(f"pid {holder.pid} holds {path}")
    rec = PidRecord(pid, _start_time(pid))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(f"{rec.pid} {rec.started}\n")
    os.replace(tmp, path)
    return rec


def remove(path: Path, pid: int | None = None) -> None:
    """Remove `path` if it records `pid` (default: this process), or nothing live."""
    rec = read(path)
    if rec is None or rec.pid == (pid or os.getpid()) or not rec.alive():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
