"""Structured queries in the school: answers that do not fit their shape are scored 0 before
and without any judge, the served answer always fits, and trust is earned per shape."""

from __future__ import annotations

import json
import uuid
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tutelage.client import submit
from tutelage.models import QueryInput
from tutelage.models.roster import Role
from tutelage.models.structured import AnswerShape, FunctionChoice, ToolSpec
from tutelage.options import query_workflow_id
from tutelage.policy.structured import shaped_domain
from tutelage.workflows.query import QueryWorkflow

WEATHER = ToolSpec(name="get_weather", description="The weather in a city.", parameters={
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})  # fmt: skip
REQUIRED = AnswerShape(tools=[WEATHER], tool_choice="required")


def _call(args: dict[str, Any], name: str = "get_weather") -> list[dict[str, Any]]:
    return [{"id": "call_1", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}]  # fmt: skip


def _member(id_: str, role: str, **params: Any) -> dict[str, Any]:
    cheap = id_ != "sup"
    return {"id": id_, "model": f"openai/{id_}-model", "role": role,
            "input_price": 1e-7 if cheap else 1e-5, "output_price": 1e-7 if cheap else 3e-5,
            "params": params}  # fmt: skip


async def _ask(s: Any, shape: AnswerShape, text: str = "What is the weather in Paris?",
               **kw: Any) -> Any:  # fmt: skip
    q = QueryInput(text=text, query_id=uuid.uuid4().hex[:12], shape=shape, **kw)
    return await submit(s.client, s.config, q)


async def test_text_where_a_call_was_required_scores_zero_without_a_judge(school: Any) -> None:
    members = [_member("sup", "teacher", mock_tool_calls=_call({"city": "Paris"})),
               _member("stu", "student", mock_response="It is sunny in Paris."),
               _member("bad", "student", mock_tool_calls=_call({"town": 3}))]  # fmt: skip
    async with school(members=members, judge={"mode": "llm"}) as s:
        r = await _ask(s, REQUIRED)
        calls = s.services.ledger.rows("SELECT member_id, kind FROM calls ORDER BY 1")
        history = await s.client.get_workflow_handle(query_workflow_id(
            "default", r.query_id, s.config.temporal.task_queue)).fetch_history()  # fmt: skip
    assert r.status == "ok" and r.winner == "sup"
    assert [(c.name, json.loads(c.arguments)) for c in r.tool_calls] == [("get_weather",
                                                                          {"city": "Paris"})]
    shape = {v.member_id: v for v in r.verdicts if v.judge == "shape"}
    assert set(shape) == {"stu", "bad"} and all(v.score == 0.0 for v in shape.values())
    assert "text where a tool call" in (shape["stu"].reasoning or "")
    assert "city" in (shape["bad"].reasoning or "")
    # One valid answer: the LLM judge was not asked to judge the misfits (no judge call at all).
    assert ("sup", "judge") not in calls
    await Replayer(workflows=[QueryWorkflow], data_converter=pydantic_data_converter
                   ).replay_workflow(history)  # fmt: skip


async def test_the_supervisor_is_asked_when_no_answer_fits_and_a_failure_names_why(
    school: Any,
) -> None:
    schema = AnswerShape(kind="json_schema", json_schema={
        "type": "object", "properties": {"temp": {"type": "number"}}, "required": ["temp"]})  # fmt: skip
    members = [_member("sup", "teacher", mock_response='```json\n{"temp": 18}\n```'),
               _member("stu", "ta", mock_response="about 18 degrees")]  # fmt: skip
    async with school(members=members, embedder={"low_threshold": 0.0, "high_threshold": 0.0}) as s:
        first = await _ask(s, schema, "How warm is Paris, as JSON?")
        second = await _ask(s, schema, "How warm is Paris today, as JSON?")
    assert first.status == "ok" and first.winner == "sup" and first.answer == '{"temp": 18}'
    assert second.status == "ok" and second.winner == "sup"
    broken = [_member("sup", "teacher", mock_response="eighteen"),
              _member("stu", "student", mock_response="{}")]  # fmt: skip
    async with school(members=broken) as s:
        failed = await _ask(s, schema, "How warm is Paris, as JSON?")
    assert failed.status == "failed"
    assert "no member's answer fits the requested shape" in (failed.error or "")
    assert "sup: " in (failed.error or "") and "stu: " in (failed.error or "")


async def test_a_student_that_agrees_on_a_schema_is_promoted_in_that_shape_only(
    school: Any,
) -> None:
    args = {"city": "Paris"}
    members = [_member("sup", "teacher", mock_tool_calls=_call(args)),
               _member("stu", "student", mock_tool_calls=_call(args))]  # fmt: skip
    forced = AnswerShape(tools=[WEATHER], tool_choice=FunctionChoice(name="get_weather"))
    overrides = dict(
        members=members, limits={"domains": ["weather"]},
        embedder={"low_threshold": 0.9999, "high_threshold": 0.99995},  # every query explores
        schedules={"promotion_every_queries": 8, "evolution_every_queries": 0,
                   "distillation_every_queries": 0},
        promotion={"student_to_ta": {"min_judged": 5, "min_score": 0.6, "min_win_rate": 0.5}},
    )  # fmt: skip
    async with school(**overrides) as s:
        for i in range(8):
            r = await _ask(s, forced, f"Weather check {i}: is it raining in Paris?",
                           domain="weather")  # fmt: skip
            assert r.status == "ok", r.error
            for wf in r.triggered:
                await s.client.get_workflow_handle(wf).result()
        stu = s.services.school.member("stu")
        plain = await submit(s.client, s.config, QueryInput(
            text="Is it raining in Paris?", query_id=uuid.uuid4().hex[:12], domain="weather"))  # fmt: skip
    shaped = shaped_domain("weather", forced)
    assert shaped and shaped.startswith("weather#")
    assert stu.role_in(shaped) == Role.TA  # earned on this tool set
    assert stu.role_in("weather") == Role.STUDENT  # not on plain questions, nor other shapes
    other_tools = AnswerShape(tools=[WEATHER, ToolSpec(name="get_time", parameters={
        "type": "object", "properties": {}})])  # fmt: skip
    assert stu.role_in(shaped_domain("weather", other_tools)) == Role.STUDENT
    # tool_choice is not part of the shape: the same tools under "required" are the same shape
    assert stu.role_in(shaped_domain("weather", REQUIRED)) == Role.TA
    assert plain.status == "ok"
