"""Scoring answers without an LLM judge, and choosing the final answer."""

from __future__ import annotations

from ..models import JudgeMode, Member, MemberAnswer, Verdict
from ..models.structured import AnswerShape, Check
from .answers import agreement_score, reference_score
from .structured import check_answer, same_answer


def answer_checks(shape: AnswerShape, answers: list[MemberAnswer]) -> dict[str, Check]:
    """Each member's answer checked against the shape its request asked for (a structured
    request only: a text request has nothing to check)."""
    if not shape.structured:
        return {}
    return {a.member_id: check_answer(shape, a.text, a.tool_calls)
            for a in answers if a.ok and a.kind != "judge"}  # fmt: skip


def fits(checks: dict[str, Check], member_id: str) -> bool:
    """Whether a member's answer fits its request's shape (an unchecked one does)."""
    check = checks.get(member_id)
    return check is None or check.valid


def shape_verdicts(checks: dict[str, Check]) -> list[Verdict]:
    """A score of 0 for every answer that does not fit its shape, given before and without any
    judge: not JSON, breaking the schema, a bad tool call, text where a call was required."""
    return [Verdict(member_id=m, score=0.0, judge="shape", reasoning=c.reason)
            for m, c in checks.items() if not c.valid]  # fmt: skip


def judge_needed(shape: AnswerShape, fitting: list[MemberAnswer]) -> bool:
    """Whether a structured query's answers need a judge: not when one answer alone fits its
    shape (it is the only one that can be served; the misfits are scored already)."""
    return not shape.structured or sum(a.ok and a.kind != "judge" for a in fitting) > 1


def _agreement(a: MemberAnswer, sup: MemberAnswer, shape: AnswerShape | None,
               checks: dict[str, Check]) -> float:  # fmt: skip
    """How far an answer agrees with the supervisor's: structured answers by their parsed
    values (or calls), prose by the text rule."""
    if shape is not None and a.member_id in checks and sup.member_id in checks:
        same = same_answer(shape, checks[a.member_id], checks[sup.member_id])
        if same is not None:
            return 1.0 if same else 0.0
    return agreement_score(a.text or "", sup.text or "")


def programmatic_verdicts(
    answers: list[MemberAnswer],
    reference: str | None,
    mode: JudgeMode,
    supervisor_id: str,
    shape: AnswerShape | None = None,
    checks: dict[str, Check] | None = None,
) -> list[Verdict] | None:
    """Verdicts from a reference answer or from agreement with the supervisor.

    None when neither applies and the supervisor must judge through the LLM prompt.
    """
    ok = [a for a in answers if a.ok]
    if reference is not None:
        return [
            Verdict(member_id=a.member_id, score=reference_score(a.text or "", reference),
                    judge="reference")
            for a in ok
        ]  # fmt: skip
    if mode == JudgeMode.AGREEMENT:
        sup = next((a for a in ok if a.member_id == supervisor_id), None)
        if sup is None:
            return [Verdict(member_id=a.member_id, score=None, judge="none") for a in ok]
        # The judge's own answer is the reference: it agrees with itself by definition (a
        # recorded wrong answer must not tell a label-free judge that it is wrong).
        return [
            Verdict(member_id=a.member_id, judge=f"agreement:{supervisor_id}",
                    score=1.0 if a.member_id == supervisor_id
                    else _agreement(a, sup, shape, checks or {}))
            for a in ok
        ]  # fmt: skip
    return None


def pick_winner(
    answers: list[MemberAnswer],
    verdicts: list[Verdict],
    members: dict[str, Member],
    margin: float,
    preference: list[str],
) -> str | None:
    """The best-scored visible answer; the cheaper member wins within `margin` of the best.

    With no scores, the first answer in `preference` order (the route's ranking) that
    succeeded, else any visible answer (a fallback's).
    """
    visible = {a.member_id for a in answers if a.ok and not a.shadow}
    scored = {
        v.member_id: v.score for v in verdicts if v.member_id in visible and v.score is not None
    }
    if not scored:
        ordered = [m for m in preference if m in visible] + sorted(visible - set(preference))
        return ordered[0] if ordered else None
    best = max(scored.values())
    close = [m for m, s in scored.items() if s >= best - margin]
    return min(close, key=lambda m: (members[m].relative_cost, -scored[m], m))
