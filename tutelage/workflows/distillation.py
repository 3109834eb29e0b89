"""DistillationWorkflow: winning answers into the exemplar bank, gated per student."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ..models.lifecycle import CycleInput, DistillRequest, DistillResult
    from .cycle_flows import run_distillation
    from .cycle_steps import TemporalCycleSteps


@workflow.defn(name="DistillationWorkflow")
class DistillationWorkflow:
    @workflow.run
    async def run(self, inp: CycleInput) -> DistillResult:
        return await run_distillation(TemporalCycleSteps(), DistillRequest())
