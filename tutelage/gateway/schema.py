"""OpenAI's chat-completions wire format: what the gateway accepts and returns.

Every parameter of OpenAI's current API reference is one of three kinds, and none is dropped
silently (an unknown one is a 400, as OpenAI answers it):
- honoured by the school: `model` (a preset), `messages`, `stream`, `stream_options`, `n` (1),
  `response_format`, `tools`, `tool_choice`, `parallel_tool_calls`, `store` (true: every query
  is recorded), `metadata` (logged with the request);
- passed to every member's call (`PASSED`; litellm drops one a member's provider does not
  take): `temperature`, `top_p`, `max_tokens` / `max_completion_tokens`, `stop`, `seed`,
  `presence_penalty`, `frequency_penalty`, `logit_bias`, `reasoning_effort`, `verbosity`,
  `user`, `safety_identifier`, `prompt_cache_key`, `service_tier`;
- refused with a 400 naming it (`refusals`): `logprobs` true and `top_logprobs`, `n` > 1,
  `modalities` other than text, `audio`, `prediction`, `web_search_options`, `store` false,
  and the deprecated `functions` / `function_call` (use `tools`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Request fields sent on to every member's call, under the same name.
PASSED = ("temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty",
          "logit_bias", "reasoning_effort", "verbosity", "user", "safety_identifier",
          "prompt_cache_key", "service_tier")  # fmt: skip


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    # A string, or a list of parts of which only text parts are understood.
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None  # an assistant's calls
    tool_call_id: str | None = None  # a tool message: the call it answers

    def text(self) -> str:
        if isinstance(self.content, str) or self.content is None:
            return self.content or ""
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: dict[str, float] | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    user: str | None = Field(None, max_length=256)
    safety_identifier: str | None = Field(None, max_length=256)
    prompt_cache_key: str | None = Field(None, max_length=1024)
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    response_format: dict[str, Any] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    functions: list[Any] | None = None
    function_call: Any = None

    def refusals(self) -> tuple[str, str] | None:
        """(param, message) for a field set to something the school cannot honour."""
        if self.n not in (None, 1):
            return "n", "n must be 1: the school returns one answer, its winner's"
        if self.logprobs or self.top_logprobs is not None:
            param = "logprobs" if self.logprobs else "top_logprobs"
            return param, (f"{param} is not supported: the school's answer comes from one of "
                           "several members, chosen after they answered")  # fmt: skip
        if self.modalities not in (None, ["text"]):
            return "modalities", "only the text modality is supported"
        for param in ("audio", "prediction", "web_search_options"):
            if getattr(self, param) is not None:
                return param, f"{param} is not supported by the school"
        if self.functions is not None or self.function_call is not None:
            param = "functions" if self.functions is not None else "function_call"
            return param, f"{param} is deprecated: use tools and tool_choice"
        if self.store is False:
            return "store", ("store=false cannot be honoured: the school records every query "
                             "(its ledger and memory are how it learns)")  # fmt: skip
        for i, m in enumerate(self.messages):
            if isinstance(m.content, list) and any(p.get("type") != "text" for p in m.content):
                return f"messages[{i}].content", "only text content parts are supported"
        return None

    def passed(self) -> dict[str, Any]:
        """The parameters every member's call gets, as litellm names them."""
        params = {k: getattr(self, k) for k in PASSED if getattr(self, k) is not None}
        if isinstance(params.get("stop"), str):
            params["stop"] = [params["stop"]]
        if self.max_completion_tokens or self.max_tokens:
            params["max_tokens"] = self.max_completion_tokens or self.max_tokens
        return params
