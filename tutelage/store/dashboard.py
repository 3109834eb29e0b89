"""The dashboard's figures, read from the ledger in a few aggregate queries (the store owner's
worker runs them; nothing else opens the ledger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..models.dashboard import (
    Bucket,
    Dashboard,
    DashboardRequest,
    LatencyLine,
    MemberLine,
    TenantLine,
    Totals,
)
from .ledger import Ledger

# The score of the answer a query served: its winner's verdicts (any judge that scored it).
_SERVED = """
WITH q AS (
    SELECT q.*, (SELECT avg(v.score) FROM verdicts v WHERE v.query_id = q.query_id
                 AND v.member_id = q.winner AND v.score IS NOT NULL) AS served_score
    FROM queries q
    WHERE q.created_at >= ? AND q.created_at < ? AND (? IS NULL OR q.tenant = ?)
)
"""


def _naive(ts: datetime) -> datetime:
    """The ledger's timestamps are UTC without a zone."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def _parse(value: str | None) -> datetime | None:
    return _naive(datetime.fromisoformat(value)) if value else None


def in_window(at: str, since: str, until: str) -> bool:
    """Whether an ISO time (with or without a zone; UTC) lies in [since, until]."""
    moment = _parse(at)
    return moment is not None and _parse(since) <= moment <= _parse(until)  # type: ignore[operator]


def _window(ledger: Ledger, req: DashboardRequest, now: datetime) -> tuple[datetime, datetime]:
    until = _parse(req.until) or _naive(now) + timedelta(seconds=1)
    since = _parse(req.since)
    if since is None:
        first = ledger.rows("SELECT min(created_at) FROM queries WHERE (? IS NULL OR tenant = ?)",
                            [req.tenant, req.tenant])[0][0]  # fmt: skip
        since = first or until - timedelta(hours=1)
    return since, max(until, since + timedelta(seconds=1))


def read_dashboard(ledger: Ledger, req: DashboardRequest, now: datetime) -> Dashboard:
    """Every figure of the dashboard but the roster's (members' roles, transitions)."""
    since, until = _window(ledger, req, now)
    width = (until - since).total_seconds() / req.buckets
    window: list[Any] = [since, until, req.tenant, req.tenant]

    def bucket_start(i: int) -> datetime:
        return since + timedelta(seconds=width * i)

    buckets = [Bucket(start=bucket_start(i).isoformat(), end=bucket_start(i + 1).isoformat())
               for i in range(req.buckets)]  # fmt: skip
    slot = f"least(CAST(floor(epoch(created_at - ?::TIMESTAMP) / {width!r}) AS INTEGER), {req.buckets - 1})"
    for i, n, cost, alone, quality, judged in ledger.rows(
        _SERVED + f"SELECT {slot} AS b, count(*), sum(cost_usd), sum(supervisor_only_cost_usd), "
        "avg(served_score), count(served_score) FROM q GROUP BY b", [*window, since],
    ):  # fmt: skip
        b = buckets[i]
        b.queries, b.cost_usd, b.supervisor_only_cost_usd = n, cost, alone
        b.quality, b.judged = quality, judged
    for i, route, n in ledger.rows(
        _SERVED + f"SELECT {slot} AS b, route, count(*) FROM q GROUP BY b, route", [*window, since]
    ):  # fmt: skip
        buckets[i].routes[route] = n

    n, failed, cost, alone, quality, judged = ledger.rows(
        _SERVED + "SELECT count(*), count(*) FILTER (WHERE status <> 'ok'), "
        "coalesce(sum(cost_usd), 0), coalesce(sum(supervisor_only_cost_usd), 0), "
        "avg(served_score), count(served_score) FROM q", window,
    )[0]  # fmt: skip
    totals = Totals(queries=n, failed=failed, cost_usd=cost, supervisor_only_cost_usd=alone,
                    quality=quality, judged=judged)  # fmt: skip

    routes = [LatencyLine(name=r, count=c, p50_ms=p50, p95_ms=p95) for r, c, p50, p95 in ledger.rows(
        _SERVED + "SELECT route, count(*), quantile_cont(latency_ms, 0.5), "
        "quantile_cont(latency_ms, 0.95) FROM q GROUP BY route ORDER BY count(*) DESC", window,
    )]  # fmt: skip
    tenants = [TenantLine(tenant=t, queries=c, cost_usd=s, supervisor_only_cost_usd=a)
               for t, c, s, a in ledger.rows(
        _SERVED + "SELECT tenant, count(*), sum(cost_usd), sum(supervisor_only_cost_usd) FROM q "
        "GROUP BY tenant ORDER BY sum(cost_usd) DESC", window)]  # fmt: skip

    calls_where = ("WHERE created_at >= ? AND created_at < ? AND (? IS NULL OR tenant = ?)")
    wins = dict(ledger.rows(_SERVED + "SELECT winner, count(*) FROM q WHERE winner IS NOT NULL "
                            "GROUP BY winner", window))  # fmt: skip
    members = [MemberLine(member_id=m, calls=c, wins=wins.get(m, 0), cost_usd=s, p50_ms=p50,
                          p95_ms=p95, failures=f)
               for m, c, s, p50, p95, f in ledger.rows(
        "SELECT member_id, count(*), sum(cost_usd), quantile_cont(latency_ms, 0.5) FILTER "
        "(WHERE error IS NULL), quantile_cont(latency_ms, 0.95) FILTER (WHERE error IS NULL), "
        f"count(*) FILTER (WHERE error IS NOT NULL) FROM calls {calls_where} "
        "GROUP BY member_id ORDER BY member_id", window)]  # fmt: skip
    failures = dict(ledger.rows(
        f"SELECT coalesce(error_kind, 'unknown'), count(*) FROM calls {calls_where} "
        "AND error IS NOT NULL GROUP BY 1 ORDER BY 2 DESC", window))  # fmt: skip
    return Dashboard(request=req, since=since.isoformat(), until=until.isoformat(),
                     totals=totals, buckets=buckets, routes=routes, members=members,
                     tenants=tenants, failures=failures)  # fmt: skip
