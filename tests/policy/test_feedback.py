"""Users' ratings: the request's checks, what a rating says about each member that answered,
and how user verdicts weigh in promotion and demotion."""

from __future__ import annotations

import math

import pytest

from tutelage.models.lifecycle import (
    Action,
    MemberDomainStats,
    MemberSpec,
    MemberState,
    PromotionSettings,
)
from tutelage.models.roster import Role
from tutelage.policy.feedback import (
    USER_DEMOTE_MIN,
    USER_WEIGHT,
    FeedbackProblem,
    answers_agreed,
    correction_exemplar,
    is_decisive,
    parse_feedback,
    plausible_query_id,
    rated_down,
    user_verdicts,
    users_alone,
    verdict_reason,
    with_user_verdicts,
)
from tutelage.policy.promotion import plan_promotions

# --- the request ---------------------------------------------------------------------------


def test_a_score_or_a_rating_with_the_completion_id_or_the_bare_query_id() -> None:
    p = parse_feedback({"completion_id": "chatcmpl-20260101-120000-abcd1234", "score": 0.25,
                        "comment": "  close  ", "ignored": 1})  # fmt: skip
    assert p == ("20260101-120000-abcd1234", 0.25, None, "close", "")
    up = parse_feedback({"completion_id": "20260101-120000-abcd1234", "rating": "up"})
    assert (up.query_id, up.score, up.rating) == ("20260101-120000-abcd1234", 1.0, "up")
    down = parse_feedback({"completion_id": "q", "rating": "down", "correction": "43",
                           "score": None})  # fmt: skip
    assert (down.score, down.rating, down.correction) == (0.0, "down", "43")
    assert parse_feedback({"completion_id": "q", "score": 1}).score == 1.0


@pytest.mark.parametrize(("payload", "param", "code"), [
    ({"score": 0.5}, "completion_id", "missing_required_parameter"),
    ({"completion_id": "  ", "score": 0.5}, "completion_id", "missing_required_parameter"),
    ({"completion_id": 7, "score": 0.5}, "completion_id", "invalid_value"),
    ({"completion_id": "q" * 201, "score": 0.5}, "completion_id", "invalid_value"),
    ({"completion_id": "q"}, "score", "missing_required_parameter"),
    ({"completion_id": "q", "score": 0.5, "rating": "up"}, "rating", "invalid_value"),
    ({"completion_id": "q", "score": 1.5}, "score", "invalid_value"),
    ({"completion_id": "q", "score": -0.1}, "score", "invalid_value"),
    ({"completion_id": "q", "score": math.nan}, "score", "invalid_value"),
    ({"completion_id": "q", "score": True}, "score", "invalid_value"),
    ({"completion_id": "q", "score": "0.5"}, "score", "invalid_value"),
    ({"completion_id": "q", "rating": "meh"}, "rating", "invalid_value"),
    # Values JSON can carry that are not a rating or a number in range: a 400, never a 500.
    ({"completion_id": "q", "rating": ["up"]}, "rating", "invalid_value"),
    ({"completion_id": "q", "rating": {"up": 1}}, "rating", "invalid_value"),
    ({"completion_id": "q", "score": 10**400}, "score", "invalid_value"),
    ({"completion_id": "q", "score": 1, "comment": "x" * 2001}, "comment",
     "string_above_max_length"),
    ({"completion_id": "q", "score": 1, "correction": "x" * 20001}, "correction",
     "string_above_max_length"),
    ({"completion_id": "q", "score": 1, "correction": 3}, "correction", "invalid_value"),
])  # fmt: skip
def test_a_bad_request_names_its_parameter(payload: dict[str, object], param: str,
                                           code: str) -> None:  # fmt: skip
    with pytest.raises(FeedbackProblem) as problem:
        parse_feedback(payload)
    assert (problem.value.param, problem.value.code) == (param, code)
    assert param in problem.value.message or param == "score"


def test_only_plausible_ids_are_looked_up() -> None:
    assert plausible_query_id("20260101-120000-abcd1234")
    assert not plausible_query_id("") and not plausible_query_id("a b")
    assert not plausible_query_id("'; DROP TABLE queries; --")


# --- what a rating says about each member ----------------------------------------------------


def test_agreement_comes_from_the_recorded_pair_first_then_the_judge_scores() -> None:
    agreed = answers_agreed(
        "stu", ["stu", "sup", "peer", "lost", "wrong", "mute"],
        pairs=[("peer", "stu", False)],
        scores={"stu": 1.0, "sup": 1.0, "peer": 1.0, "wrong": 0.0, "lost": 0.2},
        pass_score=0.5,
    )
    # peer: the recorded text comparison wins over the scores (both passed).
    assert agreed == {"sup": True, "peer": False, "wrong": False, "lost": False, "mute": None}
    # Two failing answers may be two different wrong ones: no telling.
    assert answers_agreed("a", ["a", "b"], [], {"a": 0.0, "b": 0.1}, 0.5) == {"b": None}
    # The served answer never scored: no telling either.
    assert answers_agreed("a", ["a", "b"], [], {"b": 1.0}, 0.5) == {"b": None}


