"""In-context distillation: choosing exemplars, building prompts, the quality gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutelage.config import ConfigError, DistillationConfig, parse_config
from tutelage.models import Member, Role
from tutelage.models.lifecycle import Exemplar
from tutelage.policy.distill import (
    choose_exemplars,
    exemplar_messages,
    exemplar_tenants,
    exemplars_for,
    export_dir_name,
    gate,
    learns_from_exemplars,
    to_chat_jsonl_record,
    visible_to,
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


def test_a_tenant_sees_only_its_own_exemplars_unless_the_config_pools_it() -> None:
    assert exemplar_tenants("a", []) == ["a"]
    assert exemplar_tenants("b", ["a", "c"]) == ["b"], "a tenant outside the pool: its own only"
    assert exemplar_tenants("a", ["c", "a", "c"]) == ["a", "c"], "a pooled tenant: the pool"
    assert exemplar_tenants("", ["a"]) == [], "the unknown tenant is nobody's"


def test_visible_rows_keep_their_order_and_never_the_unknown_tenants() -> None:
    bank = [_ex("a1").model_copy(update={"tenant": "a"}),
            _ex("b1").model_copy(update={"tenant": "b"}),
            _ex("old"),  # banked before exemplars carried a tenant
            _ex("a2").model_copy(update={"tenant": "a"})]  # fmt: skip
    assert _ex("old").tenant == ""
    assert [e.exemplar_id for e in visible_to("b", [], bank)] == ["b1"]
    assert [e.exemplar_id for e in visible_to("a", [], bank)] == ["a1", "a2"]
    assert [e.exemplar_id for e in visible_to("a", ["a", "b"], bank)] == ["a1", "b1", "a2"]
    assert [e.exemplar_id for e in visible_to("c", ["a", "b"], bank)] == []


def test_an_exemplar_from_an_old_history_loads_with_an_unknown_tenant() -> None:
    old = {"exemplar_id": "q1", "domain": "math", "question": "q", "answer": "a",
           "source": "sup", "score": 1.0, "reasoning": "", "version": 1}  # fmt: skip
    assert Exemplar.model_validate(old).tenant == ""


def test_export_directory_names_are_safe_and_distinct() -> None:
    assert export_dir_name("acme") == "acme"
    assert export_dir_name("team-1.prod") == "team-1.prod"
    odd = [export_dir_name(t) for t in ["../etc", "a/b", "a_b", "..", ".hidden", "a b"]]
    assert all("/" not in n and not n.startswith(".") for n in odd)
    assert len(set(odd)) == len(odd)
    record = to_chat_jsonl_record(_ex("a").model_copy(update={"tenant": "t"}))
    assert record["metadata"]["tenant"] == "t"  # type: ignore[index]


def test_the_shared_pool_is_empty_by_default_and_names_its_tenants() -> None:
    assert DistillationConfig().shared_exemplar_tenants == []
    raw = {"supervisor": "s", "members": [{"id": "s", "model": "openai/x"}],
           "distillation": {"shared_exemplar_tenants": ["a", ""]}}  # fmt: skip
    with pytest.raises(ConfigError, match="needs a name"):
        parse_config(raw, Path("t.toml"))


def test_users_take_back_what_they_rated_down_corrected_or_corrected_again() -> None:
    from tutelage.policy.distill import withdrawn_exemplars

    banked = {"q1", "q2", "q3", "q4", "q5:correction-1", "q5:correction-2", "q6:correction-1"}
    rated = {"q1": 0.0, "q2": 1.0, "q3": 0.85}  # standing user scores of served answers
    corrections = {"q4": 2, "q5": 2, "q6": 1}  # standing correction per query: its seq
    assert withdrawn_exemplars(banked, rated, corrections, min_score=0.9) == {
        "q1",  # rated down
        "q3",  # rated below the bank's bar
        "q4",  # corrected: the correction is the exemplar now
        "q5:correction-1",  # replaced by a newer correction
    }  # fmt: skip
    assert withdrawn_exemplars(set(), rated, corrections, 0.9) == set()
