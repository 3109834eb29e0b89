"""Evolution's decisions: which domains are gaps, whom to spawn for them, whom to retire."""

from __future__ import annotations

import re

from ..models import PeerReviewSettings
from ..models.lifecycle import (
    Action,
    DomainStats,
    EvolutionInputs,
    EvolutionSettingsModel,
    Gap,
    MemberDomainStats,
    MemberSpec,
    MemberState,
    PairStats,
    PlannedTransition,
    SpawnPlan,
    Step,
)
from ..models.roster import ALL_DOMAINS, Role
from .feedback import USER_DEMOTE_MIN, users_alone, with_user_verdicts
from .peer import pair_cost
from .promotion import relative_bounds, wilson_lower


def find_gaps(domains: list[DomainStats], s: EvolutionSettingsModel) -> list[Gap]:
    """Domains that answer poorly, fail often, or still lean on the supervisor; worst first."""
    gaps = []
    for d in domains:
        if d.queries < s.gap_min_queries or d.domain == ALL_DOMAINS:
            continue
        reasons, severity = [], 0.0
        if d.mean_best_score is not None and d.mean_best_score < s.gap_score_below:
            reasons.append(f"mean best score {d.mean_best_score:.2f} < {s.gap_score_below:.2f}")
            severity += s.gap_score_below - d.mean_best_score
        if d.failure_rate > s.gap_failure_above:
            reasons.append(f"failure rate {d.failure_rate:.2f} > {s.gap_failure_above:.2f}")
            severity += d.failure_rate - s.gap_failure_above
        if d.supervisor_share > s.gap_supervisor_share_above:
            reasons.append(f"{d.supervisor_share:.0%} of queries need the supervisor")
            severity += d.supervisor_share - s.gap_supervisor_share_above
        if reasons:
            cost_only = len(reasons) == 1 and d.supervisor_share > s.gap_supervisor_share_above
            gaps.append(Gap(domain=d.domain, severity=round(severity, 6), reasons=reasons,
                            cost_only=cost_only))  # fmt: skip
    return sorted(gaps, key=lambda g: (-g.severity, g.domain))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:40] or "x"


def spawned_id(candidate_id: str, domain: str) -> str:
    """The id of the member spawned from a candidate for a gap domain."""
    return f"{_slug(candidate_id)}-{_slug(domain)}"


def spawn_template(member_id: str, candidate_ids: list[str]) -> str | None:
    """The candidate a spawned member's id says it came from (the longest that fits), so a
    process without the roster can still call it as its template; None for any other id."""
    fits = [c for c in candidate_ids if member_id.startswith(f"{_slug(c)}-")]
    return max(fits, key=len) if fits else None


def plan_spawns(
    gaps: list[Gap],
    candidates: list[MemberSpec],
    roster: list[MemberState],
    s: EvolutionSettingsModel,
    candidate_costs: dict[str, float] | None = None,
) -> list[SpawnPlan]:
    """New probation students for the worst gaps, within each domain's capacity.

    A domain's capacity counts the members spawned for it that are not retired; a candidate
    already spawned for a domain is not spawned there again. A gap that is only about cost
    (the supervisor answers too much of it) gets only candidates cheaper than the supervisor
    (`candidate_costs`, relative to it).
    """
    costs = candidate_costs or {}
    if not candidates:
        return []
    ids = {m.spec.id for m in roster}
    plans: list[SpawnPlan] = []
    for gap in gaps:
        if len(plans) >= s.max_spawns_per_run:
            break
        living = [m for m in roster if m.spec.spawned_for == gap.domain
                  and m.role_in(ALL_DOMAINS) != Role.RETIRED]  # fmt: skip
        if len(living) >= s.capacity_per_domain:
            continue
        tried = {m.spec.template for m in roster if m.spec.spawned_for == gap.domain}
        for c in candidates:
            new_id = spawned_id(c.id, gap.domain)
            if c.id in tried or new_id in ids or (gap.cost_only and costs.get(c.id, 0.0) >= 1.0):
                continue
            spec = c.model_copy(update={"id": new_id, "role": Role.PROBATION, "template": c.id,
                                        "spawned_for": gap.domain, "domains": [gap.domain]})  # fmt: skip
            plans.append(SpawnPlan(spec=spec, domain=gap.domain, reason="; ".join(gap.reasons)))
            ids.add(new_id)
            break
    return plans


def plan_prunes(
    stats: list[MemberDomainStats],
    roster: list[MemberState],
    supervisor: str,
    s: EvolutionSettingsModel,
    z: float = 1.0,
) -> list[PlannedTransition]:
    """Retire members that keep losing and cost more than they save.

    Over all its domains a member must have `prune_min_judged` judged answers, a win-rate upper
    bound below the bar (it is confidently losing), and no domain where it may answer alone
    (a TA or teacher saves supervisor calls there, so it pays for itself).
    """
    by_member: dict[str, list[MemberDomainStats]] = {}
    for st in stats:  # users' verdicts weigh as in promotion (policy/feedback.py)
        by_member.setdefault(st.member_id, []).append(with_user_verdicts(st))
    planned = []
    for state in sorted(roster, key=lambda m: m.spec.id):
        mid = state.spec.id
        if mid == supervisor or state.role_in(ALL_DOMAINS) == Role.RETIRED:
            continue
        rows = by_member.get(mid, [])
        judged = sum(r.judged for r in rows)
        if judged < s.prune_min_judged:
            continue
        if any(state.role_in(r.domain) in (Role.TA, Role.TEACHER) for r in rows):
            continue
        wins = sum(r.wins for r in rows)
        upper = 1.0 - wilson_lower(judged - wins, judged, z)
        if upper < s.prune_win_rate_below:
            cost = sum(r.cost_usd for r in rows)
            planned.append(PlannedTransition(
                member_id=mid, domain=ALL_DOMAINS, action=Action.RETIRE,
                reason=(f"won {wins}/{judged} judged answers (upper bound {upper:.2f} < "
                        f"{s.prune_win_rate_below:.2f}) and never answers alone; spent ${cost:.4f}"),
            ))  # fmt: skip
    return planned


