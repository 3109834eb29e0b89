"""POST /v1/feedback: a user's rating of a chat completion (a score or up/down, a comment, a
better answer).

The completion is named by its `id` (`chatcmpl-<query id>`) or by the query id in its
`x-tutelage-query-id` header. Each rating is one short FeedbackWorkflow (its id unique per
call) whose store activity writes it on the store owner, the ledger's only writer; ratings are
not on the chat completions' path, and no shared workflow is waited on. A completion of
another tenant and an unknown one get the same 404.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from ..config import TutelageConfig
from ..models.feedback import FeedbackRequest, FeedbackResult
from ..policy.feedback import COMPLETION_PREFIX, FeedbackProblem, parse_feedback, plausible_query_id
from ..policy.keys import bearer
from ..workflows.feedback import feedback_workflow_id
from .body import json_object, read_body
from .errors import APIError
from .temporal import RETRY_SOON, KeyCache, TemporalSource

log = logging.getLogger("tutelage.gateway")
# The largest feedback body: a correction of 20,000 characters and a comment of 2,000, with
# room for JSON's escapes.
FEEDBACK_BODY_LIMIT = 128 * 1024


def _not_found(completion_id: str) -> APIError:
    """The one answer for an unknown completion and another tenant's: nothing leaks."""
    shown = completion_id if len(completion_id) <= 80 else completion_id[:80] + "..."
    return APIError(404, f"No chat completion '{shown}' for this API key's tenant.",
                    "completion_not_found", "completion_id")  # fmt: skip


def install_feedback(app: FastAPI, config: TutelageConfig, temporal: TemporalSource,
                     keys: KeyCache) -> None:  # fmt: skip
    gw = config.gateway

    async def tenant_of(request: Request) -> str:
        """The key's tenant (a bad or missing key is a 401); `default` without keys."""
        if gw.auth == "none":
            return "default"
        presented = bearer(request.headers.get("authorization"))
        if presented is None:
            raise APIError(401, "You didn't provide an API key. Provide it in an Authorization "
                           "header using Bearer auth (Authorization: Bearer YOUR_KEY).",
                           "missing_api_key")  # fmt: skip
        record, problem = await keys.authenticate(presented)
        if problem is not None:
            raise APIError(401, problem[1], problem[0])
        assert record is not None
        return record.tenant

    async def record(req: FeedbackRequest) -> FeedbackResult:
        client = await temporal.client()
        wf_id = feedback_workflow_id(config.temporal.task_queue)
        try:
            return await asyncio.wait_for(client.execute_workflow(
                "FeedbackWorkflow", req.model_copy(update={"feedback_id": wf_id}), id=wf_id,
                task_queue=config.temporal.task_queue, result_type=FeedbackResult,
            ), gw.request_timeout_s)  # fmt: skip
        except TimeoutError:
            raise APIError(504, f"The school did not record the feedback within "
                           f"{gw.request_timeout_s:g}s (gateway.request_timeout_s); its run goes "
                           f"on: {config.temporal.run_url(wf_id)}", "timeout") from None  # fmt: skip
        except RPCError as exc:
            raise APIError(503, f"The school's Temporal server did not take the feedback: {exc}",
                           "temporal_unavailable", headers=RETRY_SOON) from None  # fmt: skip
        except WorkflowFailureError as exc:
            raise APIError(502, f"The school could not record the feedback: {exc.cause or exc}. "
                           f"The run: {config.temporal.run_url(wf_id)}",
                           "school_failed") from None  # fmt: skip

    @app.post("/v1/feedback")
    async def feedback(request: Request) -> JSONResponse:
        rid = request.state.request_id
        tenant = await tenant_of(request)  # a key first, as the chat completions check it
        limit = min(FEEDBACK_BODY_LIMIT, gw.max_body_bytes)
        payload = json_object(await read_body(request, limit))
        try:
            parsed = parse_feedback(payload)
        except FeedbackProblem as p:
            raise APIError(400, p.message, p.code, p.param) from None
        if not plausible_query_id(parsed.query_id):
            raise _not_found(str(payload["completion_id"]))
        result = await record(FeedbackRequest(
            query_id=parsed.query_id, tenant=tenant, score=parsed.score, rating=parsed.rating,
            comment=parsed.comment, correction=parsed.correction, source="api"))  # fmt: skip
        if not result.found:
            raise _not_found(str(payload["completion_id"]))
        if result.refused:
            raise APIError(429, result.refused, "too_many_ratings", "completion_id",
                           headers={"x-should-retry": "false"},
                           type_="invalid_request_error")  # fmt: skip
        log.info("request %s: feedback %s on query %s: %.2f (revision %d)", rid,
                 result.feedback_id, result.query_id, parsed.score, result.revision)  # fmt: skip
        return JSONResponse({
            "object": "feedback", "id": result.feedback_id,
            "completion_id": f"{COMPLETION_PREFIX}{result.query_id}",
            "query_id": result.query_id, "score": parsed.score, "rating": parsed.rating,
            "revision": result.revision, "member": result.served, "verdicts": result.verdicts,
            "correction": result.correction_kept,
        })  # fmt: skip
