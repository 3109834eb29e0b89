"""The dashboard's quality figures' names and lines, as plain data."""

from __future__ import annotations

from tutelage.policy.dashboard_quality import (
    agrees,
    figure_name,
    judge_kind,
    judge_mode,
    share,
)


def test_a_verdicts_judge_names_its_kind() -> None:
    assert [judge_kind(j) for j in ("reference", "agreement:sup", "agreement:teacher-1", "user",
                                    "shape", "none", "unjudged", "sup", "teacher-1")] == [
        "reference", "agreement", "agreement", "user", "shape", "unscored", "unscored", "llm",
        "llm"]  # fmt: skip


def test_the_figure_is_named_for_the_judging_that_scored_most() -> None:
    assert judge_mode({"agreement:sup": 40, "reference": 3, "shape": 90}) == "agreement"
    assert judge_mode({"sup": 2, "reference": 1, "user": 9}) == "llm"
    assert judge_mode({"reference": 5}, "agreement") == "reference"
    # A tie goes to the school's configured judging; nothing judged: the configured one.
    assert judge_mode({"sup": 2, "agreement:sup": 2}, "llm") == "llm"
    assert judge_mode({"sup": 2, "agreement:sup": 2}, None) == "agreement"
    assert judge_mode({}, "agreement") == "agreement" and judge_mode({"shape": 1}) == ""
    assert figure_name("agreement") == "agreement with the supervisor"
    assert figure_name("llm") == "the supervisor's (LLM judge) score"
    assert figure_name("reference") == "reference (oracle) score"
    assert figure_name("") == "the judge's score"


def test_the_judge_agrees_with_a_user_when_it_passes_what_they_rate_right() -> None:
    assert agrees(1.0, 1.0, 0.5) and agrees(0.2, 0.0, 0.5) and agrees(0.5, 0.5, 0.5)
    assert not agrees(1.0, 0.4, 0.5) and not agrees(0.3, 0.9, 0.5)
    assert not agrees(0.7, 1.0, 0.8)  # the school's pass score draws the judge's line
    assert share(1, 4) == 0.25 and share(0, 0) is None
