"""Gateway presets, conversations and failure hints: pure functions on plain data."""

from __future__ import annotations

import pytest

from tutelage.models import MemberAnswer, QueryInput
from tutelage.models.settings import Limits
from tutelage.policy.answers import NO_RECORDING_HINT, failure_hint
from tutelage.policy.distill import exemplar_messages
from tutelage.policy.presets import PRESETS, UnknownPresetError, preset_cost_weight
from tutelage.policy.validation import query_problem


def test_presets_name_cost_weights() -> None:
    assert preset_cost_weight("tutelage") is None  # the school's own
    assert preset_cost_weight("tutelage-quality") == 0.0
    assert preset_cost_weight("tutelage-cheap") == 1.0
    assert preset_cost_weight("tutelage@0.25") == 0.25
    assert preset_cost_weight("tutelage@10") == 10.0
    for bad in ("gpt-4o", "", "tutelage@", "tutelage@-1", "tutelage@11", "tutelage@1e3",
                "Tutelage", "tutelage@0.3x"):  # fmt: skip
        with pytest.raises(UnknownPresetError, match="does not exist"):
            preset_cost_weight(bad)
    assert set(PRESETS) >= {"tutelage", "tutelage-quality", "tutelage-cheap"}


def test_a_conversation_reaches_members_around_the_exemplars() -> None:
    from tutelage.models.lifecycle import Exemplar

    ex = Exemplar(exemplar_id="e", domain="d", question="1+1?", answer="2", source="sup",
                  score=1.0, version=1)  # fmt: skip
    context = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
               {"role": "assistant", "content": "4"}]  # fmt: skip
    assert exemplar_messages([ex], "6*7?", context) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"},
        {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
        {"role": "user", "content": "6*7?"},
    ]  # fmt: skip
    assert exemplar_messages([], "6*7?") == [{"role": "user", "content": "6*7?"}]


def test_a_conversation_counts_towards_the_length_limit() -> None:
    limits = Limits(max_query_chars=20)
    assert query_problem(QueryInput(text="short"), limits) is None
    long_context = QueryInput(text="short", context=[{"role": "system", "content": "x" * 20}])
    assert "the conversation has 25 characters" in (query_problem(long_context, limits) or "")


def test_the_hint_for_questions_nobody_recorded() -> None:
    missing = [MemberAnswer(member_id=m, error="no recorded answer", error_kind="NoRecordingError")
               for m in ("gpt4", "mixtral")]  # fmt: skip
    assert failure_hint(missing) == NO_RECORDING_HINT and "--sample" in NO_RECORDING_HINT
    other = [missing[0], MemberAnswer(member_id="b", error="boom", error_kind="Timeout")]
    assert failure_hint(other) is None
    assert failure_hint([missing[0], MemberAnswer(member_id="c", text="42")]) is None
