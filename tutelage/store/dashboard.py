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
    Quality,
    QualityLine,
    TenantLine,
    Totals,
    Users,
)
from ..models.settings import JudgeSettings
from ..policy import dashboard_quality as dq
from ..policy.feedback import USER_JUDGE
from .ledger import Ledger

# The window's queries.
_WINDOW = """
WITH q AS (
    SELECT * FROM queries
    WHERE created_at >= ? AND created_at < ? AND (? IS NULL OR tenant = ?)
)
"""
# The window's queries, each with the judge's score of the answer it served (its winner's
# verdicts but users') and the users' (the query's standing rating: its newest).
_SERVED = f"""
WITH q AS (
    SELECT q.*, (SELECT avg(v.score) FROM verdicts v WHERE v.query_id = q.query_id
                 AND v.member_id = q.winner AND v.score IS NOT NULL
                 AND v.judge <> '{USER_JUDGE}') AS served_score,
           CASE WHEN q.winner IS NOT NULL THEN (SELECT arg_max(f.score, f.seq) FROM feedback f
                                                WHERE f.query_id = q.query_id) END AS user_score
    FROM queries q
    WHERE q.created_at >= ? AND q.created_at < ? AND (? IS NULL OR q.tenant = ?)
)
"""

# Both figures of the served answers, per slice, member, domain and tenant and for the whole
# window, in one pass; the thresholds are parameters (see _quality_params).
_QUALITY = """
SELECT grouping(b), grouping(winner), grouping(domain), grouping(tenant),
       b, winner, domain, tenant,
       count(winner), count(served_score), avg(served_score),
       count(user_score), avg(user_score), count(*) FILTER (WHERE user_score >= ?),
       count(*) FILTER (WHERE user_score IS NOT NULL AND served_score IS NOT NULL),
       count(*) FILTER (WHERE (served_score >= ?) = (user_score >= ?)),
       count(*) FILTER (WHERE served_score >= ? AND user_score < ?),
       count(*) FILTER (WHERE served_score < ? AND user_score >= ?)
FROM (SELECT *, {slot} AS b FROM q WHERE winner IS NOT NULL)
GROUP BY GROUPING SETS ((b), (winner), (domain), (tenant), ())
"""


def _quality_params(pass_score: float) -> list[Any]:
    right = dq.RATED_RIGHT_AT
    return [dq.POSITIVE_AT, pass_score, right, pass_score, right, pass_score, right]


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


def read_dashboard(ledger: Ledger, req: DashboardRequest, now: datetime,
                   judge: JudgeSettings | None = None) -> Dashboard:  # fmt: skip
    """Every figure of the dashboard but the roster's (members' roles, transitions). `judge`:
    the school's judging (its pass score, and its mode where nothing in the window was
    judged); without it, the default pass score and no configured mode."""
    configured = judge.mode.value if judge else None
    judge = judge or JudgeSettings()
    since, until = _window(ledger, req, now)
    width = (until - since).total_seconds() / req.buckets
    window: list[Any] = [since, until, req.tenant, req.tenant]

    def bucket_start(i: int) -> datetime:
        return since + timedelta(seconds=width * i)

    buckets = [Bucket(start=bucket_start(i).isoformat(), end=bucket_start(i + 1).isoformat())
               for i in range(req.buckets)]  # fmt: skip
    slot = f"least(CAST(floor(epoch(created_at - ?::TIMESTAMP) / {width!r}) AS INTEGER), {req.buckets - 1})"
    for i, n, cost, alone in ledger.rows(
        _WINDOW + f"SELECT {slot} AS b, count(*), sum(cost_usd), sum(supervisor_only_cost_usd) "
        "FROM q GROUP BY b", [*window, since],
    ):  # fmt: skip
        b = buckets[i]
        b.queries, b.cost_usd, b.supervisor_only_cost_usd = n, cost, alone
    for i, route, n in ledger.rows(
        _WINDOW + f"SELECT {slot} AS b, route, count(*) FROM q GROUP BY b, route", [*window, since]
    ):  # fmt: skip
        buckets[i].routes[route] = n

    n, failed, cost, alone = ledger.rows(
        _WINDOW + "SELECT count(*), count(*) FILTER (WHERE status <> 'ok'), "
        "coalesce(sum(cost_usd), 0), coalesce(sum(supervisor_only_cost_usd), 0) FROM q", window,
    )[0]  # fmt: skip
    totals = Totals(queries=n, failed=failed, cost_usd=cost, supervisor_only_cost_usd=alone)
    quality = Quality(pass_score=judge.pass_score)
    for *grouped, b, winner, domain, tenant, served, judged, score, rated, mean, positive, \
            compared, agreed, passed_down, failed_up in ledger.rows(
                _SERVED + _QUALITY.format(slot=slot),
                [*window, *_quality_params(judge.pass_score), since]):  # fmt: skip
        users = Users(served=served, rated=rated, score=mean, positive=positive,
                      compared=compared, agreed=agreed, judge_passed_rated_down=passed_down,
                      judge_failed_rated_up=failed_up)  # fmt: skip
        figures: dict[str, Any] = {"quality": score, "judged": judged, "users": users}
        if grouped == [1, 1, 1, 1]:
            totals = totals.model_copy(update=figures)
        elif grouped[0] == 0:
            buckets[b] = buckets[b].model_copy(update=figures)
        elif grouped[1] == 0:
            quality.members.append(QualityLine(name=winner, **figures))
        elif grouped[2] == 0:
            quality.domains.append(QualityLine(name=domain or "", **figures))
        else:
            quality.tenants.append(QualityLine(name=tenant, **figures))
    for lines in (quality.members, quality.domains, quality.tenants):
        lines.sort(key=lambda line: (-line.users.served, line.name))
    quality.judges = dict(ledger.rows(
        _WINDOW + "SELECT v.judge, count(DISTINCT q.query_id) FROM q JOIN verdicts v ON "
        "v.query_id = q.query_id AND v.member_id = q.winner WHERE v.judge <> ? AND v.score IS "
        "NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1", [*window, USER_JUDGE]))  # fmt: skip
    quality.mode = dq.judge_mode(quality.judges, configured)
    quality.figure = dq.figure_name(quality.mode)

    routes = [LatencyLine(name=r, count=c, p50_ms=p50, p95_ms=p95) for r, c, p50, p95 in ledger.rows(
        _WINDOW + "SELECT route, count(*), quantile_cont(latency_ms, 0.5), "
        "quantile_cont(latency_ms, 0.95) FROM q GROUP BY route ORDER BY count(*) DESC", window,
    )]  # fmt: skip
    tenants = [TenantLine(tenant=t, queries=c, cost_usd=s, supervisor_only_cost_usd=a)
               for t, c, s, a in ledger.rows(
        _WINDOW + "SELECT tenant, count(*), sum(cost_usd), sum(supervisor_only_cost_usd) FROM q "
        "GROUP BY tenant ORDER BY sum(cost_usd) DESC", window)]  # fmt: skip

    calls_where = ("WHERE created_at >= ? AND created_at < ? AND (? IS NULL OR tenant = ?)")
    wins = dict(ledger.rows(_WINDOW + "SELECT winner, count(*) FROM q WHERE winner IS NOT NULL "
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
                     tenants=tenants, failures=failures, quality=quality)  # fmt: skip
