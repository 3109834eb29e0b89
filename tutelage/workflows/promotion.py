"""PromotionWorkflow: who moves up or down the ladder, on a Schedule and every N queries."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ..models.lifecycle import CycleInput, PromotionResult
    from .cycle_flows import run_promotion
    from .cycle_steps import TemporalCycleSteps


@workflow.defn(name="PromotionWorkflow")
class PromotionWorkflow:
    @workflow.run
    async def run(self, inp: CycleInput) -> PromotionResult:
        return await run_promotion(TemporalCycleSteps())
