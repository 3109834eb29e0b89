"""The query path's activities: recall, answer, judge, record (the model calls live in calls.py).

Each is a thin adapter: it does the I/O and hands every decision to `tutelage.policy`. Errors
that retrying cannot fix are raised non-retryable; Temporal owns every other retry.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from temporalio import activity

from ..models import RecallRequest, RecallResult, RecordRequest, RecordResult
from ..policy.cache import exact_among, normalize
from ..policy.distill import exemplar_tenants
from ..policy.domains import assign_domain
from ..policy.feedback import with_user_scores
from ..providers._litellm import litellm
from ..providers.replay import TOKEN_MODEL
from ..services import Services
from ..store.batching import Coalescer
from . import names
from .calls import ModelCalls

# Embeddings kept between a query's recall and its record (a few MB at most).
MAX_KEPT_VECTORS = 4096


def _memorable(req: RecordRequest) -> bool:
    return req.result.status == "ok" and not req.result.cache_hit


def _memory_row(req: RecordRequest, vector: list[float]) -> dict[str, Any]:
    result = req.result
    return {
        "query_id": result.query_id,
        "tenant": result.tenant,
        "text": req.query.text,
        "norm": normalize(req.query.text),
        "domain": req.domain,
        "config_version": req.config_version,
        "vector": vector,
        "scores": {v.member_id: v.score for v in result.verdicts if v.score is not None},
        "final_answer": result.answer,
        "winner": result.winner,
    }


class QueryActivities:
    """The query path on the school's worker: its own stores, and the model calls."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self._records: Coalescer[RecordRequest, RecordResult] = Coalescer(self._write_records)
        # Each query's embedding from its recall to its record, kept here rather than carried
        # through the workflow's history twice (recall and record run on this worker, as local
        # activities); a record whose recall ran on a worker since gone embeds again.
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self.calls = ModelCalls(services)
        self.answer = self.calls.answer
        self.judge = self.calls.judge

    @activity.defn(name=names.RECALL)
    async def recall(self, req: RecallRequest) -> RecallResult:
        q = req.query
        s = self.s
        vector = await s.embed_async(q.text or " ")
        school = s.school
        neighbours = with_user_scores(
            await s.memory.nearest_async(q.tenant, vector.tolist(), school.routing.k),
            s.user_scores)  # fmt: skip
        domain = assign_domain(q.domain, vector.tolist(), s.clusters)
        newest = max((m.exemplar_version for m in school.members), default=0)
        exemplars = []
        if newest > 0 and school.exemplars_k > 0:
            # Enough rows that each learner still gets k of the versions it may see; only of
            # the tenants this query's tenant may be shown (its own, or its configured pool).
            tenants = exemplar_tenants(q.tenant, s.config.distillation.shared_exemplar_tenants)
            exemplars = await asyncio.to_thread(s.exemplars.nearest, domain, vector.tolist(),
                                                school.exemplars_k * 3, newest, tenants)  # fmt: skip
        tokens = litellm.token_counter(model=TOKEN_MODEL, text=q.text)
        self._vectors[q.query_id] = [round(float(x), 6) for x in vector]
        while len(self._vectors) > MAX_KEPT_VECTORS:
            self._vectors.popitem(last=False)
        return RecallResult(
            school=school,
            domain=domain,
            exemplars=exemplars,
            neighbours=neighbours,
            exact_match=exact_among(q.text, neighbours),
            prompt_tokens=tokens,
        )

    @activity.defn(name=names.RECORD)
    async def record(self, req: RecordRequest) -> RecordResult:
        # Records made at the same moment share one DuckDB transaction and one LanceDB append.
        return await self._records.submit(req)

    def _write_records(self, reqs: list[RecordRequest]) -> list[RecordResult]:
        s = self.s
        written = s.ledger.record_many([(r.result, r.domain, r.config_version, r.query.charge_key)
                                         for r in reqs])  # fmt: skip
        memorable = [r for r in reqs if _memorable(r)]
        vectors = self._vectors_of(memorable)
        rows = [_memory_row(r, v) for r, v in zip(memorable, vectors, strict=True)]
        retried = {r.result.query_id for r, w in zip(reqs, written, strict=True) if w.seen_before}
        fresh_ids = s.memory.add(rows, maybe_stored=retried) if rows else set()
        results = []
        for r, (calls, verdicts, position, _) in zip(reqs, written, strict=True):
            # A retry racing its first try can land in the same batch: credit the first only.
            results.append(RecordResult(calls_written=calls, verdicts_written=verdicts,
                                        memory_written=r.result.query_id in fresh_ids,
                                        queries_recorded=position))  # fmt: skip
            fresh_ids.discard(r.result.query_id)
        return results

    def _vectors_of(self, reqs: list[RecordRequest]) -> list[list[float]]:
        """Each query's embedding: carried (histories from before), kept since its recall, or
        computed again."""
        found = [r.embedding or self._vectors.pop(r.result.query_id, None) for r in reqs]
        missing = [i for i, v in enumerate(found) if not v]
        if missing:
            again = self.s.embed_many([reqs[i].query.text or " " for i in missing])
            for i, v in zip(missing, again, strict=True):
                found[i] = [round(float(x), 6) for x in v]
        return [v or [] for v in found]

    def all(self) -> list[Any]:
        """The store activities, served with the workflows by the store owner."""
        return [self.recall, self.record]
