"""The benchmark's users: seeded coins (reproducible, nested over rates, independent of each
other) and the score a user sends."""

from __future__ import annotations

import pytest

from tutelage.policy.bench_feedback import ratable, rating_arrives, rating_flipped, user_score

ITEMS = [f"gsm8k-{i}" for i in range(4000)]


def test_the_coins_are_keyed_on_the_seed_and_the_item() -> None:
    first = [rating_arrives(0, it, 0.1) for it in ITEMS]
    assert first == [rating_arrives(0, it, 0.1) for it in ITEMS]  # reproducible
    assert first != [rating_arrives(1, it, 0.1) for it in ITEMS]  # another seed, other items
    assert sum(first) / len(ITEMS) == pytest.approx(0.1, abs=0.015)
    flips = [rating_flipped(0, it, 0.1) for it in ITEMS]
    assert sum(flips) / len(ITEMS) == pytest.approx(0.1, abs=0.015)
    # The flip is drawn apart from the arrival: about a tenth of the rated items are flipped.
    rated = [f for f, r in zip(flips, first, strict=True) if r]
    assert 0.05 < sum(rated) / len(rated) < 0.15


def test_a_higher_rate_keeps_every_rating_of_a_lower_one() -> None:
    low = {it for it in ITEMS if rating_arrives(0, it, 0.02)}
    high = {it for it in ITEMS if rating_arrives(0, it, 0.1)}
    assert low and low < high
    assert not any(rating_arrives(0, it, 0.0) for it in ITEMS)
    assert all(rating_arrives(0, it, 1.0) for it in ITEMS[:100])
    assert not any(rating_flipped(0, it, 0.0) for it in ITEMS)


def test_the_user_sends_the_recorded_score_or_its_opposite() -> None:
    assert user_score(1.0, False) == 1.0 and user_score(0.0, False) == 0.0
    assert user_score(1.0, True) == 0.0 and user_score(0.0, True) == 1.0
    assert user_score(0.62, False) == 0.62 and user_score(0.62, True) == pytest.approx(0.38)
    assert user_score(1.3, False) == 1.0 and user_score(-0.1, True) == 1.0  # clamped


def test_a_cache_hit_with_no_truth_to_rate_by_is_not_rated() -> None:
    assert not ratable("unverifiable")
    assert all(ratable(kind) for kind in ("", "same_item", "gold_match", "wrong"))
