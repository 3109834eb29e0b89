"""Member lifecycles, schedules and the learning stream, on a real local Temporal server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tutelage.models import QueryInput, QueryResult, Role
from tutelage.models.lifecycle import (
    Action,
    MemberState,
    Transition,
    TransitionRequest,
)
from tutelage.options import member_workflow_id
from tutelage.providers._litellm import litellm
from tutelage.workers.schedules import schedule_id, sync_schedules
from tutelage.workflows.evolution import EvolutionWorkflow
from tutelage.workflows.member import MemberWorkflow
from tutelage.workflows.promotion import PromotionWorkflow

STUDENT = {"id": "stu", "model": "openai/stu-model", "role": "student", "input_price": 1e-7,
           "output_price": 1e-7, "params": {"mock_response": "42"}}  # fmt: skip


async def _move(s: Any, member: str, action: Action, domain: str = "*") -> Transition:
    handle = s.client.get_workflow_handle(member_workflow_id(member, s.config.temporal.task_queue))
    req = TransitionRequest(action=action, domain=domain, reason="test", by="test")
    return await handle.execute_update("transition", req, result_type=Transition)


async def test_transitions_go_through_validated_updates(school: Any) -> None:
    sup = {"id": "sup", "model": "openai/sup-model", "role": "teacher", "input_price": 1e-5,
           "output_price": 3e-5, "params": {"mock_response": "42"}}  # fmt: skip
    async with school(members=[sup, STUDENT]) as s:
        t1 = await _move(s, "stu", Action.PROMOTE, "math")
        t2 = await _move(s, "stu", Action.PROMOTE, "math")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await _move(s, "stu", Action.PROMOTE, "math")
        with pytest.raises(WorkflowUpdateFailedError) as sup_refused:
            await _move(s, "sup", Action.RETIRE)
        state = await s.client.get_workflow_handle(
            member_workflow_id("stu", s.config.temporal.task_queue)).query(
            "state", result_type=MemberState)  # fmt: skip
        school_now = s.services.school
        member_history = await s.client.get_workflow_handle(
            member_workflow_id("stu", s.config.temporal.task_queue)).fetch_history()  # fmt: skip
        rows = s.services.ledger.rows(
            "SELECT domain, from_role, to_role, by_whom FROM transitions ORDER BY seq"
        )
    assert (t1.from_role, t1.to_role, t2.to_role) == (Role.STUDENT, Role.TA, Role.TEACHER)
    assert "cannot be promoted further" in str(refused.value.cause)
    assert "supervisor" in str(sup_refused.value.cause)
    assert state.role_in("math") == Role.TEACHER and state.role_in("law") == Role.STUDENT
    # The read model the query path routes by follows every accepted move, and only those.
    assert school_now.member("stu").role_in("math") == Role.TEACHER
    assert rows == [("math", "student", "ta", "test"), ("math", "ta", "teacher", "test")]
    # Determinism: the member's history (updates, refused ones included) replays cleanly.
    await Replayer(workflows=[MemberWorkflow],
                   data_converter=pydantic_data_converter).replay_workflow(member_history)  # fmt: skip


async def test_schedules_are_created_idempotently_and_fire(school: Any) -> None:
    async with school(schedules={"promotion_interval_s": 1}) as s:
        first = await sync_schedules(s.client, s.config)
        again = await sync_schedules(s.client, s.config)
        handle = s.client.get_schedule_handle(
            schedule_id("promotion", s.config.temporal.task_queue)
        )
        fired = 0
        for _ in range(60):
            fired = (await handle.describe()).info.num_actions
            if fired:
                break
            await asyncio.sleep(0.25)
        for sid, _ in first:
            await s.client.get_schedule_handle(sid).delete()
    assert {what for _, what in first} == {"created"} and len(first) == 3
    assert {what for _, what in again} == {"updated"}
    assert fired >= 1


class _Scripted(litellm.CustomLLM):  # type: ignore[misc,name-defined]
    """A student that knows arithmetic and not history: '42' for math, '7' otherwise."""

    def _reply(self, messages: list[dict[str, Any]]) -> Any:
        question = str(messages[-1]["content"])
        text = "The answer is 42." if question.startswith("Arithmetic") else "The answer is 7."
        return litellm.ModelResponse(
            choices=[{"message": {"role": "assistant", "content": text}}],
            usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        )

    def completion(self, model: str, messages: list, *a: Any, **k: Any) -> Any:  # type: ignore[override]
        return self._reply(messages)

    async def acompletion(self, model: str, messages: list, *a: Any, **k: Any) -> Any:  # type: ignore[override]
        return self._reply(messages)


def _register_scripted() -> None:
    from litellm.utils import custom_llm_setup

    others = [p for p in litellm.custom_provider_map if p.get("provider") != "scripted"]
    litellm.custom_provider_map = [*others, {"provider": "scripted", "custom_handler": _Scripted()}]
    custom_llm_setup()


async def _ask(s: Any, text: str, domain: str, draw: str) -> QueryResult:
    from tutelage.client import submit

    # Fixed draw keys: the audit and shadow coin flips are the same on every run.
    q = QueryInput(text=text, domain=domain, query_id=uuid.uuid4().hex[:12], draw_key=draw)
    r = await submit(s.client, s.config, q)
    for wf_id in r.triggered:  # stream order: let the started cycles finish first
        await s.client.get_workflow_handle(wf_id).result()
    return r


async def test_stream_promotes_where_the_student_matches_and_spawns_where_it_fails(
    school: Any,
) -> None:
    _register_scripted()
    sup = {"id": "sup", "model": "openai/sup-model", "role": "teacher", "input_price": 1e-5,
           "output_price": 3e-5, "params": {"mock_response": "The answer is 42."}}  # fmt: skip
    stu = {"id": "stu", "model": "scripted/stu", "role": "student", "input_price": 1e-7,
           "output_price": 1e-7}  # fmt: skip
    cand = {"id": "cand", "model": "openai/cand", "input_price": 1e-7, "output_price": 1e-7,
            "params": {"mock_response": "The answer is 42."}}  # fmt: skip
    overrides = dict(
        members=[sup, stu], candidates=[cand],
        routing={"shadow_rate": 0.2, "ta_audit_rate": 0.1},
        limits={"domains": ["math", "history"]},
        schedules={"promotion_every_queries": 10, "evolution_every_queries": 40,
                   "distillation_every_queries": 0},
        promotion={"student_to_ta": {"min_judged": 5, "min_score": 0.6, "min_win_rate": 0.5}},
        evolution={"gap_min_queries": 10, "max_spawns_per_run": 1},
    )  # fmt: skip
    async with school(**overrides) as s:
        results = []
        for i in range(80):
            if i % 2 == 0:
                text, domain = f"Arithmetic: what is {i} plus {i + 3}?", "math"
            else:
                text, domain = f"History: which dynasty ruled China in year {1000 + i}?", "history"
            results.append(await _ask(s, text, domain, f"stream-{i}"))
        roles = s.services.school.member("stu")
        cycle_ids = [wf for r in results for wf in r.triggered]
        histories = [await s.client.get_workflow_handle(wf).fetch_history() for wf in cycle_ids]
        members = [m.id for m in s.services.school.members]
        spawned = s.services.school.member("cand-history") if "cand-history" in members else None

    def sup_share(rs: list[QueryResult], domain: str) -> float:
        mine = [r for r in rs if r.domain == domain]
        return sum(r.supervisor_called for r in mine) / len(mine)

    assert roles.role_in("math") == Role.TA
    assert roles.role_in("history") == Role.STUDENT
    # Once the student may answer math alone, the supervisor is called there far less
    # (only for audits and for judging shadow answers); in history it still answers everything.
    assert sup_share(results[:20], "math") == 1.0
    late_math = sup_share(results[60:], "math")
    assert late_math <= 0.5, late_math
    assert sup_share(results[60:], "history") == 1.0
    assert spawned is not None and spawned.role_in("history") == Role.PROBATION
    assert any(wf.startswith("promotion-") for wf in cycle_ids)
    assert any(wf.startswith("evolution-") for wf in cycle_ids)
    replayer = Replayer(workflows=[PromotionWorkflow, EvolutionWorkflow],
                        data_converter=pydantic_data_converter)  # fmt: skip
    for history in histories:
        await replayer.replay_workflow(history)


async def test_racing_and_repeated_promotions_move_a_member_once(school: Any) -> None:
    """Two promotions validated together (the second is illegal once the first has run) fail
    the second Update, not the workflow; the same Update id sent twice moves once."""
    ta = {**STUDENT, "role": "ta"}
    async with school(members=[ta, {**STUDENT, "id": "sup", "role": "teacher"}],
                      supervisor="sup") as s:  # fmt: skip
        handle = s.client.get_workflow_handle(member_workflow_id("stu", s.config.temporal.task_queue))
        req = TransitionRequest(action=Action.PROMOTE, domain="*", reason="test", by="test")
        results = await asyncio.gather(
            handle.execute_update("transition", req, result_type=Transition, id="a"),
            handle.execute_update("transition", req, result_type=Transition, id="b"),
            return_exceptions=True,
        )  # fmt: skip
        moved = [r for r in results if isinstance(r, Transition)]
        refused = [r for r in results if isinstance(r, WorkflowUpdateFailedError)]
        assert len(moved) == 1 and len(refused) == 1, results
        assert "cannot be promoted further" in str(refused[0].cause)
        again = await handle.execute_update("transition", req, result_type=Transition,
                                            id="a" if moved[0] is results[0] else "b")  # fmt: skip
        assert again == moved[0]  # the same Update id: its first result, no second move
        state = await handle.query("state", result_type=MemberState)
        history = await handle.fetch_history()
    assert state.role_in("*") == Role.TEACHER
    failed_tasks = [e for e in history.events if e.HasField("workflow_task_failed_event_attributes")]
    assert failed_tasks == []
    await Replayer(workflows=[MemberWorkflow],
                   data_converter=pydantic_data_converter).replay_workflow(history)  # fmt: skip
