from __future__ import annotations

import pytest

from tutelage.models import JudgeMode, Member, MemberAnswer, Verdict
from tutelage.policy.scoring import pick_winner, programmatic_verdicts

MEMBERS = {"sup": Member(id="sup", model="x/a", relative_cost=1.0),
           "stu": Member(id="stu", model="x/b", relative_cost=0.1)}  # fmt: skip


def _a(m: str, text: str | None = "42", kind: str = "answer") -> MemberAnswer:
    return MemberAnswer(member_id=m, text=text, kind=kind, error=None if text else "down")


def test_best_score_wins() -> None:
    v = [Verdict(member_id="sup", score=0.9), Verdict(member_id="stu", score=0.5)]
    assert pick_winner([_a("sup"), _a("stu")], v, MEMBERS, 0.02, ["sup", "stu"]) == "sup"


def test_cheaper_wins_within_margin() -> None:
    v = [Verdict(member_id="sup", score=0.9), Verdict(member_id="stu", score=0.89)]
    assert pick_winner([_a("sup"), _a("stu")], v, MEMBERS, 0.02, ["sup", "stu"]) == "stu"


def test_shadow_and_failed_answers_never_win() -> None:
    v = [Verdict(member_id="sup", score=0.1), Verdict(member_id="stu", score=1.0)]
    answers = [_a("sup"), _a("stu", kind="shadow")]
    assert pick_winner(answers, v, MEMBERS, 0.0, ["sup"]) == "sup"
    assert pick_winner([_a("sup", None)], [], MEMBERS, 0.0, ["sup"]) is None


def test_unjudged_falls_back_to_route_preference_then_any() -> None:
    assert pick_winner([_a("sup"), _a("stu")], [], MEMBERS, 0.0, ["stu", "sup"]) == "stu"
    assert pick_winner([_a("sup")], [], MEMBERS, 0.0, ["stu"]) == "sup"


def test_programmatic_reference_and_agreement() -> None:
    answers = [_a("sup", "So 42."), _a("stu", "#### 41"), _a("x", None)]
    ref = programmatic_verdicts(answers, "42", JudgeMode.LLM, "sup")
    assert ref is not None and [(v.member_id, v.score) for v in ref] == [("sup", 1.0), ("stu", 0.0)]
    agree = programmatic_verdicts(answers, None, JudgeMode.AGREEMENT, "sup")
    assert agree is not None and [v.score for v in agree] == [1.0, 0.0]
    assert programmatic_verdicts(answers, None, JudgeMode.LLM, "sup") is None
    no_sup = programmatic_verdicts([_a("stu")], None, JudgeMode.AGREEMENT, "sup")
    assert no_sup is not None and no_sup[0].score is None


@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_ties_are_deterministic(margin: float) -> None:
    v = [Verdict(member_id="sup", score=0.5), Verdict(member_id="stu", score=0.5)]
    assert pick_winner([_a("sup"), _a("stu")], v, MEMBERS, margin, []) == "stu"
