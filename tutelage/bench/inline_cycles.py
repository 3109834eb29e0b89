"""The learning cycles' steps without Temporal, for the benchmark's inline engine.

Reads and writes go through the same activity code as the workflows'; a member's move goes
through the same pure transition function its MemberWorkflow applies, written to the roster.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..activities.lifecycle import LifecycleActivities
from ..models.lifecycle import (
    AppliedTransition,
    ApplyAdoption,
    ApplyTransition,
    DiscoverRequest,
    DiscoverResult,
    DistillRequest,
    DistillResult,
    EvolutionInputs,
    GateRequest,
    GateResult,
    HandoverWrite,
    MemberState,
    RosterWrite,
    RosterWriteResult,
    SettingsWrite,
    SpawnPlan,
    StatsRequest,
    StatsResult,
)
from ..policy.lifecycle import IllegalTransition, transition
from ..services import Services
from ..workflows.cycle_flows import run_distillation, run_evolution, run_promotion


class InlineCycleSteps:
    def __init__(self, services: Services, acts: LifecycleActivities) -> None:
        self.s = services
        self.acts = acts

    def _state(self, member_id: str) -> MemberState:
        for st in self.acts.roster_states():
            if st.spec.id == member_id:
                return st
        raise KeyError(member_id)

    async def stats(self, req: StatsRequest) -> StatsResult:
        return await self.acts.promotion_stats(req)

    async def apply(self, req: ApplyTransition) -> AppliedTransition:
        state = self._state(req.member_id)
        try:
            new, record = transition(state, req.request, req.member_id == self.s.config.supervisor,
                                     datetime.now(UTC).isoformat())  # fmt: skip
        except IllegalTransition as exc:
            return AppliedTransition(member_id=req.member_id, applied=False, error=str(exc))
        await self.acts.write_roster(RosterWrite(state=new, transition=record))
        return AppliedTransition(member_id=req.member_id, applied=True, transition=record)

    async def evolution_inputs(self, req: StatsRequest) -> EvolutionInputs:
        return await self.acts.evolution_inputs(req)

    async def discover(self, req: DiscoverRequest) -> DiscoverResult:
        return await self.acts.discover_domains(req)

    async def spawn(self, plan: SpawnPlan) -> AppliedTransition:
        await self.acts.write_roster(RosterWrite(state=MemberState(spec=plan.spec)))
        return AppliedTransition(member_id=plan.spec.id, applied=True)

    async def save_routing(self, req: SettingsWrite) -> RosterWriteResult:
        return await self.acts.save_routing(req)

    async def save_judges(self, req: HandoverWrite) -> RosterWriteResult:
        return await self.acts.save_judges(req)

    async def distill(self, req: DistillRequest) -> DistillResult:
        return await self.acts.collect_exemplars(req)

    async def gate(self, req: GateRequest) -> GateResult:
        return await self.acts.quality_gate(req)

    async def adopt(self, req: ApplyAdoption) -> AppliedTransition:
        state = self._state(req.member_id)
        new = state.model_copy(update={"exemplar_version": req.request.version})
        await self.acts.write_roster(RosterWrite(state=new))
        return AppliedTransition(member_id=req.member_id, applied=True)

    async def run(self, cycle: str) -> None:
        if cycle == "promotion":
            await run_promotion(self)
        elif cycle == "evolution":
            await run_evolution(self)
        elif cycle == "distillation":
            await run_distillation(self, DistillRequest())
