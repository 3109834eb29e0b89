"""Tuning the routing thresholds by counterfactual replay of logged queries.

For each logged query we know how near its nearest neighbour was, what exploring it cost and
bought (the best judged score), and, when a solo-eligible member answered, what that member
alone would have cost and scored. A threshold setting decides, per query, which of the two
would have happened; the objective is mean quality minus lambda times mean cost relative to
exploring. The setting moves at most one bounded step per run, so one odd batch cannot swing it.
"""

from __future__ import annotations

from ..models.lifecycle import ThresholdChange, ThresholdRow


def objective(rows: list[ThresholdRow], high: float, lam: float) -> float:
    """Mean (quality - lam * relative cost) if queries at or above `high` went solo."""
    if not rows:
        return 0.0
    total = 0.0
    for r in rows:
        solo = (r.nearest_similarity >= high and r.solo_score is not None
                and r.solo_cost is not None)  # fmt: skip
        explore_cost = max(r.explore_cost, 1e-12)
        if solo:
            total += (r.solo_score or 0.0) - lam * ((r.solo_cost or 0.0) / explore_cost)
        else:
            total += r.best_score - lam * 1.0
    return total / len(rows)


def tune_thresholds(
    rows: list[ThresholdRow],
    low: float,
    high: float,
    lam: float,
    step: float,
    min_rows: int = 30,
) -> ThresholdChange:
    """The best high threshold within one `step` of the current one (low keeps its gap)."""
    before = {"low_threshold": low, "high_threshold": high}
    current = objective(rows, high, lam)
    if len(rows) < min_rows:
        return ThresholdChange(before=before, after=before, objective_before=current,
                               objective_after=current, rows=len(rows),
                               reason=f"{len(rows)} logged queries < {min_rows}: unchanged")  # fmt: skip
    gap = high - low
    candidates = [round(high + step * f, 6) for f in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    candidates = [c for c in candidates if gap <= c <= 1.0]
    scored = sorted(((objective(rows, c, lam), -abs(c - high), c) for c in candidates),
                    reverse=True)  # fmt: skip
    best_obj, _, best = scored[0]
    if best_obj <= current + 1e-9:
        best, best_obj = high, current
    after = {"low_threshold": round(best - gap, 6), "high_threshold": best}
    reason = (
        "unchanged: no step improves the objective"
        if best == high
        else (f"objective {current:.4f} -> {best_obj:.4f} on {len(rows)} logged queries")
    )
    return ThresholdChange(before=before, after=after, objective_before=current,
                           objective_after=best_obj, rows=len(rows), reason=reason)  # fmt: skip


def tune_shadow_rate(
    judged_by_learner: dict[str, int], current: float, step: float, enough: int,
    lowest: float = 0.02, highest: float = 0.5,
) -> tuple[float, str]:  # fmt: skip
    """More shadow answers while some learner lacks judged answers, fewer once all have them."""
    if not judged_by_learner:
        return current, "no learners: unchanged"
    short = sorted(m for m, n in judged_by_learner.items() if n < enough)
    if short:
        new = min(highest, round(current + step, 6))
        return new, f"{len(short)} learner(s) under {enough} judged answers ({', '.join(short)})"
    new = max(lowest, round(current - step, 6))
    return new, f"every learner has {enough}+ judged answers"
