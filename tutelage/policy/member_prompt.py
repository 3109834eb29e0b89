"""What a member is sent for a structured request: the shape as its provider's own parameters
where the provider supports them, else as an instruction in the prompt (and a tool loop's
turns as plain text, for providers that know no tool messages)."""

from __future__ import annotations

import json
from typing import Any

from ..models.structured import AnswerShape
from .structured import native_params, prompt_instruction

_JSON_PARAMS = ("response_format",)
_TOOL_PARAMS = ("tools", "tool_choice", "parallel_tool_calls")


def shaped_call(shape: AnswerShape, messages: list[dict[str, Any]], native_json: bool,
                native_tools: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """The messages and extra call parameters for one member: `native_json` / `native_tools`
    say whether its provider takes a JSON schema / tools itself."""
    if not shape.structured:
        return messages, {}
    wire = native_params(shape)
    keep = (_JSON_PARAMS if native_json else ()) + (_TOOL_PARAMS if native_tools else ())
    params = {k: v for k, v in wire.items() if k in keep}
    if not native_tools:
        messages = plain_tool_turns(messages)
    instruction = prompt_instruction(shape, answer=not native_json, tools=not native_tools)
    if instruction:
        lead = 0
        while lead < len(messages) and messages[lead].get("role") == "system":
            lead += 1
        messages = [*messages[:lead], {"role": "system", "content": instruction},
                    *messages[lead:]]  # fmt: skip
    return messages, params


def plain_tool_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A tool loop's turns as text: an assistant's calls in the form the tools instruction asks
    for, a tool's result as a user turn naming its call."""
    names = {c.get("id"): (c.get("function") or {}).get("name", "")
             for m in messages for c in (m.get("tool_calls") or [])}  # fmt: skip
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.get("role") == "assistant" and m.get("tool_calls"):
            calls = [{"name": (c.get("function") or {}).get("name", ""),
                      "arguments": _arguments((c.get("function") or {}).get("arguments"))}
                     for c in m["tool_calls"]]  # fmt: skip
            text = json.dumps({"tool_calls": calls}, ensure_ascii=False)
            out.append({"role": "assistant", "content": (m.get("content") or "") + text})
        elif m.get("role") == "tool":
            call_id = m.get("tool_call_id", "")
            out.append({"role": "user", "content": f"Result of the tool call {call_id} "
                        f"({names.get(call_id, 'unknown tool')}): {m.get('content') or ''}"})  # fmt: skip
        else:
            out.append(m)
    return out


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw
