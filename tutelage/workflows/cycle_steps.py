"""The learning cycles' steps as Temporal activities (shared by the cycle workflows)."""

from __future__ import annotations

from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .. import options
    from ..activities import names
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
        RosterWriteResult,
        SettingsWrite,
        SpawnPlan,
        StatsRequest,
        StatsResult,
    )

R = TypeVar("R")


async def _run(name: str, arg: Any, result_type: type[R]) -> R:
    return await workflow.execute_activity(
        name, arg, result_type=result_type,
        start_to_close_timeout=options.CYCLE_STEP_TIMEOUT, retry_policy=options.CYCLE_RETRY,
        heartbeat_timeout=options.STORE_HEARTBEAT_TIMEOUT,
    )  # fmt: skip


class TemporalCycleSteps:
    async def stats(self, req: StatsRequest) -> StatsResult:
        return await _run(names.PROMOTION_STATS, req, StatsResult)

    async def apply(self, req: ApplyTransition) -> AppliedTransition:
        return await _run(names.APPLY_TRANSITION, req, AppliedTransition)

    async def evolution_inputs(self, req: StatsRequest) -> EvolutionInputs:
        return await _run(names.EVOLUTION_INPUTS, req, EvolutionInputs)

    async def discover(self, req: DiscoverRequest) -> DiscoverResult:
        return await _run(names.DISCOVER_DOMAINS, req, DiscoverResult)

    async def spawn(self, plan: SpawnPlan) -> AppliedTransition:
        return await _run(names.SPAWN_MEMBER, plan, AppliedTransition)

    async def save_routing(self, req: SettingsWrite) -> RosterWriteResult:
        return await _run(names.SAVE_ROUTING, req, RosterWriteResult)

    async def save_judges(self, req: HandoverWrite) -> RosterWriteResult:
        return await _run(names.SAVE_JUDGES, req, RosterWriteResult)

    async def distill(self, req: DistillRequest) -> DistillResult:
        return await _run(names.COLLECT_EXEMPLARS, req, DistillResult)

    async def gate(self, req: GateRequest) -> GateResult:
        return await _run(names.QUALITY_GATE, req, GateResult)

    async def adopt(self, req: ApplyAdoption) -> AppliedTransition:
        return await _run(names.APPLY_ADOPTION, req, AppliedTransition)
