"""Evolution's decisions: domains, gaps, spawns, prunes, threshold and shadow tuning."""

from __future__ import annotations

import numpy as np
import pytest

from tutelage.models.lifecycle import (
    Action,
    DomainStats,
    EvolutionSettingsModel,
    MemberDomainStats,
    MemberSpec,
    MemberState,
    ThresholdRow,
)
from tutelage.models.roster import Role
from tutelage.policy.cycles import due_cycles
from tutelage.policy.domains import assign_domain, cluster_count, kmeans, name_clusters
from tutelage.policy.evolution import find_gaps, plan_prunes, plan_spawns
from tutelage.policy.tuning import objective, tune_shadow_rate, tune_thresholds

S = EvolutionSettingsModel()


def test_kmeans_separates_clear_groups_and_names_survive_reclustering() -> None:
    rng = np.random.default_rng(1)
    a = np.array([1.0, 0, 0]) + rng.normal(scale=0.05, size=(30, 3))
    b = np.array([0, 1.0, 0]) + rng.normal(scale=0.05, size=(30, 3))
    c = kmeans(np.vstack([a, b]), 2, seed=0)
    first = name_clusters(c, {})
    assert sorted(first) == ["cluster-0", "cluster-1"]
    again = name_clusters(kmeans(np.vstack([b, a]), 2, seed=3), first)
    assert {n: np.round(v, 1).tolist() for n, v in again.items()} == {
        n: np.round(v, 1).tolist() for n, v in first.items()}  # fmt: skip
    third = name_clusters(np.array([[0, 0, 1.0]]), first)
    assert list(third) == ["cluster-2"]
    x_name = next(n for n, v in first.items() if v[0] > 0.9)
    assert assign_domain(None, [0.99, 0.1, 0], first) == x_name
    assert assign_domain("math", [0.99, 0.1, 0], first) == "math"
    assert assign_domain(None, [1, 0, 0], {}) is None
    assert cluster_count(0) == 0 and cluster_count(8) == 1 and cluster_count(10**6) == 64


def test_gaps_worst_first_and_small_domains_ignored() -> None:
    gaps = find_gaps([
        DomainStats(domain="good", queries=50, mean_best_score=0.95, supervisor_share=0.3),
        DomainStats(domain="weak", queries=50, mean_best_score=0.4, supervisor_share=0.9),
        DomainStats(domain="leaning", queries=50, mean_best_score=0.9, supervisor_share=0.95),
        DomainStats(domain="tiny", queries=3, mean_best_score=0.1),
        DomainStats(domain="failing", queries=40, mean_best_score=0.9, failure_rate=0.5,
                    supervisor_share=0.5),
    ], S)  # fmt: skip
    assert [g.domain for g in gaps] == ["weak", "failing", "leaning"]


def _state(mid: str, role: Role = Role.STUDENT, spawned_for: str | None = None,
           template: str | None = None, **roles: Role) -> MemberState:  # fmt: skip
    spec = MemberSpec(id=mid, model="openai/x", role=role, spawned_for=spawned_for,
                      template=template)  # fmt: skip
    return MemberState(spec=spec, roles=roles)


def test_spawns_respect_capacity_and_do_not_repeat_a_template() -> None:
    gaps = find_gaps([DomainStats(domain="math", queries=50, mean_best_score=0.3),
                      DomainStats(domain="law", queries=50, mean_best_score=0.5)], S)  # fmt: skip
    cands = [MemberSpec(id="small", model="openai/s"), MemberSpec(id="big", model="openai/b")]
    plans = plan_spawns(gaps, cands, [], S)
    assert [(p.spec.id, p.spec.role, p.domain) for p in plans] == [
        ("small-math", Role.PROBATION, "math"), ("small-law", Role.PROBATION, "law")]  # fmt: skip
    roster = [_state("small-math", Role.PROBATION, "math", "small")]
    assert [p.spec.id for p in plan_spawns(gaps[:1], cands, roster, S)] == ["big-math"]
    full = roster + [_state("big-math", Role.PROBATION, "math", "big")]
    assert plan_spawns(gaps[:1], cands, full, S) == []
    assert plan_spawns(gaps, [], [], S) == []


def test_prune_retires_confident_losers_that_never_answer_alone() -> None:
    roster = [_state("sup", Role.TEACHER), _state("loser"), _state("ta", math=Role.TA),
              _state("new")]  # fmt: skip
    stats = [MemberDomainStats(member_id="loser", domain="x", judged=60, wins=2, cost_usd=1.0),
             MemberDomainStats(member_id="ta", domain="math", judged=60, wins=2),
             MemberDomainStats(member_id="new", domain="x", judged=5, wins=0)]  # fmt: skip
    plan = plan_prunes(stats, roster, "sup", S)
    assert [(p.member_id, p.action) for p in plan] == [("loser", Action.RETIRE)]


def test_threshold_tuning_moves_one_bounded_step_towards_the_better_objective() -> None:
    # Solo answers at similarity >= 0.85 are as good as exploring and far cheaper.
    rows = [ThresholdRow(nearest_similarity=0.86 + 0.001 * i, best_score=1.0, explore_cost=1.0,
                         solo_score=1.0, solo_cost=0.05) for i in range(40)]  # fmt: skip
    change = tune_thresholds(rows, low=0.88, high=0.90, lam=0.3, step=0.01)
    assert change.after == {"low_threshold": 0.87, "high_threshold": 0.89}
    assert change.objective_after > change.objective_before
    assert objective(rows, 0.80, 0.3) == pytest.approx(1.0 - 0.3 * 0.05)
    few = tune_thresholds(rows[:5], 0.88, 0.90, 0.3, 0.01)
    assert few.after == few.before and "unchanged" in few.reason
    # Solo answers that are wrong push the threshold up instead.
    bad = [r.model_copy(update={"solo_score": 0.0, "nearest_similarity": 0.905}) for r in rows]
    assert tune_thresholds(bad, 0.88, 0.90, 0.3, 0.01).after["high_threshold"] > 0.90


def test_shadow_rate_rises_while_learners_lack_data() -> None:
    assert tune_shadow_rate({"a": 3, "b": 40}, 0.1, 0.05, 30)[0] == pytest.approx(0.15)
    assert tune_shadow_rate({"a": 35}, 0.1, 0.05, 30)[0] == pytest.approx(0.05)
    assert tune_shadow_rate({}, 0.1, 0.05, 30)[0] == 0.1


def test_due_cycles_every_n_queries() -> None:
    every = {"promotion": 10, "evolution": 20, "distillation": 0}
    assert due_cycles(10, every) == ["promotion"]
    assert due_cycles(20, every) == ["promotion", "evolution"]
    assert due_cycles(7, every) == [] and due_cycles(0, every) == []
