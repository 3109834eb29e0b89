"""Structured answers as pure decisions: which requests are bad input, whether an answer fits
the shape its request asked for, and when two structured answers agree.

An answer that is not JSON where JSON was asked, breaks its schema, or calls a tool badly is
wrong on its face: `programmatic_verdict` scores it 0 before and without any judge.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing.exceptions import Unresolvable

from ..models.structured import (
    AnswerShape,
    Check,
    FunctionChoice,
    ToolCall,
    ToolSpec,
    shape_digest,
)

Problem = tuple[str, str]  # (param, message): a 400 naming the request's parameter

MAX_TOOLS = 128  # as OpenAI
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # OpenAI's, for tool and schema names
_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*(.*?)\s*```\s*$", re.S)
_MAX_SHOWN = 200  # characters of an answer quoted in a reason


# --- reading a request ------------------------------------------------------------------------


def read_shape(
    response_format: Mapping[str, Any] | None = None,
    tools: Sequence[Any] | None = None,
    tool_choice: Any = None,
    parallel_tool_calls: bool | None = None,
) -> AnswerShape | Problem:
    """The shape an OpenAI request asks for, from its wire fields; a Problem for a field whose
    form is wrong (then `shape_problem` checks what the shape's content means)."""
    shape = AnswerShape()
    if response_format:
        kind = response_format.get("type", "text")
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            if not isinstance(spec, Mapping):
                return "response_format.json_schema", "json_schema needs an object with a schema"
            schema = spec.get("schema")
            if schema is not None and not isinstance(schema, Mapping):
                return "response_format.json_schema.schema", "the schema must be a JSON object"
            shape.kind = "json_schema"
            shape.json_schema = dict(schema) if schema is not None else None
            shape.strict = bool(spec.get("strict") or False)
            shape.schema_name = str(spec.get("name") or "")
        elif kind in ("text", "json_object"):
            shape.kind = kind
        else:
            return ("response_format.type",
                    f"response_format type '{kind}' is not one of text, json_object, json_schema")  # fmt: skip
    for i, tool in enumerate(tools or []):
        spec = _read_tool(i, tool)
        if isinstance(spec, tuple):
            return spec
        shape.tools.append(spec)
    if tool_choice is not None:
        choice = _read_tool_choice(tool_choice)
        if isinstance(choice, tuple):
            return choice
        shape.tool_choice = choice
    if parallel_tool_calls is not None:
        shape.parallel_tool_calls = bool(parallel_tool_calls)
    return shape


def _read_tool(i: int, tool: Any) -> ToolSpec | Problem:
    where = f"tools[{i}]"
    if not isinstance(tool, Mapping):
        return where, 'a tool must be an object {"type": "function", "function": {...}}'
    if tool.get("type", "function") != "function":
        return (
            f"{where}.type",
            f"tool type '{tool.get('type')}' is not supported: only function tools are",
        )
    function = tool.get("function")
    if not isinstance(function, Mapping):
        return f"{where}.function", "a function tool needs a function object with a name"
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, Mapping):
        return f"{where}.function.parameters", "parameters must be a JSON schema object"
    name = function.get("name")
    if not isinstance(name, str):
        return f"{where}.function.name", "a function needs a name"
    return ToolSpec(
        name=name,
        description=str(function.get("description") or ""),
        parameters=dict(parameters or {}),
        strict=bool(function.get("strict") or False),
    )


def _read_tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        function = choice.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return FunctionChoice(name=function["name"])
    return ("tool_choice", "tool_choice must be \"auto\", \"none\", \"required\" or "
            "{\"type\": \"function\", \"function\": {\"name\": ...}}")  # fmt: skip


# --- bad input: a 400 naming the parameter ---------------------------------------------------


