"""The coalescer: concurrent submissions share batches, each caller gets its own result."""

from __future__ import annotations

import asyncio

import pytest

from tutelage.store.batching import Coalescer


async def test_concurrent_items_are_batched_and_answered_in_order() -> None:
    batches: list[list[int]] = []

    def square(items: list[int]) -> list[int]:
        batches.append(items)
        return [i * i for i in items]

    c: Coalescer[int, int] = Coalescer(square, max_batch=8)
    results = await asyncio.gather(*(c.submit(i) for i in range(20)))
    assert results == [i * i for i in range(20)]
    assert all(len(b) <= 8 for b in batches)
    assert len(batches) < 20  # calls made together were coalesced
    assert sorted(x for b in batches for x in b) == list(range(20))


async def test_a_failing_batch_fails_its_callers_and_the_next_batch_runs() -> None:
    calls = 0

    def flaky(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk full")
        return [s.upper() for s in items]

    c: Coalescer[str, str] = Coalescer(flaky)
    with pytest.raises(OSError, match="disk full"):
        await c.submit("a")
    assert await c.submit("b") == "B"


async def test_a_batch_function_returning_the_wrong_count_is_an_error() -> None:
    c: Coalescer[int, int] = Coalescer(lambda items: [])
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await c.submit(1)
