"""RosterReportWorkflow: how the CLI reads the roster (the worker owns the stores)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .. import options
    from ..activities import names
    from ..models.lifecycle import RosterReport, RosterReportRequest


@workflow.defn(name="RosterReportWorkflow")
class RosterReportWorkflow:
    @workflow.run
    async def run(self, req: RosterReportRequest) -> RosterReport:
        return await workflow.execute_activity(
            names.ROSTER_REPORT, req, result_type=RosterReport,
            start_to_close_timeout=options.CYCLE_STEP_TIMEOUT, retry_policy=options.STORE_RETRY,
            heartbeat_timeout=options.STORE_HEARTBEAT_TIMEOUT,
        )  # fmt: skip
