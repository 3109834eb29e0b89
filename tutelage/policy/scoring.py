"""Scoring answers without an LLM judge, and choosing the final answer."""

from __future__ import annotations

from ..models import JudgeMode, Member, MemberAnswer, Verdict
from .answers import agreement_score, reference_score


def programmatic_verdicts(
    answers: list[MemberAnswer],
    reference: str | None,
    mode: JudgeMode,
    supervisor_id: str,
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
                    else agreement_score(a.text or "", sup.text or ""))
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
