"""The API keys' usage counters, shared by every request's admission: in this process, or in
Redis when several gateways serve one school.

Every request of a limited key reads and writes its key's usage once to be admitted; the
decision itself is `policy.keys.admit` on plain data. In process, an update runs between two
awaits and so is atomic. In Redis, each key's usage is one JSON value updated in an optimistic
transaction (WATCH/MULTI, retried when another gateway wrote first); requests for one key in
one gateway take turns on a local lock, so the transactions only ever race another gateway's.
A query's settlement is idempotent by its query id: the QueryWorkflow and a gateway may both
settle it, and it counts once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from ..models.keys import Admission, ApiKey, KeySpend, KeyUsage
from ..policy import keys as key_policy

# How long a settled query id is remembered (a settlement retried later than this counts again;
# Temporal retries a settle activity within minutes).
SETTLED_TTL_S = 2 * 24 * 3600
# Usage records outlive the month they count (a key idle for longer starts afresh).
USAGE_TTL_S = 40 * 24 * 3600


class UsageCounters(Protocol):
    """Where keys' usage is counted; `memory` or `redis`."""

    kind: str

    async def admit(self, key: ApiKey, now: datetime, query_id: str = "",
                    reserve_usd: float = 0.0, hold_s: float = 0.0) -> Admission: ...  # fmt: skip

    async def settle(self, key_id: str, query_id: str, cost_usd: float, tokens: int,
                     now: datetime) -> bool: ...  # fmt: skip

    async def release(self, key_id: str, query_id: str, now: datetime) -> None: ...

    async def seed(self, spend: KeySpend, key_ids: list[str], now: datetime) -> None: ...

    async def usage(self, key_id: str) -> KeyUsage | None: ...

    async def close(self) -> None: ...


class MemoryCounters:
    """One process's counters: right for one gateway (`tutelage up`), never for several."""

    kind = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._usage: dict[str, KeyUsage] = {}
        self._settled: OrderedDict[str, float] = OrderedDict()
        self._clock = clock

    async def admit(self, key: ApiKey, now: datetime, query_id: str = "",
                    reserve_usd: float = 0.0, hold_s: float = 0.0) -> Admission:  # fmt: skip
        admission, self._usage[key.key_id] = key_policy.admit(
            key, self._usage.get(key.key_id, KeyUsage()), now, query_id, reserve_usd, hold_s)
        return admission

    async def settle(self, key_id: str, query_id: str, cost_usd: float, tokens: int,
                     now: datetime) -> bool:  # fmt: skip
        mark = self._clock()
        while self._settled and next(iter(self._settled.values())) < mark - SETTLED_TTL_S:
            self._settled.popitem(last=False)
        if query_id in self._settled:
            return False
        self._settled[query_id] = mark
        self._usage[key_id] = key_policy.charge(self._usage.get(key_id, KeyUsage()), cost_usd,
                                                tokens, now, query_id)  # fmt: skip
        return True

    async def release(self, key_id: str, query_id: str, now: datetime) -> None:
        if key_id in self._usage:
            self._usage[key_id] = key_policy.release(self._usage[key_id], query_id, now)

    async def seed(self, spend: KeySpend, key_ids: list[str], now: datetime) -> None:
        for key_id in key_ids:
            self._usage[key_id] = key_policy.seeded(self._usage.get(key_id), spend, key_id, now)

    async def usage(self, key_id: str) -> KeyUsage | None:
        return self._usage.get(key_id)

    async def close(self) -> None:
        return None


class RedisCounters:
    """Counters every gateway of a school shares, in a Redis server (`redis://host:port/db`)."""

    kind = "redis"

    def __init__(self, url: str, scope: str) -> None:
        import redis.asyncio as aioredis

        self.url = url
        self._redis = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = f"tutelage:{scope or 'default'}"
        self._locks: dict[str, asyncio.Lock] = {}

    def _key(self, key_id: str) -> str:
        return f"{self._prefix}:usage:{key_id}"

    def _lock(self, key_id: str) -> asyncio.Lock:
        lock = self._locks.get(key_id)
        if lock is None:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            lock = self._locks[key_id] = asyncio.Lock()
        return lock

    async def _update(self, key_id: str, change: Callable[[KeyUsage], KeyUsage | None],
                      guard: str | None = None) -> KeyUsage | None:  # fmt: skip
        """Apply `change` to the key's usage atomically across gateways; None from `change`
        writes nothing. With `guard`, nothing is written if that key exists, and it is set in
        the same transaction (a settlement's once-only mark)."""
        from redis.exceptions import WatchError

        name = self._key(key_id)
        async with self._lock(key_id), self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(name, *([guard] if guard else []))
                    if guard and await pipe.exists(guard):
                        return None
                    raw = await pipe.get(name)
                    new = change(KeyUsage.model_validate_json(raw) if raw else KeyUsage())
                    if new is None:
                        return None
                    pipe.multi()
                    pipe.set(name, new.model_dump_json(), ex=USAGE_TTL_S)
                    if guard:
                        pipe.set(guard, b"1", ex=SETTLED_TTL_S)
                    await pipe.execute()
                    return new
                except WatchError:
                    continue  # another gateway wrote this key first: read it again

    async def admit(self, key: ApiKey, now: datetime, query_id: str = "",
                    reserve_usd: float = 0.0, hold_s: float = 0.0) -> Admission:  # fmt: skip
        decided: list[Admission] = []

        def change(u: KeyUsage) -> KeyUsage:
            admission, new = key_policy.admit(key, u, now, query_id, reserve_usd, hold_s)
            decided.append(admission)  # the last try's decision is the one written
            return new

        await self._update(key.key_id, change)
        return decided[-1]

    async def settle(self, key_id: str, query_id: str, cost_usd: float, tokens: int,
                     now: datetime) -> bool:  # fmt: skip
        done = await self._update(key_id, lambda u: key_policy.charge(
            u, cost_usd, tokens, now, query_id), guard=f"{self._prefix}:settled:{query_id}")  # fmt: skip
        return done is not None

    async def release(self, key_id: str, query_id: str, now: datetime) -> None:
        await self._update(key_id, lambda u: key_policy.release(u, query_id, now)
                           if query_id in u.reserved else None)  # fmt: skip

    async def seed(self, spend: KeySpend, key_ids: list[str], now: datetime) -> None:
        for key_id in key_ids:
            await self._update(key_id, lambda u, k=key_id: key_policy.seeded(u, spend, k, now))  # type: ignore[misc]

    async def usage(self, key_id: str) -> KeyUsage | None:
        raw = await self._redis.get(self._key(key_id))
        return KeyUsage.model_validate_json(raw) if raw else None

    async def close(self) -> None:
        await self._redis.aclose()


def open_counters(url: str, scope: str) -> UsageCounters:
    """`memory` (one gateway) or a `redis://` URL (several)."""
    if url == "memory":
        return MemoryCounters()
    return RedisCounters(url, scope)
