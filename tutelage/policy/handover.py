"""Hand-over of judging: a domain's trusted teacher judges it in the supervisor's place."""

from __future__ import annotations

from ..models import JudgeSettings, SchoolSnapshot
from ..models.lifecycle import MemberDomainStats, MemberState
from ..models.roster import Role
from .promotion import wilson_lower
from .sampling import stable_uniform


def plan_handover(
    stats: list[MemberDomainStats],
    roster: list[MemberState],
    supervisor: str,
    settings: JudgeSettings,
    z: float = 1.0,
) -> dict[str, str]:
    """Per domain, the teacher that agrees with the supervisor most (lower bound at or above
    the bar, over at least the window); domains without one stay with the supervisor."""
    states = {m.spec.id: m for m in roster}
    best: dict[str, tuple[float, str]] = {}
    for s in stats:
        state = states.get(s.member_id)
        if state is None or s.member_id == supervisor or s.domain == "*":
            continue
        if state.role_in(s.domain) != Role.TEACHER or s.judged < settings.handover_window:
            continue
        bound = wilson_lower(s.agreements, s.judged, z)
        if bound >= settings.handover_agreement and (bound, s.member_id) > best.get(
            s.domain, (-1, "")
        ):
            best[s.domain] = (bound, s.member_id)
    return {d: m for d, (_, m) in sorted(best.items())}


def pick_judge(draw_key: str, domain: str | None, school: SchoolSnapshot) -> str:
    """The domain's teacher-judge, except on the supervisor's audit draws; else the supervisor."""
    teacher = school.judges.get(domain or "")
    if teacher is None:
        return school.supervisor
    if stable_uniform(draw_key, "judge-audit") < school.judge.judge_audit_rate:
        return school.supervisor
    return teacher