def test_user_verdicts_follow_the_served_answer_and_flip_only_when_decisive() -> None:
    agreed = {"sup": True, "peer": False, "mute": None}
    assert user_verdicts("stu", 0.0, agreed) == [("stu", 0.0), ("peer", 1.0), ("sup", 0.0)]
    assert user_verdicts("stu", 0.9, agreed) == [("stu", 0.9), ("peer", 0.1), ("sup", 0.9)]
    # Not decisive: a differing answer learns nothing.
    assert user_verdicts("stu", 0.5, agreed) == [("stu", 0.5), ("sup", 0.5)]
    assert user_verdicts("stu", 1.0, {}) == [("stu", 1.0)]
    # Served wrong, two others differed: at most one of them is right, and which is not known.
    two = {"peer": False, "other": False, "sup": True}
    assert user_verdicts("stu", 0.0, two) == [("stu", 0.0), ("sup", 0.0)]
    # Served right: every different answer is wrong.
    assert user_verdicts("stu", 1.0, two) == [("stu", 1.0), ("other", 0.0), ("peer", 0.0),
                                              ("sup", 1.0)]  # fmt: skip
    assert [is_decisive(x) for x in (0.0, 0.2, 0.21, 0.79, 0.8, 1.0)] == [
        True, True, False, False, True, True]  # fmt: skip
    assert "differed" in verdict_reason("peer", "stu", False, 0.0, "down")
    assert "(served)" in verdict_reason("stu", "stu", None, 0.0, "down")


def test_a_correction_is_a_gold_exemplar_of_its_tenant() -> None:
    e = correction_exemplar("q1", 2, "acme", None, "What is 6x7?", "42")
    assert (e.exemplar_id, e.domain, e.tenant, e.score, e.source) == (
        "q1:correction-2", "*", "acme", 1.0, "user")  # fmt: skip
    assert e.reasoning == "user correction" and e.answer == "42"


# --- the weights -----------------------------------------------------------------------------


def _stats(**fields: object) -> MemberDomainStats:
    return MemberDomainStats(member_id="a", domain="logic", **fields)  # type: ignore[arg-type]


def test_user_verdicts_count_user_weight_times() -> None:
    s = _stats(judged=10, wins=5, score_sum=5.0, paired=4, paired_diff_sum=-1.0,
               paired_diff_sq=1.0, user_judged=2, user_wins=2, user_score_sum=2.0,
               user_paired=1, user_paired_diff_sum=1.0, user_paired_diff_sq=1.0)  # fmt: skip
    w = with_user_verdicts(s)
    assert USER_WEIGHT == 3
    assert (w.judged, w.wins, w.score_sum) == (16, 11, 11.0)
    assert (w.paired, w.paired_diff_sum, w.paired_diff_sq) == (7, 2.0, 4.0)
    assert with_user_verdicts(_stats(judged=3)) == _stats(judged=3)  # none: unchanged
    alone = users_alone(s)
    assert alone is not None and (alone.judged, alone.wins, alone.score_sum) == (6, 6, 6.0)
    assert users_alone(_stats(judged=3)) is None


def test_users_rating_a_member_down_is_reason_enough() -> None:
    few = _stats(user_judged=USER_DEMOTE_MIN - 1, user_score_sum=0.0)
    assert rated_down(few) is None
    liked = _stats(user_judged=USER_DEMOTE_MIN, user_score_sum=USER_DEMOTE_MIN * 0.6)
    assert rated_down(liked) is None
    disliked = _stats(user_judged=6, user_score_sum=1.0, sup_user_judged=4,
                      sup_user_score_sum=3.0)  # fmt: skip
    why = rated_down(disliked)
    assert why is not None and "0.17 on average over 6" in why and "0.75 over 4" in why
    # Users rate the supervisor no better there (as often): a hard domain, the member stays.
    hard = disliked.model_copy(update={"sup_user_judged": 6, "sup_user_score_sum": 1.0})
    assert rated_down(hard) is None
    assert rated_down(hard.model_copy(update={"sup_user_score_sum": 2.0})) is not None


def _member(role: Role = Role.STUDENT, **roles: Role) -> MemberState:
    return MemberState(spec=MemberSpec(id="a", model="openai/a", role=role), roles=roles)


RELATIVE = PromotionSettings(
    student_to_ta={"min_judged": 30, "min_score": 0.75, "min_win_rate": 0.6,
                   "max_deficit": 0.05},
    ta_to_teacher={"min_judged": 50, "min_win_rate": 0.7, "max_deficit": 0.02},
)  # fmt: skip


def test_a_ta_users_rate_down_loses_the_domain_though_it_agrees_with_the_supervisor() -> None:
    agreeing = _stats(judged=60, wins=60, score_sum=60.0, recent_scores=[1.0] * 20,
                      sup_judged=60, sup_score_sum=60.0)  # fmt: skip
    assert plan_promotions([agreeing], [_member(logic=Role.TA)], "sup", RELATIVE) == []
    rated = agreeing.model_copy(update={"user_judged": 8, "user_score_sum": 1.0})
    plan = plan_promotions([rated], [_member(logic=Role.TA)], "sup", RELATIVE)
    assert [(p.domain, p.action) for p in plan] == [("logic", Action.DEMOTE)]
    assert "users rate its answers in logic" in plan[0].reason
    # A student users rate down is not promoted, however the judge scores it.
    assert plan_promotions([rated], [_member()], "sup", RELATIVE) == []


