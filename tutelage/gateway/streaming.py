"""A streamed chat completion as OpenAI's `chat.completion.chunk` events.

`LiveStream` turns a member's tokens, as its gateway's stream worker publishes them, into
content chunks the moment they come, then closes the stream with the school's result (finish
reason, usage, the `tutelage` object). A stream whose member failed after tokens were sent, or
whose result is not what was streamed, ends with an OpenAI error event: never silently.
"""

from __future__ import annotations

import json
from typing import Any

from ..providers.catalog import ConfigCatalog

DONE = "data: [DONE]\n\n"


def _data(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj)}\n\n"


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                 "logprobs": None}]}  # fmt: skip


def whole_chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A finished answer as chunks: role, content pieces, tool calls, the finish, then usage."""
    base = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"],
            "model": body["model"]}  # fmt: skip
    message = body["choices"][0]["message"]
    text = message["content"] or ""
    out = [_chunk(base, {"role": "assistant", "content": ""})]
    out += [_chunk(base, {"content": text[i:i + 64]}) for i in range(0, len(text), 64)]
    # Tool calls as OpenAI streams them: each call's id and name first, then its arguments.
    for i, call in enumerate(message.get("tool_calls") or []):
        fn = call["function"]
        out.append(_chunk(base, {"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                                 "function": {"name": fn["name"], "arguments": ""}}]}))
        args = fn["arguments"]
        out += [_chunk(base, {"tool_calls": [{"index": i, "function": {"arguments": args[j:j + 64]}}]})
                for j in range(0, len(args), 64)]  # fmt: skip
    out.append(_chunk(base, {}, body["choices"][0]["finish_reason"]))
    out.append({**base, "choices": [], "usage": body["usage"], "tutelage": body["tutelage"]})
    return out


class LiveStream:
    def __init__(self, created: int, completion_id: str, catalog: ConfigCatalog) -> None:
        self.created = created
        self.completion_id = completion_id
        self.catalog = catalog
        self.member: str | None = None
        self.model = "tutelage"
        self.text: list[str] = []
        self.broken = False

    @property
    def started(self) -> bool:
        """Whether any token went to the client."""
        return bool(self.text)

    def _base(self) -> dict[str, Any]:
        return {"id": self.completion_id, "object": "chat.completion.chunk",
                "created": self.created, "model": self.model}  # fmt: skip

    def take(self, event: tuple[str, Any]) -> list[str]:
        """The SSE lines one published event makes."""
        kind, value = event
        if kind == "start":
            if self.started:  # another member answers after tokens were sent: cannot splice
                return self.error(_failure(f"{self.member} stopped after part of its answer; "
                                           "the school goes on with another member"))  # fmt: skip
            spec = self.catalog.spec(str(value))
            self.member, self.model = str(value), spec.model if spec else str(value)
            return []
        if kind == "failed":
            if not self.started:
                return []  # nothing sent yet: the school's answer will come whole
            return self.error(_failure(f"{self.member} failed while streaming: {value}"))
        if not value:
            return []
        out = [] if self.started else [_data(_chunk(self._base(), {"role": "assistant",
                                                                   "content": ""}))]  # fmt: skip
        self.text.append(str(value))
        return [*out, _data(_chunk(self._base(), {"content": value}))]

    def finish(self, body: dict[str, Any]) -> list[str]:
        """The stream's end: after live tokens, the finish and usage; else the whole answer."""
        if not self.started:
            return [_data(c) for c in whole_chunks(body)] + [DONE]
        served = body["choices"][0]["message"]["content"] or ""
        if body["tutelage"]["member"] != self.member or served.strip() != "".join(self.text).strip():
            return self.error(_failure(f"the school's answer is not the one streamed "
                                       f"({self.member}'s); ask again without streaming"))  # fmt: skip
        base = {**self._base(), "model": body["model"]}
        return [_data(_chunk(base, {}, body["choices"][0]["finish_reason"])),
                _data({**base, "choices": [], "usage": body["usage"],
                       "tutelage": body["tutelage"]}), DONE]  # fmt: skip

    def error(self, body: dict[str, Any]) -> list[str]:
        self.broken = True
        return [_data(body), DONE]


def _failure(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "param": None,
                      "code": "stream_interrupted"}}  # fmt: skip
