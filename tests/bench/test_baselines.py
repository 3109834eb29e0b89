"""Fixed routers over many models, against hand-computed values on a small synthetic set."""

from __future__ import annotations

import numpy as np
import pytest

from tutelage.bench import baselines as fixed

# Three items, two tasks, three models: "big" (expensive) and two cheap ones.
ITEMS = [
    fixed.Costed(task="math", scores={"big": 1.0, "a": 1.0, "b": 0.0},
                 costs={"big": 9.0, "a": 1.0, "b": 2.0}),
    fixed.Costed(task="math", scores={"big": 1.0, "a": 0.0, "b": 1.0},
                 costs={"big": 9.0, "a": 1.0, "b": 2.0}),
    fixed.Costed(task="logic", scores={"big": 0.0, "a": 0.5, "b": 0.0},
                 costs={"big": 9.0, "a": 1.0, "b": 2.0}),
]  # fmt: skip


def test_single_models_and_the_best_single_one() -> None:
    big = fixed.single_model(ITEMS, "big", "big")
    assert (big.accuracy, big.cost_usd, big.strong_call_share) == (pytest.approx(2 / 3), 27.0, 1.0)
    model, best = fixed.best_single(ITEMS, "big")
    assert model == "big" and best == big  # a has 1.5/3 < 2/3


def test_oracle_takes_the_cheapest_best_answer_per_item() -> None:
    o = fixed.oracle(ITEMS, "big")
    # a (right, cheapest), b (only cheap one right), a (the only partial score).
    assert o.accuracy == pytest.approx(2.5 / 3) and o.cost_usd == 1.0 + 2.0 + 1.0
    assert o.strong_call_share == 0.0


def test_best_per_task_knows_the_labels() -> None:
    chosen, s = fixed.best_per_task(ITEMS, "big")
    assert chosen == {"logic": "a", "math": "big"}
    assert s.accuracy == pytest.approx(2.5 / 3) and s.cost_usd == 9.0 + 9.0 + 1.0


def test_random_pick_is_seeded() -> None:
    assert fixed.random_pick(ITEMS, "big", 3) == fixed.random_pick(ITEMS, "big", 3)


def test_knn_votes_among_the_nearest_and_leaves_a_query_out_of_its_own_neighbours() -> None:
    train = np.array([[1.0, 0], [0.9, 0.1], [0, 1.0], [0.1, 0.9], [0.05, 0.95]])
    train /= np.linalg.norm(train, axis=1, keepdims=True)
    labels = ["a", "a", "b", "b", "b"]
    query = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert fixed.knn_picks(train, labels, query, k=3) == ["a", "b"]
    # k=2 among the first query's neighbours {0, 1} -> a; leaving row 0 out: {1, 4...} still a.
    assert fixed.knn_picks(train, labels, query[:1], k=1, exclude=[0]) == ["a"]
    # A tie goes to the tied label with the nearest neighbour.
    assert fixed.knn_picks(train[[0, 2]], ["a", "b"], np.array([[0.8, 0.6]]), k=2) == ["a"]


def test_offline_knn_routes_by_gold_labels_of_its_training_queries() -> None:
    vectors = np.eye(3)
    s = fixed.offline_knn(ITEMS, vectors, ITEMS, vectors, "big", k=1)
    assert s.accuracy == pytest.approx(2.5 / 3)  # each query finds itself: the oracle's pick
    away = fixed.offline_knn(ITEMS, vectors, ITEMS, vectors, "big", k=1, exclude=[0, 1, 2])
    assert away.accuracy <= s.accuracy
