"""What the dashboard's quality figures are called and where their lines are drawn. Pure.

Two figures of the answers the school served, never mixed:

- the judge's: the mean score the judge gave the served answer (every verdict on the query's
  winner but users'). What it measures depends on the judge, so it is named for it: under
  agreement judging it is agreement with the supervisor (the supervisor's own answers score
  1.0 by definition), not quality; under LLM judging the supervisor's (LLM judge) score; with a
  reference answer the reference (oracle) score, a judge that knew the gold answer;
- the users': each rated query's standing rating (its newest) of the served answer.

And how often the two agree on the answers both scored: the judge passes the answer (its score
at least `judge.pass_score`) exactly when the user's score is at least `RATED_RIGHT_AT`.
"""

from __future__ import annotations

from ..models.settings import JudgeMode
from .feedback import USER_JUDGE

# A rating is positive at or above this (an "up" is 1.0, a "down" 0.0): the feedback policy's
# decisive rating (1 - policy.feedback.DECISIVE_MARGIN).
POSITIVE_AT = 0.8
# A user's score at or above this says the served answer was right (for the judge's agreement
# with users; the same line as policy.feedback.USER_DEMOTE_BELOW).
RATED_RIGHT_AT = 0.5

AGREEMENT, LLM, REFERENCE = JudgeMode.AGREEMENT.value, JudgeMode.LLM.value, "reference"
# Verdicts that are no judge's view of the answer: a shape check (a programmatic 0 for an answer
# that breaks its request's shape) and no score at all.
SHAPE, UNSCORED = "shape", "unscored"

FIGURE_NAMES = {
    AGREEMENT: "agreement with the supervisor",
    LLM: "the supervisor's (LLM judge) score",
    REFERENCE: "reference (oracle) score",
}
UNNAMED = "the judge's score"


def judge_kind(judge: str) -> str:
    """The kind of judge a verdict's `judge` names in the ledger: `reference`, `agreement`
    (`agreement:<judge member>`), `user`, `shape`, `unscored` (`none`, `unjudged`), else `llm`
    (an LLM judge is named by its member id: the supervisor or a teacher-judge)."""
    if judge in (REFERENCE, USER_JUDGE, SHAPE):
        return judge
    if judge in ("none", "unjudged"):
        return UNSCORED
    if judge.startswith(f"{AGREEMENT}:"):
        return AGREEMENT
    return LLM


def judge_mode(judges: dict[str, int], configured: str | None = None) -> str:
    """The judging the figure stands for: the kind (agreement, llm, reference) that scored the
    most served answers in the window (`judges`: judge name -> served answers it scored; a tie
    goes to the configured mode, then in the order agreement, llm, reference); with none, the
    school's configured mode; with neither, ""."""
    counts: dict[str, int] = {}
    for judge, n in judges.items():
        kind = judge_kind(judge)
        if kind in FIGURE_NAMES:
            counts[kind] = counts.get(kind, 0) + n
    if not counts:
        return configured if configured in FIGURE_NAMES else ""
    order = [AGREEMENT, LLM, REFERENCE]
    return max(counts, key=lambda k: (counts[k], k == configured, -order.index(k)))


def figure_name(mode: str) -> str:
    """The judge's figure's name: what it measures under that judging."""
    return FIGURE_NAMES.get(mode, UNNAMED)


def judge_passes(judge_score: float, pass_score: float) -> bool:
    return judge_score >= pass_score


def rated_right(user_score: float) -> bool:
    return user_score >= RATED_RIGHT_AT


def agrees(judge_score: float, user_score: float, pass_score: float) -> bool:
    """Whether the judge and the user agree on a served answer: the judge passes it exactly
    when the user rates it right."""
    return judge_passes(judge_score, pass_score) == rated_right(user_score)


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
