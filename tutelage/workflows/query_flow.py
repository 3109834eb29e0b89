"""The query path's orchestration, written once for both engines.

`QueryWorkflow` runs it with Temporal activities as the steps; the benchmark's inline engine
runs it with the same activity code called directly. Every decision is a pure function from
`tutelage.policy`; this module only sequences them, so it is deterministic under replay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NamedTuple, Protocol

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
    Route,
    RouteDecision,
    SchoolSnapshot,
    Verdict,
)
from ..models.structured import Check
from ..policy import cost as cost_policy
from ..policy.cache import pick_cache_hit
from ..policy.cycles import due_cycles
from ..policy.distill import exemplars_for, learns_from_exemplars
from ..policy.peer import escalation, mark_escalated, pair_checks, panel_agrees, panel_passes
from ..policy.presets import with_cost_weight
from ..policy.routing import route, streams_alone
from ..policy.scoring import (
    answer_checks,
    fits,
    judge_needed,
    pick_winner,
    programmatic_verdicts,
    shape_verdicts,
)
from ..policy.structured import same_shape, served_text, shaped_domain, shown_to_judge
from ..policy.validation import query_problem


class QuerySteps(Protocol):
    """The I/O a query needs. Each step returns a value; failures come back inside it."""

    async def recall(self, req: RecallRequest) -> RecallResult: ...

    async def answer(self, req: AnswerRequest, timeout_s: float) -> MemberAnswer: ...

    async def judge(self, req: JudgeRequest) -> JudgeResult: ...

    async def record(self, req: RecordRequest) -> RecordResult: ...

    async def trigger(self, cycles: list[str], queries_recorded: int) -> list[str]:
        """Start the due learning cycles; returns their workflow ids."""
        ...


def _failed(inp: QueryInput, reason: str, **extra: object) -> QueryResult:
    return QueryResult(query_id=inp.query_id, tenant=inp.tenant, status="failed", error=reason,
                       reason=reason, **extra)  # fmt: skip


def _supervisor_only_cost(
    school: SchoolSnapshot, calls: list[MemberAnswer], prompt_tokens: int
) -> float:
    """The supervisor's real answer cost when it answered, else an estimate for this prompt."""
    sup = next((c for c in calls if c.member_id == school.supervisor and c.kind != "judge"), None)
    if sup is not None and sup.ok:
        return sup.cost_usd
    m = school.member(school.supervisor)
    answered = [c.tokens_out for c in calls if c.ok and c.kind != "judge"]
    tokens_out = (
        round(sum(answered) / len(answered)) if answered else cost_policy.NOMINAL_TOKENS_OUT
    )
    price = cost_policy.Price(m.price_in, m.price_out)
    return cost_policy.supervisor_only_cost(price, prompt_tokens, tokens_out)


