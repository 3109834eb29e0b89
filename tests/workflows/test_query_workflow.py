"""QueryWorkflow on a real local Temporal server, members mocked with litellm's mock_response."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tutelage.client import submit
from tutelage.models import MemberAnswer, QueryInput, QueryResult, Route
from tutelage.options import query_workflow_id
from tutelage.policy.judging import label_answers
from tutelage.workflows import search_attributes as sa
from tutelage.workflows.query import QueryWorkflow


def _sup(mock: str, **extra: Any) -> dict[str, Any]:
    return {"id": "sup", "model": "openai/sup-model", "role": "teacher", "input_price": 1e-5,
            "output_price": 3e-5, "params": {"mock_response": mock}, **extra}  # fmt: skip


def _stu(mock: str, **extra: Any) -> dict[str, Any]:
    return {"id": "stu", "model": "openai/stu-model", "role": "ta", "input_price": 1e-7,
            "output_price": 1e-7, "params": {"mock_response": mock}, **extra}  # fmt: skip


async def ask(s: Any, text: str, **kw: Any) -> QueryResult:
    q = QueryInput(text=text, query_id=uuid.uuid4().hex[:12], **kw)
    return await submit(s.client, s.config, q)


async def test_novel_route_everyone_answers_and_is_judged(school: Any) -> None:
    async with school(members=[_sup("The answer is 42."), _stu("#### 41")]) as s:
        r = await ask(s, "What is six times seven?")
        rows = s.services.ledger.rows("SELECT member_id, kind FROM calls ORDER BY member_id")
    assert r.status == "ok"
    assert r.route == Route.NOVEL
    assert sorted(r.members_asked) == ["stu", "sup"]
    assert r.scores == {"sup": 1.0, "stu": 0.0}
    assert r.winner == "sup" and r.answer == "The answer is 42."
    assert r.supervisor_called
    assert r.cost_usd > 0 and r.supervisor_only_cost_usd > 0
    assert rows == [("stu", "answer"), ("sup", "answer")]


async def test_familiar_route_cheap_member_answers_alone(school: Any) -> None:
    async with school() as s:
        first = await ask(s, "What is six times seven?")
        second = await ask(s, "Compute six multiplied by seven.")
    assert first.route == Route.NOVEL and first.scores == {"sup": 1.0, "stu": 1.0}
    assert second.route == Route.FAMILIAR
    assert second.members_asked == ["stu"] and second.winner == "stu"
    assert not second.supervisor_called
    assert second.cost_usd < second.supervisor_only_cost_usd


async def test_hybrid_route_two_best_and_supervisor_judges(school: Any) -> None:
    overrides = {"embedder": {"low_threshold": 0.5, "high_threshold": 0.99999,
                              "cache_threshold": 0.99999}}  # fmt: skip
    async with school(**overrides) as s:
        await ask(s, "What is six times seven?")
        r = await ask(s, "Compute six multiplied by seven.")
    assert r.route == Route.HYBRID
    assert sorted(r.members_asked) == ["stu", "sup"]
    assert r.scores == {"sup": 1.0, "stu": 1.0}
    assert r.winner == "stu", "within the win margin the cheaper member wins"


async def test_one_member_failing_does_not_fail_the_query(school: Any) -> None:
    members = [_sup("42"), _stu("litellm.ContextWindowExceededError")]
    async with school(members=members) as s:
        r = await ask(s, "What is six times seven?")
        calls = s.services.ledger.rows(
            "SELECT member_id, error_kind FROM calls WHERE query_id = ? ORDER BY member_id",
            [r.query_id],
        )
    assert r.status == "ok" and r.winner == "sup"
    failed = [c for c in r.calls if c.error]
    assert [c.member_id for c in failed] == ["stu"]
    assert calls[0][0] == "stu" and calls[0][1] == "ContextWindowExceededError"
    assert calls[1] == ("sup", None)


async def test_all_failing_returns_a_recorded_failed_result(school: Any) -> None:
    members = [_sup("litellm.ContextWindowExceededError"),
               _stu("litellm.ContextWindowExceededError")]  # fmt: skip
    async with school(members=members) as s:
        r = await ask(s, "What is six times seven?")
        row = s.services.ledger.rows(
            "SELECT status, error FROM queries WHERE query_id = ?", [r.query_id]
        )
    assert r.status == "failed" and r.answer is None
    assert "every member asked failed" in (r.error or "")
    assert row == [("failed", r.error)]


async def test_supervisor_asked_when_chosen_members_fail(school: Any) -> None:
    # On a familiar query the cheap student is chosen alone (its prior beats the supervisor's
    # cost); when it fails, the supervisor answers instead.
    async with school(members=[_sup("42"), _stu("litellm.ContextWindowExceededError")]) as s:
        seed = await ask(s, "What is six times seven?")
        assert seed.route == Route.NOVEL
        r = await ask(s, "Compute six multiplied by seven.")
    assert r.status == "ok" and r.winner == "sup"
    assert "supervisor asked" in r.reason


def _judge_reply(scores: dict[str, float]) -> str:
    labels = label_answers("ignored", [MemberAnswer(member_id=m) for m in scores])
    entries = [
        {"label": label, "correctness": scores[m], "relevance": scores[m],
         "completeness": scores[m], "clarity": scores[m], "reasoning": "ok"}
        for label, m in labels.items()
    ]  # fmt: skip
    return json.dumps({"scores": entries})


async def test_llm_judge_scores_every_answer(school: Any) -> None:
    reply = _judge_reply({"sup": 0.9, "stu": 0.9})  # identical scores: order does not matter
    async with school(judge={"mode": "llm"}, members=[_sup(reply), _stu("42")]) as s:
        r = await ask(s, "What is six times seven?")
        judge_rows = s.services.ledger.rows(
            "SELECT count(*) FROM calls WHERE kind = 'judge' AND query_id = ?", [r.query_id]
        )
    assert r.scores == {"sup": pytest.approx(0.9), "stu": pytest.approx(0.9)}
    assert r.winner == "stu"
    assert judge_rows == [(1,)]
    assert all(v.judge == "supervisor:sup" and v.aspects is not None for v in r.verdicts)


async def test_malformed_judge_output_is_retried_then_unjudged(school: Any) -> None:
    async with school(judge={"mode": "llm"}, members=[_sup("no json here"), _stu("42")]) as s:
        r = await ask(s, "What is six times seven?")
    assert r.status == "ok"
    assert r.scores == {"sup": None, "stu": None}
    assert all(v.judge == "unjudged" for v in r.verdicts)
    judge_call = next(c for c in r.calls if c.kind == "judge")
    assert judge_call.tokens_in > 0, "both judge attempts are paid for and recorded"


async def test_reference_answer_is_judged_programmatically(school: Any) -> None:
    async with school(judge={"mode": "llm"},
                      members=[_sup("So the total is 42."), _stu("#### 41")]) as s:  # fmt: skip
        r = await ask(s, "What is six times seven?", reference="42")
    assert r.scores == {"sup": 1.0, "stu": 0.0}
    assert all(v.judge == "reference" for v in r.verdicts)
    assert not any(c.kind == "judge" for c in r.calls), "no LLM judge when a reference exists"


async def test_cache_hit_and_negation_guard(school: Any) -> None:
    overrides = {"embedder": {"low_threshold": 0.5, "high_threshold": 0.6,
                              "cache_threshold": 0.95}}  # fmt: skip
    async with school(**overrides) as s:
        first = await ask(s, "Is aspirin safe for children?")
        again = await ask(s, "is aspirin safe for children")
        negated = await ask(s, "Is aspirin not safe for children?")
    assert first.route == Route.NOVEL
    assert again.route == Route.CACHE and again.cache_hit and again.cost_usd == 0
    assert again.answer == first.answer
    assert negated.route != Route.CACHE, "a negated question must not reuse the answer"
    assert negated.nearest_similarity >= 0.95, "the guard, not the threshold, blocked it"


async def test_empty_and_unknown_tenant_give_failed_results(school: Any) -> None:
    async with school() as s:
        empty = await ask(s, "   ")
        stranger = await ask(s, "hello", tenant="nobody")
    assert empty.status == "failed" and empty.error == "the query is empty"
    assert stranger.status == "failed" and "unknown tenant 'nobody'" in (stranger.error or "")


async def test_search_attributes_and_replay(school: Any) -> None:
    async with school() as s:
        r = await ask(s, "What is six times seven?")
        handle = s.client.get_workflow_handle(query_workflow_id("default", r.query_id, s.config.temporal.task_queue))
        desc = await handle.describe()
        history = await handle.fetch_history()
    assert desc.typed_search_attributes.get(sa.ROUTE) == "novel"
    assert desc.typed_search_attributes.get(sa.WINNER) == r.winner
    assert desc.typed_search_attributes.get(sa.TENANT) == "default"
    # `submit` set the tenant at the start: the run upserts only its outcome, once.
    upserts = [e for e in history.events if e.HasField(
        "upsert_workflow_search_attributes_event_attributes")]  # fmt: skip
    assert len(upserts) == 1
    replayer = Replayer(workflows=[QueryWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


async def test_a_run_started_without_the_tenant_attribute_sets_it_itself(school: Any) -> None:
    """`submit` sets the tenant at the start; another starter (the temporal CLI) does not."""
    async with school() as s:
        q = QueryInput(text="What is six times seven?", query_id=uuid.uuid4().hex[:12])
        wf_id = query_workflow_id("default", q.query_id, s.config.temporal.task_queue)
        await s.client.execute_workflow(QueryWorkflow.run, q, id=wf_id,
                                        task_queue=s.config.temporal.task_queue)  # fmt: skip
        handle = s.client.get_workflow_handle(wf_id)
        desc = await handle.describe()
        history = await handle.fetch_history()
    assert desc.typed_search_attributes.get(sa.TENANT) == "default"
    assert desc.typed_search_attributes.get(sa.ROUTE) == "novel"
    replayer = Replayer(workflows=[QueryWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


async def test_a_query_for_a_budgeted_key_settles_it_once_in_the_shared_counters(
    school: Any, redis_url: str
) -> None:
    """With Redis counters the workflow settles its key's usage itself (a gateway that died
    mid-request loses no charge): once, however often it is settled; the ledger records the
    same charge."""
    from datetime import UTC, datetime

    from tutelage.models.keys import ApiKey
    from tutelage.options import school_scope
    from tutelage.store.counters import RedisCounters

    key = ApiKey(key_id=uuid.uuid4().hex[:12], tenant="default", sha256="0" * 64,
                 budget_day_usd=1.0)  # fmt: skip
    async with school(gateway={"counters": redis_url}) as s:
        tq = s.config.temporal.task_queue
        counters = RedisCounters(redis_url, school_scope(tq))
        admitted = await counters.admit(key, datetime.now(UTC), "q-held", 0.5, 60)
        r = await ask(s, "What is six times seven?", charge_key=key.key_id,
                      usage_settlement="settle")  # fmt: skip
        again = await counters.settle(key.key_id, r.query_id, r.cost_usd, 1, datetime.now(UTC))
        usage = await counters.usage(key.key_id)
        await counters.close()
        charged = s.services.ledger.rows("SELECT key_id, cost_usd, tokens FROM key_charges")
        wf_id = query_workflow_id("default", r.query_id, tq)
        history = await s.client.get_workflow_handle(wf_id).fetch_history()
    assert admitted.allowed and r.status == "ok" and r.cost_usd > 0 and not again
    assert usage is not None and usage.day_usd == pytest.approx(r.cost_usd)
    assert usage.minute_tokens == sum(c.tokens_in + c.tokens_out for c in r.calls) > 0
    assert set(usage.reserved) == {"q-held"}  # another request's hold is untouched
    assert charged == [(key.key_id, pytest.approx(r.cost_usd), usage.minute_tokens)]
    replayer = Replayer(workflows=[QueryWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


async def test_runs_from_before_the_shared_counters_still_signal_and_replay(school: Any) -> None:
    """A query input with no settlement mode (an old history's) signals the KeysWorkflow, as
    runs did before the usage counters: those histories keep replaying."""
    from tutelage.models.keys import ApiKey, KeysInput, KeyUsage
    from tutelage.options import keys_workflow_id

    key = ApiKey(key_id="abcdef012345", tenant="default", sha256="0" * 64, budget_day_usd=1.0)
    async with school() as s:
        tq = s.config.temporal.task_queue
        keys = await s.client.start_workflow("KeysWorkflow", KeysInput(keys={key.key_id: key}),
                                             id=keys_workflow_id(tq), task_queue=tq)  # fmt: skip
        r = await ask(s, "What is six times seven?", charge_key=key.key_id)
        usage = await keys.query("usage", result_type=dict[str, KeyUsage])
        wf_id = query_workflow_id("default", r.query_id, tq)
        history = await s.client.get_workflow_handle(wf_id).fetch_history()
        await keys.terminate()
    assert r.status == "ok" and usage[key.key_id].day_usd == pytest.approx(r.cost_usd)
    replayer = Replayer(workflows=[QueryWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
