"""What a request asks of its answer's shape (text, JSON, a JSON schema, tool calls), and the
checked form of one member's answer against it.

Every field has a default, so workflow histories recorded before structured answers existed
still deserialize (as a plain text shape).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, Field

ShapeKind = Literal["text", "json_object", "json_schema"]
ToolChoiceMode = Literal["auto", "none", "required"]
CheckKind = Literal["none", "text", "json", "tool_calls"]


class ToolSpec(BaseModel):
    """One offered function tool, as OpenAI's `tools[i].function`."""

    name: str = ""
    description: str = ""
    # The arguments' JSON schema; empty: the function takes no parameters.
    parameters: dict[str, Any] = Field(default_factory=dict)
    strict: bool = False


class FunctionChoice(BaseModel):
    """`tool_choice` naming one function: the answer must call it."""

    name: str = ""


class AnswerShape(BaseModel):
    """The answer's shape a request asked for: `response_format`, `tools` and their options."""

    kind: ShapeKind = "text"
    # The JSON schema of `response_format.json_schema.schema` (kind "json_schema" only).
    json_schema: dict[str, Any] | None = None
    strict: bool = False
    schema_name: str = ""
    tools: list[ToolSpec] = Field(default_factory=list)
    # "auto", "none", "required", or the one function the answer must call.
    tool_choice: ToolChoiceMode | FunctionChoice = "auto"
    parallel_tool_calls: bool = True

    @property
    def structured(self) -> bool:
        """Whether anything beyond free text was asked for (a JSON answer, or tools offered)."""
        return self.kind != "text" or bool(self.tools)

    @property
    def forced_function(self) -> str | None:
        """The function `tool_choice` names, or None."""
        return self.tool_choice.name if isinstance(self.tool_choice, FunctionChoice) else None

    @property
    def call_required(self) -> bool:
        """Whether the answer must be tool calls (tool_choice `required` or a named function)."""
        return bool(self.tools) and (
            self.tool_choice == "required" or isinstance(self.tool_choice, FunctionChoice)
        )

    @property
    def calls_allowed(self) -> bool:
        """Whether the answer may be tool calls (tools offered and tool_choice not `none`)."""
        return bool(self.tools) and self.tool_choice != "none"


class ToolCall(BaseModel):
    """One function call in a member's answer, as OpenAI's `message.tool_calls[i]`."""

    id: str = ""
    name: str = ""
    # The arguments as the model wrote them: a JSON string, not yet parsed or checked.
    arguments: str = ""

    def to_openai(self) -> dict[str, Any]:
        """OpenAI's wire form: {"id", "type": "function", "function": {"name", "arguments"}}."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


class Check(BaseModel):
    """One answer checked against its shape, with no judge: valid or not, and why."""

    valid: bool = True
    reason: str = ""
    # What was checked: "json" (parsed: the JSON value), "tool_calls" (parsed: a list of
    # {"name", "arguments"} with the arguments parsed), "text" (parsed: the text), "none" (no
    # answer at all).
    kind: CheckKind = "text"
    parsed: Any = None


DIGEST_CHARS = 12


def shape_digest(shape: AnswerShape) -> str:
    """A short stable hash of what the answer must fit: the JSON kind and schema, and the
    sorted tool names with their parameter schemas. "" for a plain text shape.

    Key order in the schemas, descriptions, `tool_choice` and strictness do not change it: it
    names the schema or tool set a school learns per, not the request's options.
    """
    if not shape.structured:
        return ""
    body: dict[str, Any] = {}
    if shape.kind != "text":
        body["answer"] = shape.kind
        if shape.kind == "json_schema":
            body["schema"] = shape.json_schema or {}
    if shape.tools:
        body["tools"] = sorted(
            ([t.name, t.parameters] for t in shape.tools),
            key=lambda tool: (tool[0], json.dumps(tool[1], sort_keys=True)),
        )
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_CHARS]
