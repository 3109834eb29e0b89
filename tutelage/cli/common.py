"""What every command shares: the one-line user error, and connecting to Temporal."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from ..config import TutelageConfig

if TYPE_CHECKING:
    from temporalio.client import Client


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 1."""


def check_tenant(cfg: TutelageConfig, tenant: str) -> None:
    """A UserError naming the configured tenants when `tenant` is not one of them."""
    if tenant not in cfg.limits.tenants:
        raise UserError(f"unknown tenant '{tenant}'; configured tenants (limits.tenants): "
                        f"{', '.join(cfg.limits.tenants)}")  # fmt: skip


async def connect(cfg: TutelageConfig, address: str, timeout_s: float) -> Client:
    """A client for `address`, or a UserError that says what failed in one line."""
    from ..workers.worker import connect as connect_client

    try:
        return await asyncio.wait_for(connect_client(address, cfg.temporal.namespace), timeout_s)
    except Exception as exc:  # noqa: BLE001 - any connection failure is one line for the user
        raise UserError(
            f"cannot reach Temporal at {address} (namespace {cfg.temporal.namespace}): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


T = TypeVar("T")


def run_with_client(
    cfg: TutelageConfig, fn: Callable[[Client], Awaitable[T]], timeout_s: float = 120.0
) -> T:
    """Connect, run `fn(client)` within `timeout_s`, and say what to check when no worker
    answered in time."""

    async def go() -> T:
        client = await connect(cfg, cfg.temporal.effective_address(), 10.0)
        try:
            return await asyncio.wait_for(fn(client), timeout_s)
        except TimeoutError:
            raise UserError(
                f"no reply within {timeout_s:g}s; is a worker serving task queue "
                f"'{cfg.temporal.task_queue}'? (start one with `tutelage up` or `tutelage worker`)"
            ) from None

    return asyncio.run(go())
