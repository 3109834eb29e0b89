"""The suite's crash isolation: a child that segfaults fails one test with its signal."""

from __future__ import annotations

import os
import signal

import pytest

from tests.isolation import run_isolated


def _segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _divide(a: int, b: int) -> float:
    return a / b


def test_a_crash_in_the_child_fails_the_test_with_its_signal() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"_segfault crashed its child process "
                       r"\(signal SIGSEGV \(a native crash\)\)"):  # fmt: skip
        run_isolated(_segfault)


def test_results_and_exceptions_come_back() -> None:
    assert run_isolated(_divide, 6, 3) == 2.0
    with pytest.raises(ZeroDivisionError):
        run_isolated(_divide, 1, 0)
