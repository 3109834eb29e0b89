"""Fixed routers over many models, on the same items as the school (the llmrouter report).

Each item carries every model's recorded score and what that model's answer would cost; a
router picks one model per item. Ties always go to the cheaper model, then to the name.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from .metrics import Outcome, Summary, summarise


@dataclass(frozen=True)
class Costed:
    """One item as every model would have handled it."""

    task: str
    scores: dict[str, float]  # model -> recorded score
    costs: dict[str, float]  # model -> USD for this item's answer


def _outcomes(items: list[Costed], picks: list[str], supervisor: str) -> list[Outcome]:
    return [Outcome(it.scores[m], m == supervisor, it.costs[m])
            for it, m in zip(items, picks, strict=True)]  # fmt: skip


def _cheapest_best(scores: dict[str, float], costs: dict[str, float]) -> str:
    best = max(scores.values())
    return min((m for m, s in scores.items() if s >= best), key=lambda m: (costs[m], m))


def single_model(items: list[Costed], model: str, supervisor: str) -> Summary:
    return summarise(_outcomes(items, [model] * len(items), supervisor))


def best_single(items: list[Costed], supervisor: str) -> tuple[str, Summary]:
    """The model with the best accuracy on these items, alone."""
    models = sorted(items[0].scores) if items else []
    totals = {m: sum(it.scores[m] for it in items) for m in models}
    costs = {m: sum(it.costs[m] for it in items) for m in models}
    model = min(models, key=lambda m: (-totals[m], costs[m], m))
    return model, single_model(items, model, supervisor)


def random_pick(items: list[Costed], supervisor: str, seed: int) -> Summary:
    """A model drawn uniformly per item."""
    rng = random.Random(seed)
    picks = [rng.choice(sorted(it.scores)) for it in items]
    return summarise(_outcomes(items, picks, supervisor))


def oracle(items: list[Costed], supervisor: str) -> Summary:
    """Per item, the cheapest model with the best score."""
    return summarise(_outcomes(items, [_cheapest_best(it.scores, it.costs) for it in items],
                               supervisor))  # fmt: skip


def best_per_task(items: list[Costed], supervisor: str) -> tuple[dict[str, str], Summary]:
    """Per task (knowing the labels), the model with the best accuracy on that task's items."""
    by_task: dict[str, list[Costed]] = defaultdict(list)
    for it in items:
        by_task[it.task].append(it)
    chosen = {task: best_single(rows, supervisor)[0] for task, rows in sorted(by_task.items())}
    return chosen, summarise(_outcomes(items, [chosen[it.task] for it in items], supervisor))


def knn_picks(train_vectors: np.ndarray, train_labels: list[str], query_vectors: np.ndarray,
              k: int = 5, exclude: list[int | None] | None = None) -> list[str]:  # fmt: skip
    """LLMRouter's kNN router: the label most common among the k nearest training queries
    (cosine on unit vectors; a tie goes to the tied label with the nearest neighbour).
    `exclude[i]` is the row of the training set that is query i itself, if any (left out)."""
    train = np.asarray(train_vectors, dtype=np.float32)
    picks = []
    for start in range(0, len(query_vectors), 512):
        block = np.asarray(query_vectors[start : start + 512], dtype=np.float32)
        sims = block @ train.T
        for row in range(len(block)):
            own = exclude[start + row] if exclude else None
            if own is not None:
                sims[row, own] = -np.inf
            near = np.argsort(-sims[row])[:k]
            votes = Counter(train_labels[j] for j in near)
            top = max(votes.values())
            picks.append(next(train_labels[j] for j in near if votes[train_labels[j]] == top))
    return picks


def offline_knn(items: list[Costed], vectors: np.ndarray, train: list[Costed],
                train_vectors: np.ndarray, supervisor: str, k: int = 5,
                exclude: list[int | None] | None = None) -> Summary:  # fmt: skip
    """Trained with gold labels (each training query's cheapest best model), then routing
    `items` by their nearest training queries."""
    labels = [_cheapest_best(it.scores, it.costs) for it in train]
    picks = knn_picks(train_vectors, labels, vectors, k, exclude)
    return summarise(_outcomes(items, picks, supervisor))
