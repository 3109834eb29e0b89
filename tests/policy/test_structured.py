"""Structured answers as pure decisions: bad input, checking answers, agreement, verdicts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tutelage.models.structured import (
    AnswerShape,
    Check,
    FunctionChoice,
    ToolCall,
    ToolSpec,
    shape_digest,
)
from tutelage.policy.structured import (
    MAX_TOOLS,
    calls_from_text,
    canonical_json,
    check_answer,
    history_problem,
    native_params,
    programmatic_verdict,
    prompt_instruction,
    read_shape,
    same_answer,
    schema_problem,
    shape_problem,
    with_ids,
)

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"],
    "additionalProperties": False,
}
TIME = {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def _tools(**extra: Any) -> AnswerShape:
    tools = [
        ToolSpec(name="get_weather", parameters=WEATHER),
        ToolSpec(name="get_time", parameters=TIME),
    ]
    return AnswerShape(tools=tools, **extra)


def _schema(schema: dict[str, Any] | None = PERSON) -> AnswerShape:
    return AnswerShape(kind="json_schema", json_schema=schema, schema_name="person")


def _call(name: str, arguments: str, id: str = "c1") -> ToolCall:
    return ToolCall(id=id, name=name, arguments=arguments)


# --- the models -------------------------------------------------------------------------------


def test_an_old_history_deserializes_as_a_text_shape() -> None:
    shape = AnswerShape.model_validate({})
    assert shape.kind == "text" and not shape.structured and shape.tools == []
    assert ToolCall.model_validate({}).arguments == ""
    assert Check.model_validate({}).valid
    assert AnswerShape.model_validate_json(_tools(tool_choice=FunctionChoice(name="get_time")).model_dump_json()).forced_function == "get_time"  # fmt: skip


def test_digest_is_stable_and_per_tool_set_and_schema() -> None:
    assert shape_digest(AnswerShape()) == ""
    a = _tools()
    reordered = AnswerShape(tools=list(reversed(a.tools)), tool_choice="required")
    described = AnswerShape(tools=[t.model_copy(update={"description": "x"}) for t in a.tools])
    assert shape_digest(a) == shape_digest(reordered) == shape_digest(described)
    assert len(shape_digest(a)) == 12
    fewer = AnswerShape(tools=a.tools[:1])
    assert shape_digest(fewer) != shape_digest(a)
    # Key order inside a schema does not matter; the schema does.
    flipped = dict(reversed(list(PERSON.items())))
    assert shape_digest(_schema(flipped)) == shape_digest(_schema())
    assert shape_digest(_schema(WEATHER)) != shape_digest(_schema())
    assert shape_digest(AnswerShape(kind="json_object")) not in ("", shape_digest(_schema()))
    # Duplicate names (bad input) still get a digest rather than an error.
    dup = AnswerShape(
        tools=[ToolSpec(name="f", parameters=TIME), ToolSpec(name="f", parameters=WEATHER)]
    )
    assert shape_digest(dup)


def test_a_tool_call_goes_back_in_openai_form() -> None:
    assert _call("get_time", '{"zone":"UTC"}').to_openai() == {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_time", "arguments": '{"zone":"UTC"}'},
    }


# --- reading a request ------------------------------------------------------------------------


def test_read_shape_from_openai_fields() -> None:
    shape = read_shape(
        response_format={"type": "json_schema",
                         "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
        tools=[{"type": "function", "function": {"name": "get_time", "parameters": TIME}}],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
        parallel_tool_calls=False,
    )  # fmt: skip
    assert isinstance(shape, AnswerShape)
    assert (shape.kind, shape.json_schema, shape.strict, shape.schema_name) == (
        "json_schema",
        PERSON,
        True,
        "person",
    )
    assert shape.tools == [ToolSpec(name="get_time", parameters=TIME)]
    assert shape.forced_function == "get_time" and not shape.parallel_tool_calls
    assert read_shape() == AnswerShape()
    assert read_shape({"type": "json_object"}, tool_choice="required") == AnswerShape(kind="json_object", tool_choice="required")  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        ({"response_format": {"type": "json_schema", "json_schema": {"schema": "x"}}},
         "response_format.json_schema.schema"),
        ({"tools": ["get_time"]}, "tools[0]"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"tools": [{"type": "function", "function": {"description": "x"}}]}, "tools[0].function.name"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
         "tools[0].function.parameters"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {}}}, "tool_choice"),
    ],
)  # fmt: skip
def test_read_shape_names_a_malformed_field(fields: dict[str, Any], param: str) -> None:
    problem = read_shape(**fields)
    assert isinstance(problem, tuple) and problem[0] == param


def test_a_json_schema_without_a_schema_reads_then_is_refused() -> None:
    shape = read_shape({"type": "json_schema", "json_schema": {"name": "p"}})
    assert isinstance(shape, AnswerShape)
    assert shape_problem(shape) == (
        "response_format.json_schema.schema",
        "json_schema needs a schema",
    )


# --- bad input --------------------------------------------------------------------------------


def test_good_shapes_have_no_problem() -> None:
    assert shape_problem(AnswerShape()) is None
    assert shape_problem(AnswerShape(kind="json_object")) is None
    assert shape_problem(_schema()) is None
    assert shape_problem(_tools(tool_choice=FunctionChoice(name="get_weather"))) is None
    assert shape_problem(AnswerShape(tools=[ToolSpec(name="ping")])) is None  # no parameters
    assert (
        shape_problem(AnswerShape(tools=[ToolSpec(name=f"t{i}") for i in range(MAX_TOOLS)])) is None
    )
    refs = {"type": "object", "properties": {"p": {"$ref": "#/$defs/P"}}, "$defs": {"P": PERSON}}
    assert shape_problem(_schema(refs)) is None


@pytest.mark.parametrize(
    ("shape", "param", "words"),
    [
        (_schema(None), "response_format.json_schema.schema", "needs a schema"),
        (_schema({"type": "objekt"}), "response_format.json_schema.schema", "not a valid JSON schema"),
        (_schema({"type": "string", "pattern": "("}), "response_format.json_schema.schema", "regex"),
        (_schema({"$ref": "#/$defs/missing"}), "response_format.json_schema.schema", "does not resolve"),
        (_schema({"$ref": "https://example.com/s.json"}), "response_format.json_schema.schema", "does not resolve"),
        (AnswerShape(kind="json_schema", json_schema=PERSON, schema_name="a person"),
         "response_format.json_schema.name", "does not match"),
        (AnswerShape(tools=[ToolSpec(name=f"t{i}") for i in range(MAX_TOOLS + 1)]), "tools", "at most 128"),
        (AnswerShape(tools=[ToolSpec(name="get weather")]), "tools[0].function.name", "does not match"),
        (AnswerShape(tools=[ToolSpec(name="x" * 65)]), "tools[0].function.name", "does not match"),
        (AnswerShape(tools=[ToolSpec(name="")]), "tools[0].function.name", "does not match"),
        (AnswerShape(tools=[ToolSpec(name="f"), ToolSpec(name="f")]), "tools[1].function.name", "offered twice"),
        (AnswerShape(tools=[ToolSpec(name="f", parameters={"type": "object", "properties": 3})]),
         "tools[0].function.parameters", "not a valid JSON schema"),
        (AnswerShape(tools=[ToolSpec(name="f", parameters={"type": "string"})]),
         "tools[0].function.parameters", "type object"),
        (_tools(tool_choice=FunctionChoice(name="get_stock")), "tool_choice", "'get_stock', which is not offered"),
        (AnswerShape(tool_choice=FunctionChoice(name="f")), "tool_choice", "not offered"),
        (AnswerShape(tool_choice="required"), "tool_choice", "needs tools"),
    ],
)  # fmt: skip
def test_bad_shapes_name_their_param(shape: AnswerShape, param: str, words: str) -> None:
    problem = shape_problem(shape)
    assert problem is not None
    assert problem[0] == param and words in problem[1], problem


def test_schema_problem_reads_the_draft_from_dollar_schema() -> None:
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "definitions": {"a": {"type": "string"}}, "properties": {"a": {"$ref": "#/definitions/a"}}}  # fmt: skip
    assert schema_problem(draft7) is None
    assert schema_problem({"type": "object", "required": "name"}) is not None


def test_history_with_answered_calls_is_fine() -> None:
    calls = [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
             {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]  # fmt: skip
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "b", "content": "2"},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "assistant", "content": "so"},
        {"role": "user", "content": "and?"},
    ]
    assert history_problem(messages) is None
    assert history_problem([{"role": "user", "content": "q"}]) is None


def test_a_tool_message_without_its_call_is_refused() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "tool", "tool_call_id": "call_9", "content": "42"},
    ]
    problem = history_problem(messages)
    assert (
        problem is not None and problem[0] == "messages[1].tool_call_id" and "call_9" in problem[1]
    )
    # A call made later does not count, nor does one with another id.
    later = [*messages, {"role": "assistant", "tool_calls": [{"id": "call_9"}]}]
    assert history_problem(later) == problem
    other = [
        {"role": "assistant", "tool_calls": [{"id": "x"}]},
        {"role": "tool", "tool_call_id": "y"},
    ]
    assert (history_problem(other) or ("", ""))[0] == "messages[1].tool_call_id"
    missing = [{"role": "assistant", "tool_calls": [{"id": "x"}]}, {"role": "tool", "content": "1"}]
    assert history_problem(missing) == ("messages[1].tool_call_id",
                                        "a tool message needs the tool_call_id of the call it answers")  # fmt: skip


def test_an_unanswered_tool_call_is_refused() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [{"id": "a"}, {"id": "b"}]},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "user", "content": "next"},
    ]
    problem = history_problem(messages)
    assert problem is not None and problem[0] == "messages[1].tool_calls" and "b" in problem[1]
    assert history_problem(messages[:2]) is not None  # ends on the call itself
    no_id = [{"role": "assistant", "tool_calls": [{"type": "function"}]}]
    assert history_problem(no_id) == ("messages[0].tool_calls[0].id", "a tool call needs an id")


# --- checking answers -------------------------------------------------------------------------


def test_text_shape_takes_any_text() -> None:
    check = check_answer(AnswerShape(), "Paris")
    assert check.valid and check.kind == "text" and check.parsed == "Paris"
    assert not check_answer(AnswerShape(), None).valid
    assert check_answer(AnswerShape(), "  ").kind == "none"


def test_json_object() -> None:
    shape = AnswerShape(kind="json_object")
    check = check_answer(shape, ' {"a": [1, 2]} ')
    assert check.valid and check.kind == "json" and check.parsed == {"a": [1, 2]}
    not_json = check_answer(shape, 'Sure! {"a": 1}')
    assert not not_json.valid and "not JSON" in not_json.reason
    array = check_answer(shape, "[1, 2]")
    assert not array.valid and "an array" in array.reason
    assert not check_answer(shape, '{"a": NaN}').valid


def test_json_schema() -> None:
    ok = check_answer(_schema(), '{"age": 36, "name": "Ada"}')
    assert ok.valid and ok.parsed == {"name": "Ada", "age": 36} and "schema" in ok.reason
    missing = check_answer(_schema(), '{"name": "Ada"}')
    assert not missing.valid and "'age' is a required property" in missing.reason
    wrong_type = check_answer(_schema(), '{"name": "Ada", "age": "36"}')
    assert not wrong_type.valid and "$.age" in wrong_type.reason
    assert programmatic_verdict(missing) == 0.0 and programmatic_verdict(ok) is None


def test_a_fenced_json_answer_is_stripped_and_said() -> None:
    for text in (
        '```json\n{"name": "Ada", "age": 36}\n```',
        '```\n{"name": "Ada", "age": 36}\n```\n',
        '```json {"name": "Ada", "age": 36}```',
    ):
        check = check_answer(_schema(), text)
        assert check.valid and check.parsed == {"name": "Ada", "age": 36}
        assert "fence was stripped" in check.reason
    assert "fence" not in check_answer(_schema(), '{"name": "Ada", "age": 36}').reason
    # A fence around something that is not JSON, or prose around the fence, is still not JSON.
    assert not check_answer(_schema(), "```json\nAda, 36\n```").valid
    assert not check_answer(_schema(), 'Here:\n```json\n{"name": "Ada", "age": 36}\n```').valid


def test_valid_tool_calls() -> None:
    calls = [
        _call("get_weather", '{"city": "Paris", "days": 2}'),
        _call("get_time", '{"zone": "CET"}', "c2"),
    ]
    check = check_answer(_tools(), None, calls)
    assert check.valid and check.kind == "tool_calls"
    assert check.parsed == [{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}},
                            {"name": "get_time", "arguments": {"zone": "CET"}}]  # fmt: skip
    assert programmatic_verdict(check) is None
    # Empty arguments of a function without parameters read as {}.
    ping = AnswerShape(tools=[ToolSpec(name="ping")])
    assert check_answer(ping, None, [_call("ping", "")]).parsed == [
        {"name": "ping", "arguments": {}}
    ]


@pytest.mark.parametrize(
    ("shape", "calls", "words"),
    [
        (_tools(), [_call("get_stock", '{"s": "X"}')], "'get_stock', which was not offered"),
        (_tools(), [_call("get_weather", "{city: Paris}")], "are not JSON"),
        (_tools(), [_call("get_weather", '["Paris"]')], "an array, not an object"),
        (_tools(), [_call("get_weather", '{"days": 2}')], "'city' is a required property"),
        (_tools(), [_call("get_weather", '{"city": "Paris", "days": 0}')], "minimum"),
        (_tools(), [_call("get_weather", '{"city": "Paris", "when": "now"}')], "Additional properties"),
        (_tools(tool_choice="none"), [_call("get_time", '{"zone": "CET"}')], "\"none\""),
        (AnswerShape(), [_call("get_time", '{"zone": "CET"}')], "no tools were offered"),
        (_tools(parallel_tool_calls=False),
         [_call("get_time", '{"zone": "CET"}'), _call("get_time", '{"zone": "UTC"}', "c2")],
         "parallel_tool_calls is false"),
        (_tools(tool_choice=FunctionChoice(name="get_weather")), [_call("get_time", '{"zone": "CET"}')],
         "asked for 'get_weather'"),
    ],
)  # fmt: skip
def test_bad_tool_calls_score_zero(shape: AnswerShape, calls: list[ToolCall], words: str) -> None:
    check = check_answer(shape, None, calls)
    assert not check.valid and words in check.reason, check.reason
    assert check.kind == "tool_calls" and programmatic_verdict(check) == 0.0


def test_text_where_a_call_was_required() -> None:
    for choice in ("required", FunctionChoice(name="get_time")):
        check = check_answer(_tools(tool_choice=choice), "It is noon.")
        assert not check.valid and "was required" in check.reason
        assert programmatic_verdict(check) == 0.0
    assert check_answer(_tools(), "It is noon.").valid  # auto: text is fine
    assert check_answer(_tools(tool_choice="none"), "It is noon.").valid


def test_tools_with_a_json_answer() -> None:
    shape = _tools(kind="json_schema", json_schema=PERSON)
    assert check_answer(shape, None, [_call("get_time", '{"zone": "CET"}')]).valid
    assert check_answer(shape, '{"name": "Ada", "age": 36}').valid
    assert not check_answer(shape, "Ada, 36").valid


# --- agreement --------------------------------------------------------------------------------


def test_json_answers_agree_by_value() -> None:
    shape = _schema({"type": "object"})
    a = check_answer(shape, '{"name": "Ada", "age": 36, "tags": [1, 2.5]}')
    b = check_answer(shape, '{\n  "tags": [1.0, 2.5],\n  "age": 36.0,\n  "name": "Ada"\n}')
    assert same_answer(shape, a, b) is True
    c = check_answer(shape, '{"name": "Ada", "age": 36, "tags": [2.5, 1]}')  # arrays keep order
    assert same_answer(shape, a, c) is False
    assert (
        same_answer(shape, check_answer(shape, '{"x": true}'), check_answer(shape, '{"x": 1}'))
        is False
    )
    fenced = check_answer(shape, '```json\n{"age": 36, "tags": [1, 2.5], "name": "Ada"}\n```')
    assert same_answer(shape, a, fenced) is True


def test_invalid_answers_agree_with_nothing() -> None:
    bad = check_answer(_schema(), '{"name": "Ada"}')
    assert same_answer(_schema(), bad, bad) is False


def test_parallel_calls_agree_in_any_order() -> None:
    shape = _tools()
    a = check_answer(shape, None, [_call("get_weather", '{"city": "Paris", "days": 2}'),
                                   _call("get_time", '{"zone": "CET"}', "c2")])  # fmt: skip
    b = check_answer(shape, None, [_call("get_time", '{ "zone" : "CET" }', "x"),
                                   _call("get_weather", '{"days": 2.0, "city": "Paris"}', "y")])  # fmt: skip
    assert same_answer(shape, a, b) is True
    other_args = check_answer(shape, None, [_call("get_weather", '{"city": "Rome", "days": 2}'),
                                            _call("get_time", '{"zone": "CET"}')])  # fmt: skip
    assert same_answer(shape, a, other_args) is False
    # A multiset: one call twice is not the same as the call once.
    once = check_answer(shape, None, [_call("get_time", '{"zone": "CET"}')])
    twice = check_answer(shape, None, [_call("get_time", '{"zone": "CET"}'), _call("get_time", '{"zone": "CET"}', "c2")])  # fmt: skip
    assert same_answer(shape, once, twice) is False


def test_text_against_calls_and_text_against_text() -> None:
    shape = _tools()
    call = check_answer(shape, None, [_call("get_time", '{"zone": "CET"}')])
    text = check_answer(shape, "It is noon.")
    assert same_answer(shape, call, text) is False
    assert same_answer(shape, text, text) is None  # prose: the text agreement rule decides
    assert (
        same_answer(
            AnswerShape(), check_answer(AnswerShape(), "a"), check_answer(AnswerShape(), "a")
        )
        is None
    )


def test_canonical_json() -> None:
    assert canonical_json({"b": 1.0, "a": [True, None, 0.5]}) == '{"a":[true,null,0.5],"b":1}'
    assert canonical_json(-0.0) == canonical_json(0)


# --- what members are sent --------------------------------------------------------------------


def test_prompt_instruction() -> None:
    assert prompt_instruction(AnswerShape()) is None
    assert prompt_instruction(_tools(tool_choice="none")) is None
    assert "single JSON object" in (prompt_instruction(AnswerShape(kind="json_object")) or "")
    schema_text = prompt_instruction(_schema()) or ""
    assert schema_text.startswith("Answer with a single JSON value that matches this JSON schema")
    assert json.dumps(PERSON, indent=2) in schema_text
    tools_text = prompt_instruction(_tools(tool_choice="required", parallel_tool_calls=False)) or ""
    assert (
        "get_weather" in tools_text
        and "You must call" in tools_text
        and "at most one" in tools_text
    )
    assert '"tool_calls"' in tools_text
    assert "'get_time'" in (
        prompt_instruction(_tools(tool_choice=FunctionChoice(name="get_time"))) or ""
    )
    both = _tools(kind="json_schema", json_schema=PERSON)
    assert prompt_instruction(both, tools=False) == schema_text
    assert prompt_instruction(both, answer=False) == prompt_instruction(_tools())
    assert (prompt_instruction(both) or "").endswith("answer with the tool_calls object only.")


def test_calls_from_text_reads_the_instructed_form() -> None:
    text = '```json\n{"tool_calls": [{"name": "get_time", "arguments": {"zone": "CET"}}]}\n```'
    calls = calls_from_text(text, "q1")
    assert calls == [ToolCall(id="q1_0", name="get_time", arguments='{"zone": "CET"}')]
    assert check_answer(_tools(), None, calls).valid
    raw = calls_from_text('{"tool_calls": [{"name": "f", "arguments": "{}"}]}')
    assert raw is not None and raw[0].arguments == "{}"
    for prose in (None, "", "It is noon.", '{"name": "Ada"}', '{"tool_calls": []}',
                  '{"tool_calls": [{"arguments": {}}]}', '{"tool_calls": [], "x": 1}'):  # fmt: skip
        assert calls_from_text(prose) is None


def test_native_params_round_trip_through_read_shape() -> None:
    shape = _tools(kind="json_schema", json_schema=PERSON, schema_name="person", strict=True,
                   tool_choice=FunctionChoice(name="get_time"), parallel_tool_calls=False)  # fmt: skip
    params = native_params(shape)
    assert params["response_format"]["json_schema"] == {
        "name": "person",
        "schema": PERSON,
        "strict": True,
    }
    assert params["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    assert params["parallel_tool_calls"] is False
    assert read_shape(**params) == shape
    assert native_params(AnswerShape()) == {}
    assert native_params(AnswerShape(tools=[ToolSpec(name="ping")]))["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}  # fmt: skip


def test_with_ids_fills_only_missing_ids() -> None:
    calls = [ToolCall(name="f", arguments="{}"), ToolCall(id="keep", name="g", arguments="{}")]
    assert [c.id for c in with_ids(calls, "q7")] == ["q7_0", "keep"]
