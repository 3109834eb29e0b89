"""Recorded results as answers: what the replay provider says when no answer text was recorded.

Some recordings hold only how a model did, not what it said: RouteLLM's MMLU (right or wrong)
and LLMRouter's eleven tasks (a score per model and item). The replay provider answers with a
marker that carries exactly what was recorded, and the two programmatic judges read it:

- `[recorded answer: correct]` / `[recorded answer: incorrect]`: open answers (a number, a
  name, a program). Two right answers agree; two wrong ones never do, since two different
  models rarely reach the same wrong free-text answer.
- `[recorded answer: choice B]`: a multiple-choice answer. A right answer is the gold letter;
  a wrong one is a wrong letter drawn per item and model (`wrong_choice`), so two wrong
  answers agree when they drew the same letter: 1 time in k - 1 among k choices.
- `[recorded answer: coverage 0.62]`: a graded answer (CommonGen's share of the concepts it
  uses). Two answers agree on the concepts both use, taking each answer's concepts as the
  first ones of the list: the smaller coverage.

Against a reference marker (the gold answer) an answer scores its recorded result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sampling import stable_uniform

RECORDED_CORRECT = "[recorded answer: correct]"
RECORDED_INCORRECT = "[recorded answer: incorrect]"
_MARKER = re.compile(
    r"^\[recorded answer: (?:(?P<outcome>correct|incorrect)|choice (?P<choice>[A-Za-z0-9]+)"
    r"|coverage (?P<coverage>[0-9]*\.?[0-9]+))\]$"
)


@dataclass(frozen=True)
class Recorded:
    """A recorded result read back from its marker."""

    correct: bool | None = None  # open answers
    choice: str | None = None  # multiple choice
    coverage: float | None = None  # graded answers, 0..1


def choice_marker(letter: str) -> str:
    return f"[recorded answer: choice {letter}]"


def coverage_marker(coverage: float) -> str:
    return f"[recorded answer: coverage {min(max(coverage, 0.0), 1.0):.6g}]"


def read_marker(text: str) -> Recorded | None:
    """The recorded result a marker carries; None for any other text."""
    m = _MARKER.match(text.strip())
    if m is None:
        return None
    if m["outcome"]:
        return Recorded(correct=m["outcome"] == "correct")
    if m["choice"]:
        return Recorded(choice=m["choice"].upper())
    return Recorded(coverage=min(1.0, float(m["coverage"])))


def wrong_choice(labels: list[str], gold: str, item_key: str, model: str) -> str:
    """The wrong letter a model is taken to have picked on an item: a draw that depends only
    on the item and the model, uniform over the letters other than the gold one."""
    wrong = [label for label in labels if label != gold] or [gold]
    return wrong[int(stable_uniform("recorded-wrong-choice", item_key, model) * len(wrong))]


def recorded_agreement(a: Recorded, b: Recorded) -> float:
    """How far two recorded results agree (the rules in the module's docstring)."""
    if a.coverage is not None and b.coverage is not None:
        return min(a.coverage, b.coverage)
    if a.choice is not None and b.choice is not None:
        return 1.0 if a.choice == b.choice else 0.0
    return 1.0 if a.correct is True and b.correct is True else 0.0


def recorded_reference_score(answer: Recorded | None, reference: Recorded) -> float:
    """An answer's score against the gold marker: its recorded result."""
    if answer is None:
        return 0.0
    if reference.coverage is not None:
        return answer.coverage if answer.coverage is not None else 0.0
    if reference.choice is not None:
        return 1.0 if answer.choice == reference.choice else 0.0
    return 1.0 if answer.correct is True and reference.correct is True else 0.0