def shape_problem(shape: AnswerShape) -> Problem | None:
    """What makes the requested shape unusable, as (param, message); None when it is fine."""
    if shape.kind == "json_schema":
        if shape.json_schema is None:
            return "response_format.json_schema.schema", "json_schema needs a schema"
        if shape.schema_name and not NAME_PATTERN.match(shape.schema_name):
            return ("response_format.json_schema.name",
                    f"'{shape.schema_name}' does not match {NAME_PATTERN.pattern}")  # fmt: skip
        problem = schema_problem(shape.json_schema)
        if problem:
            return "response_format.json_schema.schema", f"not a valid JSON schema: {problem}"
    if len(shape.tools) > MAX_TOOLS:
        return "tools", f"{len(shape.tools)} tools were offered; at most {MAX_TOOLS} are allowed"
    seen: set[str] = set()
    for i, tool in enumerate(shape.tools):
        where = f"tools[{i}].function"
        if not NAME_PATTERN.match(tool.name):
            return f"{where}.name", f"tool name '{tool.name}' does not match {NAME_PATTERN.pattern}"
        if tool.name in seen:
            return f"{where}.name", f"tool name '{tool.name}' is offered twice"
        seen.add(tool.name)
        if tool.parameters:
            kind = tool.parameters.get("type", "object")
            if kind != "object":
                return (f"{where}.parameters",
                        f"the parameters of '{tool.name}' must be a schema of type object, not {kind!r}")  # fmt: skip
            problem = schema_problem(tool.parameters)
            if problem:
                return (f"{where}.parameters",
                        f"the parameters of '{tool.name}' are not a valid JSON schema: {problem}")  # fmt: skip
    forced = shape.forced_function
    if shape.tool_choice == "required" and not shape.tools:
        return "tool_choice", 'tool_choice "required" needs tools'
    if forced is not None and forced not in seen:
        offered = ", ".join(sorted(seen)) or "none"
        return (
            "tool_choice",
            f"tool_choice names '{forced}', which is not offered (tools: {offered})",
        )
    return None


def schema_problem(schema: Mapping[str, Any]) -> str | None:
    """Why `schema` is not a usable JSON schema (its draft's metaschema, or a `$ref` that does
    not resolve inside it: remote schemas are never fetched); None when it is."""
    try:
        _validator_class(schema).check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(p) for p in error.path)
        return f"{error.message} (at /{where})" if where else error.message
    if not any(key == "$id" for key, _ in _walk(schema, root=False)):
        for key, value in _walk(schema):
            if key == "$ref" and isinstance(value, str) and _pointer(schema, value) is None:
                return f"$ref '{value}' does not resolve inside the schema"
    return None


def _validator_class(schema: Mapping[str, Any]) -> type[Validator]:
    cls: type[Validator] = validator_for(schema, default=Draft202012Validator)
    return cls


