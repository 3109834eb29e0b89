"""OpenAI's chat-completions wire format: what the gateway accepts and returns.

Unknown request fields are ignored, as OpenAI's API does; the ones that change an answer and
that the school cannot honour are refused with a clear error (see `refusals`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    # A string, or a list of parts of which only text parts are understood.
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, str) or self.content is None:
            return self.content or ""
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    user: str | None = Field(None, max_length=256)
    metadata: dict[str, str] | None = None
    stream_options: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    response_format: dict[str, Any] | None = None

    def refusals(self) -> tuple[str, str] | None:
        """(param, message) for a field set to something the school cannot honour."""
        if self.n not in (None, 1):
            return "n", "n must be 1: the school returns one answer, its winner's"
        if self.tools:
            return "tools", "tools are not supported: the school's members answer in text"
        if self.response_format and self.response_format.get("type") not in (None, "text"):
            return "response_format", "only response_format {\"type\": \"text\"} is supported"
        for m in self.messages:
            if isinstance(m.content, list) and any(p.get("type") != "text" for p in m.content):
                return "messages", "only text content parts are supported"
        return None

