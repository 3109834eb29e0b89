"""FeedbackWorkflow: one user rating of a chat completion, written by the store owner.

One short run per rating (its id unique per call, never a shared workflow): the gateway waits
on it only for `POST /v1/feedback`, which is not on the chat completions' path."""

from __future__ import annotations

import uuid

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .. import options
    from ..activities import names
    from ..models.feedback import FeedbackRequest, FeedbackResult
    from .cycle_steps import store_step


def feedback_workflow_id(task_queue: str) -> str:
    """Unique per rating (called by the gateway and the CLI, never in a workflow):
    `feedback-<id>` in the default school, `feedback-<task queue>-<id>` in another."""
    scope = options.school_scope(task_queue)
    token = uuid.uuid4().hex[:16]
    return f"feedback-{scope}-{token}" if scope else f"feedback-{token}"


@workflow.defn(name="FeedbackWorkflow")
class FeedbackWorkflow:
    @workflow.run
    async def run(self, req: FeedbackRequest) -> FeedbackResult:
        if not req.feedback_id:  # the run's id keys the rating: a retried write lands once
            req = req.model_copy(update={"feedback_id": workflow.info().workflow_id})
        return await store_step(names.RECORD_FEEDBACK, req, FeedbackResult, options.STORE_RETRY)
