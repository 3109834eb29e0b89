"""The dashboard's data: what the school spent and saved, how well it served, who earned what.

Read by the DashboardWorkflow from the store owner's ledger and roster (never by opening the
worker's files), for one tenant or all, over a time window.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..policy import savings
from .lifecycle import Transition


class DashboardRequest(BaseModel):
    tenant: str | None = None  # None: every tenant
    since: str | None = None  # ISO 8601 UTC; None: from the first query
    until: str | None = None  # ISO 8601 UTC; None: up to now
    buckets: int = Field(24, ge=1, le=200)


class Bucket(BaseModel):
    """One slice of the window."""

    start: str
    end: str
    queries: int = 0
    cost_usd: float = 0.0
    supervisor_only_cost_usd: float = 0.0
    # Mean judged score of the answers served (the winners' verdicts), and how many of the
    # served answers were judged: the audit that backs the quality figure.
    quality: float | None = None
    judged: int = 0
    routes: dict[str, int] = Field(default_factory=dict)


class Totals(BaseModel):
    queries: int = 0
    failed: int = 0
    cost_usd: float = 0.0
    supervisor_only_cost_usd: float = 0.0
    quality: float | None = None
    judged: int = 0

    @property
    def saved_usd(self) -> float:
        return savings.saved_usd(self.supervisor_only_cost_usd, self.cost_usd)

    @property
    def saved_share(self) -> float | None:
        return savings.saved_share(self.supervisor_only_cost_usd, self.cost_usd)


class LatencyLine(BaseModel):
    """Latency of one route (queries) or one member (its calls)."""

    name: str
    count: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None


class MemberLine(BaseModel):
    member_id: str
    model: str = ""
    roles: dict[str, str] = Field(default_factory=dict)
    calls: int = 0  # answers, shadows and judgements
    wins: int = 0  # queries it answered for
    cost_usd: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    failures: int = 0


class TenantLine(BaseModel):
    tenant: str
    queries: int = 0
    cost_usd: float = 0.0
    supervisor_only_cost_usd: float = 0.0


class Dashboard(BaseModel):
    request: DashboardRequest
    since: str = ""  # the window actually shown
    until: str = ""
    totals: Totals = Field(default_factory=Totals)
    buckets: list[Bucket] = Field(default_factory=list)
    routes: list[LatencyLine] = Field(default_factory=list)
    members: list[MemberLine] = Field(default_factory=list)
    tenants: list[TenantLine] = Field(default_factory=list)
    failures: dict[str, int] = Field(default_factory=dict)  # error kind -> calls
    transitions: list[Transition] = Field(default_factory=list)
