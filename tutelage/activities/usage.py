"""API keys' usage: a query's settlement in the shared counters, and the ledger's record of
what each key spent (what the counters start from)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..config import TutelageConfig
from ..models.keys import Charge, KeySpend, KeySpendRequest, Settled
from ..options import school_scope
from ..store.counters import UsageCounters, open_counters
from . import names

if TYPE_CHECKING:
    from ..services import Services


class SettleActivities:
    """On the store owner, as a local activity of the QueryWorkflow: a query's settlement in the
    school's shared counters (Redis), so a gateway that died mid-request loses no charge."""

    def __init__(self, config: TutelageConfig) -> None:
        self.config = config
        self._counters: UsageCounters | None = None

    @activity.defn(name=names.SETTLE_USAGE)
    async def settle_usage(self, req: Charge) -> Settled:
        url = self.config.gateway.counters
        if url == "memory":  # only a shared store is settled by the school
            raise ApplicationError("gateway.counters is 'memory': the gateway settles",
                                   type="ConfigurationError", non_retryable=True)  # fmt: skip
        if self._counters is None:
            self._counters = open_counters(url, school_scope(self.config.temporal.task_queue))
        counted = await self._counters.settle(req.key_id, req.query_id, req.cost_usd, req.tokens,
                                              datetime.now(UTC))  # fmt: skip
        return Settled(counted=counted)

    def all(self) -> list[Any]:
        return [self.settle_usage]


class KeySpendActivities:
    """On the store owner: each key's spend this day and month, from the ledger."""

    def __init__(self, services: Services) -> None:
        self.s = services

    @activity.defn(name=names.KEY_SPEND)
    async def key_spend(self, req: KeySpendRequest) -> KeySpend:
        day, month = await asyncio.to_thread(self.s.ledger.key_spend, req.day, req.month)
        return KeySpend(day=req.day, month=req.month, day_usd=day, month_usd=month)

    def all(self) -> list[Any]:
        return [self.key_spend]
