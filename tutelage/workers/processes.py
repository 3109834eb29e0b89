"""Child processes that never outlive the process that started them.

A worker, `tutelage up` or the test suite can die without running a line of cleanup (SIGKILL, a
segfault in native code). Their children (the Temporal dev server, the local-model worker) must
not stay behind holding ports and files: on Linux each child asks the kernel for a signal when
its parent dies (PR_SET_PDEATHSIG). That request survives `exec`, so a non-Python binary is
started through a two-line Python launcher that makes it and then becomes the binary.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from pathlib import Path

_PR_SET_PDEATHSIG = 1

# Runs in the child, before exec: ask for SIGTERM when the parent goes, then leave at once if
# the parent already went (the parent's pid is argv[1]).
_LAUNCHER = (
    "import ctypes,ctypes.util,os,sys;"
    "ctypes.CDLL(ctypes.util.find_library('c'),use_errno=True).prctl(1,15,0,0,0);"
    "os.getppid()==int(sys.argv[1]) or sys.exit(1);"
    "os.execv(sys.argv[2],sys.argv[2:])"
)


def parent_death_supported() -> bool:
    return sys.platform.startswith("linux")


def die_with_parent(args: list[str]) -> list[str]:
    """`args` wrapped so the program gets SIGTERM when this process dies (Linux; elsewhere
    `args` as they are)."""
    if not parent_death_supported():
        return args
    return [sys.executable, "-S", "-c", _LAUNCHER, str(os.getpid()), *args]


def exit_with_parent(parent_pid: int) -> None:
    """Called first thing in a Python child: SIGTERM when `parent_pid` dies, and exit now if it
    already has."""
    if not parent_death_supported():
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def describe_exit(returncode: int | None) -> str:
    """`exit status 3`, `signal SIGSEGV (a native crash)`, `signal SIGKILL`, ..."""
    if returncode is None:
        return "still running"
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    native = {"SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT"}
    return f"signal {name}" + (" (a native crash)" if name in native else "")


def children_of(pid: int) -> list[int]:
    """The pids of `pid`'s living children, from /proc (Linux; elsewhere none). Its process
    tree, not a name, says which processes are its own."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            # The command name (field 2) may hold spaces and parentheses: split after its ')'.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return sorted(found)


def kill_children() -> None:
    """SIGKILL this process's children, and the whole process group of a child that leads one
    (the dev server runs in a session of its own): a last resort when stopping overruns."""
    for child in children_of(os.getpid()):
        with contextlib.suppress(OSError):
            if os.getpgid(child) == child:
                os.killpg(child, signal.SIGKILL)
            else:
                os.kill(child, signal.SIGKILL)
