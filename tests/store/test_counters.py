"""The keys' usage counters, in process and in a real Redis: admission is atomic under a burst,
settlement counts once, and two gateways sharing Redis share the limits."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tutelage.models.keys import ApiKey, KeySpend
from tutelage.store.counters import MemoryCounters, RedisCounters, UsageCounters

NOW = datetime(2026, 11, 22, 12, 0, 10, tzinfo=UTC)


def _key(**limits: Any) -> ApiKey:
    return ApiKey(key_id=uuid.uuid4().hex[:12], tenant="acme", sha256="0" * 64, **limits)


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        c: UsageCounters = MemoryCounters()
    else:
        c = RedisCounters(request.getfixturevalue("redis_url"), f"t-{uuid.uuid4().hex[:6]}")
    yield c
    await c.close()


async def test_a_burst_is_admitted_exactly_up_to_the_limit(counters: UsageCounters) -> None:
    key = _key(requests_per_minute=120)
    decisions = await asyncio.gather(*[counters.admit(key, NOW, f"q{i}") for i in range(300)])
    assert sum(a.allowed for a in decisions) == 120
    usage = await counters.usage(key.key_id)
    assert usage is not None and usage.minute_requests == 120


async def test_budget_reservations_hold_under_a_burst_and_settle_once(counters: UsageCounters) -> None:
    key = _key(budget_day_usd=0.05)
    decisions = await asyncio.gather(*[counters.admit(key, NOW, f"q{i}", 0.01, 300)
                                       for i in range(200)])  # fmt: skip
    admitted = [f"q{i}" for i, a in enumerate(decisions) if a.allowed]
    assert len(admitted) == 5  # $0.05 holds five $0.01 reservations, never more
    settled = await asyncio.gather(*[counters.settle(key.key_id, qid, 0.004, 30, NOW)
                                     for qid in admitted + admitted])  # each settled twice  # fmt: skip
    assert sum(settled) == 5
    usage = await counters.usage(key.key_id)
    assert usage is not None and usage.day_usd == pytest.approx(0.02) and usage.reserved == {}
    assert usage.minute_tokens == 150


async def test_two_gateways_share_one_redis(redis_url: str) -> None:
    scope = f"t-{uuid.uuid4().hex[:6]}"
    a, b = RedisCounters(redis_url, scope), RedisCounters(redis_url, scope)
    key = _key(requests_per_minute=50, budget_month_usd=1.0)
    try:
        decisions = await asyncio.gather(*[(a if i % 2 else b).admit(key, NOW, f"q{i}", 0.001, 60)
                                           for i in range(200)])  # fmt: skip
        assert sum(d.allowed for d in decisions) == 50
        await a.seed(KeySpend(day="2026-11-22", month="2026-11", day_usd={key.key_id: 0.3},
                              month_usd={key.key_id: 0.9}), [key.key_id], NOW)  # fmt: skip
        usage = await b.usage(key.key_id)
        assert usage is not None and usage.month_usd == 0.9 and len(usage.reserved) == 50
    finally:
        await a.close()
        await b.close()
