"""EvolutionWorkflow: discover domains, find gaps, spawn, prune and tune the routing."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ..models.lifecycle import CycleInput, EvolutionResult
    from .cycle_flows import run_evolution
    from .cycle_steps import TemporalCycleSteps


@workflow.defn(name="EvolutionWorkflow")
class EvolutionWorkflow:
    @workflow.run
    async def run(self, inp: CycleInput) -> EvolutionResult:
        return await run_evolution(TemporalCycleSteps())
