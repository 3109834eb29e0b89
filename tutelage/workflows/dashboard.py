"""DashboardWorkflow: how the dashboard reads the school (the worker owns the stores)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .. import options
    from ..activities import names
    from ..models.dashboard import Dashboard, DashboardRequest


@workflow.defn(name="DashboardWorkflow")
class DashboardWorkflow:
    @workflow.run
    async def run(self, req: DashboardRequest) -> Dashboard:
        return await workflow.execute_activity(
            names.DASHBOARD, req, result_type=Dashboard,
            start_to_close_timeout=options.CYCLE_STEP_TIMEOUT, retry_policy=options.STORE_RETRY,
            heartbeat_timeout=options.STORE_HEARTBEAT_TIMEOUT,
        )  # fmt: skip
