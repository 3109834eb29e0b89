"""Users' feedback on the store owner: one rating written to the ledger (the only DuckDB
writer), with the user verdicts it makes (policy/feedback.py)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from temporalio import activity

from ..models.feedback import FeedbackRequest, FeedbackResult
from ..policy.feedback import answers_agreed, rating_refused, user_verdicts, verdict_reason
from ..store.ledger import FeedbackRow
from . import names

if TYPE_CHECKING:
    from ..services import Services


class FeedbackActivities:
    def __init__(self, services: Services) -> None:
        self.s = services

    @activity.defn(name=names.RECORD_FEEDBACK)
    async def record_feedback(self, req: FeedbackRequest) -> FeedbackResult:
        """Record the rating if the query exists for the tenant: its history row, the user
        verdicts (replacing the query's earlier ones) and its correction. An unknown query, or
        another tenant's, is `found = False` and writes nothing; one whose history is full
        (`MAX_RATINGS_PER_QUERY`) is `refused` and writes nothing."""
        return await asyncio.to_thread(self._record, req)

    def _record(self, req: FeedbackRequest) -> FeedbackResult:
        ledger = self.s.ledger
        ctx = ledger.feedback_context(req.query_id, req.tenant, req.feedback_id)
        if ctx is None:
            return FeedbackResult(found=False, feedback_id=req.feedback_id, query_id=req.query_id)
        refused = rating_refused(ctx.ratings)
        if refused is not None:
            return FeedbackResult(found=True, feedback_id=req.feedback_id, query_id=req.query_id,
                                  tenant=ctx.tenant, revision=ctx.ratings, served=ctx.served,
                                  refused=refused)  # fmt: skip
        verdicts: list[tuple[str, float, str]] = []
        if ctx.served is not None:
            agreed = answers_agreed(ctx.served, ctx.answered, ctx.pairs, ctx.scores,
                                    self.s.config.judge.pass_score)  # fmt: skip
            verdicts = [(member, score, verdict_reason(member, ctx.served, agreed.get(member),
                                                       req.score, req.rating))
                        for member, score in user_verdicts(ctx.served, req.score, agreed)]  # fmt: skip
        row = FeedbackRow(feedback_id=req.feedback_id, query_id=req.query_id, tenant=ctx.tenant,
                          score=req.score, rating=req.rating, comment=req.comment,
                          correction=req.correction, source=req.source)  # fmt: skip
        revision, _ = ledger.write_feedback(row, ctx.domain, verdicts)
        # Routing reads them from here (recall): the rating replaces the query's earlier ones.
        self.s.user_scores[req.query_id] = {m: sc for m, sc, _ in verdicts}
        return FeedbackResult(found=True, feedback_id=req.feedback_id, query_id=req.query_id,
                              tenant=ctx.tenant, revision=revision, served=ctx.served,
                              verdicts={m: s for m, s, _ in verdicts},
                              correction_kept=bool(req.correction))  # fmt: skip

    def all(self) -> list[Any]:
        return [self.record_feedback]
