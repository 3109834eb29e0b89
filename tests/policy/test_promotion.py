"""Promotion and demotion from judged records, with Wilson bounds."""

from __future__ import annotations

import pytest

from tutelage.models.lifecycle import (
    Action,
    MemberDomainStats,
    MemberSpec,
    MemberState,
    PromotionSettings,
)
from tutelage.models.roster import Role
from tutelage.policy.promotion import plan_promotions, wilson_lower


def _member(mid: str, role: Role = Role.STUDENT, **roles: Role) -> MemberState:
    return MemberState(spec=MemberSpec(id=mid, model=f"openai/{mid}", role=role), roles=roles)


def _stats(mid: str, domain: str, judged: int, wins: int, score: float,
           recent: list[float] | None = None) -> MemberDomainStats:  # fmt: skip
    return MemberDomainStats(member_id=mid, domain=domain, judged=judged, wins=wins,
                             score_sum=score * judged, recent_scores=recent or [])  # fmt: skip


def test_wilson_lower_bound_hand_values() -> None:
    assert wilson_lower(0, 0, 1.96) == 0.0
    # 8/10 at z=1.96: (0.8 + 0.19208 - 1.96*sqrt(0.016 + 0.0009604)) / 1.38416 = 0.4902
    assert wilson_lower(8, 10, 1.96) == pytest.approx(0.4902, abs=1e-4)
    assert wilson_lower(10, 10, 1.0) == pytest.approx(10 / 11, abs=1e-9)
    assert wilson_lower(80, 100, 1.96) > wilson_lower(8, 10, 1.96)


def test_no_history_no_moves() -> None:
    assert plan_promotions([], [_member("a")], "sup", PromotionSettings()) == []


def test_student_promoted_only_where_it_clears_the_bar() -> None:
    roster = [_member("sup", Role.TEACHER), _member("a")]
    stats = [_stats("a", "math", 40, 38, 0.95), _stats("a", "history", 40, 5, 0.2),
             _stats("sup", "math", 40, 40, 1.0)]  # fmt: skip
    plan = plan_promotions(stats, roster, "sup", PromotionSettings())
    assert [(p.member_id, p.domain, p.action) for p in plan] == [("a", "math", Action.PROMOTE)]
    assert "40 judged" in plan[0].reason


def test_raw_ratio_is_not_enough_with_few_answers() -> None:
    # 30/30 clears the raw bars but needs 30 judged; 12/12 is perfect yet too few.
    plan = plan_promotions([_stats("a", "math", 12, 12, 1.0)], [_member("a")], "sup",
                           PromotionSettings())  # fmt: skip
    assert plan == []


def test_ta_to_teacher_and_demotion() -> None:
    roster = [_member("a", math=Role.TA, code=Role.TEACHER)]
    stats = [_stats("a", "math", 80, 78, 0.97),
             _stats("a", "code", 80, 40, 0.6, recent=[0.2] * 20 + [1.0] * 10)]  # fmt: skip
    plan = plan_promotions(stats, roster, "sup", PromotionSettings())
    moves = {(p.domain, p.action) for p in plan}
    assert moves == {("math", Action.PROMOTE), ("code", Action.DEMOTE)}


def test_probation_member_is_activated_and_retired_member_skipped() -> None:
    roster = [_member("new", Role.PROBATION), _member("old", Role.RETIRED)]
    stats = [_stats("new", "*", 12, 10, 0.9), _stats("old", "*", 100, 100, 1.0)]
    plan = plan_promotions(stats, roster, "sup", PromotionSettings())
    assert [(p.member_id, p.action) for p in plan] == [("new", Action.ACTIVATE)]


def test_ties_and_one_member_school() -> None:
    # Only the supervisor: nothing to move. Two equal students: both move, in id order.
    assert plan_promotions([_stats("sup", "*", 50, 50, 1.0)], [_member("sup", Role.TEACHER)],
                           "sup", PromotionSettings()) == []  # fmt: skip
    roster = [_member("b"), _member("a")]
    stats = [_stats("b", "x", 40, 39, 0.95), _stats("a", "x", 40, 39, 0.95)]
    plan = plan_promotions(stats, roster, "sup", PromotionSettings())
    assert [p.member_id for p in plan] == ["a", "b"]


def test_unknown_member_in_stats_is_ignored() -> None:
    # A member retired and removed mid-stream still has ledger rows.
    plan = plan_promotions([_stats("gone", "x", 99, 99, 1.0)], [_member("a")], "sup",
                           PromotionSettings())  # fmt: skip
    assert plan == []


def _versus_supervisor(mid: str, domain: str, judged: int, score: float, paired: int,
                       diffs: list[float], sup_score: float) -> MemberDomainStats:  # fmt: skip
    """A record with `paired` queries judged beside the supervisor, their differences
    repeating `diffs` (member - supervisor)."""
    d = [diffs[i % len(diffs)] for i in range(paired)]
    return MemberDomainStats(member_id=mid, domain=domain, judged=judged,
                             wins=judged, score_sum=score * judged, paired=paired,
                             paired_diff_sum=sum(d), paired_diff_sq=sum(x * x for x in d),
                             sup_judged=paired, sup_score_sum=sup_score * paired)  # fmt: skip


