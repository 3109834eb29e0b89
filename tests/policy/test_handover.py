"""Hand-over of judging to a domain's trusted teacher, with supervisor audits."""

from __future__ import annotations

from tutelage.models import (
    JudgeMode,
    JudgeSettings,
    Member,
    Neighbour,
    Role,
    Route,
    RoutingSettings,
    SchoolSnapshot,
)
from tutelage.models.lifecycle import MemberDomainStats, MemberSpec, MemberState
from tutelage.policy.handover import pick_judge, plan_handover
from tutelage.policy.routing import route

SETTINGS = JudgeSettings(handover_agreement=0.9, handover_window=50, judge_audit_rate=0.2)


def _state(mid: str, **roles: Role) -> MemberState:
    return MemberState(spec=MemberSpec(id=mid, model=f"x/{mid}"), roles=roles)


def _stats(mid: str, domain: str, judged: int, agree: int) -> MemberDomainStats:
    return MemberDomainStats(member_id=mid, domain=domain, judged=judged, agreements=agree)


def test_only_a_teacher_with_enough_agreeing_answers_takes_over() -> None:
    roster = [_state("sup", **{"*": Role.TEACHER}), _state("t", math=Role.TEACHER, law=Role.TEACHER),
              _state("s", math=Role.TA)]  # fmt: skip
    stats = [_stats("t", "math", 200, 198), _stats("t", "law", 200, 150),
             _stats("s", "math", 200, 200), _stats("sup", "math", 200, 200),
             _stats("t", "code", 10, 10)]  # fmt: skip
    assert plan_handover(stats, roster, "sup", SETTINGS) == {"math": "t"}
    assert plan_handover([], roster, "sup", SETTINGS) == {}


def _school(judges: dict[str, str]) -> SchoolSnapshot:
    return SchoolSnapshot(
        members=[Member(id="sup", model="x/sup", role=Role.TEACHER, relative_cost=1.0),
                 Member(id="t", model="x/t", role=Role.STUDENT, roles={"math": Role.TEACHER},
                        relative_cost=0.1),
                 Member(id="s", model="x/s", role=Role.STUDENT, relative_cost=0.01)],
        supervisor="sup", judges=judges, judge=SETTINGS.model_copy(update={"mode": JudgeMode.AGREEMENT}),
        routing=RoutingSettings(low_threshold=0.86, high_threshold=0.9),
    )  # fmt: skip


def test_judge_is_the_teacher_except_on_audit_draws() -> None:
    school = _school({"math": "t"})
    picks = [pick_judge(f"q{i}", "math", school) for i in range(500)]
    audited = picks.count("sup") / len(picks)
    assert set(picks) == {"t", "sup"} and 0.12 < audited < 0.28
    assert pick_judge("q1", "law", school) == "sup" and pick_judge("q1", None, school) == "sup"


def test_hybrid_route_in_a_handed_over_domain_leaves_the_supervisor_out() -> None:
    school = _school({"math": "t"})
    near = [Neighbour(query_id=f"n{i}", similarity=0.88, scores={"t": 1.0, "s": 1.0, "sup": 1.0})
            for i in range(3)]  # fmt: skip
    decisions = [route(f"q{i}", "math", near, school) for i in range(50)]
    handed = [d for d in decisions if d.judge_id == "t"]
    assert handed and all(d.route == Route.HYBRID for d in handed)
    assert all("sup" not in d.answerers and "t" in d.answerers for d in handed)
    assert any(d.judge_id == "sup" and "sup" in d.answerers for d in decisions)  # audits
