"""`replay/<model>`: a litellm provider that answers with a model's recorded answer.

The offline stand-in for expensive APIs: `replay/gpt-4-1106-preview` answers a GSM8K or MMLU
prompt with what gpt-4-1106-preview really answered (see tutelage.bench.datasets).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from litellm import CustomLLM
from litellm.types.utils import ModelResponse

from ..bench.datasets import prompt_key, recordings
from ._litellm import litellm

TOKEN_MODEL = "gpt-4"  # litellm counts with its bundled cl100k encoding for this name


class NoRecordingError(Exception):
    """The prompt has no recorded answer for that model: retrying cannot help."""


class ReplayProvider(CustomLLM):
    def __init__(self, data_dir: Path | None, latency_ms: float = 0.0) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.latency_ms = latency_ms

    def lookup(self, model: str, messages: list[dict[str, Any]]) -> str:
        if self.data_dir is None:
            raise NoRecordingError(
                "the replay provider has no data directory: set [replay] data_dir in the config "
                "or TUTELAGE_REPLAY_DATA"
            )
        prompt = next(
            (str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        by_model = recordings(self.data_dir).get(prompt_key(prompt))
        if by_model is None:
            raise NoRecordingError(f"no recorded answer for this prompt in {self.data_dir}")
        if model not in by_model:
            raise NoRecordingError(
                f"no recordings of model '{model}' in {self.data_dir}; it has: "
                + ", ".join(sorted(by_model))
            )
        return by_model[model]

    def _response(self, model: str, messages: list[dict[str, Any]]) -> ModelResponse:
        text = self.lookup(model, messages)
        prompt_tokens = litellm.token_counter(model=TOKEN_MODEL, messages=messages)
        completion_tokens = litellm.token_counter(
            model=TOKEN_MODEL, text=text, count_response_tokens=True
        )
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
