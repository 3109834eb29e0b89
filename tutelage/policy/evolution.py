"""Evolution's decisions: which domains are gaps, whom to spawn for them, whom to retire."""

from __future__ import annotations

import re

from ..models.lifecycle import (
    Action,
    DomainStats,
    EvolutionSettingsModel,
    Gap,
    MemberDomainStats,
    MemberSpec,
    MemberState,
    PlannedTransition,
    SpawnPlan,
)
from ..models.roster import ALL_DOMAINS, Role
from .promotion import wilson_lower


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
            gaps.append(Gap(domain=d.domain, severity=round(severity, 6), reasons=reasons))
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
) -> list[SpawnPlan]:
    """New probation students for the worst gaps, within each domain's capacity.

    A domain's capacity counts the members spawned for it that are not retired; a candidate
    already spawned for a domain is not spawned there again.
    """
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
            if c.id in tried or new_id in ids:
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
    for st in stats:
        by_member.setdefault(st.member_id, []).append(st)
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
