"""The two benchmark engines: the same query flow inline (one process) or as Temporal workflows.

Both call `run_query` with the same activity code and the same stable query ids, so at the same
seed they make identical decisions. A user's rating goes the way a user's does: the
`record_feedback` store activity, called directly inline, in a FeedbackWorkflow on Temporal.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import numpy as np
from temporalio.exceptions import ApplicationError

from ..activities.feedback import FeedbackActivities
from ..activities.lifecycle import LifecycleActivities
from ..activities.query import QueryActivities
from ..config import TutelageConfig
from ..models import (
    AnswerRequest,
    JudgeRequest,
    JudgeResult,
    MemberAnswer,
    QueryInput,
    QueryResult,
    RecallRequest,
    RecallResult,
    RecordRequest,
    RecordResult,
)
from ..models.feedback import FeedbackRequest, FeedbackResult
from ..policy.cycles import cycle_workflow_id
from ..providers.embedders import Embedder
from ..services import Services
from ..workflows.query_flow import run_query
from .inline_cycles import InlineCycleSteps


class CachedEmbedder:
    """Embeds a known set of texts once, in batches (a sweep replays the same stream)."""

    def __init__(self, inner: Embedder, texts: list[str], vectors: np.ndarray) -> None:
        self.name = inner.name
        self.dim = inner.dim
        self._inner = inner
        self._known = {t: vectors[i] for i, t in enumerate(texts)}

    def embed(self, texts: list[str]) -> np.ndarray:
        out = [self._known.get(t) for t in texts]
        if any(v is None for v in out):
            return self._inner.embed(texts)
        return np.stack(out)  # type: ignore[arg-type]


class Engine(Protocol):
    services: Services

    async def ask(self, query: QueryInput) -> QueryResult: ...

    async def rate(self, req: FeedbackRequest) -> FeedbackResult: ...


class _InlineSteps:
    def __init__(self, acts: QueryActivities, cycles: InlineCycleSteps) -> None:
        self.acts = acts
        self.cycles = cycles

    async def recall(self, req: RecallRequest) -> RecallResult:
        return await self.acts.recall(req)

    async def answer(self, req: AnswerRequest, timeout_s: float) -> MemberAnswer:
        try:
            return await self.acts.answer(req)
        except ApplicationError as exc:  # the workflow records a failed member the same way
            return MemberAnswer(member_id=req.member_id, error=exc.message,
                                error_kind=exc.type or "ApplicationError")  # fmt: skip

    async def judge(self, req: JudgeRequest) -> JudgeResult:
        return await self.acts.judge(req)

    async def record(self, req: RecordRequest) -> RecordResult:
        return await self.acts.record(req)

    async def trigger(self, cycles: list[str], queries_recorded: int) -> list[str]:
        # Inline, a cycle finishes before the next query, as the temporal engine waits for it.
        for cycle in cycles:
            await self.cycles.run(cycle)
        return [cycle_workflow_id(c, "inline", queries_recorded) for c in cycles]


class InlineEngine:
    def __init__(self, services: Services) -> None:
        self.services = services
        query = QueryActivities(services)
        lifecycle = LifecycleActivities(services, None, query.answer)
        self.steps = _InlineSteps(query, InlineCycleSteps(services, lifecycle))
        self.feedback = FeedbackActivities(services)

    async def ask(self, query: QueryInput) -> QueryResult:
        started = time.perf_counter()
        return await run_query(
            query, self.steps, lambda: (time.perf_counter() - started) * 1000, query.query_id
        )

    async def rate(self, req: FeedbackRequest) -> FeedbackResult:
        """The FeedbackWorkflow's one step, as its store activity runs it."""
        if not req.feedback_id:
            req = req.model_copy(update={"feedback_id": f"feedback-{req.query_id}"})
        return await self.feedback.record_feedback(req)


class TemporalEngine:
    def __init__(self, client: object, config: TutelageConfig, services: Services) -> None:
        self.client = client
        self.config = config
        self.services = services

    async def ask(self, query: QueryInput) -> QueryResult:
        from ..client import submit

        result = await submit(self.client, self.config, query)  # type: ignore[arg-type]
        # Stream order: the cycles this query started finish before the next query, as inline.
        for wf_id in result.triggered:
            await self.client.get_workflow_handle(wf_id).result()  # type: ignore[attr-defined]
        return result

    async def rate(self, req: FeedbackRequest) -> FeedbackResult:
        """A FeedbackWorkflow, as `POST /v1/feedback` starts one; done before the next query."""
        from ..workflows.feedback import feedback_workflow_id

        wf_id = feedback_workflow_id(self.config.temporal.task_queue)
        result: FeedbackResult = await self.client.execute_workflow(  # type: ignore[attr-defined]
            "FeedbackWorkflow", req.model_copy(update={"feedback_id": wf_id}), id=wf_id,
            task_queue=self.config.temporal.task_queue, result_type=FeedbackResult)  # fmt: skip
        return result


@asynccontextmanager
async def open_engine(
    kind: str, config: TutelageConfig, embedder: Embedder
) -> AsyncIterator[Engine]:
    """An engine over a fresh data directory; the temporal one runs its own worker."""
    if kind != "inline":
        # Its own task queue, so its workflows (members, cycles) never meet another run's.
        config = config.model_copy(deep=True)
        config.temporal.task_queue = f"bench-{uuid.uuid4().hex[:8]}"
    services = Services.open(config, embedder=embedder)
    try:
        if kind == "inline":
            yield InlineEngine(services)
            return
        from ..workers.worker import connect, ensure_search_attributes, serving

        address = config.temporal.effective_address()
        try:
            client = await connect(address, config.temporal.namespace)
        except Exception as exc:  # noqa: BLE001
            raise RuntimeError(
                f"cannot reach Temporal at {address}; start it with `tutelage up` ({exc})"
            ) from None
        await ensure_search_attributes(client)
        async with serving(client, config, services):
            yield TemporalEngine(client, config, services)
    finally:
        services.close()
