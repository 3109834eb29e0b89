"""Who moves up or down the ladder, from judged records (a pure function of plain data).

Rates are Wilson lower confidence bounds, not raw ratios, so ten lucky answers do not make a
teacher. The mean score is bounded the same way, treating it as a rate of n judged answers.
A rung's score bar may also be cleared relative to the supervisor (`Step.max_deficit`): on the
queries both were judged on, the member's mean score difference with the supervisor has a
lower bound of at least -max_deficit. That is how a student as good as its supervisor where the
supervisor is weak, or better than it, earns the domain.

Users' verdicts weigh in (policy/feedback.py): each counts `USER_WEIGHT` times a judge's in the
record a rung is cleared on; a rung may also be cleared on user verdicts alone; and a member
users rate down in a domain is demoted there (and not promoted), whatever the judge says;
one whose user verdicts alone clear its rung is neither demoted nor held back by the judge's
recent scores (`_vouched`).
"""

from __future__ import annotations

import math

from ..models.lifecycle import (
    Action,
    MemberDomainStats,
    MemberState,
    PlannedTransition,
    PromotionSettings,
    Step,
)
from ..models.roster import ALL_DOMAINS, Role
from .feedback import USER_WEIGHT, rated_down, users_alone, with_user_verdicts


def wilson_lower(successes: float, n: int, z: float) -> float:
    """Lower Wilson score bound of a rate; 0.0 with no trials."""
    if n <= 0:
        return 0.0
    p = min(max(successes / n, 0.0), 1.0)
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denom)


def relative_bounds(s: MemberDomainStats, z: float) -> tuple[float, float] | None:
    """Confidence bounds (lower, upper) of the member's mean score difference with the
    supervisor on the queries both were judged on; None with fewer than two such queries.

    A normal approximation; the spread has a floor of 1/sqrt(n), since n equal differences
    (both right, say) say little about the next one."""
    n = s.paired
    if n < 2:
        return None
    mean = s.paired_diff_sum / n
    variance = max(0.0, (s.paired_diff_sq - n * mean * mean) / (n - 1))
    margin = z * max(math.sqrt(variance), 1.0 / math.sqrt(n)) / math.sqrt(n)
    return mean - margin, mean + margin


def _clears(s: MemberDomainStats, step: Step, z: float) -> tuple[bool, str]:
    score = wilson_lower(s.score_sum, s.judged, z)
    wins = wilson_lower(s.wins, s.judged, z)
    bar = "relative only" if step.min_score is None else f"bar {step.min_score:.2f}"
    figures = (f"{s.judged} judged, score LCB {score:.2f} ({bar}), "
               f"win-rate LCB {wins:.2f} (bar {step.min_win_rate:.2f})")  # fmt: skip
    score_ok = step.min_score is not None and score >= step.min_score
    if not score_ok and step.max_deficit is not None and s.paired >= step.min_judged:
        bounds = relative_bounds(s, z)
        if bounds is not None:
            figures += (f", against the supervisor on {s.paired} queries: "
                        f"{s.paired_diff_sum / s.paired:+.3f}, LCB {bounds[0]:+.3f} "
                        f"(bar {-step.max_deficit:+.3f})")  # fmt: skip
            score_ok = bounds[0] >= -step.max_deficit
    ok = s.judged >= step.min_judged and score_ok and wins >= step.min_win_rate
    return ok, figures


def _clears_with_users(s: MemberDomainStats, step: Step, z: float) -> tuple[bool, str]:
    """The rung cleared on the member's record with its user verdicts counted `USER_WEIGHT`
    times each, or else on its user verdicts alone (each counted as many times)."""
    ok, figures = _clears(with_user_verdicts(s), step, z)
    if s.user_judged:
        figures += f" (with {s.user_judged} user verdicts, each counted x{USER_WEIGHT})"
    alone = users_alone(s)
    if ok or alone is None:
        return ok, figures
    ok_alone, by_users = _clears(alone, step, z)
    if ok_alone:
        return True, f"on user verdicts alone (each counted x{USER_WEIGHT}): {by_users}"
    return False, figures


def _falling(s: MemberDomainStats, settings: PromotionSettings) -> str | None:
    """Why the member's recent answers fall short of its role, or None: over the last
    `demote_window` judged answers, the upper bound of their mean (z = `demote_confidence_z`)
    is below `demote_below` and below the supervisor's mean in the domain by more than
    `demote_margin`."""
    recent = s.recent_scores[: settings.demote_window]
    if len(recent) < settings.demote_window:
        return None
    mean = sum(recent) / len(recent)
    z = settings.demote_confidence_z
    upper = 1.0 - wilson_lower(len(recent) - sum(recent), len(recent), z) if z > 0 else mean
    sup_mean = s.sup_score_sum / s.sup_judged if s.sup_judged else 1.0
    if upper < settings.demote_below and upper < sup_mean - settings.demote_margin:
        bound = f" (upper bound {upper:.2f})" if z > 0 else ""
        return (f"last {len(recent)} judged answers average {mean:.2f}{bound} "
                f"< {settings.demote_below:.2f}, and below the supervisor's "
                f"{sup_mean:.2f} by more than {settings.demote_margin:.2f}")
    return None


def _vouched(s: MemberDomainStats, step: Step | None, z: float) -> bool:
    """Whether the member's user verdicts alone clear `step`: users, the strongest evidence,
    vouch for the role, so the judge's recent scores (agreement with a supervisor users find
    wrong there) neither demote it nor block its promotion. Users' own verdicts still can
    (`rated_down`)."""
    alone = users_alone(s)
    return alone is not None and step is not None and _clears(alone, step, z)[0]


def plan_promotions(
    stats: list[MemberDomainStats],
    roster: list[MemberState],
    supervisor: str,
    settings: PromotionSettings,
) -> list[PlannedTransition]:
    """One planned move at most per member and domain, in a stable order."""
    states = {m.spec.id: m for m in roster}
    planned: list[PlannedTransition] = []
    for s in sorted(stats, key=lambda s: (s.member_id, s.domain)):
        state = states.get(s.member_id)
        if state is None or s.member_id == supervisor:
            continue
        if s.domain == ALL_DOMAINS and not settings.domain_wide:
            continue
        role = state.role_in(s.domain)
        if role == Role.RETIRED or state.role_in(ALL_DOMAINS) == Role.RETIRED:
            continue
        z = settings.confidence_z
        step = {Role.PROBATION: settings.probation_to_student, Role.STUDENT: settings.student_to_ta,
                Role.TA: settings.ta_to_teacher}.get(role)  # fmt: skip
        judge_falling, down = _falling(s, settings), rated_down(s)
        if step is not None:
            ok, figures = _clears_with_users(s, step, z)
            # A member its recent answers would demote is not promoted: the role would not last.
            falling = down or (None if _vouched(s, step, z) else judge_falling)
            if ok and falling is None:
                action = Action.ACTIVATE if role == Role.PROBATION else Action.PROMOTE
                planned.append(PlannedTransition(member_id=s.member_id, domain=s.domain,
                                                 action=action, reason=figures))  # fmt: skip
                continue
        # The rung that brought a TA or teacher where it is: users who vouch for it keep it.
        held = {Role.TA: settings.student_to_ta, Role.TEACHER: settings.ta_to_teacher}.get(role)
        falling = down or (None if _vouched(s, held, z) else judge_falling)
        if role in (Role.TA, Role.TEACHER) and falling is not None:
            planned.append(PlannedTransition(member_id=s.member_id, domain=s.domain,
                                             action=Action.DEMOTE, reason=falling))  # fmt: skip
    return planned
