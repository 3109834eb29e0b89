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
from tutelage.policy.routing import estimate_quality, route


def _school(student_role: Role = Role.TA, mode: JudgeMode = JudgeMode.AGREEMENT,
            **routing: float) -> SchoolSnapshot:  # fmt: skip
    settings = RoutingSettings(low_threshold=0.86, high_threshold=0.9, **routing)  # type: ignore[arg-type]
    return SchoolSnapshot(
        members=[Member(id="sup", model="x/sup", role=Role.TEACHER, relative_cost=1.0),
                 Member(id="stu", model="x/stu", role=student_role, relative_cost=0.05)],
        supervisor="sup", routing=settings, judge=JudgeSettings(mode=mode),
    )  # fmt: skip


def _near(sim: float, stu: float, n: int = 5) -> list[Neighbour]:
    return [Neighbour(query_id=f"n{i}", similarity=sim, scores={"sup": 1.0, "stu": stu})
            for i in range(n)]  # fmt: skip


def test_no_history_is_novel_and_everyone_answers() -> None:
    d = route("q", None, [], _school())
    assert d.route == Route.NOVEL and sorted(d.answerers) == ["stu", "sup"] and d.judge


def test_familiar_good_student_answers_alone() -> None:
    d = route("q", None, _near(0.95, 1.0), _school())
    assert d.route == Route.FAMILIAR and d.answerers == ["stu"] and not d.judge


def test_familiar_bad_student_defers_to_supervisor() -> None:
    d = route("q", None, _near(0.95, 0.0), _school())
    assert d.answerers == ["sup"]


def test_student_role_may_not_answer_alone() -> None:
    d = route("q", None, _near(0.95, 1.0), _school(student_role=Role.STUDENT))
    assert d.answerers == ["sup"]


def test_retired_and_probation_members_are_never_asked() -> None:
    for role in (Role.RETIRED, Role.PROBATION):
        d = route("q", None, [], _school(student_role=role))
        assert d.answerers == ["sup"]


def test_hybrid_takes_two_best_and_supervisor_in_agreement_mode() -> None:
    d = route("q", None, _near(0.88, 0.5), _school())
    assert d.route == Route.HYBRID and sorted(d.answerers) == ["stu", "sup"] and d.judge


def test_audit_and_shadow_rates_of_one_always_fire() -> None:
    d = route("q", None, _near(0.95, 1.0), _school(ta_audit_rate=1.0))
    assert d.audit and d.judge and sorted(d.answerers) == ["stu", "sup"]
    s = route("q", None, _near(0.95, 0.0), _school(shadow_rate=1.0))
    assert s.answerers == ["sup"] and s.shadows == ["stu"] and s.judge


def test_cost_weight_zero_always_prefers_quality() -> None:
    d = route("q", None, _near(0.95, 0.9), _school(cost_weight=0.0))
    assert d.answerers == ["sup"]


def test_estimates_shrink_to_prior_and_weight_by_similarity() -> None:
    s = RoutingSettings()
    assert estimate_quality([], ["a"], s) == {"a": s.prior_quality}
    near = [Neighbour(query_id="1", similarity=1.0, scores={"a": 1.0}),
            Neighbour(query_id="2", similarity=0.8, scores={"a": 0.0})]  # fmt: skip
    assert estimate_quality(near, ["a"], s)["a"] > 0.7


def test_the_nearest_neighbour_weighs_one_against_the_prior() -> None:
    """Weights are relative to the nearest neighbour, not to an identical query: a typical
    neighbourhood (cosine 0.92) still outweighs the prior (worth `prior_weight` = 1)."""
    s = RoutingSettings()  # prior 0.5 worth 1, temperature 0.02
    one = [Neighbour(query_id="1", similarity=0.92, scores={"a": 1.0})]
    assert estimate_quality(one, ["a"], s)["a"] == 0.75  # (0.5 * 1 + 1.0 * 1) / 2
    two = [*one, Neighbour(query_id="2", similarity=0.90, scores={"a": 0.0})]
    w = 2.718281828459045 ** (-0.02 / 0.02)  # one temperature further away: e^-1
    assert abs(estimate_quality(two, ["a"], s)["a"] - 1.5 / (2 + w)) < 1e-9


def test_the_cost_weight_trades_quality_for_cost_gradually() -> None:
    """Supervisor 1.0, student 0.8 over five neighbours: estimates 0.917 and 0.75, a quality gap
    of 0.167 against a cost gap of 0.95. The student answers once cost_weight * 0.95 > 0.167."""
    near = _near(0.93, 0.8)
    answered = {w: route("q", None, near, _school(cost_weight=w)).answerers[0]
                for w in (0.0, 0.1, 0.15, 0.2, 0.4)}  # fmt: skip
    assert answered == {0.0: "sup", 0.1: "sup", 0.15: "sup", 0.2: "stu", 0.4: "stu"}


def test_decisions_are_deterministic() -> None:
    school = _school(shadow_rate=0.5, ta_audit_rate=0.5)
    runs = {route("same-id", None, _near(0.95, 1.0), school).model_dump_json() for _ in range(5)}
    assert len(runs) == 1


def test_only_a_member_answering_alone_in_text_streams() -> None:
    from tutelage.models import Route, RouteDecision
    from tutelage.models.structured import AnswerShape, ToolSpec
    from tutelage.policy.routing import streams_alone

    alone = RouteDecision(route=Route.FAMILIAR, answerers=["stu"])
    several = RouteDecision(route=Route.NOVEL, answerers=["sup", "stu"])
    assert streams_alone(alone, AnswerShape())
    assert not streams_alone(several, AnswerShape())
    assert not streams_alone(alone, AnswerShape(tools=[ToolSpec(name="f")]))
