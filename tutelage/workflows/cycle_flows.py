"""The learning cycles' orchestration, written once for both engines (as query_flow is).

Workflows run these with Temporal activities as the steps; the benchmark's inline engine runs
them with the same activity code called directly. Decisions are pure functions in
`tutelage.policy`; members move only through their lifecycle (`apply`).
"""

from __future__ import annotations

from typing import Protocol

from ..models.lifecycle import (
    AdoptExemplars,
    AppliedTransition,
    ApplyAdoption,
    ApplyTransition,
    DiscoverRequest,
    DiscoverResult,
    DistillRequest,
    DistillResult,
    EvolutionInputs,
    EvolutionResult,
    EvolutionSettingsModel,
    GateRequest,
    GateResult,
    HandoverWrite,
    PromotionResult,
    RosterWriteResult,
    SettingsWrite,
    SpawnPlan,
    StatsRequest,
    StatsResult,
    TransitionRequest,
)
from ..policy.evolution import find_gaps, plan_domain_prunes, plan_prunes, plan_spawns
from ..policy.handover import plan_handover
from ..policy.peer import plan_peer_review
from ..policy.promotion import plan_promotions
from ..policy.tuning import tune_shadow_rate, tune_thresholds


class CycleSteps(Protocol):
    async def stats(self, req: StatsRequest) -> StatsResult: ...
    async def apply(self, req: ApplyTransition) -> AppliedTransition: ...
    async def evolution_inputs(self, req: StatsRequest) -> EvolutionInputs: ...
    async def discover(self, req: DiscoverRequest) -> DiscoverResult: ...
    async def spawn(self, plan: SpawnPlan) -> AppliedTransition: ...
    async def save_routing(self, req: SettingsWrite) -> RosterWriteResult: ...
    async def save_judges(self, req: HandoverWrite) -> RosterWriteResult: ...
    async def distill(self, req: DistillRequest) -> DistillResult: ...
    async def gate(self, req: GateRequest) -> GateResult: ...
    async def adopt(self, req: ApplyAdoption) -> AppliedTransition: ...


async def run_promotion(steps: CycleSteps, window: int = 2000) -> PromotionResult:
    st = await steps.stats(StatsRequest(window=window))
    planned = plan_promotions(st.members, st.roster, st.supervisor, st.settings)
    applied = []
    for p in planned:  # one at a time, in the plan's order: the history reads as a sequence
        req = TransitionRequest(action=p.action, domain=p.domain, reason=p.reason, by="promotion")
        applied.append(await steps.apply(ApplyTransition(member_id=p.member_id, request=req)))
    # Hand-over is decided on the roles as they stood when the figures were read; a teacher
    # promoted just now earns it at the next cycle.
    judges = plan_handover(st.members, st.roster, st.supervisor, st.judge)
    peers = plan_peer_review(st.pairs, st.roster, st.supervisor, st.costs, st.peer_review,
                             st.settings.confidence_z)  # fmt: skip
    await steps.save_judges(HandoverWrite(judges=judges, peers=peers))
    return PromotionResult(planned=planned, applied=applied, judges=judges, peers=peers)


async def run_evolution(steps: CycleSteps) -> EvolutionResult:
    # Windows and cluster counts come from the worker's configuration (None in the requests).
    discovered = await steps.discover(DiscoverRequest())
    inputs = await steps.evolution_inputs(StatsRequest())
    s = inputs.settings or EvolutionSettingsModel()
    gaps = find_gaps(inputs.domains, s)
    spawned = plan_spawns(gaps, inputs.candidates, inputs.roster, s, inputs.candidate_costs)
    for plan in spawned:
        await steps.spawn(plan)
    pruned = []
    prunes = plan_prunes(inputs.members, inputs.roster, inputs.supervisor, s)
    prunes += plan_domain_prunes(inputs, s)
    for p in prunes:
        req = TransitionRequest(action=p.action, domain=p.domain, reason=p.reason, by="evolution")
        pruned.append(await steps.apply(ApplyTransition(member_id=p.member_id, request=req)))
    r = inputs.routing
    change = tune_thresholds(inputs.threshold_rows, r.get("low_threshold", 0.0),
                             r.get("high_threshold", 0.0), s.cost_lambda, s.threshold_step)  # fmt: skip
    learners = {}
    for st in inputs.roster:
        if st.spec.id != inputs.supervisor:
            learners[st.spec.id] = sum(m.judged for m in inputs.members
                                       if m.member_id == st.spec.id)  # fmt: skip
    shadow, why = tune_shadow_rate(learners, r.get("shadow_rate", 0.1), s.shadow_step,
                                   enough=30)  # fmt: skip
    change.before["shadow_rate"] = r.get("shadow_rate", 0.1)
    change.after["shadow_rate"] = shadow
    change.reason += f"; shadow rate: {why}"
    if change.after != change.before:
        await steps.save_routing(SettingsWrite(change=change))
    return EvolutionResult(discovered=discovered.domains, gaps=gaps, spawned=spawned,
                           pruned=pruned, tuning=change)  # fmt: skip


async def run_distillation(steps: CycleSteps, req: DistillRequest) -> DistillResult:
    result = await steps.distill(req)
    gates = []
    for member_id, version in sorted(result.learners.items()):
        if result.bank_version <= version:
            continue
        verdict = await steps.gate(GateRequest(member_id=member_id,
                                               bank_version=result.bank_version,
                                               held_out=result.held_out))  # fmt: skip
        gates.append(verdict)
        if verdict.accepted:
            await steps.adopt(ApplyAdoption(member_id=member_id, request=AdoptExemplars(
                version=result.bank_version, reason=verdict.reason)))  # fmt: skip
    result.gates = gates
    return result