async def run_query(
    inp: QueryInput,
    steps: QuerySteps,
    elapsed_ms: Callable[[], float],
    workflow_id: str = "",
) -> QueryResult:
    recall = await steps.recall(RecallRequest(query=inp))
    if inp.cost_weight is not None:
        recall = recall.model_copy(update={"school": with_cost_weight(recall.school,
                                                                      inp.cost_weight)})  # fmt: skip
    recall = _for_shape(inp, recall)
    school = recall.school
    problem = query_problem(inp, school.limits)
    if problem:
        return _failed(inp, problem, workflow_id=workflow_id)

    # A cached answer was given to the question alone: never to one asked in a conversation,
    # in a tool loop, or in a shape (a schema, tools) of its own.
    hit = None if inp.context or inp.followup or inp.shape.structured else pick_cache_hit(
        inp.text, recall.exact_match, recall.neighbours, school.routing, school.config_version
    )  # fmt: skip
    if hit is not None:
        result = QueryResult(
            query_id=inp.query_id, workflow_id=workflow_id, tenant=inp.tenant,
            answer=hit.final_answer, winner=hit.winner, route=Route.CACHE,
            nearest_similarity=hit.similarity, cache_hit=True,
            supervisor_only_cost_usd=_supervisor_only_cost(school, [], recall.prompt_tokens),
            reason=f"cache hit on {hit.query_id} (similarity {hit.similarity:.3f})",
            latency_ms=elapsed_ms(), domain=recall.domain,
        )  # fmt: skip
        return await _finish(inp, recall, result, steps)

    domain = recall.domain
    decision = route(inp.draw_key or inp.query_id, domain, recall.neighbours, school,
                     has_reference=inp.reference is not None)  # fmt: skip
    calls = await _fan_out(inp, recall, decision, steps)
    panel_agreed, escalated = None, False
    if decision.panel:
        review = await _review(inp, recall, decision, calls, steps)
        decision, panel_agreed, escalated = review.decision, review.agreed, review.escalated
        calls += review.answers
    checks = answer_checks(inp.shape, calls)
    visible_ok = [c for c in calls if c.ok and not c.shadow and fits(checks, c.member_id)]
    if not visible_ok and school.supervisor not in decision.answerers:
        # Everyone chosen failed: fall back to the supervisor rather than fail the query.
        calls += await _fan_out(inp, recall, decision.model_copy(
            update={"answerers": [school.supervisor], "shadows": []}), steps)  # fmt: skip
        why = "answered in the wrong shape" if any(c.ok for c in calls) else "failed"
        decision.reason += f"; all chosen members {why}, supervisor asked"
        checks = answer_checks(inp.shape, calls)
        visible_ok = [c for c in calls if c.ok and not c.shadow and fits(checks, c.member_id)]
    misfits = shape_verdicts(checks)
    if not visible_ok:
        shapes = "; ".join(f"{v.member_id}: {v.reasoning}" for v in misfits)
        result = _failed(
            inp, f"no member's answer fits the requested shape ({shapes})" if misfits
            else "every member asked failed, the supervisor included",
            workflow_id=workflow_id, route=decision.route, calls=calls,
            members_asked=[c.member_id for c in calls],
            nearest_similarity=decision.nearest_similarity,
            supervisor_called=True, latency_ms=elapsed_ms(),
            cost_usd=sum(c.cost_usd for c in calls), domain=domain, verdicts=misfits,
        )  # fmt: skip
        return await _finish(inp, recall, result, steps)

    fitting = [c for c in calls if fits(checks, c.member_id)]
    verdicts, judge_call = await _judge(inp, school, decision, fitting, steps, checks)
    verdicts += misfits
    if judge_call is not None:
        calls.append(judge_call)
    if escalated:
        verdicts = mark_escalated(verdicts, decision.panel, inp.reference is not None)
    members = {m.id: m for m in school.members}
    winner = pick_winner(fitting, verdicts, members, school.routing.win_margin,
                         decision.answerers)  # fmt: skip
    won = next(c for c in calls if c.member_id == winner and c.kind != "judge")
    answer = served_text(checks[winner], won.text) if winner in checks else won.text
    result = QueryResult(
        query_id=inp.query_id, workflow_id=workflow_id, tenant=inp.tenant, answer=answer,
        tool_calls=won.tool_calls,
        winner=winner, winner_role=members[winner].role_in(domain).value if winner in members
        else None, route=decision.route, nearest_similarity=decision.nearest_similarity,
        members_asked=[c.member_id for c in calls if c.kind != "judge"],
        scores={v.member_id: v.score for v in verdicts}, calls=calls, verdicts=verdicts,
        tokens_in=sum(c.tokens_in for c in calls), tokens_out=sum(c.tokens_out for c in calls),
        cost_usd=sum(c.cost_usd for c in calls), latency_ms=elapsed_ms(),
        supervisor_only_cost_usd=_supervisor_only_cost(school, calls, recall.prompt_tokens),
        supervisor_called=any(c.member_id == school.supervisor for c in calls),
        reason=decision.reason, domain=domain, panel_agreed=panel_agreed,
        agreements=[] if inp.shape.structured else pair_checks(calls, school.supervisor,
                                                               school.judge.pass_score),
    )  # fmt: skip
    return await _finish(inp, recall, result, steps)


class Review(NamedTuple):
    """A panel's second step, done."""

    decision: RouteDecision  # as it now stands
    agreed: bool  # whether the panel's answers agreed
    escalated: bool  # the supervisor stepped in because of the panel's answers
    answers: list[MemberAnswer]  # the supervisor's answer, if it gave one


async def _review(inp: QueryInput, recall: RecallResult, decision: RouteDecision,
                  calls: list[MemberAnswer], steps: QuerySteps) -> Review:  # fmt: skip
    """A panel's second step (peer review; hybrid with a reference): an agreed or passing
    answer stands; otherwise, or on an audit, the supervisor answers or judges
    (`policy.peer.escalation`)."""
    school = recall.school
    sup, pass_score = school.supervisor, school.judge.pass_score
    agreed = panel_agrees(calls, decision.panel, pass_score)
    passed = panel_passes(calls, decision.panel, inp.reference, school.judge.mode, pass_score)
    step, because = escalation(agreed, decision.audit, passed, school.judge.mode)
    if passed is None:
        said = "the panel agreed" if agreed else "the panel disagreed"
    else:
        said = "a panel answer passed the reference" if passed else "no panel answer passed"
    if not step:
        return Review(decision.model_copy(update={"reason": f"{decision.reason}; {said}"}),
                      agreed, False, [])  # fmt: skip
    if step == "judge":
        return Review(decision.model_copy(update={
            "judge": True, "reason": f"{decision.reason}; {said}, {sup} judges"}),
            agreed, because, [])  # fmt: skip
    answered = await _fan_out(inp, recall, decision.model_copy(update={"answerers": [sup],
                                                                       "shadows": []}), steps)  # fmt: skip
    return Review(decision.model_copy(update={
        "answerers": [*decision.answerers, sup], "judge": True,
        "reason": f"{decision.reason}; {said}, {sup} answers"}), agreed, because, answered)  # fmt: skip


