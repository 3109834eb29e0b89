"""In-context distillation: choosing exemplars, building prompts, the quality gate."""

from __future__ import annotations

from tutelage.models import Member, Role
from tutelage.models.lifecycle import Exemplar
from tutelage.policy.distill import (
    choose_exemplars,
    exemplar_messages,
    exemplars_for,
    gate,
    learns_from_exemplars,
    to_chat_jsonl_record,
)


def _ex(eid: str, score: float = 1.0, version: int = 1, answer: str = "42") -> Exemplar:
    return Exemplar(exemplar_id=eid, domain="math", question=f"q {eid}", answer=answer,
                    source="sup", score=score, version=version)  # fmt: skip


def test_choose_keeps_new_high_scoring_non_empty_answers() -> None:
    got = choose_exemplars([_ex("a"), _ex("b", 0.5), _ex("c"), _ex("d", answer=" ")], {"c"}, 0.9)
    assert [e.exemplar_id for e in got] == ["a"]


def test_prompt_keeps_the_question_last_and_as_asked() -> None:
    msgs = exemplar_messages([_ex("near"), _ex("far")], "What is 6*7?")
    assert msgs[-1] == {"role": "user", "content": "What is 6*7?"}
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user"]
    assert msgs[2]["content"] == "q near"  # the most similar example sits next to the question
    assert exemplar_messages([], "hi") == [{"role": "user", "content": "hi"}]


def test_learners_see_only_their_adopted_version() -> None:
    m = Member(id="stu", model="openai/x", role=Role.STUDENT, exemplar_version=1)
    bank = [_ex("a", version=2), _ex("b", version=1), _ex("c", version=1)]
    assert [e.exemplar_id for e in exemplars_for(m, bank, 1)] == ["b"]
    assert learns_from_exemplars(m, "math")
    teacher = Member(id="t", model="openai/t", role=Role.TEACHER)
    assert not learns_from_exemplars(teacher, "math")


def test_gate_accepts_only_a_strict_improvement() -> None:
    assert gate("s", 2, 1, [1, 1, 0], [1, 0, 0]).accepted
    tie = gate("s", 2, 1, [1, 0], [1, 0])
    assert not tie.accepted and "does not beat" in tie.reason
    assert not gate("s", 2, 1, [], []).accepted


def test_jsonl_record_is_openai_chat_format() -> None:
    rec = to_chat_jsonl_record(_ex("a"))
    assert rec["messages"] == [{"role": "user", "content": "q a"},
                               {"role": "assistant", "content": "42"}]  # fmt: skip


def test_exemplars_come_from_the_supervisor_and_teachers_only() -> None:
    members = [Member(id="sup", model="x/s", role=Role.TEACHER, is_supervisor=True),
               Member(id="t", model="x/t", role=Role.TEACHER),
               Member(id="ta", model="x/a", role=Role.TA)]  # fmt: skip
    from tutelage.policy.distill import exemplar_sources

    assert exemplar_sources(members) == ["sup", "t"]
