"""What the school saved against the supervisor answering alone: one definition for the API's
headers and body, /metrics, `tutelage ask`, `warm` and the dashboard."""

from __future__ import annotations


def saved_usd(supervisor_only_cost_usd: float, cost_usd: float) -> float:
    """Supervisor-only cost minus cost. Signed: exploration (every member and the judge
    called) can cost more than the supervisor alone."""
    return supervisor_only_cost_usd - cost_usd


def saved_share(supervisor_only_cost_usd: float, cost_usd: float) -> float | None:
    """`saved_usd` as a share of the supervisor-alone cost (None when that is 0)."""
    if supervisor_only_cost_usd <= 0:
        return None
    return saved_usd(supervisor_only_cost_usd, cost_usd) / supervisor_only_cost_usd
