"""QueryWorkflow: one durable run per query (id `query-<tenant>-<query id>`)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    TimeoutType,
    WorkflowAlreadyStartedError,
)
from temporalio.exceptions import TimeoutError as ActivityTimeoutError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from .. import options
    from ..activities import names
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
        Verdict,
    )
    from ..models.keys import Charge, Settled
    from ..models.lifecycle import CycleInput
    from ..policy.answers import answer_usage, billed_tokens
    from ..policy.cycles import cycle_workflow_id
    from . import search_attributes as sa
    from .query_flow import run_query


def _failure(exc: ActivityError) -> tuple[str, str]:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return cause.message, cause.type or "ApplicationError"
    if isinstance(cause, ActivityTimeoutError) and cause.type == TimeoutType.HEARTBEAT:
        # Its last try's worker stopped heartbeating: the process died (a native crash) or hung.
        return ("the worker serving the call stopped heartbeating on every try (it died or "
                "hung: see the local-model worker's log)", "WorkerLost")  # fmt: skip
    return str(cause or exc), type(cause or exc).__name__


class _TemporalSteps:
    """The query flow's steps as Temporal activities."""

    # Recall and record touch only the worker's own stores and take milliseconds, so they run
    # as local activities: no task-queue round trip, their results ride on the workflow task.
    async def recall(self, req: RecallRequest) -> RecallResult:
        return await workflow.execute_local_activity(
            names.RECALL, req, result_type=RecallResult,
            start_to_close_timeout=options.RECALL_TIMEOUT, retry_policy=options.STORE_RETRY,
        )  # fmt: skip

    async def answer(self, req: AnswerRequest, timeout_s: float) -> MemberAnswer:
        # API models answer on the model calls' queue (any number of answer workers); local
        # GGUF models on their own, served by their own worker process.
        local = req.model.startswith("local/")
        if req.stream_to and not local:
            streamed = await self._streamed(req, timeout_s)
            if streamed is not None:
                return streamed
            req = req.model_copy(update={"stream_to": ""})
        try:
            return await workflow.execute_activity(
                names.ANSWER, req, result_type=MemberAnswer,
                task_queue=(options.local_task_queue if local
                            else options.calls_task_queue)(workflow.info().task_queue),
                start_to_close_timeout=options.answer_timeout(timeout_s),
                schedule_to_close_timeout=options.local_answer_deadline(timeout_s) if local else None,
                heartbeat_timeout=options.CALL_HEARTBEAT_TIMEOUT,
                retry_policy=options.MODEL_CALL_RETRY,
            )  # fmt: skip
        except ActivityError as exc:
            # A failing member does not fail the query: its failure is recorded instead.
            message, kind = _failure(exc)
            return MemberAnswer(member_id=req.member_id, error=message, error_kind=kind)

    async def _streamed(self, req: AnswerRequest, timeout_s: float) -> MemberAnswer | None:
        """The answer streamed through the client's gateway; None when that gateway could not
        (gone, or a failure a retry elsewhere may mend): then the shared queue answers."""
        try:
            return await workflow.execute_activity(
                names.ANSWER_STREAMED, req, result_type=MemberAnswer, task_queue=req.stream_to,
                schedule_to_start_timeout=options.STREAM_START_TIMEOUT,
                start_to_close_timeout=options.answer_timeout(timeout_s),
                heartbeat_timeout=options.STREAM_HEARTBEAT_TIMEOUT,
                retry_policy=options.STREAM_RETRY,
            )  # fmt: skip
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                message, kind = _failure(exc)  # the provider refused: no retry would mend it
                return MemberAnswer(member_id=req.member_id, error=message, error_kind=kind)
            return None

    async def judge(self, req: JudgeRequest) -> JudgeResult:
        try:
            return await workflow.execute_activity(
                names.JUDGE, req, result_type=JudgeResult,
                task_queue=options.calls_task_queue(workflow.info().task_queue),
                start_to_close_timeout=options.JUDGE_TIMEOUT,
                heartbeat_timeout=options.CALL_HEARTBEAT_TIMEOUT,
                retry_policy=options.MODEL_CALL_RETRY,
            )  # fmt: skip
        except ActivityError as exc:
            message, kind = _failure(exc)
            unjudged = [Verdict(member_id=a.member_id, judge="unjudged") for a in req.answers]
            call = MemberAnswer(member_id=req.supervisor_id, kind="judge", error=message,
                                error_kind=kind)  # fmt: skip
            return JudgeResult(verdicts=unjudged, call=call, error=message)

    async def record(self, req: RecordRequest) -> RecordResult:
        return await workflow.execute_local_activity(
            names.RECORD, req, result_type=RecordResult,
            start_to_close_timeout=options.RECORD_TIMEOUT, retry_policy=options.STORE_RETRY,
        )  # fmt: skip

    async def trigger(self, cycles: list[str], queries_recorded: int) -> list[str]:
        """Start each due cycle as an abandoned child: it outlives this query, and its id
        (the cycle and the ledger count) makes a retried trigger a no-op."""
        started = []
        for cycle in cycles:
            scope = options.school_scope(workflow.info().task_queue)
            wf_id = cycle_workflow_id(cycle, scope, queries_recorded)
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await workflow.start_child_workflow(
                    options.CYCLE_WORKFLOWS[cycle], CycleInput(reason=f"{queries_recorded} queries"),
                    id=wf_id, parent_close_policy=ParentClosePolicy.ABANDON,
                )  # fmt: skip
            started.append(wf_id)
        return started