async def _finish(
    inp: QueryInput, recall: RecallResult, result: QueryResult, steps: QuerySteps
) -> QueryResult:
    """Record the outcome, then start the learning cycles that are due at this count."""
    recorded = await steps.record(_record_request(inp, recall, result))
    due = due_cycles(recorded.queries_recorded, recall.school.cycles_every)
    if due:
        result.triggered = await steps.trigger(due, recorded.queries_recorded)
    return result


async def _fan_out(
    inp: QueryInput, recall: RecallResult, decision: RouteDecision, steps: QuerySteps
) -> list[MemberAnswer]:
    school = recall.school
    asked = [(m, "answer") for m in decision.answerers] + [(m, "shadow") for m in decision.shadows]
    # A member answering alone is the answer the client gets: it streams, where asked to.
    stream_to = inp.stream_to if streams_alone(decision, inp.shape) else ""
    requests = []
    for member_id, kind in asked:
        m = school.member(member_id)
        examples = (exemplars_for(m, recall.exemplars, school.exemplars_k)
                    if learns_from_exemplars(m, recall.domain) else [])  # fmt: skip
        req = AnswerRequest(query_id=inp.query_id, member_id=member_id, model=m.model,
                            text=inp.text, timeout_s=m.timeout_s, exemplars=examples,
                            context=inp.context, followup=inp.followup,
                            call_params=inp.call_params, shape=inp.shape,
                            stream_to=stream_to if kind == "answer" else "")  # fmt: skip
        requests.append(steps.answer(req, m.timeout_s))
    answers = await asyncio.gather(*requests)
    return [
        a.model_copy(update={"kind": kind}) for a, (_, kind) in zip(answers, asked, strict=True)
    ]


async def _judge(
    inp: QueryInput,
    school: SchoolSnapshot,
    decision: RouteDecision,
    calls: list[MemberAnswer],
    steps: QuerySteps,
    checks: dict[str, Check],
) -> tuple[list[Verdict], MemberAnswer | None]:
    """Verdicts for the answers, and the judge's own call when an LLM judge was asked."""
    judge_id = decision.judge_id or school.supervisor
    programmatic = programmatic_verdicts(calls, inp.reference, school.judge.mode, judge_id,
                                         inp.shape, checks)  # fmt: skip
    if inp.reference is not None or (programmatic is not None and decision.judge):
        return programmatic or [], None
    if not decision.judge or not judge_needed(inp.shape, calls):
        return [], None
    sup = school.member(judge_id)
    judged = await steps.judge(
        JudgeRequest(
            query_id=inp.query_id, question=inp.text, supervisor_id=sup.id,
            supervisor_model=sup.model, answers=[
                c.model_copy(update={"text": shown_to_judge(c.text, c.tool_calls)})
                for c in calls if c.ok], judge=school.judge,
            timeout_s=sup.timeout_s,
        )
    )  # fmt: skip
    return judged.verdicts, judged.call


def _for_shape(inp: QueryInput, recall: RecallResult) -> RecallResult:
    """What a query of a shape routes on: its shaped domain (cluster plus the digest of its
    schema or tool set), neighbours of the same shape only, no worked examples and no peer
    panel for a structured query (both were learned on text answers)."""
    domain = shaped_domain(recall.domain, inp.shape)
    neighbours = [n for n in recall.neighbours if same_shape(n.domain, domain)]
    exact = recall.exact_match if recall.exact_match in neighbours else None
    update: dict[str, object] = {"neighbours": neighbours, "exact_match": exact}
    if inp.shape.structured:
        update |= {"domain": domain, "exemplars": [],
                   "school": recall.school.model_copy(update={"peers": {}})}  # fmt: skip
    return recall.model_copy(update=update)


def _record_request(inp: QueryInput, recall: RecallResult, result: QueryResult) -> RecordRequest:
    return RecordRequest(
        query=inp,
        embedding=recall.embedding,
        result=result,
        config_version=recall.school.config_version,
        domain=recall.domain,
    )
