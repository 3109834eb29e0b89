"""The dashboard's data: what the school spent and saved, how well it served, who earned what.

Read by the DashboardWorkflow from the store owner's ledger and roster (never by opening the
worker's files), for one tenant or all, over a time window.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..policy import dashboard_quality as dq
from ..policy import savings
from .lifecycle import Transition


class DashboardRequest(BaseModel):
    tenant: str | None = None  # None: every tenant
    since: str | None = None  # ISO 8601 UTC; None: from the first query
    until: str | None = None  # ISO 8601 UTC; None: up to now
    buckets: int = Field(24, ge=1, le=200)


class Users(BaseModel):
    """Served answers as users rated them (each rated query's standing rating: its newest),
    and how the judge's verdict on the same answers compared (policy/dashboard_quality.py)."""

    served: int = 0  # answers served (queries with a winner): the denominator
    rated: int = 0  # of them, rated by users
    score: float | None = None  # the mean user score of the rated ones
    positive: int = 0  # rated at least dq.POSITIVE_AT
    compared: int = 0  # rated and scored by the judge
    agreed: int = 0  # of those, the judge passed the answer exactly when the user rated it right
    judge_passed_rated_down: int = 0  # the judge passed it, the user's score < RATED_RIGHT_AT
    judge_failed_rated_up: int = 0  # the judge failed it, the user rated it right

    @property
    def rated_share(self) -> float | None:
        return dq.share(self.rated, self.served)

    @property
    def positive_share(self) -> float | None:
        """Of the rated answers, the share rated positive."""
        return dq.share(self.positive, self.rated)

    @property
    def agreement(self) -> float | None:
        """How often the judge agreed with users (on the answers both scored)."""
        return dq.share(self.agreed, self.compared)


class Bucket(BaseModel):
    """One slice of the window (a query counts in the slice it was served in)."""

    start: str
    end: str
    queries: int = 0
    cost_usd: float = 0.0
    supervisor_only_cost_usd: float = 0.0
    # The judge's figure: the mean score the judge gave the answers served (the winners'
    # verdicts, users' left out; named by Dashboard.quality.figure), and how many of the
    # served answers were judged: the audit that backs it.
    quality: float | None = None
    judged: int = 0
    users: Users = Field(default_factory=Users)  # the same answers as users rated them
    routes: dict[str, int] = Field(default_factory=dict)

    @property
    def judged_share(self) -> float | None:
        return dq.share(self.judged, self.users.served)


class Totals(BaseModel):
    queries: int = 0
    failed: int = 0
    cost_usd: float = 0.0
    supervisor_only_cost_usd: float = 0.0
    quality: float | None = None  # the judge's figure (see Bucket)
    judged: int = 0
    users: Users = Field(default_factory=Users)

    @property
    def judged_share(self) -> float | None:
        return dq.share(self.judged, self.users.served)

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


class QualityLine(BaseModel):
    """The answers one member served, or those of one domain or tenant: the judge's figure and
    the users'."""

    name: str  # the member, the domain ("" for none) or the tenant
    quality: float | None = None  # the judge's figure
    judged: int = 0
    users: Users = Field(default_factory=Users)

    @property
    def judged_share(self) -> float | None:
        return dq.share(self.judged, self.users.served)


class Quality(BaseModel):
    """What the judge's figure is, the lines the users' figures are drawn at, and both figures
    per member (the one whose answer was served), domain and tenant."""

    mode: str = ""  # agreement | llm | reference: the judging that scored most served answers
    figure: str = dq.UNNAMED  # the judge's figure's name (dq.figure_name(mode))
    judges: dict[str, int] = Field(default_factory=dict)  # judge -> served answers it scored
    pass_score: float = 0.5  # the judge passes an answer at this score (judge.pass_score)
    positive_at: float = dq.POSITIVE_AT
    rated_right_at: float = dq.RATED_RIGHT_AT
    members: list[QualityLine] = Field(default_factory=list)
    domains: list[QualityLine] = Field(default_factory=list)
    tenants: list[QualityLine] = Field(default_factory=list)


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
    quality: Quality = Field(default_factory=Quality)
