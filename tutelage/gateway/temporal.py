"""The gateway's Temporal client: connected on first use, shared, retried when it fails."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from ..client import workflow_pollers
from ..config import TutelageConfig
from ..models.keys import ApiKey
from ..options import keys_workflow_id
from ..policy.keys import key_id_of, key_problem
from .errors import APIError

log = logging.getLogger("tutelage.gateway")
# A 503 the client may retry soon (Temporal or the keys briefly unreachable).
RETRY_SOON = {"retry-after": "2"}


class TemporalSource:
    """`await source.client()`: the client, or a 503 APIError when Temporal is unreachable."""

    def __init__(self, address: str, namespace: str, client: Client | None = None,
                 connect_timeout_s: float = 5.0, stack: Any = None) -> None:  # fmt: skip
        self.address = address
        self.namespace = namespace
        self.connect_timeout_s = connect_timeout_s
        self._client = client
        self._lock = asyncio.Lock()
        # `tutelage up`'s StackStatus: it knows when the dev server it started is down.
        self.stack = stack

    def unavailable(self) -> APIError | None:
        """A 503 to answer at once while `tutelage up` restarts the dev server it started."""
        state = self.stack.temporal_state() if self.stack is not None else None
        if not state or state.get("temporal") == "up":
            return None
        retry = max(1, round(float(state.get("retry_after_s") or 2)))
        return APIError(503, f"The school's Temporal server is restarting (it exited: "
                        f"{state.get('last_exit') or 'unknown'}; restart {state.get('restarts')}"
                        f" since {state.get('since')}); retry in {retry}s.",
                        "temporal_unavailable", headers={"retry-after": str(retry)})  # fmt: skip

    async def client(self) -> Client:
        down = self.unavailable()
        if down is not None:
            raise down
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                from ..workers.worker import connect

                try:
                    self._client = await asyncio.wait_for(
                        connect(self.address, self.namespace), self.connect_timeout_s)  # fmt: skip
                except Exception as exc:  # noqa: BLE001 - any failure to connect is a 503
                    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    raise APIError(503, f"The school's Temporal server at {self.address} is "
                                   f"unreachable: {first}", "temporal_unavailable",
                                   headers=RETRY_SOON) from None  # fmt: skip
            return self._client

    async def readiness(self, config: TutelageConfig) -> dict[str, Any]:
        """Ready when Temporal answers and a worker polls the school's queue."""
        try:
            client = await self.client()
            pollers = await asyncio.wait_for(
                workflow_pollers(client, config.temporal.task_queue), 5)  # fmt: skip
        except APIError as exc:
            return {"ready": False, "temporal": False, "worker": False, "reason": exc.message,
                    **self._stack_state()}  # fmt: skip
        except Exception as exc:  # noqa: BLE001
            return {"ready": False, "temporal": False, "worker": False, "reason": str(exc)}
        return {"ready": pollers > 0, "temporal": True, "worker": pollers > 0,
                "pollers": pollers, "task_queue": config.temporal.task_queue,
                **self._stack_state(),
                **({} if pollers else {"reason": "no worker polls the school's task queue"})}  # fmt: skip


    def _stack_state(self) -> dict[str, Any]:
        state = self.stack.temporal_state() if self.stack is not None else None
        return {"stack": state} if state else {}


class KeyCache:
    """The school's API keys as the KeysWorkflow holds them, read whole into this process.

    No request waits on the KeysWorkflow once the keys are loaded: a task in this process reads
    them again every `ttl_s`, so a revocation holds within `ttl_s` plus one Query. A key id not
    known here (a key created since) waits for the next read, at most one a second however many
    such requests come. If the KeysWorkflow cannot be read, the keys last read keep serving. With
    `ttl_s` 0 every request reads them (no cache).
    """

    MISS_REFRESH_S = 1.0

    def __init__(self, source: TemporalSource, task_queue: str, ttl_s: float) -> None:
        self.source = source
        self.workflow_id = keys_workflow_id(task_queue)
        self.ttl_s = ttl_s
        self._keys: dict[str, ApiKey] | None = None
        self._read_at = -float("inf")
        self._refreshing: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None

    def known(self) -> list[ApiKey]:
        return list((self._keys or {}).values())

    async def _read(self) -> None:
        client = await self.source.client()
        try:
            keys = await asyncio.wait_for(client.get_workflow_handle(self.workflow_id).query(
                "keys", result_type=list[ApiKey]), 10)  # fmt: skip
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise APIError(503, f"The school's keys could not be read: {exc}",
                               "temporal_unavailable", headers=RETRY_SOON) from None  # fmt: skip
            keys = []  # no key was ever created
        except (WorkflowQueryFailedError, TimeoutError) as exc:
            raise APIError(503, f"The school's keys could not be read: {exc or 'timeout'}",
                           "keys_unavailable", headers=RETRY_SOON) from None  # fmt: skip
        self._keys = {k.key_id: k for k in keys}
        self._read_at = time.monotonic()

    async def _refresh(self) -> None:
        """One read at a time; every caller waits for the same one."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._read())
        await asyncio.shield(self._refreshing)

    async def _keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s)
            try:
                await self._refresh()
            except Exception as exc:  # noqa: BLE001 - the keys already read keep serving
                log.warning("could not refresh the school's keys (%s); serving the keys read "
                            "%.0fs ago", exc, time.monotonic() - self._read_at)  # fmt: skip

    async def lookup(self, key_id: str) -> ApiKey | None:
        if self._keys is None or self.ttl_s == 0:
            await self._refresh()
        if self._keeper is None and self.ttl_s > 0:
            self._keeper = asyncio.ensure_future(self._keep_fresh())
        assert self._keys is not None
        if key_id not in self._keys:
            # A key created since the last read: read again, at most once a second however
            # many unknown ids come (a scanner's wait here costs it time, not us a Query).
            wait = self.MISS_REFRESH_S - (time.monotonic() - self._read_at)
            if wait > 0:
                await asyncio.sleep(wait)
            if key_id not in self._keys and time.monotonic() - self._read_at >= self.MISS_REFRESH_S:
                with contextlib.suppress(APIError):  # unreadable: the key is unknown for now
                    await self._refresh()
        return self._keys.get(key_id)

    async def authenticate(self, presented: str,
                           admin: bool = False) -> tuple[ApiKey | None, tuple[str, str] | None]:  # fmt: skip
        """The presented key's record, and (code, message) when it may not be used."""
        key_id = key_id_of(presented)
        record = await self.lookup(key_id) if key_id else None
        return record, key_problem(presented, record, admin)
