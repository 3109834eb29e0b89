"""The learning cycles' steps as Temporal activities (shared by the cycle workflows)."""

from __future__ import annotations

from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

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


async def store_step(name: str, arg: Any, result_type: type[R],
                     retry: RetryPolicy = options.CYCLE_RETRY) -> R:  # fmt: skip
    """One activity on the store owner's worker (the workflow's own queue)."""
    return await workflow.execute_activity(
        name, arg, result_type=result_type,
        start_to_close_timeout=options.CYCLE_STEP_TIMEOUT, retry_policy=retry,
        heartbeat_timeout=options.STORE_HEARTBEAT_TIMEOUT,
    )  # fmt: skip


class TemporalCycleSteps:
    async def stats(self, req: StatsRequest) -> StatsResult:
        return await store_step(names.PROMOTION_STATS, req, StatsResult)

    async def apply(self, req: ApplyTransition) -> AppliedTransition:
        return await store_step(names.APPLY_TRANSITION, req, AppliedTransition)

    async def evolution_inputs(self, req: StatsRequest) -> EvolutionInputs:
        return await store_step(names.EVOLUTION_INPUTS, req, EvolutionInputs)

    async def discover(self, req: DiscoverRequest) -> DiscoverResult:
        return await store_step(names.DISCOVER_DOMAINS, req, DiscoverResult)

    async def spawn(self, plan: SpawnPlan) -> AppliedTransition:
        return await store_step(names.SPAWN_MEMBER, plan, AppliedTransition)

    async def save_routing(self, req: SettingsWrite) -> RosterWriteResult:
        return await store_step(names.SAVE_ROUTING, req, RosterWriteResult)

    async def save_judges(self, req: HandoverWrite) -> RosterWriteResult:
        return await store_step(names.SAVE_JUDGES, req, RosterWriteResult)

    async def distill(self, req: DistillRequest) -> DistillResult:
        return await store_step(names.COLLECT_EXEMPLARS, req, DistillResult)

    async def gate(self, req: GateRequest) -> GateResult:
        return await store_step(names.QUALITY_GATE, req, GateResult)

    async def adopt(self, req: ApplyAdoption) -> AppliedTransition:
        return await store_step(names.APPLY_ADOPTION, req, AppliedTransition)
