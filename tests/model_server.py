"""A scripted OpenAI-compatible model server on a loopback port, for members that must act
like an agent's model over real HTTP (litellm's `openai/` provider with `api_base`).

Each path is a behaviour (`api_base` = `.../<behaviour>/v1`), whatever the model name (a name
litellm knows, such as gpt-4o-mini, gets tools and schemas natively; another gets them in the
prompt, which this server reads as a model would):
- `caller`: with tools offered and no tool result after the question, calls one (the forced
  one, else the first) with arguments built from its parameter schema; after a tool result,
  answers in text, quoting it. Without tools: the JSON the schema asks for, or text.
- `texter`: always text.
- `breaker`: calls the first tool with arguments that break its schema (an empty object), or
  answers JSON that breaks the schema.
- `streamer`: a 40-word answer ending "The answer is 42", streamed a word every 50 ms when the
  request streams; `dier`: the same, but the connection drops after 10 words.
Every request it received is kept (`requests`), so tests can read what members were sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from tutelage.workers.devserver import free_port


def _value(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _value(v) for k, v in props.items() if k in (schema.get("required") or props)}
    if kind == "array":
        return [_value(schema.get("items") or {"type": "string"})]
    return {"integer": 18, "number": 18.5, "boolean": True}.get(str(kind), "Paris")


_DECODER = json.JSONDecoder()
STORY = " ".join(f"w{i}" for i in range(36)) + " The answer is 42"
WORD_S = 0.05


def _after(text: str, marker: str) -> Any:
    """The JSON value that follows `marker` in a prompt instruction, if any."""
    at = text.find(marker)
    if at < 0:
        return None
    return _DECODER.raw_decode(text[at + len(marker):].lstrip())[0]


def _instructed(body: dict[str, Any]) -> dict[str, Any]:
    """A request whose tools or schema came as an instruction in the prompt, read as the
    native fields (a text answer then carries what a native reply would)."""
    system = " ".join(str(m.get("content") or "") for m in body.get("messages") or []
                      if m.get("role") == "system")  # fmt: skip
    tools = _after(system, "You can call these tools:")
    schema = _after(system, "matches this JSON schema, and nothing else (no prose, no code fence):")
    out = dict(body)
    if tools and not body.get("tools"):
        out["tools"] = [{"type": "function", "function": t} for t in tools]
        out["_as_text"] = True
    if schema is not None and not body.get("response_format"):
        out["response_format"] = {"type": "json_schema", "json_schema": {"schema": schema}}
    return out


def _reply(model: str, body: dict[str, Any]) -> dict[str, Any]:
    body = _instructed(body)
    messages = body.get("messages") or []
    tools = body.get("tools") or []
    def result(m: dict[str, Any]) -> bool:  # a tool's result, native or as the prompt's text
        return m.get("role") == "tool" or (m.get("role") == "user" and str(
            m.get("content") or "").startswith("Result of the tool call"))  # fmt: skip

    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"
                     and not result(m)), default=-1)  # fmt: skip
    results = [m for m in messages[last_user + 1:] if result(m)]
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if model == "texter":
        message["content"] = "I think it is sunny."
    elif model in ("streamer", "dier"):
        message["content"] = STORY
    elif tools and not results and body.get("tool_choice") != "none":
        choice = body.get("tool_choice")
        forced = choice["function"]["name"] if isinstance(choice, dict) else None
        tool = next((t for t in tools if t["function"]["name"] == forced), tools[0])["function"]
        args = {} if model == "breaker" else _value(tool.get("parameters") or {})
        message["tool_calls"] = [{"id": f"call_{uuid.uuid4().hex[:8]}", "type": "function",
                                  "function": {"name": tool["name"],
                                               "arguments": json.dumps(args)}}]  # fmt: skip
    elif results:
        message["content"] = f"The tool said: {results[-1].get('content')}"
    elif schema is not None:
        message["content"] = json.dumps({} if model == "breaker" else _value(schema))
    elif fmt.get("type") == "json_object":
        message["content"] = json.dumps({"answer": 42})
    else:
        message["content"] = "42"
    if body.get("_as_text") and message.get("tool_calls"):  # the form the instruction asks for
        calls = [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                 for c in message.pop("tool_calls")]  # fmt: skip
        message["content"] = json.dumps({"tool_calls": calls})
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:8]}", "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}}  # fmt: skip


async def _sse(reply: dict[str, Any], dies: bool) -> AsyncIterator[str]:
    """The reply as OpenAI's stream: a word a chunk, WORD_S apart, then the usage."""
    base = {k: reply[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    words = (reply["choices"][0]["message"]["content"] or "").split(" ")
    for i, word in enumerate(words):
        if dies and i == 10:
            raise ConnectionAbortedError("the model server died mid-stream")
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": " " + word}
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        yield f"data: {json.dumps(chunk)}\n\n"
        await asyncio.sleep(WORD_S)
    end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield f"data: {json.dumps(end)}\n\n"
    yield f"data: {json.dumps({**base, 'choices': [], 'usage': reply['usage']})}\n\n"
    yield "data: [DONE]\n\n"


class ModelServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[dict[str, Any]] = []
        app = FastAPI()

        @app.post("/{behaviour}/v1/chat/completions", response_model=None)
        async def complete(behaviour: str, request: Request) -> Any:
            body = await request.json()
            self.requests.append({**body, "_behaviour": behaviour})
            reply = _reply(behaviour, body)
            if body.get("stream"):
                return StreamingResponse(_sse(reply, behaviour == "dier"),
                                         media_type="text/event-stream")  # fmt: skip
            return reply

        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                     log_level="warning"))  # fmt: skip
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def api_base(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}/v1"

    def member_lines(self, behaviour: str, timeout_s: float | None = None) -> str:
        """A member's TOML lines (after its prices) that send it to this server."""
        timeout = f"timeout_s = {timeout_s:g}\n" if timeout_s else ""
        return (f'api_base = "{self.api_base(behaviour)}"\n{timeout}'
                'params = { api_key = "sk-loopback" }')  # fmt: skip

    def __enter__(self) -> ModelServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline:
                raise AssertionError("the model server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
