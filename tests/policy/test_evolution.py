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


def _inputs(stats: list[MemberDomainStats], roster: list[MemberState], **extra: object) -> object:
    from tutelage.models.lifecycle import EvolutionInputs, PromotionSettings

    promotion = PromotionSettings(student_to_ta={"min_judged": 30, "min_score": 0.75,
                                                 "min_win_rate": 0.6, "max_deficit": 0.05})  # fmt: skip
    return EvolutionInputs(members=stats, roster=roster, supervisor="sup", promotion=promotion,
                           costs={"sup": 1.0, "a": 0.11, "b": 0.22}, **extra)  # type: ignore[arg-type]


def _record(mid: str, domain: str, judged: int, score: float, diff: float) -> MemberDomainStats:
    # Paired on every judged query, the differences alternating around `diff`.
    d = [diff + (0.5 if i % 2 else -0.5) for i in range(judged)]
    return MemberDomainStats(member_id=mid, domain=domain, judged=judged, wins=judged // 2,
                             score_sum=score * judged, paired=judged, paired_diff_sum=sum(d),
                             paired_diff_sq=sum(x * x for x in d), cost_usd=0.01)  # fmt: skip


def test_a_student_is_retired_from_a_domain_it_cannot_earn_and_keeps_the_others() -> None:
    from tutelage.policy.evolution import plan_domain_prunes

    roster = [_state("sup", Role.TEACHER), _state("a"), _state("b")]
    stats = [_record("a", "math", 60, 0.15, -0.3),  # far behind: out of reach
             _record("a", "code", 60, 0.70, -0.02),  # close to the bar: keeps learning
             _record("b", "math", 10, 0.10, -0.4)]  # too few judged to tell
    plan = plan_domain_prunes(_inputs(stats, roster), S)  # type: ignore[arg-type]
    assert [(p.member_id, p.domain, p.action) for p in plan] == [("a", "math", Action.RETIRE)]
    assert "out of reach of the TA bar" in plan[0].reason
    # Judged prune_after_judged times without earning it: its chance is over, even if close.
    patient = S.model_copy(update={"prune_after_judged": 60})
    plan = plan_domain_prunes(_inputs(stats, roster), patient)  # type: ignore[arg-type]
    assert {(p.member_id, p.domain) for p in plan} == {("a", "math"), ("a", "code")}


def test_users_who_find_a_student_better_than_the_supervisor_keep_it_in_the_domain() -> None:
    """Agreement judging puts the student far behind (it differs from a supervisor that users
    find wrong); users rated 12 queries both answered: the student right on all, the
    supervisor on 4 (the record of test_feedback's student that earns its domain)."""
    from tutelage.policy.evolution import plan_domain_prunes

    roster = [_state("sup", Role.TEACHER), _state("a")]

    def retired(record: MemberDomainStats, settings: EvolutionSettingsModel = S) -> list[str]:
        inputs = _inputs([record], roster)
        return [p.member_id for p in plan_domain_prunes(inputs, settings)]  # type: ignore[arg-type]

    judged = _record("a", "math", 100, 0.40, -0.6)
    assert retired(judged) == ["a"]
    diffs = [1.0] * 8 + [0.0] * 4
    rated = judged.model_copy(update={
        "user_judged": 12, "user_wins": 12, "user_score_sum": 12.0, "user_paired": 12,
        "user_paired_diff_sum": sum(diffs), "user_paired_diff_sq": sum(d * d for d in diffs),
        "sup_user_judged": 12, "sup_user_score_sum": 4.0})  # fmt: skip
    assert retired(rated) == []
    # Users who rate it as the judge does do not save it.
    panned = rated.model_copy(update={"user_wins": 2, "user_score_sum": 2.0,
                                      "user_paired_diff_sum": -8.0,
                                      "user_paired_diff_sq": 8.0})  # fmt: skip
    assert retired(panned) == ["a"]
    # Its chance is counted in the judge's verdicts: 12 ratings (36 weighted) do not use it up.
    assert retired(rated, S.model_copy(update={"prune_after_judged": 120})) == []


def test_a_member_that_may_still_review_its_domain_is_kept() -> None:
    from tutelage.models.lifecycle import PairStats
    from tutelage.policy.evolution import plan_domain_prunes

    roster = [_state("sup", Role.TEACHER), _state("a"), _state("b")]
    stats = [_record("a", "math", 60, 0.15, -0.3)]
    agreeing = PairStats(domain="math", member_a="a", member_b="b", together=60, agreed=40,
                         agreed_judged=30, agreed_right=30)  # fmt: skip
    kept = plan_domain_prunes(_inputs(stats, roster, pairs=[agreeing]), S)  # type: ignore[arg-type]
    assert kept == []
    # A pair that rarely agrees costs more than the supervisor: no reason to keep it.
    rare = agreeing.model_copy(update={"agreed": 5})
    gone = plan_domain_prunes(_inputs(stats, roster, pairs=[rare]), S)  # type: ignore[arg-type]
    assert [p.member_id for p in gone] == ["a"]


def test_a_gap_that_is_only_cost_spawns_only_cheaper_candidates() -> None:
    leaning = find_gaps([DomainStats(domain="math", queries=50, mean_best_score=0.9,
                                     supervisor_share=0.95)], S)  # fmt: skip
    weak = find_gaps([DomainStats(domain="logic", queries=50, mean_best_score=0.3,
                                  supervisor_share=0.95)], S)  # fmt: skip
    assert leaning[0].cost_only and not weak[0].cost_only
    big = MemberSpec(id="big", model="openai/big")
    small = MemberSpec(id="small", model="openai/small")
    costs = {"big": 1.0, "small": 0.2}
    assert [p.spec.template for p in plan_spawns(leaning, [big, small], [], S, costs)] == ["small"]
    assert [p.spec.template for p in plan_spawns(weak, [big, small], [], S, costs)] == ["big"]


def test_reclustering_keeps_the_better_fit_and_the_names() -> None:
    from tutelage.policy.domains import best_kmeans, inertia

    rng = np.random.default_rng(2)
    centres = np.eye(3)
    x = np.vstack([c + rng.normal(scale=0.05, size=(40, 3)) for c in centres])
    fit = best_kmeans(x, 3, restarts=3)
    assert inertia(x, fit) <= min(inertia(x, kmeans(x, 3, seed=s)) for s in range(3)) + 1e-9
    first = name_clusters(fit, {})
    grown = np.vstack([x, centres[0] + rng.normal(scale=0.05, size=(20, 3))])
    again = name_clusters(best_kmeans(grown, 3, restarts=2, start=np.array(list(first.values()))),
                          first)  # fmt: skip
    assert set(again) == set(first)


def test_a_spawned_candidate_that_cannot_be_activated_is_retired_outright() -> None:
    from tutelage.policy.evolution import plan_domain_prunes

    roster = [_state("sup", Role.TEACHER),
              _state("qwen-math", Role.PROBATION, spawned_for="math", template="qwen")]  # fmt: skip
    roster[1].spec.domains = ["math"]
    stats = [_record("qwen-math", "math", 40, 0.2, -0.6)]
    plan = plan_domain_prunes(_inputs(stats, roster), S)  # type: ignore[arg-type]
    assert [(p.member_id, p.domain) for p in plan] == [("qwen-math", "*")]
    assert "out of reach of the student bar" in plan[0].reason