# No sandbox: the query path is deterministic by construction (every decision a pure function,
# time from workflow.now, draws keyed on the query id) and the replay tests hold it so; the
# sandbox's per-run module checks cost about a tenth of a query's CPU.
@workflow.defn(name="QueryWorkflow", sandboxed=False)
class QueryWorkflow:
    @workflow.run
    async def run(self, query: QueryInput) -> QueryResult:
        started = workflow.now()
        if workflow.info().typed_search_attributes.get(sa.TENANT) is None:
            # Started by something other than `tutelage.client.submit`, which sets it at start.
            workflow.upsert_search_attributes([sa.TENANT.value_set(query.tenant)])

        def elapsed_ms() -> float:
            return (workflow.now() - started) / timedelta(milliseconds=1)

        result = await run_query(query, _TemporalSteps(), elapsed_ms, workflow.info().workflow_id)
        workflow.upsert_search_attributes(
            [
                sa.ROUTE.value_set(result.route.value),
                sa.WINNER.value_set(result.winner or "none"),
                sa.COST.value_set(result.cost_usd),
            ]
        )
        if query.charge_key and query.usage_settlement == "settle":
            await _settle(query.charge_key, result)
        elif query.charge_key and query.usage_settlement == "signal":
            await _charge(query.charge_key, result)
        return result


async def _settle(key_id: str, result: QueryResult) -> None:
    """Count the query's cost and billed tokens in the school's shared usage counters, once
    (by query id) however often it is retried. Counters that stay down cost the counters this
    charge (the ledger keeps it), never the answer."""
    charge = Charge(key_id=key_id, query_id=result.query_id, cost_usd=result.cost_usd,
                    tokens=billed_tokens(result))  # fmt: skip
    try:
        # A local activity on the store owner: one Redis round trip, no task-queue round trip
        # on the query's path.
        await workflow.execute_local_activity(
            names.SETTLE_USAGE, charge, result_type=Settled,
            start_to_close_timeout=options.SETTLE_TIMEOUT, retry_policy=options.SETTLE_RETRY,
        )  # fmt: skip
    except ActivityError as exc:
        workflow.logger.warning("could not settle key %s for %s: %s", key_id, result.query_id,
                                exc.cause or exc)  # fmt: skip


async def _charge(key_id: str, result: QueryResult) -> None:
    """Histories from before the shared counters: the KeysWorkflow was signalled the charge.
    Kept so that those histories replay; nothing starts a query this way any more."""
    keys = workflow.get_external_workflow_handle(
        options.keys_workflow_id(workflow.info().task_queue))  # fmt: skip
    tokens = sum(answer_usage(result))
    try:
        await keys.signal("charge", Charge(key_id=key_id, query_id=result.query_id,
                                           cost_usd=result.cost_usd, tokens=tokens))  # fmt: skip
    except FailureError as exc:
        workflow.logger.warning("could not charge key %s for %s: %s", key_id, result.query_id, exc)