def test_where_users_find_the_supervisor_wrong_a_student_earns_the_domain() -> None:
    """Agreement judging scores the student wrong wherever it differs from the supervisor;
    users rated 12 queries both answered: the student right on 10, the supervisor on 2."""
    # Its recent judged answers as its record: agreeing on 8 of the last 20 (0.40).
    judged = _stats(judged=100, wins=40, score_sum=40.0, paired=100, paired_diff_sum=-60.0,
                    paired_diff_sq=60.0, sup_judged=100, sup_score_sum=100.0,
                    recent_scores=[1.0] * 8 + [0.0] * 12)  # fmt: skip
    assert plan_promotions([judged], [_member()], "sup", RELATIVE) == []
    diffs = [1.0] * 8 + [0.0] * 4  # it was right and the supervisor wrong on 8; both on 4
    rated = judged.model_copy(update={
        "user_judged": 12, "user_wins": 12, "user_score_sum": 12.0, "user_paired": 12,
        "user_paired_diff_sum": sum(diffs), "user_paired_diff_sq": sum(d * d for d in diffs),
        "sup_user_judged": 12, "sup_user_score_sum": 4.0})  # fmt: skip
    plan = plan_promotions([rated], [_member()], "sup", RELATIVE)
    assert [(p.domain, p.action) for p in plan] == [("logic", Action.PROMOTE)]
    assert "on user verdicts alone (each counted x3)" in plan[0].reason
    # Counted once each (no weight), 12 user verdicts are short of the step's 30.
    alone = users_alone(rated, weight=1)
    assert alone is not None and alone.judged == 12 < RELATIVE.student_to_ta.min_judged
    # As a TA there, the judge's recent scores (0.40, below the supervisor's 1.00) would demote
    # it; the users vouch for its rung, so it keeps the domain.
    ta = _member(logic=Role.TA)
    assert [p.action for p in plan_promotions([judged], [ta], "sup", RELATIVE)] == [Action.DEMOTE]
    assert plan_promotions([rated], [ta], "sup", RELATIVE) == []
    # Too few user verdicts to clear the rung alone do not vouch: the judge's figures stand.
    few = rated.model_copy(update={"user_judged": 3, "user_wins": 3, "user_score_sum": 3.0,
                                   "user_paired": 3, "user_paired_diff_sum": 2.0,
                                   "user_paired_diff_sq": 2.0})  # fmt: skip
    assert [p.action for p in plan_promotions([few], [ta], "sup", RELATIVE)] == [Action.DEMOTE]


def test_a_few_good_user_verdicts_tip_a_borderline_record_by_their_weight() -> None:
    # 30 judged at a 0.75 mean: score LCB 0.67, under the 0.75 bar.
    border = _stats(judged=30, wins=30, score_sum=22.5)
    assert plan_promotions([border], [_member()], "sup", PromotionSettings()) == []
    liked = border.model_copy(update={"user_judged": 8, "user_wins": 8,
                                      "user_score_sum": 8.0})  # fmt: skip
    plan = plan_promotions([liked], [_member()], "sup", PromotionSettings())
    assert [p.action for p in plan] == [Action.PROMOTE]
    assert "54 judged" in plan[0].reason and "8 user verdicts, each counted x3" in plan[0].reason
    # The same 8 verdicts counted once would not do it.
    once = with_user_verdicts(liked, weight=1)
    assert plan_promotions([once.model_copy(update={"user_judged": 0})], [_member()], "sup",
                           PromotionSettings()) == []  # fmt: skip


def test_users_scores_replace_the_judges_in_the_neighbours_routing_reads() -> None:
    from tutelage.models.query import Neighbour
    from tutelage.policy.feedback import with_user_scores

    near = [Neighbour(query_id="q1", similarity=0.9, scores={"sup": 1.0, "stu": 0.0}),
            Neighbour(query_id="q2", similarity=0.8, scores={"sup": 1.0, "stu": 1.0})]  # fmt: skip
    rated = with_user_scores(near, {"q1": {"sup": 0.0, "stu": 1.0}, "q9": {"sup": 0.0}})
    assert rated[0].scores == {"sup": 0.0, "stu": 1.0}  # users found the supervisor wrong
    assert rated[1] == near[1] and near[0].scores == {"sup": 1.0, "stu": 0.0}  # untouched
    # Rated down where the served member (the winner) was rated below 0.5; not otherwise.
    served = [n.model_copy(update={"winner": w}) for n, w in zip(near, ("sup", "stu"),
                                                                 strict=True)]  # fmt: skip
    marked = with_user_scores(served, {"q1": {"sup": 0.0, "stu": 1.0}, "q2": {"stu": 0.5}})
    assert [n.rated_down for n in marked] == [True, False]
    assert not with_user_scores(near, {"q1": {"sup": 0.0}})[0].rated_down  # no winner known
