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
