"""A chat-completions request as the query the school runs, or a 4xx saying what is wrong."""

from __future__ import annotations

from typing import Any

from ..client import new_query_id
from ..config import TutelageConfig
from ..models import QueryInput
from ..policy.presets import UnknownPresetError, preset_cost_weight
from ..policy.structured import history_problem, read_shape, shape_problem
from ..policy.validation import query_problem, too_long
from .errors import APIError
from .schema import ChatCompletionRequest, ChatMessage

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
          "tool": "tool"}  # fmt: skip


def _wire(m: ChatMessage) -> dict[str, Any]:
    """A message as members are sent it: text content, and a tool loop's fields."""
    out: dict[str, Any] = {"role": _ROLES[m.role], "content": m.text()}
    if m.tool_calls:
        out["tool_calls"] = m.tool_calls
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    if m.name and m.role != "tool":
        out["name"] = m.name
    return out


def query_input(req: ChatCompletionRequest, cfg: TutelageConfig, tenant: str) -> QueryInput:
    """The QueryInput a valid request asks for, or an APIError saying what is wrong.

    The question is the last user message: what is embedded, routed on and remembered. The
    turns before it are the conversation; the turns after it (a tool loop's assistant calls
    and tool results) reach the members after it."""
    refusal = req.refusals()
    if refusal is not None:
        raise APIError(400, refusal[1], "unsupported_parameter", refusal[0])
    try:
        cost_weight = preset_cost_weight(req.model)
    except UnknownPresetError as exc:
        raise APIError(404, str(exc), "model_not_found", "model") from None
    shape = read_shape(req.response_format, req.tools, req.tool_choice, req.parallel_tool_calls)
    if isinstance(shape, tuple):
        raise APIError(400, shape[1], "invalid_value", shape[0])
    problem = shape_problem(shape)
    if problem is not None:
        raise APIError(400, problem[1], "invalid_value", problem[0])
    for i, m in enumerate(req.messages):
        if m.role not in _ROLES:
            raise APIError(400, f"Messages of role '{m.role}' are not supported (use 'tool').",
                           "unsupported_parameter", f"messages[{i}].role")  # fmt: skip
    last = len(req.messages) - 1
    if req.messages[last].role not in ("user", "tool"):
        raise APIError(400, "The last message must be the user's question (role 'user') or a "
                       "tool's result (role 'tool').", "invalid_value",
                       f"messages[{last}].role")  # fmt: skip
    asked = max((i for i, m in enumerate(req.messages) if m.role == "user"), default=None)
    if asked is None:
        raise APIError(400, "The conversation has no user message: the question is the last "
                       "one.", "invalid_value", f"messages[{last}].role")  # fmt: skip
    wire = [_wire(m) for m in req.messages]
    problem = history_problem(wire)
    if problem is not None:
        raise APIError(400, problem[1], "invalid_value", problem[0])
    text = wire[asked]["content"]
    q = QueryInput(text=text, query_id=new_query_id(text), tenant=tenant, context=wire[:asked],
                   followup=wire[asked + 1:], cost_weight=cost_weight,
                   call_params=req.passed(), shape=shape)  # fmt: skip
    problem_text = query_problem(q, cfg.limits)
    if problem_text:
        code = "context_length_exceeded" if too_long(q, cfg.limits) else "invalid_value"
        raise APIError(400, f"{problem_text[0].upper()}{problem_text[1:]}.", code, "messages")
    return q
