"""The gateway's Temporal client: connected on first use, shared, retried when it fails."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from ..client import workflow_pollers
from ..config import TutelageConfig
from ..models.keys import Admission, Admit, ApiKey
from ..options import keys_workflow_id
from ..policy.keys import key_id_of, key_problem
from .errors import APIError


class TemporalSource:
    """`await source.client()`: the client, or a 503 APIError when Temporal is unreachable."""

    def __init__(self, address: str, namespace: str, client: Client | None = None,
                 connect_timeout_s: float = 5.0) -> None:  # fmt: skip
        self.address = address
        self.namespace = namespace
        self.connect_timeout_s = connect_timeout_s
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
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
                                   f"unreachable: {first}", "temporal_unavailable") from None  # fmt: skip
            return self._client

    async def readiness(self, config: TutelageConfig) -> dict[str, Any]:
        """Ready when Temporal answers and a worker polls the school's queue."""
        try:
            client = await self.client()
            pollers = await asyncio.wait_for(
                workflow_pollers(client, config.temporal.task_queue), 5)  # fmt: skip
        except APIError as exc:
            return {"ready": False, "temporal": False, "worker": False, "reason": exc.message}
        except Exception as exc:  # noqa: BLE001
            return {"ready": False, "temporal": False, "worker": False, "reason": str(exc)}
        return {"ready": pollers > 0, "temporal": True, "worker": pollers > 0,
                "pollers": pollers, "task_queue": config.temporal.task_queue,
                **({} if pollers else {"reason": "no worker polls the school's task queue"})}  # fmt: skip


class KeyCache:
    """The school's API keys as the KeysWorkflow holds them, each read at most every
    `ttl_s` seconds."""

    def __init__(self, source: TemporalSource, task_queue: str, ttl_s: float) -> None:
        self.source = source
        self.workflow_id = keys_workflow_id(task_queue)
        self.ttl_s = ttl_s
        self._seen: dict[str, tuple[float, ApiKey | None]] = {}

    async def lookup(self, key_id: str) -> ApiKey | None:
        now = time.monotonic()
        hit = self._seen.get(key_id)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        client = await self.source.client()
        try:
            record = await client.get_workflow_handle(self.workflow_id).query(
                "key", key_id, result_type=ApiKey | None)  # type: ignore[arg-type]
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise APIError(503, f"The school's keys could not be read: {exc}",
                               "temporal_unavailable") from None  # fmt: skip
            record = None  # no key was ever created
        except WorkflowQueryFailedError as exc:
            raise APIError(503, f"The school's keys could not be read: {exc}",
                           "keys_unavailable") from None  # fmt: skip
        if len(self._seen) > 10_000:  # unknown ids from a scanner must not grow it forever
            self._seen.clear()
        self._seen[key_id] = (now, record)
        return record

    async def authenticate(self, presented: str,
                           admin: bool = False) -> tuple[ApiKey | None, tuple[str, str] | None]:  # fmt: skip
        """The presented key's record, and (code, message) when it may not be used."""
        key_id = key_id_of(presented)
        record = await self.lookup(key_id) if key_id else None
        return record, key_problem(presented, record, admin)

    async def admit(self, key_id: str) -> Admission:
        """One request against the key's rate limit, counted by the school's KeysWorkflow."""
        client = await self.source.client()
        try:
            return await client.get_workflow_handle(self.workflow_id).execute_update(
                "admit", Admit(key_id=key_id), result_type=Admission)  # fmt: skip
        except (RPCError, WorkflowUpdateFailedError) as exc:
            raise APIError(503, f"The school's rate limits could not be checked: {exc}",
                           "keys_unavailable") from None  # fmt: skip
