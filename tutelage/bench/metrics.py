"""Router metrics as RouteLLM computes them (routellm/evals/evaluate.py), plus cost figures.

A curve is a list of (strong-call share in %, accuracy) points. Like RouteLLM, APGR is the
area under the accuracy curve (trapezoids over the share axis, as a fraction) between the
weak and the strong model's areas over the same range; CPT(x) interpolates the share needed to
recover x of the weak-strong gap. Difference, stated: tutelage always explores, so its curve
cannot reach 0% (nor, with ties going to the cheaper member, 100%); we add the student-only
(0%, weak) and supervisor-only (100%, strong) points, which any user reaches by configuration,
so the range matches RouteLLM's 0-100%.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Outcome:
    """One item as a system handled it."""

    score: float  # the served answer's recorded result: 1.0 right, 0.0 wrong, or a grade
    strong_called: bool
    cost_usd: float
    # A cache hit, how it was scored (`bench/served.py`: same_item, gold_match, wrong,
    # unverifiable); "" for an answer given to this query.
    cache: str = ""


@dataclass(frozen=True)
class Summary:
    accuracy: float
    strong_call_share: float
    cost_usd: float

    def as_dict(self) -> dict[str, float]:
        return {"accuracy": self.accuracy, "strong_call_share": self.strong_call_share,
                "cost_usd": self.cost_usd}  # fmt: skip


def summarise(outcomes: list[Outcome]) -> Summary:
    n = len(outcomes) or 1
    return Summary(
        accuracy=sum(o.score for o in outcomes) / n,
        strong_call_share=sum(o.strong_called for o in outcomes) / n,
        cost_usd=sum(o.cost_usd for o in outcomes),
    )


def random_router(
    strong_correct: list[bool],
    weak_correct: list[bool],
    strong_cost: list[float],
    weak_cost: list[float],
    share: float,
    seed: int = 0,
) -> Summary:
    """Send a random `share` of items to the strong model, the rest to the weak one."""
    n = len(strong_correct)
    rng = random.Random(seed)
    chosen = set(rng.sample(range(n), round(share * n)))
    outcomes = [
        Outcome(strong_correct[i] if i in chosen else weak_correct[i], i in chosen,
                strong_cost[i] if i in chosen else weak_cost[i])
        for i in range(n)
    ]  # fmt: skip
    return summarise(outcomes)


def oracle(
    strong_correct: list[bool], weak_correct: list[bool], strong_cost: list[float],
    weak_cost: list[float],
) -> Summary:  # fmt: skip
    """Weak whenever it is right or both are wrong; strong only when only it is right."""
    outcomes = []
    for s, w, sc, wc in zip(strong_correct, weak_correct, strong_cost, weak_cost, strict=True):
        use_strong = s and not w
        outcomes.append(Outcome(s if use_strong else w, use_strong, sc if use_strong else wc))
    return summarise(outcomes)


def _sorted(curve: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    pts = sorted(curve)
    return np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)


def apgr(curve: list[tuple[float, float]], weak_acc: float, strong_acc: float) -> float:
    x, y = _sorted(curve)
    if len(x) < 2 or strong_acc == weak_acc or x[-1] == x[0]:
        return float("nan")
    auc = float(np.trapezoid(y, x / 100))
    weak_auc = float(np.trapezoid(np.full_like(x, weak_acc), x / 100))
    strong_auc = float(np.trapezoid(np.full_like(x, strong_acc), x / 100))
    return (auc - weak_auc) / (strong_auc - weak_auc)


def cpt(curve: list[tuple[float, float]], weak_acc: float, strong_acc: float, pct: float) -> float:
    """Strong-call share (%) needed to reach weak + pct * (strong - weak), interpolated."""
    x, y = _sorted(curve)
    target = pct * (strong_acc - weak_acc) + weak_acc
    return float(np.interp(target, y, x))


def cost_reduction_at(
    points: list[Summary], supervisor: Summary, quality: float = 0.95
) -> float | None:
    """1 - cost / supervisor-only cost of the cheapest point with >= `quality` of its accuracy."""
    good = [p for p in points if p.accuracy >= quality * supervisor.accuracy]
    if not good or supervisor.cost_usd <= 0:
        return None
    return 1.0 - min(p.cost_usd for p in good) / supervisor.cost_usd
