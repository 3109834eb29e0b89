"""Router metrics against hand-computed values on a small synthetic dataset."""

from __future__ import annotations

import math

import pytest

from tutelage.bench import metrics

# Four items: strong right on 1,2,3; weak right on 1,4. Strong costs 1.0, weak 0.1.
S = [True, True, True, False]
W = [True, False, False, True]
SC = [1.0] * 4
WC = [0.1] * 4


def test_baselines() -> None:
    sup = metrics.summarise([metrics.Outcome(s, True, c) for s, c in zip(S, SC, strict=True)])
    assert (sup.accuracy, sup.strong_call_share, sup.cost_usd) == (0.75, 1.0, 4.0)
    oracle = metrics.oracle(S, W, SC, WC)
    # strong only where only it is right: items 2 and 3.
    assert (oracle.accuracy, oracle.strong_call_share) == (1.0, 0.5)
    assert oracle.cost_usd == pytest.approx(2.2)
    rnd = metrics.random_router(S, W, SC, WC, share=0.5, seed=1)
    assert rnd.strong_call_share == 0.5 and rnd.cost_usd == pytest.approx(2.2)


def test_apgr_of_reference_curves() -> None:
    weak, strong = 0.5, 0.75
    straight = [(0.0, weak), (100.0, strong)]  # supervisor-only / student-only endpoints
    assert metrics.apgr(straight, weak, strong) == pytest.approx(0.5)
    # Oracle-like: the whole gap recovered at 50% strong calls, then flat.
    oracle = [(0.0, weak), (50.0, strong), (100.0, strong)]
    assert metrics.apgr(oracle, weak, strong) == pytest.approx(0.75)
    assert metrics.apgr([(0.0, weak), (100.0, weak)], weak, strong) == pytest.approx(0.0)
    assert math.isnan(metrics.apgr([(10.0, 0.6)], weak, strong))


def test_cpt_interpolates() -> None:
    curve = [(0.0, 0.5), (100.0, 0.75)]
    assert metrics.cpt(curve, 0.5, 0.75, 0.5) == pytest.approx(50.0)
    assert metrics.cpt(curve, 0.5, 0.75, 0.8) == pytest.approx(80.0)
    oracle = [(0.0, 0.5), (50.0, 0.75), (100.0, 0.75)]
    assert metrics.cpt(oracle, 0.5, 0.75, 0.5) == pytest.approx(25.0)


def test_cost_reduction_at_95() -> None:
    sup = metrics.Summary(0.8, 1.0, 10.0)
    pts = [metrics.Summary(0.78, 0.5, 6.0), metrics.Summary(0.7, 0.2, 2.0)]
    assert metrics.cost_reduction_at(pts, sup) == pytest.approx(0.4)
    assert metrics.cost_reduction_at([metrics.Summary(0.5, 0.1, 1.0)], sup) is None
