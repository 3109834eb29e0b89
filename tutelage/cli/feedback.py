"""`tutelage feedback ID --score S | --rating up|down [--comment C] [--correction TEXT]
[--tenant T]`: rate a served answer, as POST /v1/feedback does (a FeedbackWorkflow whose store
activity writes it on the school's worker)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from ..config import load_config
from ..models.feedback import FeedbackRequest, FeedbackResult
from ..policy.feedback import FeedbackProblem, parse_feedback, plausible_query_id
from ..workflows.feedback import feedback_workflow_id
from .common import UserError, check_tenant, run_with_client

out = Console()
# The command-line flag for each of the API's parameters.
_FLAGS = {"completion_id": "ID", "score": "--score", "rating": "--rating",
          "comment": "--comment", "correction": "--correction"}  # fmt: skip


def run_feedback(config_path: Path | None, completion_id: str, score: float | None,
                 rating: str | None, comment: str | None, correction: str | None,
                 tenant: str | None, timeout_s: float = 60.0) -> None:  # fmt: skip
    cfg = load_config(config_path)
    if tenant is not None:
        check_tenant(cfg, tenant)
    try:
        parsed = parse_feedback({"completion_id": completion_id, "score": score,
                                 "rating": rating, "comment": comment,
                                 "correction": correction})  # fmt: skip
    except FeedbackProblem as p:
        message = p.message
        for param, flag in _FLAGS.items():
            message = message.replace(f"'{param}'", flag)
        raise UserError(message) from None
    whose = f" of tenant {tenant}" if tenant else ""
    if not plausible_query_id(parsed.query_id):
        raise UserError(f"no completion '{completion_id}'{whose}")
    req = FeedbackRequest(query_id=parsed.query_id, tenant=tenant, score=parsed.score,
                          rating=parsed.rating, comment=parsed.comment,
                          correction=parsed.correction, source="cli")  # fmt: skip
    tq = cfg.temporal.task_queue

    async def go(client: Client) -> FeedbackResult:
        wf_id = feedback_workflow_id(tq)
        try:
            return await asyncio.wait_for(client.execute_workflow(
                "FeedbackWorkflow", req.model_copy(update={"feedback_id": wf_id}), id=wf_id,
                task_queue=tq, result_type=FeedbackResult), timeout_s)  # fmt: skip
        except TimeoutError:
            raise UserError(f"the school did not record the feedback within {timeout_s:g}s; is "
                            f"a worker serving task queue '{tq}'? (its run goes on: "
                            f"{cfg.temporal.run_url(wf_id)})") from None  # fmt: skip
        except (RPCError, WorkflowFailureError) as exc:
            raise UserError(f"cannot record the feedback: {exc}") from None

    done = run_with_client(cfg, go, timeout_s + 10)
    if not done.found:
        raise UserError(f"no completion '{completion_id}'{whose}")
    if done.refused:
        raise UserError(done.refused)
    said = f"{parsed.rating} ({parsed.score:.2f})" if parsed.rating else f"{parsed.score:.2f}"
    verdicts = ", ".join(f"{m} {v:.2f}" for m, v in done.verdicts.items()) or "none (it failed)"
    out.print(f"rated query {escape(done.query_id)} of tenant {escape(done.tenant)}: {said}, "
              f"rating {done.revision} of this query; user verdicts: {escape(verdicts)}"
              + ("; the correction is a gold exemplar at the next distillation"
                 if done.correction_kept else ""), highlight=False, soft_wrap=True)  # fmt: skip