RELATIVE = PromotionSettings(
    student_to_ta={"min_judged": 30, "min_score": 0.75, "min_win_rate": 0.6,
                   "max_deficit": 0.05},
    ta_to_teacher={"min_judged": 50, "min_win_rate": 0.7, "max_deficit": 0.02},
)  # fmt: skip


def test_a_student_better_than_a_weak_supervisor_earns_the_domain() -> None:
    """Right 35% of the time where the supervisor is right 25%: far below the absolute bar,
    above the supervisor on the same queries; promoted on the relative bar."""
    better = _versus_supervisor("a", "logic", 100, 0.35, 100, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.25)
    plan = plan_promotions([better], [_member("a")], "sup", RELATIVE)
    assert [(p.domain, p.action) for p in plan] == [("logic", Action.PROMOTE)]
    assert "against the supervisor on 100 queries: +0.100" in plan[0].reason
    # As a TA it becomes a teacher only with the relative bar (no absolute bar is set).
    plan = plan_promotions([better], [_member("a", logic=Role.TA)], "sup", RELATIVE)
    assert [(p.domain, p.action) for p in plan] == [("logic", Action.PROMOTE)]


def test_a_student_behind_its_supervisor_or_without_paired_evidence_is_not() -> None:
    worse = _versus_supervisor("a", "logic", 100, 0.20, 100, [-1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.30)
    assert plan_promotions([worse], [_member("a")], "sup", RELATIVE) == []
    # As good, but judged beside the supervisor on too few queries for the bar's min_judged.
    thin = _versus_supervisor("a", "logic", 100, 0.35, 20, [1, 0, 0, 0], 0.25)
    assert plan_promotions([thin], [_member("a")], "sup", RELATIVE) == []


def test_a_weak_but_supervisor_level_teacher_keeps_its_role() -> None:
    keeper = MemberDomainStats(member_id="a", domain="trivia", judged=60, wins=60,
                               score_sum=12, recent_scores=[0.2] * 20, sup_judged=100,
                               sup_score_sum=22)  # fmt: skip
    assert plan_promotions([keeper], [_member("a", trivia=Role.TEACHER)], "sup",
                           RELATIVE) == []  # fmt: skip
    behind = keeper.model_copy(update={"sup_score_sum": 60})
    plan = plan_promotions([behind], [_member("a", trivia=Role.TEACHER)], "sup", RELATIVE)
    assert [p.action for p in plan] == [Action.DEMOTE] and "supervisor's 0.60" in plan[0].reason


def test_domain_wide_off_promotes_only_in_discovered_domains() -> None:
    stats = [_stats("a", "*", 40, 38, 0.95), _stats("a", "math", 40, 38, 0.95)]
    everywhere = plan_promotions(stats, [_member("a")], "sup", PromotionSettings())
    assert {p.domain for p in everywhere} == {"*", "math"}
    per_domain = PromotionSettings(domain_wide=False)
    assert {p.domain for p in plan_promotions(stats, [_member("a")], "sup", per_domain)} == {"math"}


def test_a_step_needs_some_score_bar() -> None:
    from pydantic import ValidationError

    from tutelage.models.lifecycle import Step

    with pytest.raises(ValidationError, match="min_score, max_deficit, or both"):
        Step(min_judged=10, min_win_rate=0.5)


def test_a_noisy_window_demotes_only_without_a_confidence_bound() -> None:
    """8 right of the last 20 where the supervisor averages 0.58: the raw mean (0.40) is below
    both bars; at z = 1.64 its upper bound (0.58) is not, so the teacher keeps its role."""
    teacher = _member("a", math=Role.TEACHER)
    window = MemberDomainStats(member_id="a", domain="math", judged=135, wins=120,
                               score_sum=70, recent_scores=[1.0] * 8 + [0.0] * 12,
                               sup_judged=100, sup_score_sum=58)  # fmt: skip
    plan = plan_promotions([window], [teacher], "sup", PromotionSettings())
    assert [(p.action, p.reason[:35]) for p in plan] == [
        (Action.DEMOTE, "last 20 judged answers average 0.40")]
    sure = PromotionSettings(demote_confidence_z=1.64)
    assert plan_promotions([window], [teacher], "sup", sure) == []
    # 2 right of 20 is far enough below to demote at that z too, and says its bound.
    window.recent_scores = [1.0] * 2 + [0.0] * 18
    plan = plan_promotions([window], [teacher], "sup", sure)
    assert [p.action for p in plan] == [Action.DEMOTE]
    assert "(upper bound 0.26)" in plan[0].reason


def test_a_member_its_recent_answers_would_demote_is_not_promoted() -> None:
    """Clearing the bar on its whole record is not enough while the last 20 answers would
    take the role straight back (promoted, demoted, promoted ... every cycle)."""
    record = _stats("a", "math", 80, 78, 0.97, recent=[0.2] * 20)
    # As a TA it is demoted, not made a teacher; as a student it stays one.
    plan = plan_promotions([record], [_member("a", math=Role.TA)], "sup", PromotionSettings())
    assert [p.action for p in plan] == [Action.DEMOTE]
    plan = plan_promotions([record], [_member("a")], "sup", PromotionSettings())
    assert plan == []
    record.recent_scores = [1.0] * 20
    plan = plan_promotions([record], [_member("a")], "sup", PromotionSettings())
    assert [p.action for p in plan] == [Action.PROMOTE]
