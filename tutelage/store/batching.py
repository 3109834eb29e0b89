"""Coalesce concurrent calls into one batch: many queries, one embedding pass, one write.

Under load a worker runs dozens of query activities at once. Embedding texts one at a time,
and appending one row per LanceDB version and one DuckDB transaction per query, spends most
of the two cores on per-call overhead (LanceDB, in particular, makes a new fragment per
append, which every later search then has to open). A `Coalescer` gathers the items submitted
while the previous batch runs, hands them to a blocking function in one worker thread, and
resolves each caller with its own result. A caller still returns only once its item is written,
so durability is unchanged; a failing batch fails every caller in it, and Temporal retries them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    def __init__(self, run_batch: Callable[[list[T]], Sequence[R]], max_batch: int = 64) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._running = False

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            # One pass of the event loop lets the callers that are ready now join the batch.
            await asyncio.sleep(0)
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                items = [item for item, _ in batch]
                try:
                    results = await asyncio.to_thread(self._run_batch, items)
                    if len(results) != len(items):
                        raise RuntimeError(
                            f"batch function returned {len(results)} results for {len(items)} items"
                        )
                except BaseException as exc:  # noqa: BLE001 - handed to every caller in the batch
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._running = False
