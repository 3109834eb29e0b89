"""Peer review as pure decisions: when two cheap members' agreement stands for the supervisor."""

from __future__ import annotations

from tutelage.models import (
    JudgeMode,
    Member,
    MemberAnswer,
    Neighbour,
    PeerPanel,
    PeerReviewSettings,
    Role,
    Route,
    RoutingSettings,
    SchoolSnapshot,
    Verdict,
)
from tutelage.models.lifecycle import MemberSpec, MemberState, PairStats
from tutelage.policy.peer import (
    ESCALATED,
    answers_agree,
    escalation,
    mark_escalated,
    pair_checks,
    panel_agrees,
    panel_passes,
    peer_quality,
    plan_peer_review,
)
from tutelage.policy.recorded import RECORDED_INCORRECT, choice_marker
from tutelage.policy.routing import route

COSTS = {"sup": 1.0, "a": 0.11, "b": 0.22, "c": 0.22}
SETTINGS = PeerReviewSettings(min_reliability=0.9, min_agreed=20)


def _answer(member: str, text: str | None, kind: str = "answer") -> MemberAnswer:
    return MemberAnswer(member_id=member, text=text, kind=kind,
                        error=None if text is not None else "down")  # fmt: skip


def _state(mid: str, role: Role = Role.STUDENT, **roles: Role) -> MemberState:
    return MemberState(spec=MemberSpec(id=mid, model=f"x/{mid}", role=role), roles=roles)


def _pair(a: str, b: str, together: int, agreed: int, judged: int, right: int,
          domain: str = "math") -> PairStats:  # fmt: skip
    return PairStats(domain=domain, member_a=a, member_b=b, together=together, agreed=agreed,
                     agreed_judged=judged, agreed_right=right)  # fmt: skip


def test_agreement_is_label_free_and_symmetric() -> None:
    assert answers_agree("#### 42", "the answer is 42", 0.5)
    assert not answers_agree("#### 42", "#### 41", 0.5)
    assert answers_agree(choice_marker("B"), choice_marker("B"), 0.5)
    assert not answers_agree(RECORDED_INCORRECT, RECORDED_INCORRECT, 0.5)


def test_every_two_non_supervisor_answers_are_checked() -> None:
    calls = [_answer("sup", "#### 7"), _answer("b", "#### 7"), _answer("a", "#### 7"),
             _answer("c", "#### 8", "shadow"), _answer("d", None),
             _answer("sup", "", "judge")]  # fmt: skip
    checks = pair_checks(calls, "sup", 0.5)
    assert [(p.member_a, p.member_b, p.agreed) for p in checks] == [
        ("a", "b", True), ("a", "c", False), ("b", "c", False)]  # fmt: skip


def test_panel_agrees_only_when_every_member_answered_alike() -> None:
    calls = [_answer("a", "#### 7"), _answer("b", "7 apples, so #### 7")]
    assert panel_agrees(calls, ["a", "b"], 0.5)
    assert not panel_agrees([_answer("a", "#### 7"), _answer("b", None)], ["a", "b"], 0.5)
    assert not panel_agrees([_answer("a", "#### 7"), _answer("b", "#### 9")], ["a", "b"], 0.5)


def test_a_panel_passes_when_one_of_its_answers_matches_the_reference() -> None:
    calls = [_answer("a", "#### 41"), _answer("b", "#### 42"), _answer("c", "#### 42", "shadow")]
    mode = JudgeMode.AGREEMENT
    assert panel_passes(calls, ["a", "b"], "42", mode, 0.5) is True
    assert panel_passes(calls, ["a"], "42", mode, 0.5) is False  # a shadow does not count
    assert panel_passes(calls, ["a", "b"], None, mode, 0.5) is None


def test_escalation_per_judging_mode() -> None:
    agreement, llm = JudgeMode.AGREEMENT, JudgeMode.LLM
    assert escalation(True, False, None, agreement) == ("", False)
    assert escalation(False, False, None, agreement) == ("answer", True)
    assert escalation(True, True, None, agreement) == ("answer", False)  # an audit, drawn before
    assert escalation(False, False, None, llm) == ("judge", True)
    # With a reference: the supervisor answers when no panel answer passed, or on an audit.
    assert escalation(False, False, True, agreement) == ("", False)
    assert escalation(True, False, False, agreement) == ("answer", True)
    assert escalation(True, True, True, llm) == ("answer", False)


def test_escalated_verdicts_are_marked_for_the_statistics() -> None:
    verdicts = [Verdict(member_id="a", score=1.0, judge="reference"),
                Verdict(member_id="sup", score=1.0, judge="reference")]  # fmt: skip
    with_reference = mark_escalated(verdicts, ["a", "b"], has_reference=True)
    assert [v.judge for v in with_reference] == ["reference", "reference" + ESCALATED]
    without = mark_escalated(verdicts, ["a", "b"], has_reference=False)
    assert all(v.judge.endswith(ESCALATED) for v in without)


def test_a_reliable_cheap_pair_becomes_the_domains_panel() -> None:
    roster = [_state("sup", Role.TEACHER), _state("a"), _state("b"), _state("c")]
    pairs = [_pair("a", "b", 100, 70, 40, 39), _pair("a", "c", 100, 70, 40, 30),
             _pair("b", "c", 100, 90, 10, 10, "math")]  # fmt: skip
    panels = plan_peer_review(pairs, roster, "sup", COSTS, SETTINGS)
    assert list(panels) == ["math"]
    panel = panels["math"]
    assert panel.members == ["a", "b"] and panel.agree_rate == 0.7 and panel.judged == 40
    assert panel.reliability >= 0.9 and panel.expected_cost == round(0.11 + 0.22 + 0.3, 4)
    assert "39/40" in panel.reason


