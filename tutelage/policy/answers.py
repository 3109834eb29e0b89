"""Reading final answers out of free text, and the programmatic judges built on that.

`reference_score` scores an answer against a gold answer (exact, numeric or choice match);
`agreement_score` scores it against the supervisor's answer, with no gold at all.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ..models import MemberAnswer, QueryResult
from .recorded import RECORDED_CORRECT as RECORDED_CORRECT
from .recorded import RECORDED_INCORRECT as RECORDED_INCORRECT
from .recorded import (
    read_marker,
    recorded_agreement,
    recorded_reference_score,
)

# Recordings that hold a result but no answer text (RouteLLM's MMLU, LLMRouter's tasks) are
# replayed as markers (`policy/recorded.py`); both judges below read them before any text rule.

_NUMBER = re.compile(r"-?\$?\s?\d[\d,]*(?:\.\d+)?")
_FINAL_MARK = re.compile(r"####\s*(.+)")
_ANSWER_IS = re.compile(
    r"(?:final answer|answer)\s*(?:is|=|:)\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)", re.I
)
_BOXED = re.compile(r"\\boxed\{([^}]*)\}")
_CHOICE = [
    re.compile(r"answer\s*(?:is|:)?\s*\(?([A-D])\)?(?![A-Za-z])", re.I),
    re.compile(r"^\s*\(?([A-D])\)?(?:[.):]|\s*$)", re.M),
]


def canonical_number(token: str) -> str | None:
    """'1,200.50' -> '1200.5'; '$18' -> '18'; not a number -> None."""
    cleaned = token.replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    normalized = format(value.normalize(), "f")
    return "0" if normalized in ("-0", "") else normalized


def final_number(text: str) -> str | None:
    """The final numeric answer: after '####', a boxed value, 'the answer is N', or the last number."""
    for pattern in (_FINAL_MARK, _BOXED):
        marked = pattern.findall(text)
        if marked:
            numbers = _NUMBER.findall(marked[-1])
            if numbers:
                return canonical_number(numbers[0])
    stated = _ANSWER_IS.findall(text)
    if stated:
        return canonical_number(stated[-1])
    numbers = _NUMBER.findall(text)
    return canonical_number(numbers[-1]) if numbers else None


def final_choice(text: str) -> str | None:
    """A multiple-choice letter A-D, or None."""
    for pattern in _CHOICE:
        found = pattern.findall(text)
        if found:
            return found[-1].upper()
    return None


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9.]+", text.lower())).strip(". ")


def reference_score(answer: str, reference: str) -> float:
    """1.0 when `answer` matches the gold `reference`, else 0.0."""
    ref = reference.strip()
    ref_marker = read_marker(ref)
    if ref_marker is not None:
        return recorded_reference_score(read_marker(answer), ref_marker)
    if "####" in ref:
        ref = ref.rsplit("####", 1)[1].strip()
    ref_number = canonical_number(ref)
    if ref_number is not None:
        return 1.0 if final_number(answer) == ref_number else 0.0
    if re.fullmatch(r"\(?[A-Da-d]\)?", ref):
        return 1.0 if final_choice(answer) == ref.strip("()").upper() else 0.0
    return 1.0 if _plain(answer) == _plain(ref) else 0.0


def agreement_score(answer: str, supervisor_answer: str) -> float:
    """1.0 when the two answers reach the same final answer, else 0.0 (recorded graded
    answers agree in part: see `policy/recorded.py`)."""
    mine, theirs = read_marker(answer), read_marker(supervisor_answer)
    if mine is not None and theirs is not None:
        return recorded_agreement(mine, theirs)
    if mine is not None or theirs is not None:
        return 0.0  # a recorded result and a free-text answer cannot be compared
    sup_number = final_number(supervisor_answer)
    if sup_number is not None:
        return 1.0 if final_number(answer) == sup_number else 0.0
    sup_choice = final_choice(supervisor_answer)
    if sup_choice is not None:
        return 1.0 if final_choice(answer) == sup_choice else 0.0
    return 1.0 if _plain(answer) == _plain(supervisor_answer) else 0.0


NO_RECORDING_HINT = (
    "no member has a recorded answer for this question: the embedded default replays recorded "
    "GSM8K and MMLU answers, so ask one of those (`tutelage ask --sample` picks one), or "
    "configure a real provider (see examples/)"
)


def failure_hint(calls: list[MemberAnswer]) -> str | None:
    """What to do when a query failed only because nobody had a recording of it."""
    failed = [c for c in calls if c.error]
    if failed and not any(c.ok for c in calls) and all(
        c.error_kind == "NoRecordingError" for c in failed
    ):
        return NO_RECORDING_HINT
    return None


def answer_usage(result: QueryResult) -> tuple[int, int]:
    """(prompt, completion) tokens of the answer the caller got: the winner's call; a cached
    answer used none."""
    answer = next((c for c in result.calls if c.member_id == result.winner
                   and c.kind != "judge" and c.ok), None)  # fmt: skip
    return (answer.tokens_in, answer.tokens_out) if answer else (0, 0)


def billed_tokens(result: QueryResult) -> int:
    """Every token the query was billed for: all members' calls and the judge's."""
    return sum(c.tokens_in + c.tokens_out for c in result.calls)

