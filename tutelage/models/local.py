"""Configuration of local GGUF models (the `local/<name>` provider)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

BUNDLED = "gemma3-270m"


class FewShot(BaseModel):
    question: str
    answer: str


def _default_shots() -> list[FewShot]:
    return [
        FewShot(question="What is the capital of France?", answer="Paris"),
        FewShot(question="What is 12 plus 30?", answer="42"),
        FewShot(question="Which planet is known as the red planet?", answer="Mars"),
    ]


class LocalModelConfig(BaseModel):
    """One `[[local_models]]` entry; members use it as `model = "local/<name>"`."""

    model_config = {"extra": "forbid"}

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    # A GGUF file, or empty to use the bundled model (assembled into the data dir on first use).
    path: Path | None = None
    bundled: str = BUNDLED
    n_ctx: int = Field(2048, ge=128)
    n_threads: int = Field(0, ge=0)  # 0: every core but one (see threads())
    prompt_style: str = Field("auto", pattern=r"^(auto|chat|completion)$")
    max_tokens: int = Field(128, ge=1)
    temperature: float = Field(0.0, ge=0)
    stop: list[str] = Field(default_factory=lambda: ["\nQ:", "\n\n"])
    few_shot: list[FewShot] = Field(default_factory=_default_shots)

    def threads(self) -> int:
        """llama.cpp's threads meet at a barrier every layer, so one preempted thread stalls all
        of them: by default leave one core to the worker (Temporal, embeddings, stores) and the
        API queries it serves. Measured on 2 cores: 2 threads ran at 84% of their direct speed
        through the activity, 1 thread at 94.5%."""
        return self.n_threads or max(1, (os.cpu_count() or 1) - 1)
