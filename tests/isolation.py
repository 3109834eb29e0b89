"""Running a test's native-code part in a child process, so a crash fails one test, not the
suite: llama.cpp built for the wrong CPU segfaults, and a segfault ends the process it is in."""

from __future__ import annotations

import faulthandler
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import pytest

from tutelage.workers.processes import describe_exit

T = TypeVar("T")


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    faulthandler.enable()  # a native crash prints the Python stack to stderr
    try:
        result: tuple[bool, Any] = (True, fn(*args))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent to raise
        result = (False, exc)
    try:
        conn.send(result)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
        conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc} (from {result[1]!r})")))
    conn.close()


def run_isolated(fn: Callable[..., T], *args: Any, timeout_s: float = 300.0) -> T:
    """`fn(*args)` in a fresh child process: its result, or its exception raised here. A child
    that dies (a signal) or hangs fails the calling test with a message that says so."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
    proc.start()
    send.close()
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        if not receive.poll(timeout_s):
            proc.kill()
            proc.join()
            pytest.fail(f"{name} did not finish within {timeout_s:g}s in its child process")
        try:
            ok, value = receive.recv()
        except EOFError:
            proc.join()
            pytest.fail(f"{name} crashed its child process ({describe_exit(proc.exitcode)}); "
                        "the native stack is in the captured stderr", pytrace=False)  # fmt: skip
    finally:
        receive.close()
    proc.join()
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]
