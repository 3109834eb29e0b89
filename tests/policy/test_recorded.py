"""Recorded results as answers: the agreement and reference rules the llmrouter replay needs."""

from __future__ import annotations

from collections import Counter

from tutelage.policy.answers import agreement_score, reference_score
from tutelage.policy.recorded import (
    RECORDED_CORRECT,
    RECORDED_INCORRECT,
    Recorded,
    choice_marker,
    coverage_marker,
    read_marker,
    wrong_choice,
)


def test_markers_read_back() -> None:
    assert read_marker(RECORDED_CORRECT) == Recorded(correct=True)
    assert read_marker(f"  {RECORDED_INCORRECT}\n") == Recorded(correct=False)
    assert read_marker(choice_marker("c")) == Recorded(choice="C")
    assert read_marker(coverage_marker(0.625)) == Recorded(coverage=0.625)
    assert read_marker(coverage_marker(1.7)) == Recorded(coverage=1.0)  # clamped
    assert read_marker("The answer is 42.") is None


def test_two_right_answers_agree_two_wrong_open_answers_never_do() -> None:
    assert agreement_score(RECORDED_CORRECT, RECORDED_CORRECT) == 1.0
    assert agreement_score(RECORDED_INCORRECT, RECORDED_INCORRECT) == 0.0
    assert agreement_score(RECORDED_CORRECT, RECORDED_INCORRECT) == 0.0
    # A marker and a free-text answer cannot be compared.
    assert agreement_score(RECORDED_CORRECT, "42") == 0.0


def test_choices_agree_on_the_same_letter_and_coverage_on_the_smaller_share() -> None:
    assert agreement_score(choice_marker("B"), choice_marker("B")) == 1.0
    assert agreement_score(choice_marker("B"), choice_marker("D")) == 0.0
    assert agreement_score(coverage_marker(0.5), coverage_marker(0.8)) == 0.5
    assert agreement_score(coverage_marker(0.8), coverage_marker(0.5)) == 0.5


def test_reference_reads_the_recorded_result() -> None:
    assert reference_score(choice_marker("C"), choice_marker("C")) == 1.0
    assert reference_score(choice_marker("A"), choice_marker("C")) == 0.0
    assert reference_score(coverage_marker(0.62), coverage_marker(1.0)) == 0.62
    assert reference_score(RECORDED_CORRECT, RECORDED_CORRECT) == 1.0
    assert reference_score(RECORDED_INCORRECT, RECORDED_CORRECT) == 0.0
    assert reference_score("free text", choice_marker("C")) == 0.0


def test_a_wrong_choice_is_a_stable_draw_among_the_wrong_letters() -> None:
    labels = ["A", "B", "C", "D"]
    picks = [wrong_choice(labels, "C", f"item-{i}", "model-x") for i in range(600)]
    assert "C" not in picks
    assert picks == [wrong_choice(labels, "C", f"item-{i}", "model-x") for i in range(600)]
    counts = Counter(picks)
    # Uniform over the three wrong letters (each about 200 of 600).
    assert set(counts) == {"A", "B", "D"} and min(counts.values()) > 150
    # Two models' wrong picks coincide about 1 time in k - 1 = 3.
    same = sum(wrong_choice(labels, "C", f"item-{i}", "m1") == wrong_choice(labels, "C", f"item-{i}", "m2")
               for i in range(600))  # fmt: skip
    assert 150 < same < 250
