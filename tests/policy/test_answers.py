"""Final-answer extraction and the programmatic judges, on hand cases and on real rows."""

from __future__ import annotations

import pytest

from tutelage.bench.datasets import STRONG, WEAK, load_items
from tutelage.policy.answers import (
    RECORDED_CORRECT,
    RECORDED_INCORRECT,
    agreement_score,
    final_choice,
    final_number,
    reference_score,
)

from ..conftest import ROUTELLM


@pytest.mark.parametrize(
    ("text", "number"),
    [("so 9 * $2 = $18.", "18"), ("#### 1,200", "1200"), ("#### $20.00", "20"),
     ("The answer is 7 apples, not 8", "7"), ("\\boxed{3.50}", "3.5"), ("no digits", None)],
)  # fmt: skip
def test_final_number(text: str, number: str | None) -> None:
    assert final_number(text) == number


def test_final_choice() -> None:
    assert final_choice("The answer is (C).") == "C"
    assert final_choice("B. because ...") == "B"
    assert final_choice("nothing") is None


def test_reference_modes() -> None:
    assert reference_score("It is $18 a day", "18") == 1.0
    assert reference_score("Answer: c", "C") == 1.0
    assert reference_score("Paris.", "paris") == 1.0
    assert reference_score(RECORDED_CORRECT, RECORDED_CORRECT) == 1.0
    assert reference_score(RECORDED_INCORRECT, RECORDED_CORRECT) == 0.0


def test_agreement_markers_two_wrongs_do_not_agree() -> None:
    assert agreement_score(RECORDED_CORRECT, RECORDED_CORRECT) == 1.0
    assert agreement_score(RECORDED_INCORRECT, RECORDED_INCORRECT) == 0.0
    assert agreement_score(RECORDED_CORRECT, RECORDED_INCORRECT) == 0.0


@pytest.mark.skipif(not ROUTELLM.exists(), reason="needs shared/data/routellm")
def test_extraction_on_real_gsm8k_rows() -> None:
    items = load_items("gsm8k", ROUTELLM)
    for model in (STRONG, WEAK):
        right = [it for it in items if it.correct[model]]
        found = sum(reference_score(it.answers[model], it.reference) for it in right)
        # Every answer RouteLLM graded correct is read as correct by our extraction (> 99%).
        assert found / len(right) > 0.99, model
    both = [it for it in items if it.correct[STRONG] and it.correct[WEAK]]
    agree = sum(agreement_score(it.answers[WEAK], it.answers[STRONG]) for it in both)
    assert agree / len(both) > 0.97
