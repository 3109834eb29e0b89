"""Agents and structured outputs through a real `tutelage serve`: tools, tool calls and JSON
schemas with the `openai` SDK and the OpenAI Agents SDK. The members are real HTTP model
servers on loopback (a scripted one: tests/model_server.py), called through litellm's `openai/`
provider: the supervisor as a model litellm knows to take tools and schemas natively
(gpt-4o-mini), the TA as one it does not (they reach it in the prompt)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from ..model_server import ModelServer
from .conftest import Served, serve_school

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}  # fmt: skip
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def models() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def agents_school(temporal_env: Any, tmp_path_factory: pytest.TempPathFactory,
                  models: ModelServer) -> Iterator[Served]:  # fmt: skip
    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path_factory.mktemp("structured"),
                      sup_model="openai/gpt-4o-mini", sup_extra=models.member_lines("caller"),
                      stu_model="openai/stu-model", stu_extra=models.member_lines("caller")) as s:  # fmt: skip
        yield s


def _client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0, timeout=60)


def test_a_tool_loop_with_the_openai_sdk(agents_school: Served, models: ModelServer) -> None:
    client = _client(agents_school)
    start = len(models.requests)
    first = client.chat.completions.create(model="tutelage", messages=ASK, tools=[WEATHER_TOOL])  # type: ignore[arg-type]
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {
        "city": "Paris"}  # fmt: skip
    # A new kind of question: both members answered. The supervisor (native) got the tools as
    # tools; the TA (not native) in its prompt.
    asked = {r["model"]: r for r in models.requests[start:]}
    assert set(asked) == {"gpt-4o-mini", "stu-model"}, [r["model"] for r in models.requests]
    assert asked["gpt-4o-mini"]["tools"][0]["function"]["name"] == "get_weather"
    assert "tools" not in asked["stu-model"]
    assert "You can call these tools" in json.dumps(asked["stu-model"]["messages"])
    history = [*ASK, choice.message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}]
    before = len(models.requests)
    final = client.chat.completions.create(model="tutelage", messages=history,  # type: ignore[arg-type]
                                           tools=[WEATHER_TOOL])  # type: ignore[list-item]
    assert final.choices[0].finish_reason == "stop"
    assert "18C and sunny" in (final.choices[0].message.content or "")
    # The second turn: who answers is the school's choice (the TA alone, once it agreed with
    # the supervisor); each member asked got the tool loop's turns in its own form: the
    # supervisor as messages with its tools, the TA as text in its prompt.
    turn = models.requests[before:]
    assert turn, "no member was asked the second turn"
    answers = [r for r in turn if r["model"] == "stu-model" or "tools" in r]  # not judgements
    assert answers, [r["model"] for r in turn]
    for sent in answers:
        messages = json.dumps(sent["messages"])
        assert "18C and sunny" in messages
        if sent["model"] == "gpt-4o-mini":
            assert sent["tools"][0]["function"]["name"] == "get_weather"
            assert any(m.get("role") == "tool" for m in sent["messages"])
        else:
            assert "tools" not in sent and "You can call these tools" in messages


def test_structured_outputs_through_the_sdk_parse_helper(agents_school: Served) -> None:
    class Weather(BaseModel):
        city: str
        temperature_c: int

    parsed = _client(agents_school).chat.completions.parse(
        model="tutelage", messages=[{"role": "user", "content": "Weather in Paris as JSON?"}],
        response_format=Weather)  # fmt: skip
    weather = parsed.choices[0].message.parsed
    assert weather == Weather(city="Paris", temperature_c=18)


def test_tool_calls_stream_as_openai_deltas(agents_school: Served) -> None:
    stream = _client(agents_school).chat.completions.create(
        model="tutelage", stream=True, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Lyon, please?"}])  # fmt: skip
    names, args, finish = [], "", None
    for chunk in stream:
        for c in chunk.choices:
            for d in c.delta.tool_calls or []:
                names += [d.function.name] if d.function and d.function.name else []
                args += (d.function.arguments or "") if d.function else ""
            finish = c.finish_reason or finish
    assert names == ["get_weather"] and json.loads(args) == {"city": "Paris"}
    assert finish == "tool_calls"


async def test_the_agents_sdk_runs_a_two_step_task_on_the_gateway(agents_school: Served) -> None:
    from agents import (
        Agent,
        OpenAIChatCompletionsModel,
        Runner,
        function_tool,
        set_tracing_disabled,
    )

    set_tracing_disabled(True)
    looked_up: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        looked_up.append(city)
        return f"22C and clear in {city}"

    model = OpenAIChatCompletionsModel(model="tutelage", openai_client=openai.AsyncOpenAI(
        base_url=agents_school.base_url, api_key="unused", max_retries=0))  # fmt: skip
    agent = Agent(name="weather", instructions="Use the tool.", model=model, tools=[get_weather])
    result = await Runner.run(agent, "What is the weather in Paris?", max_turns=4)
    assert looked_up == ["Paris"]
    assert "22C and clear in Paris" in str(result.final_output)


BAD = [
    ("tool schema not a schema", {"tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"a": {"type": 7}}}}}]},
     "tools[0].function.parameters"),
    ("tool_choice not offered", {"tools": [WEATHER_TOOL], "tool_choice": {
        "type": "function", "function": {"name": "get_time"}}}, "tool_choice"),
    ("json_schema without a schema", {"response_format": {"type": "json_schema",
                                                          "json_schema": {"name": "x"}}},
     "response_format.json_schema.schema"),
    ("too many tools", {"tools": [{"type": "function", "function": {
        "name": f"f{i}", "parameters": {"type": "object"}}} for i in range(129)]}, "tools"),
    ("logprobs", {"logprobs": True}, "logprobs"),
    ("an unknown parameter", {"frobnicate": 1}, "frobnicate"),
    ("store false", {"store": False}, "store"),
    ("audio", {"modalities": ["text", "audio"]}, "modalities"),
]


@pytest.mark.parametrize("what,extra,param", BAD, ids=[b[0] for b in BAD])
def test_bad_structured_input_is_a_400_naming_the_param(agents_school: Served, what: str,
                                                        extra: dict[str, Any], param: str) -> None:  # fmt: skip
    r = httpx.post(f"{agents_school.base_url}/chat/completions", timeout=30,
                   json={"model": "tutelage", "messages": ASK, **extra})  # fmt: skip
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param, r.json()


def test_a_tool_message_with_no_call_before_it_is_a_400(agents_school: Served) -> None:
    r = httpx.post(f"{agents_school.base_url}/chat/completions", timeout=30, json={
        "model": "tutelage", "messages": [*ASK, {"role": "tool", "tool_call_id": "call_x",
                                                 "content": "18C"}]})  # fmt: skip
    assert r.status_code == 400 and "tool_call_id" in r.json()["error"]["param"], r.text


def test_passed_parameters_reach_the_members(agents_school: Served, models: ModelServer) -> None:
    _client(agents_school).chat.completions.create(
        model="tutelage", messages=[{"role": "user", "content": "Seeded: what is 6 x 7?"}],
        seed=7, presence_penalty=0.5, frequency_penalty=0.25, max_completion_tokens=20)  # fmt: skip
    sent = models.requests[-1]
    assert (sent["seed"], sent["presence_penalty"], sent["frequency_penalty"]) == (7, 0.5, 0.25)