def _walk(node: Any, root: bool = True) -> Iterator[tuple[str, Any]]:
    """Every (key, value) of every object nested in `node`; with root=False, not node's own."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if root:
                yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


_MISSING = object()


def _pointer(schema: Mapping[str, Any], ref: str) -> Any:
    """The node a local `#/...` ref points at in `schema`, or None (remote refs: None)."""
    if not ref.startswith("#"):
        return None
    node: Any = schema
    for raw in ref[1:].split("/")[1:]:
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            node = node.get(part, _MISSING)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if node is _MISSING:
            return None
    return node


def history_problem(messages: Sequence[Any]) -> Problem | None:
    """A conversation whose tool messages do not answer its tool calls, as OpenAI refuses it:
    a `tool` message must answer a call an earlier assistant message made (by
    `tool_call_id`), and every assistant tool call must be answered before the next turn."""
    made: set[str] = set()
    pending: dict[str, int] = {}  # call id -> index of the assistant message that made it
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        if role != "tool" and pending:
            return _unanswered(pending)
        if role == "assistant":
            calls = message.get("tool_calls") or []
            if not isinstance(calls, list):
                return f"messages[{i}].tool_calls", "tool_calls must be a list"
            for j, call in enumerate(calls):
                call_id = call.get("id") if isinstance(call, Mapping) else None
                if not isinstance(call_id, str) or not call_id:
                    return f"messages[{i}].tool_calls[{j}].id", "a tool call needs an id"
                made.add(call_id)
                pending[call_id] = i
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                return (f"messages[{i}].tool_call_id",
                        "a tool message needs the tool_call_id of the call it answers")  # fmt: skip
            if call_id not in made:
                return (f"messages[{i}].tool_call_id",
                        f"messages[{i}] answers tool call '{call_id}', but no earlier assistant "
                        "message made a call with that id")  # fmt: skip
            pending.pop(call_id, None)
    return _unanswered(pending) if pending else None


def _unanswered(pending: Mapping[str, int]) -> Problem:
    index = min(pending.values())
    ids = ", ".join(sorted(k for k, v in pending.items() if v == index))
    return (f"messages[{index}].tool_calls",
            f"an assistant message with tool_calls must be followed by tool messages answering "
            f"each call; no answer to: {ids}")  # fmt: skip


# --- checking an answer ----------------------------------------------------------------------


def check_answer(
    shape: AnswerShape, text: str | None, tool_calls: Sequence[ToolCall] = ()
) -> Check:
    """Whether one answer (its text, or its tool calls) fits the shape, and its parsed value."""
    if tool_calls:
        return _check_calls(shape, tool_calls)
    if shape.call_required:
        forced = shape.forced_function
        wanted = f"a call to '{forced}'" if forced else 'a tool call (tool_choice "required")'
        return _invalid(f"answered in text where {wanted} was required", "text", text)
    if text is None or not text.strip():
        return _invalid("no answer", "none", None)
    if shape.kind == "text":
        return Check(valid=True, reason="text", kind="text", parsed=text)
    return _check_json(shape, text)


def _check_json(shape: AnswerShape, text: str) -> Check:
    body, fenced = strip_fence(text)
    note = " (a ```json fence was stripped)" if fenced else ""
    try:
        value = parse_json(body)
    except ValueError as error:
        return _invalid(f"not JSON: {error}; the answer began {_quote(text)}", "text", text)
    if shape.kind == "json_object" and not isinstance(value, dict):
        return _invalid(f"a JSON object was asked for, the answer is {_json_type(value)}{note}",
                        "json", value)  # fmt: skip
    if shape.kind == "json_schema" and shape.json_schema is not None:
        error_text = schema_violation(shape.json_schema, value)
        if error_text:
            return _invalid(f"breaks the schema: {error_text}{note}", "json", value)
        return Check(valid=True, reason=f"valid JSON matching the schema{note}", kind="json",
                     parsed=value)  # fmt: skip
    return Check(valid=True, reason=f"valid JSON{note}", kind="json", parsed=value)


def _check_calls(shape: AnswerShape, calls: Sequence[ToolCall]) -> Check:
    parsed: list[dict[str, Any]] = []
    for call in calls:
        try:
            args = parse_json(call.arguments) if call.arguments.strip() else {}
        except ValueError:
            args = call.arguments
        parsed.append({"name": call.name, "arguments": args})
    if not shape.tools:
        return _invalid("called a tool, but no tools were offered", "tool_calls", parsed)
    if shape.tool_choice == "none":
        return _invalid("called a tool where tool_choice \"none\" forbade calls", "tool_calls",
                        parsed)  # fmt: skip
    if len(calls) > 1 and not shape.parallel_tool_calls:
        return _invalid(f"made {len(calls)} calls where parallel_tool_calls is false",
                        "tool_calls", parsed)  # fmt: skip
    offered = {tool.name: tool for tool in shape.tools}
    forced = shape.forced_function
    for call, entry in zip(calls, parsed, strict=True):
        tool = offered.get(call.name)
        if tool is None:
            return _invalid(f"called '{call.name}', which was not offered (tools: "
                            f"{', '.join(sorted(offered))})", "tool_calls", parsed)  # fmt: skip
        if forced is not None and call.name != forced:
            return _invalid(f"called '{call.name}' where tool_choice asked for '{forced}'",
                            "tool_calls", parsed)  # fmt: skip
        args = entry["arguments"]
        if isinstance(args, str):
            return _invalid(f"the arguments of '{call.name}' are not JSON: {_quote(args)}",
                            "tool_calls", parsed)  # fmt: skip
        if not isinstance(args, dict):
            return _invalid(f"the arguments of '{call.name}' are {_json_type(args)}, not an "
                            "object", "tool_calls", parsed)  # fmt: skip
        if tool.parameters:
            error_text = schema_violation(tool.parameters, args)
            if error_text:
                return _invalid(f"the arguments of '{call.name}' break its parameters: "
                                f"{error_text}", "tool_calls", parsed)  # fmt: skip
    names = ", ".join(call.name for call in calls)
    return Check(valid=True, reason=f"valid tool calls: {names}", kind="tool_calls", parsed=parsed)


def _invalid(reason: str, kind: Any, parsed: Any) -> Check:
    return Check(valid=False, reason=reason, kind=kind, parsed=parsed)


def strip_fence(text: str) -> tuple[str, bool]:
    """The text inside a ```json fence wrapping the whole answer, and whether there was one."""
    found = _FENCE.match(text)
    return (found.group(1), True) if found else (text, False)


def parse_json(text: str) -> Any:
    """Strict JSON (no NaN or Infinity); ValueError when it is not."""
    return json.loads(text, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def schema_violation(schema: Mapping[str, Any], value: Any) -> str | None:
    """The most telling way `value` breaks `schema`, with where; None when it satisfies it."""
    try:
        error = best_match(_validator_class(schema)(schema).iter_errors(value))
    except (SchemaError, Unresolvable) as problem:
        return f"the schema cannot be applied: {problem}"
    if error is None:
        return None
    return f"{error.message} (at {error.json_path})"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    names = {str: "a string", list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _quote(text: str) -> str:
    shown = text.strip()
    return repr(shown if len(shown) <= _MAX_SHOWN else shown[:_MAX_SHOWN] + "...")


# --- agreement and verdicts ------------------------------------------------------------------


def same_answer(shape: AnswerShape, a: Check, b: Check) -> bool | None:
    """Whether two checked answers agree: the same parsed JSON value (key order, whitespace and
    1 vs 1.0 aside), or calls to the same functions with equal parsed arguments (the order of
    parallel calls aside). An invalid answer agrees with nothing. None when both are prose (a
    text shape, or text under tool_choice "auto"): the text agreement rule decides."""
    if not a.valid or not b.valid:
        return False
    if a.kind == "text" and b.kind == "text":
        return None
    if a.kind != b.kind:
        return False
    if a.kind == "tool_calls":
        return _calls_key(a.parsed) == _calls_key(b.parsed)
    if a.kind == "json":
        return canonical_json(a.parsed) == canonical_json(b.parsed)
    return False


def _calls_key(calls: Any) -> Counter[str]:
    return Counter(canonical_json([c.get("name"), c.get("arguments")]) for c in calls or [])


def canonical_json(value: Any) -> str:
    """One string per JSON value: keys sorted, no whitespace, integral numbers as integers
    (1.0 -> 1), booleans kept apart from numbers."""
    return json.dumps(_normalize(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)  # fmt: skip


def _normalize(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(v) for v in value]
    return value


def programmatic_verdict(check: Check) -> float | None:
    """0.0 for an answer that does not fit its shape (given before and without any judge);
    None for a valid one: the judge decides."""
    return None if check.valid else 0.0


# --- what members are sent -------------------------------------------------------------------


def native_params(shape: AnswerShape) -> dict[str, Any]:
    """The shape as OpenAI call parameters (for litellm), for members whose provider supports
    them natively: `response_format`, `tools`, `tool_choice`, `parallel_tool_calls`."""
    params: dict[str, Any] = {}
    if shape.kind == "json_object":
        params["response_format"] = {"type": "json_object"}
    elif shape.kind == "json_schema":
        spec: dict[str, Any] = {"name": shape.schema_name or "answer",
                                "schema": shape.json_schema or {}}  # fmt: skip
        if shape.strict:
            spec["strict"] = True
        params["response_format"] = {"type": "json_schema", "json_schema": spec}
    if shape.tools:
        params["tools"] = [_tool_wire(tool) for tool in shape.tools]
        forced = shape.forced_function
        params["tool_choice"] = (
            {"type": "function", "function": {"name": forced}} if forced else shape.tool_choice
        )
        if not shape.parallel_tool_calls:
            params["parallel_tool_calls"] = False
    return params


def _tool_wire(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = tool.parameters or {"type": "object", "properties": {}}
    if tool.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def prompt_instruction(
    shape: AnswerShape, *, answer: bool = True, tools: bool = True
) -> str | None:
    """The instruction added to a member's prompt when its provider cannot take the shape
    natively: `answer` for the JSON answer, `tools` for the tools (answered in the text form
    `calls_from_text` reads). None when there is nothing to instruct."""
    parts: list[str] = []
    if tools and shape.calls_allowed:
        parts.append(_tools_instruction(shape))
    if answer and shape.kind == "json_object":
        parts.append("Answer with a single JSON object and nothing else: no prose before or "
                     "after it, no code fence.")  # fmt: skip
    elif answer and shape.kind == "json_schema":
        schema = json.dumps(shape.json_schema or {}, indent=2, ensure_ascii=False)
        parts.append("Answer with a single JSON value that matches this JSON schema, and "
                     f"nothing else (no prose, no code fence):\n{schema}")  # fmt: skip
    if answer and tools and shape.calls_allowed and shape.kind != "text":
        parts.append("If you call tools instead, answer with the tool_calls object only.")
    return "\n\n".join(parts) or None


def _tools_instruction(shape: AnswerShape) -> str:
    listing = json.dumps(
        [{"name": t.name, "description": t.description, "parameters": t.parameters}
         for t in shape.tools],
        indent=2, ensure_ascii=False,
    )  # fmt: skip
    one = "" if shape.parallel_tool_calls else " Make at most one call."
    forced = shape.forced_function
    if forced:
        when = f"You must call the tool '{forced}' now."
    elif shape.tool_choice == "required":
        when = "You must call one or more of these tools now."
    else:
        when = "Call them when they help; otherwise answer normally."
    return (
        f"You can call these tools:\n{listing}\n\n{when}{one} To call tools, answer with only "
        'this JSON object and nothing else: {"tool_calls": [{"name": "<tool name>", '
        '"arguments": {<arguments matching its parameters>}}]}. The results will come back '
        "to you as tool messages."
    )


def calls_from_text(text: str | None, id_prefix: str = "call") -> list[ToolCall] | None:
    """The tool calls a member wrote in the text form `prompt_instruction` asks for
    ({"tool_calls": [{"name", "arguments"}]}, possibly fenced), ids `<id_prefix>_<n>`; None
    when the text is not that form (an ordinary answer)."""
    if not text:
        return None
    try:
        value = parse_json(strip_fence(text)[0])
    except ValueError:
        return None
    if not isinstance(value, dict) or set(value) != {"tool_calls"}:
        return None
    entries = value["tool_calls"]
    if not isinstance(entries, list) or not entries:
        return None
    calls: list[ToolCall] = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            return None
        args = entry.get("arguments", {})
        raw = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        calls.append(ToolCall(id=f"{id_prefix}_{n}", name=entry["name"], arguments=raw))
    return calls


def with_ids(calls: Sequence[ToolCall], id_prefix: str) -> list[ToolCall]:
    """The calls with every missing id filled in as `<id_prefix>_<n>` (some providers give
    none; OpenAI's clients answer each call by its id)."""
    return [c if c.id else c.model_copy(update={"id": f"{id_prefix}_{n}"})
            for n, c in enumerate(calls)]  # fmt: skip


# --- a structured query in the school -------------------------------------------------------


def shaped_domain(domain: str | None, shape: AnswerShape) -> str | None:
    """The domain a structured query is routed, remembered and promoted in: its cluster plus
    the digest of its tool set or schema, so trust earned filling one schema (or calling one
    tool set) is not trust for another."""
    digest = shape_digest(shape)
    if not digest:
        return domain
    return f"{domain or '*'}#{digest}"


def same_shape(domain: str | None, shaped: str | None) -> bool:
    """Whether a remembered query's domain is of the same shape as this query's (both plain,
    or the same digest)."""
    mine = (shaped or "").partition("#")[2]
    theirs = (domain or "").partition("#")[2]
    return mine == theirs


def served_text(check: Check, text: str | None) -> str:
    """The answer as served: a JSON answer without the code fence a model put around it."""
    if check.kind == "json" and check.valid:
        stripped, fenced = strip_fence(text or "")
        return stripped if fenced else (text or "")
    return text or ""


def shown_to_judge(text: str | None, calls: Sequence[ToolCall]) -> str:
    """An answer as the judge reads it: its text, or its tool calls as JSON."""
    if calls:
        return json.dumps({"tool_calls": [{"name": c.name, "arguments": c.arguments}
                                          for c in calls]}, ensure_ascii=False)  # fmt: skip
    return text or ""
