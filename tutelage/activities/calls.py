"""The model calls: a member answers, the supervisor judges.

They need no store, only a catalog of members (how to call one, what its tokens cost), so any
process that has the config can serve them: the school's worker, and the local-model worker.
"""

from __future__ import annotations

import os
import time
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..models import AnswerRequest, JudgeRequest, JudgeResult, MemberAnswer, Verdict
from ..models.structured import AnswerShape, ToolCall
from ..options import NON_RETRYABLE_ERRORS
from ..policy.distill import exemplar_messages
from ..policy.judging import (
    JudgeOutput,
    MalformedJudgeOutput,
    judge_messages,
    label_answers,
    parse_judge_reply,
    retry_message,
)
from ..policy.member_prompt import shaped_call
from ..policy.structured import calls_from_text, with_ids
from ..providers._litellm import litellm
from ..providers.catalog import MemberCatalog
from . import names

_OWN_ERRORS = ("NoRecordingError", "LocalModelError", "ContextOverflowError",
               "EmptyGenerationError")  # fmt: skip


def _own_error_kind(exc: BaseException) -> str | None:
    """Our providers' error kinds survive litellm's wrapping: look through the chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ in _OWN_ERRORS:
            return type(seen).__name__
        text = str(seen)
        if "no recorded answer" in text or "no recordings of model" in text:
            return "NoRecordingError"
        for kind in _OWN_ERRORS:
            if kind in text:
                return kind
        seen = seen.__cause__ or seen.__context__
    return None


def classify(exc: Exception, member_id: str, api_base: str | None = None) -> ApplicationError:
    """A provider error as Temporal should see it: its kind, and whether a retry may help.

    A connection that failed (nothing listening at the member's `api_base`, or its server gone
    in the middle of an answer; litellm reports either as an InternalServerError "Connection
    error.") is an `APIConnectionError` whose message names the member and where it was sent
    (`api_base`, else the URL of the request that failed), retryable: the server may come back."""
    import contextlib

    import httpx

    kind = _own_error_kind(exc) or type(exc).__name__
    message = f"{member_id}: {kind}: {str(exc).splitlines()[0] if str(exc) else kind}"
    seen: BaseException | None = exc
    while seen is not None and kind not in NON_RETRYABLE_ERRORS:
        if isinstance(seen, httpx.TimeoutException):
            break  # a timeout keeps its own kind and message
        where = api_base or "its provider"
        if not api_base and isinstance(seen, httpx.HTTPError):
            with contextlib.suppress(RuntimeError):  # httpx's request, when it was set
                where = str(seen.request.url).removesuffix("/chat/completions")
        if isinstance(seen, httpx.ConnectError):
            kind = "APIConnectionError"
            message = f"{member_id}: {kind}: cannot reach {where} (is the model server running?)"
            break
        if isinstance(seen, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
            kind = "APIConnectionError"
            why = str(seen).splitlines()[0] if str(seen) else type(seen).__name__
            message = (f"{member_id}: {kind}: the connection to {where} broke in the middle of "
                       f"the answer ({why}): did the model server stop?")  # fmt: skip
            break
        seen = seen.__cause__ or seen.__context__
    retryable = kind not in NON_RETRYABLE_ERRORS and not isinstance(
        exc, litellm.BadRequestError | litellm.AuthenticationError | litellm.NotFoundError
    )
    return ApplicationError(message, type=kind, non_retryable=not retryable)


def _native_support(model: str, shape: AnswerShape) -> tuple[bool, bool]:
    """Whether the member's provider takes a JSON schema / tools itself (litellm's model map);
    an unknown model takes neither (the prompt carries them). A local GGUF member takes a
    schema (llama.cpp's grammar-constrained decoding), not tools."""
    if model.startswith("local/"):
        return shape.kind != "text", False
    try:
        json_ok = shape.kind != "text" and bool(litellm.supports_response_schema(model=model))
        tools_ok = bool(shape.tools) and bool(litellm.supports_function_calling(model=model))
    except Exception:  # noqa: BLE001 - a model litellm does not know
        return False, False
    return json_ok, tools_ok


def _tool_calls(message: Any, member_id: str) -> list[ToolCall]:
    """The provider's tool calls on a reply, as ToolCalls with an id each."""
    calls = []
    for c in getattr(message, "tool_calls", None) or []:
        function = getattr(c, "function", None)
        calls.append(ToolCall(id=str(getattr(c, "id", "") or ""),
                              name=str(getattr(function, "name", "") or ""),
                              arguments=str(getattr(function, "arguments", "") or "")))  # fmt: skip
    return with_ids(calls, f"call_{member_id}")


class ModelCalls:
    def __init__(self, catalog: MemberCatalog) -> None:
        self.catalog = catalog

    def _call_kwargs(self, member_id: str, timeout_s: float) -> dict[str, Any]:
        m = self.catalog.spec(member_id)
        if m is None:
            raise ApplicationError(f"{member_id}: not a member of this school (not in the config "
                                   "nor spawned by evolution)", type="ConfigurationError",
                                   non_retryable=True)  # fmt: skip
        kwargs: dict[str, Any] = {"model": m.model, "num_retries": 0, "timeout": timeout_s}
        if m.api_base:
            kwargs["api_base"] = m.api_base
        if m.api_key_env:
            key = os.environ.get(m.api_key_env)
            if not key:
                raise ApplicationError(
                    f"{member_id}: environment variable {m.api_key_env} (its API key) is not set",
                    type="ConfigurationError",
                    non_retryable=True,
                )
            kwargs["api_key"] = key
        if m.max_tokens:
            kwargs["max_tokens"] = m.max_tokens
        kwargs.update(m.params)
        return kwargs

    @activity.defn(name=names.ANSWER)
    async def answer(self, req: AnswerRequest) -> MemberAnswer:
        kwargs = {**self._call_kwargs(req.member_id, req.timeout_s), **req.call_params}
        messages = exemplar_messages(req.exemplars, req.text, req.context, req.followup)
        if req.shape.structured:
            messages, shaped = shaped_call(req.shape, messages,
                                           *_native_support(kwargs["model"], req.shape))  # fmt: skip
            kwargs.update(shaped)
        started = time.perf_counter()
        try:
            response = await litellm.acompletion(messages=messages, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every provider error is classified
            raise classify(exc, req.member_id, kwargs.get("api_base")) from None
        latency = (time.perf_counter() - started) * 1000
        message = response.choices[0].message
        text = (message.content or "").strip()
        calls = _tool_calls(message, req.member_id) if req.shape.tools else []
        if not calls and req.shape.calls_allowed:
            calls = calls_from_text(text, f"call_{req.member_id}") or []
        if calls:
            text = ""
        elif not text:
            raise ApplicationError(f"{req.member_id}: empty answer", type="EmptyAnswer")
        usage = getattr(response, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        timing = (getattr(response, "_hidden_params", None) or {}).get("tutelage_timing") or {}
        return MemberAnswer(
            member_id=req.member_id,
            text=text,
            tool_calls=calls,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=self.catalog.price(req.member_id).of(tokens_in, tokens_out),
            latency_ms=latency,
            ttft_ms=timing.get("ttft_ms"),
        )

    @activity.defn(name=names.JUDGE)
    async def judge(self, req: JudgeRequest) -> JudgeResult:
        """Score the answers; malformed output is retried once with the error, then unjudged."""
        labels = label_answers(req.query_id, req.answers)
        messages: list[dict[str, str]] = judge_messages(req.question, req.answers, labels)
        kwargs = self._call_kwargs(req.supervisor_id, req.timeout_s)
        if litellm.supports_response_schema(model=kwargs["model"]):
            kwargs["response_format"] = JudgeOutput
        tokens_in = tokens_out = 0
        started = time.perf_counter()
        error = ""
        attempts = 0
        for _ in range(2):
            attempts += 1
            try:
                response = await litellm.acompletion(messages=messages, **kwargs)
            except Exception as exc:  # noqa: BLE001
                raise classify(exc, req.supervisor_id, kwargs.get("api_base")) from None
            usage = getattr(response, "usage", None)
            tokens_in += int(getattr(usage, "prompt_tokens", 0) or 0)
            tokens_out += int(getattr(usage, "completion_tokens", 0) or 0)
            reply = response.choices[0].message.content or ""
            try:
                verdicts = parse_judge_reply(
                    reply, labels, req.judge.weights, f"supervisor:{req.supervisor_id}"
                )
                break
            except MalformedJudgeOutput as exc:
                error = str(exc)
                messages = [*messages, {"role": "assistant", "content": reply},
                            retry_message(error)]  # fmt: skip
        else:
            verdicts = [Verdict(member_id=a.member_id, judge="unjudged") for a in req.answers]
        call = MemberAnswer(
            member_id=req.supervisor_id,
            text="",
            kind="judge",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=self.catalog.price(req.supervisor_id).of(tokens_in, tokens_out),
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        unjudged = all(v.score is None for v in verdicts)
        return JudgeResult(
            verdicts=verdicts,
            call=call,
            attempts=attempts,
            error=f"malformed judge output twice: {error}" if unjudged else None,
        )

    def all(self) -> list[Any]:
        return [self.answer, self.judge]