def may_review(pair: PairStats, costs: dict[str, float], settings: PeerReviewSettings,
               z: float) -> bool:  # fmt: skip
    """Whether a pair could still become a domain's peer panel: its agreements are cheap
    enough, and its agreed answers' reliability is not yet known to fall short."""
    if pair.together <= 0:
        return False
    cost = pair_cost(pair, costs)
    upper = 1.0 - wilson_lower(pair.agreed_judged - pair.agreed_right, pair.agreed_judged, z)
    return cost < 1.0 and (pair.agreed_judged == 0 or upper >= settings.min_reliability)


def plan_domain_prunes(inputs: EvolutionInputs, s: EvolutionSettingsModel) -> list[PlannedTransition]:
    """Retire a student (or a member on probation) from a domain it cannot earn: over
    `prune_min_judged` judged answers there, the upper confidence bounds (z =
    `prune_confidence_z`) of its score and of its difference with the supervisor are both
    below its next bar (a bar the step does not set counts as out of reach), or it was judged
    `prune_after_judged` times there without earning it; and it is on no pair that is, or may
    still become, the domain's peer panel. It keeps every other domain (a member spawned for
    the domain has none: it is retired); the domain stops paying for its answers."""
    states = {m.spec.id: m for m in inputs.roster}
    bars = {Role.STUDENT: inputs.promotion.student_to_ta,
            Role.PROBATION: inputs.promotion.probation_to_student}  # fmt: skip
    z = s.prune_confidence_z
    reviewers = {(p.domain, m) for p in inputs.pairs for m in (p.member_a, p.member_b)
                 if may_review(p, inputs.costs, inputs.peer_review, z)}  # fmt: skip
    reviewers |= {(d, m) for d, panel in inputs.peers.items() for m in panel.members}
    planned = []
    for raw in sorted(inputs.members, key=lambda r: (r.member_id, r.domain)):
        st = with_user_verdicts(raw)  # users' verdicts weigh as in promotion
        state = states.get(st.member_id)
        if (state is None or st.member_id == inputs.supervisor or st.domain == ALL_DOMAINS
                or state.role_in(st.domain) not in bars or st.judged < s.prune_min_judged
                or (st.domain, st.member_id) in reviewers):  # fmt: skip
            continue
        bar = bars[state.role_in(st.domain)]
        # A member spawned for this domain has no other: it is retired outright, which frees
        # the domain's place for the next candidate.
        where = ALL_DOMAINS if state.spec.spawned_for == st.domain else st.domain
        # Its chance is counted in the judge's verdicts: users' ratings do not use it up.
        if s.prune_after_judged and raw.judged >= s.prune_after_judged:
            planned.append(PlannedTransition(
                member_id=st.member_id, domain=where, action=Action.RETIRE,
                reason=(f"{raw.judged} judged in {st.domain} without earning it (the chance "
                        f"is {s.prune_after_judged}); spent ${st.cost_usd:.4f} there"),
            ))  # fmt: skip
            continue
        why = _out_of_reach(st, bar, z)
        # Users who rated it often enough to judge it alone and still see it in reach keep it.
        alone = users_alone(raw) if raw.user_judged >= USER_DEMOTE_MIN else None
        if why is not None and (alone is None or _out_of_reach(alone, bar, z) is not None):
            rung = "TA" if bar is inputs.promotion.student_to_ta else "student"
            planned.append(PlannedTransition(
                member_id=st.member_id, domain=where, action=Action.RETIRE,
                reason=(f"{st.judged} judged in {st.domain}: {why}, out of reach of the "
                        f"{rung} bar; spent ${st.cost_usd:.4f} there"),
            ))  # fmt: skip
    return planned


def _out_of_reach(st: MemberDomainStats, bar: Step, z: float) -> str | None:
    """Why the record cannot clear `bar` (the upper confidence bounds of its score and of its
    difference with the supervisor are both below it; a bar the step does not set counts as
    out of reach), or None where it may."""
    score_up = 1.0 - wilson_lower(st.judged - st.score_sum, st.judged, z)
    bounds = relative_bounds(st, z)
    if bar.max_deficit is not None and bounds is None:
        return None  # never judged beside the supervisor: no telling how far behind it is
    absolute_out = bar.min_score is None or score_up < bar.min_score
    relative_out = bar.max_deficit is None or (bounds is not None
                                               and bounds[1] < -bar.max_deficit)  # fmt: skip
    if not (absolute_out and relative_out):
        return None
    why = f"score upper bound {score_up:.2f}"
    if bounds is not None:
        why += f", difference with the supervisor upper bound {bounds[1]:+.3f}"
    return why
