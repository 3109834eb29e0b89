"""Admission of a limited key's requests: its usage counters, never a workflow.

Each request of a key with limits is admitted against the school's usage counters
(`store/counters.py`: this process's, or Redis shared by every gateway). A request for a key
with a budget reserves what the supervisor alone would cost for it; its query's real cost
settles that reservation: in Redis the QueryWorkflow settles it when it ends (a gateway that
died mid-request loses no charge); in process the gateway does, when the run's result comes,
also after the client left or the request timed out (a bounded wait in the background).
Where the counters start from: the ledger's record of each key's spend this day and month,
read once per gateway process through a KeySpendWorkflow before the first budgeted request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio.client import WorkflowHandle

from ..config import TutelageConfig
from ..models import QueryResult
from ..models.keys import Admission, ApiKey, KeySpend, KeySpendRequest
from ..options import school_scope
from ..policy.answers import billed_tokens
from ..policy.keys import has_budget, reservation_usd
from ..providers.catalog import ConfigCatalog
from ..store.counters import open_counters
from .errors import APIError
from .temporal import RETRY_SOON, TemporalSource

log = logging.getLogger("tutelage.gateway")


class Admissions:
    def __init__(self, config: TutelageConfig, temporal: TemporalSource,
                 catalog: ConfigCatalog) -> None:  # fmt: skip
        self.config = config
        self.temporal = temporal
        self.counters = open_counters(config.gateway.counters,
                                      school_scope(config.temporal.task_queue))  # fmt: skip
        # Who settles a query's usage: the QueryWorkflow (shared counters) or this gateway.
        self.settlement = "gateway" if self.counters.kind == "memory" else "settle"
        self._price = catalog.price(config.supervisor)
        # A reservation outlives the longest wait for its result, then lapses.
        self._hold_s = config.gateway.request_timeout_s + 60.0
        self._seeded: asyncio.Task[None] | None = None
        self._later: set[asyncio.Task[None]] = set()

    async def _seed(self) -> None:
        now = datetime.now(UTC)
        client = await self.temporal.client()
        spend: KeySpend = await client.execute_workflow(
            "KeySpendWorkflow", KeySpendRequest(day=now.date().isoformat(),
                                                month=now.strftime("%Y-%m")),
            id=f"key-spend-{uuid.uuid4().hex[:10]}", task_queue=self.config.temporal.task_queue,
            result_type=KeySpend, execution_timeout=None)  # fmt: skip
        await self.counters.seed(spend, list(spend.month_usd), now)

    async def _ensure_seeded(self) -> None:
        """Budgets count from the ledger's spend: read once, every caller waiting for it."""
        if self._seeded is None or (self._seeded.done() and self._seeded.exception()):
            self._seeded = asyncio.ensure_future(self._seed())
        if self._seeded.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._seeded), 10)
        except APIError:
            raise
        except Exception as exc:  # noqa: BLE001 - unreadable spend: a budget cannot be checked
            raise APIError(503, f"The school's record of what keys spent could not be read "
                           f"({exc or 'timeout'}); budgets cannot be checked yet.",
                           "keys_unavailable", headers=RETRY_SOON) from None  # fmt: skip

    async def admit(self, key: ApiKey, query_id: str, prompt_chars: int,
                    max_tokens: int | None) -> Admission:  # fmt: skip
        reserve = 0.0
        if has_budget(key):
            await self._ensure_seeded()
            reserve = reservation_usd(prompt_chars, max_tokens, self._price.input,
                                      self._price.output)  # fmt: skip
        try:
            return await self.counters.admit(key, datetime.now(UTC), query_id, reserve,
                                             self._hold_s)  # fmt: skip
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise self._down(exc) from None
        except Exception as exc:
            if type(exc).__module__.startswith("redis"):
                raise self._down(exc) from None
            raise

    def _down(self, exc: Exception) -> APIError:
        return APIError(503, f"The keys' usage counters ({self.config.gateway.counters}) could "
                        f"not be reached: {exc}", "counters_unavailable",
                        headers=RETRY_SOON)  # fmt: skip

    async def release(self, key_id: str, query_id: str) -> None:
        """A reservation whose query never started."""
        with contextlib.suppress(Exception):
            await self.counters.release(key_id, query_id, datetime.now(UTC))

    async def settle(self, key_id: str, result: QueryResult) -> None:
        """This gateway's counters learn what an answered query cost (in process only: the
        QueryWorkflow settles shared counters itself)."""
        if self.settlement != "gateway":
            return
        await self.counters.settle(key_id, result.query_id, result.cost_usd,
                                   billed_tokens(result), datetime.now(UTC))  # fmt: skip

    def settle_later(self, key_id: str, query_id: str,
                     handle: WorkflowHandle[Any, QueryResult]) -> None:  # fmt: skip
        """The client left or timed out: wait in the background, bounded, for the run's
        result, then settle it (or let the reservation go: the ledger still has the cost)."""
        if self.settlement != "gateway":
            return

        async def wait() -> None:
            try:
                result = await asyncio.wait_for(handle.result(), self._hold_s)
                await self.settle(key_id, result)
            except Exception as exc:  # noqa: BLE001 - a lost run or a timeout frees the hold
                log.info("query %s: no result to settle (%s); its reservation is released",
                         query_id, exc or type(exc).__name__)  # fmt: skip
                await self.release(key_id, query_id)

        task = asyncio.ensure_future(wait())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def close(self) -> None:
        for task in list(self._later):
            task.cancel()
        await self.counters.close()