def test_no_panel_when_unreliable_too_costly_or_not_active() -> None:
    roster = [_state("sup", Role.TEACHER), _state("a"), _state("b")]
    # Reliable but the two rarely agree: both plus the supervisor most of the time costs more.
    assert plan_peer_review([_pair("a", "b", 100, 20, 20, 20)], roster, "sup", COSTS,
                            SETTINGS) == {}  # fmt: skip
    # Agreed answers judged right only 80% of the time.
    assert plan_peer_review([_pair("a", "b", 100, 80, 50, 40)], roster, "sup", COSTS,
                            SETTINGS) == {}  # fmt: skip
    # Too few judged agreements yet.
    assert plan_peer_review([_pair("a", "b", 30, 25, 10, 10)], roster, "sup", COSTS,
                            SETTINGS) == {}  # fmt: skip
    retired = [_state("sup", Role.TEACHER), _state("a", math=Role.RETIRED), _state("b")]
    assert plan_peer_review([_pair("a", "b", 100, 80, 50, 50)], retired, "sup", COSTS,
                            SETTINGS) == {}  # fmt: skip
    off = SETTINGS.model_copy(update={"enabled": False})
    assert plan_peer_review([_pair("a", "b", 100, 80, 50, 50)], roster, "sup", COSTS, off) == {}


def test_peer_quality_blends_agreed_reliability_and_the_supervisor() -> None:
    panel = PeerPanel(members=["a", "b"], reliability=0.95, agree_rate=0.6)
    assert peer_quality(panel, 1.0) == 0.6 * 0.95 + 0.4 * 1.0


def _school(panel: PeerPanel | None, trust: bool = False, ta: bool = False) -> SchoolSnapshot:
    members = [Member(id="sup", model="x/sup", role=Role.TEACHER, relative_cost=1.0),
               Member(id="a", model="x/a", role=Role.TA if ta else Role.STUDENT,
                      relative_cost=0.11),
               Member(id="b", model="x/b", relative_cost=0.22)]  # fmt: skip
    return SchoolSnapshot(
        members=members, supervisor="sup", judge={"mode": JudgeMode.AGREEMENT},
        routing=RoutingSettings(low_threshold=0.8, high_threshold=0.9, trust_domains=trust,
                                cost_weight=0.5, shadow_rate=0.0, ta_audit_rate=0.0),
        peers={"math": panel} if panel else {},
        peer_review=PeerReviewSettings(audit_rate=0.0),
    )  # fmt: skip


def _near(sim: float) -> list[Neighbour]:
    return [Neighbour(query_id=f"n{i}", similarity=sim, scores={"sup": 1.0, "a": 0.8, "b": 0.8})
            for i in range(5)]  # fmt: skip


PANEL = PeerPanel(members=["a", "b"], reliability=0.95, agree_rate=0.7, expected_cost=0.63)


def test_routing_uses_a_panel_where_it_is_worth_it() -> None:
    # Between the thresholds the panel replaces the two-best exploration.
    d = route("q", "math", _near(0.85), _school(PANEL))
    assert d.route == Route.PEER and d.panel == ["a", "b"] and d.answerers == ["a", "b"]
    assert not d.judge
    # Familiar: the panel's utility (0.7 * 0.95 + 0.3 - 0.5 * 0.63) beats the supervisor's.
    d = route("q", "math", _near(0.95), _school(PANEL))
    assert d.route == Route.PEER
    # Another domain has no panel; novel queries explore.
    assert route("q", "history", _near(0.85), _school(PANEL)).route == Route.HYBRID
    assert route("q", "math", _near(0.5), _school(PANEL)).route == Route.NOVEL


def test_a_cheaper_ta_beats_the_panel_and_a_retired_member_voids_it() -> None:
    d = route("q", "math", _near(0.95), _school(PANEL, ta=True))
    assert d.route == Route.FAMILIAR and d.answerers == ["a"]
    school = _school(PANEL)
    school.members[2].roles = {"math": Role.RETIRED}
    assert route("q", "math", _near(0.95), school).route == Route.FAMILIAR


def test_trusted_domains_route_as_familiar_and_the_rest_learn() -> None:
    # With trust_domains, similarity no longer decides familiar: what the domain has earned does.
    d = route("q", "math", _near(0.85), _school(None, trust=True, ta=True))
    assert d.route == Route.FAMILIAR and d.answerers == ["a"]
    learn = route("q", "math", _near(0.99), _school(None, trust=True))
    assert learn.route == Route.HYBRID and sorted(learn.answerers) == ["a", "b", "sup"]


def test_with_a_reference_the_two_learn_and_the_supervisor_is_the_last_resort() -> None:
    school = _school(None)
    d = route("q", "math", _near(0.85), school, has_reference=True)
    assert d.route == Route.HYBRID and sorted(d.answerers) == ["a", "b"]
    assert d.panel == d.answerers and "sup" not in d.answerers
    school.routing.pair_rate = 1.0
    assert route("q", "math", _near(0.85), school, has_reference=True).audit
