"""Who moves up or down the ladder, from judged records (a pure function of plain data).

Rates are Wilson lower confidence bounds, not raw ratios, so ten lucky answers do not make a
teacher. The mean score is bounded the same way, treating it as a rate of n judged answers.
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


def wilson_lower(successes: float, n: int, z: float) -> float:
    """Lower Wilson score bound of a rate; 0.0 with no trials."""
    if n <= 0:
        return 0.0
    p = min(max(successes / n, 0.0), 1.0)
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denom)


def _clears(s: MemberDomainStats, step: Step, z: float) -> tuple[bool, str]:
    score = wilson_lower(s.score_sum, s.judged, z)
    wins = wilson_lower(s.wins, s.judged, z)
    figures = (f"{s.judged} judged, score LCB {score:.2f} (bar {step.min_score:.2f}), "
               f"win-rate LCB {wins:.2f} (bar {step.min_win_rate:.2f})")  # fmt: skip
    ok = s.judged >= step.min_judged and score >= step.min_score and wins >= step.min_win_rate
    return ok, figures


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
        role = state.role_in(s.domain)
        if role == Role.RETIRED or state.role_in(ALL_DOMAINS) == Role.RETIRED:
            continue
        z = settings.confidence_z
        step = {Role.PROBATION: settings.probation_to_student, Role.STUDENT: settings.student_to_ta,
                Role.TA: settings.ta_to_teacher}.get(role)  # fmt: skip
        if step is not None:
            ok, figures = _clears(s, step, z)
            if ok:
                action = Action.ACTIVATE if role == Role.PROBATION else Action.PROMOTE
                planned.append(PlannedTransition(member_id=s.member_id, domain=s.domain,
                                                 action=action, reason=figures))  # fmt: skip
                continue
        recent = s.recent_scores[: settings.demote_window]
        if role in (Role.TA, Role.TEACHER) and len(recent) >= settings.demote_window:
            mean = sum(recent) / len(recent)
            if mean < settings.demote_below:
                planned.append(PlannedTransition(
                    member_id=s.member_id, domain=s.domain, action=Action.DEMOTE,
                    reason=(f"last {len(recent)} judged answers average {mean:.2f} "
                            f"< {settings.demote_below:.2f}"),
                ))  # fmt: skip
    return planned
