"""Report workflows: how the CLI and the dashboard read the school (the worker owns the
stores, so a short workflow runs one activity on it and returns what it read)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .. import options
    from ..activities import names
    from ..models.dashboard import Dashboard, DashboardRequest
    from ..models.keys import KeySpend, KeySpendRequest
    from ..models.lifecycle import RosterReport, RosterReportRequest
    from .cycle_steps import store_step


@workflow.defn(name="RosterReportWorkflow")
class RosterReportWorkflow:
    @workflow.run
    async def run(self, req: RosterReportRequest) -> RosterReport:
        return await store_step(names.ROSTER_REPORT, req, RosterReport, options.STORE_RETRY)


@workflow.defn(name="DashboardWorkflow")
class DashboardWorkflow:
    @workflow.run
    async def run(self, req: DashboardRequest) -> Dashboard:
        return await store_step(names.DASHBOARD, req, Dashboard, options.STORE_RETRY)


@workflow.defn(name="KeySpendWorkflow")
class KeySpendWorkflow:
    """What each API key spent this day and month, as the ledger holds it."""

    @workflow.run
    async def run(self, req: KeySpendRequest) -> KeySpend:
        return await store_step(names.KEY_SPEND, req, KeySpend, options.STORE_RETRY)
