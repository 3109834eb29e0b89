"""A member's answer streamed into the gateway that holds the client's stream.

Served only by a gateway's own worker, on its own task queue: the tokens go into an
in-process channel that the client's SSE response reads, and the activity's result (the whole
answer, its usage and cost) is recorded like any answer's. If the gateway dies, the heartbeat
lapses and the QueryWorkflow asks the shared model calls' queue instead.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from temporalio import activity

from ..models import AnswerRequest, MemberAnswer
from ..policy.distill import exemplar_messages
from ..providers._litellm import litellm
from ..providers.replay import TOKEN_MODEL
from . import names
from .calls import ModelCalls, classify

# Our own providers answer whole (no token stream): their text is published at once.
_WHOLE = ("replay/", "local/")
HEARTBEAT_EVERY_S = 1.0


class StreamSink(Protocol):
    def publish(self, query_id: str, event: tuple[str, Any]) -> None: ...


class StreamedCalls(ModelCalls):
    def __init__(self, catalog: Any, sink: StreamSink) -> None:
        super().__init__(catalog)
        self.sink = sink

    @activity.defn(name=names.ANSWER_STREAMED)
    async def answer_streamed(self, req: AnswerRequest) -> MemberAnswer:
        kwargs = {**self._call_kwargs(req.member_id, req.timeout_s), **req.call_params}
        if kwargs["model"].startswith(_WHOLE):
            answer = await self.answer(req)
            self.sink.publish(req.query_id, ("start", req.member_id))
            self.sink.publish(req.query_id, ("delta", answer.text or ""))
            return answer
        messages = exemplar_messages(req.exemplars, req.text, req.context, req.followup)
        started = time.perf_counter()
        pieces: list[str] = []
        usage: Any = None
        first: float | None = None
        beat = started
        self.sink.publish(req.query_id, ("start", req.member_id))
        try:
            stream = await litellm.acompletion(messages=messages, stream=True,
                                               stream_options={"include_usage": True}, **kwargs)  # fmt: skip
            async for chunk in stream:
                usage = getattr(chunk, "usage", None) or usage
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    first = first or time.perf_counter()
                    pieces.append(delta)
                    self.sink.publish(req.query_id, ("delta", delta))
                if time.perf_counter() - beat >= HEARTBEAT_EVERY_S:
                    activity.heartbeat(len(pieces))
                    beat = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - every provider error is classified
            self.sink.publish(req.query_id, ("failed", str(exc).splitlines()[0] if str(exc) else
                                             type(exc).__name__))  # fmt: skip
            raise classify(exc, req.member_id, kwargs.get("api_base")) from None
        ended = time.perf_counter()
        text = "".join(pieces).strip()
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0) or litellm.token_counter(
            model=TOKEN_MODEL, messages=messages)  # fmt: skip
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0) or litellm.token_counter(
            model=TOKEN_MODEL, text=text, count_response_tokens=True)  # fmt: skip
        if not text:
            self.sink.publish(req.query_id, ("failed", "empty answer"))
            from temporalio.exceptions import ApplicationError

            raise ApplicationError(f"{req.member_id}: empty answer", type="EmptyAnswer")
        return MemberAnswer(
            member_id=req.member_id, text=text, tokens_in=tokens_in, tokens_out=tokens_out,
            cost_usd=self.catalog.price(req.member_id).of(tokens_in, tokens_out),
            latency_ms=(ended - started) * 1000,
            ttft_ms=((first or ended) - started) * 1000,
        )  # fmt: skip

    def all(self) -> list[Any]:
        return [self.answer_streamed]
