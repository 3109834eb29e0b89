"""What a member is sent for a structured request, as plain data."""

from __future__ import annotations

from tutelage.models import MemberAnswer
from tutelage.models.structured import AnswerShape, ToolCall, ToolSpec
from tutelage.policy.member_prompt import plain_tool_turns, shaped_call
from tutelage.policy.scoring import answer_checks, fits, judge_needed, shape_verdicts
from tutelage.policy.structured import check_answer, same_shape, served_text, shaped_domain

TOOL = ToolSpec(name="get_weather", parameters={"type": "object", "properties": {
    "city": {"type": "string"}}, "required": ["city"]})  # fmt: skip
SHAPE = AnswerShape(tools=[TOOL], kind="json_object")
LOOP = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "18C"}]  # fmt: skip


def test_a_native_member_gets_the_shape_as_parameters_and_the_loop_as_it_is() -> None:
    messages, params = shaped_call(SHAPE, LOOP, native_json=True, native_tools=True)
    assert messages == LOOP
    assert params["tools"][0]["function"]["name"] == "get_weather"
    assert params["response_format"] == {"type": "json_object"} and params["tool_choice"] == "auto"


def test_another_member_gets_an_instruction_after_the_system_turns_and_the_loop_as_text() -> None:
    messages, params = shaped_call(SHAPE, LOOP, native_json=False, native_tools=False)
    assert params == {}
    assert messages[0] == LOOP[0] and messages[1]["role"] == "system"
    assert "You can call these tools" in messages[1]["content"]
    assert "single JSON object" in messages[1]["content"]
    assert messages[3] == {"role": "assistant", "content":
                           '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}'}
    assert messages[4] == {"role": "user", "content":
                           "Result of the tool call c1 (get_weather): 18C"}
    mixed, params = shaped_call(SHAPE, LOOP, native_json=True, native_tools=False)
    assert set(params) == {"response_format"} and "single JSON object" not in mixed[1]["content"]
    assert shaped_call(AnswerShape(), LOOP, False, False) == (LOOP, {})
    assert plain_tool_turns(LOOP[:2]) == LOOP[:2]


def test_misfits_are_scored_zero_and_a_lone_fit_needs_no_judge() -> None:
    shape = AnswerShape(tools=[TOOL], tool_choice="required")
    answers = [MemberAnswer(member_id="a", text="", tool_calls=[ToolCall(
                   id="1", name="get_weather", arguments='{"city": "Paris"}')]),
               MemberAnswer(member_id="b", text="sunny"),
               MemberAnswer(member_id="c", error="down")]  # fmt: skip
    checks = answer_checks(shape, answers)
    assert set(checks) == {"a", "b"} and fits(checks, "a") and not fits(checks, "b")
    assert fits(checks, "c")  # unchecked (it failed): nothing to hold against its shape
    assert [(v.member_id, v.score, v.judge) for v in shape_verdicts(checks)] == [("b", 0.0, "shape")]
    assert not judge_needed(shape, answers[:1]) and judge_needed(shape, answers[:1] * 2)
    assert judge_needed(AnswerShape(), answers[:1])  # a text query keeps its judge
    assert answer_checks(AnswerShape(), answers) == {}


def test_a_shape_is_a_domain_of_its_own_and_a_fenced_json_is_served_bare() -> None:
    shaped = shaped_domain("cluster-3", SHAPE)
    assert shaped is not None and shaped.startswith("cluster-3#")
    assert shaped_domain("cluster-3", AnswerShape()) == "cluster-3"
    assert same_shape(shaped, shaped) and not same_shape("cluster-3", shaped)
    assert same_shape("cluster-3", "cluster-1") and not same_shape(shaped, "cluster-3")
    schema = AnswerShape(kind="json_object")
    check = check_answer(schema, '```json\n{"a": 1}\n```')
    assert served_text(check, '```json\n{"a": 1}\n```') == '{"a": 1}'
