"""`replay/<model>`: a litellm provider that answers with a model's recorded answer.

The offline stand-in for expensive APIs: `replay/gpt-4-1106-preview` answers a GSM8K or MMLU
prompt with what gpt-4-1106-preview really answered, `replay/gemma-2-9b-it` an LLMRouter task
with gemma's recorded result (see tutelage.bench.datasets). Prompt tokens are counted on the
messages; completion tokens on the answer, or the recording's stated answer length.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from ..bench.datasets import Recording, prompt_key, recordings
from ._litellm import CustomLLM, ModelResponse, litellm

TOKEN_MODEL = "gpt-4"  # litellm counts with its bundled cl100k encoding for this name


def prompt_token_count(messages: list[dict[str, Any]]) -> int:
    """Prompt tokens as the replay provider bills them (litellm's bundled cl100k count)."""
    return int(litellm.token_counter(model=TOKEN_MODEL, messages=messages))


class NoRecordingError(Exception):
    """The prompt has no recorded answer for that model: retrying cannot help."""


class ReplayProvider(CustomLLM):
    def __init__(self, data_dir: Path | None, latency_ms: float = 0.0) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.latency_ms = latency_ms

    def lookup(self, model: str, messages: list[dict[str, Any]]) -> str:
        return self.recording(model, messages).answers[model]

    def recording(self, model: str, messages: list[dict[str, Any]]) -> Recording:
        """The prompt's recording, which holds an answer of `model`."""
        if self.data_dir is None:
            raise NoRecordingError(
                "the replay provider has no data directory: set [replay] data_dir in the config "
                "or TUTELAGE_REPLAY_DATA"
            )
        prompt = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        found = recordings(self.data_dir).get(prompt_key(prompt))
        if found is None:
            raise NoRecordingError(f"no recorded answer for this prompt in {self.data_dir}")
        if model not in found.answers:
            raise NoRecordingError(
                f"no recordings of model '{model}' in {self.data_dir}; it has: "
                + ", ".join(sorted(found.answers))
            )
        return found

    def _response(self, model: str, messages: list[dict[str, Any]]) -> ModelResponse:
        found = self.recording(model, messages)
        text = found.answers[model]
        prompt_tokens = prompt_token_count(messages)
        completion_tokens = found.tokens_out if found.tokens_out is not None else (
            litellm.token_counter(model=TOKEN_MODEL, text=text, count_response_tokens=True))  # fmt: skip
        return ModelResponse(
            model=f"replay/{model}",
            choices=[{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": text}}],
            usage={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                   "total_tokens": prompt_tokens + completion_tokens},
        )  # fmt: skip

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        return self._response(model, messages)

    async def acompletion(
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        return self._response(model, messages)
