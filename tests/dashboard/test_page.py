"""The dashboard page and its charts, from plain data: well-formed, complete, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from tutelage.dashboard import svg
from tutelage.dashboard.page import Links, render, window_request
from tutelage.models.dashboard import (
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
from tutelage.models.lifecycle import Action, Transition
from tutelage.models.roster import Role

LINKS = Links(ui="http://127.0.0.1:8233", namespace="default")


def _board(**kw: object) -> Dashboard:
    buckets = [Bucket(start=f"2026-11-22T0{h}:00:00", end=f"2026-11-22T0{h + 1}:00:00",
                      queries=4, cost_usd=0.01 * h, supervisor_only_cost_usd=0.02 * h,
                      quality=None if h == 2 else 0.9, judged=2,
                      routes={"novel": 1, "familiar": 3}) for h in range(4)]  # fmt: skip
    return Dashboard(
        request=DashboardRequest(), since="2026-11-22T00:00:00", until="2026-11-22T04:00:00",
        totals=Totals(queries=16, failed=1, cost_usd=0.06, supervisor_only_cost_usd=0.12,
                      quality=0.9, judged=6, users=Users(served=15, rated=5, score=0.7,
                                                         positive=3, compared=4, agreed=3)),
        quality=Quality(mode="agreement", figure="agreement with the supervisor",
                        judges={"agreement:sup": 6},
                        members=[QualityLine(name="stu<x>", quality=1.0, judged=2,
                                             users=Users(served=10, rated=4, score=0.25,
                                                         positive=1, compared=2, agreed=1))]),
        buckets=buckets, routes=[LatencyLine(name="familiar", count=12, p50_ms=80, p95_ms=120)],
        members=[MemberLine(member_id="stu<x>", model="openai/stu", roles={"*": "ta"}, calls=12,
                            wins=10, cost_usd=0.001, p50_ms=50, p95_ms=90)],
        tenants=[TenantLine(tenant="acme", queries=16, cost_usd=0.06,
                            supervisor_only_cost_usd=0.12)],
        failures={"Timeout": 2},
        transitions=[Transition(member_id="stu<x>", domain="math", action=Action.PROMOTE,
                                from_role=Role.STUDENT, to_role=Role.TA, reason="wins 0.9",
                                by="promotion", at="2026-11-22T01:30:00")],
        **kw,
    )  # fmt: skip


def _svgs(page: str) -> list[str]:
    out, rest = [], page
    while "<svg" in rest:
        start = rest.index("<svg")
        end = rest.index("</svg>", start) + len("</svg>")
        out.append(rest[start:end])
        rest = rest[end:]
    return out


def test_the_page_shows_every_panel_with_its_figures() -> None:
    page = render(_board(), LINKS, tenants=["default", "acme"], window="all")
    for panel in ("Spend and supervisor-only spend", "Quality served", "The audit behind them",
                  "Quality served by member, domain and tenant", "Routes", "Tenants",
                  "Failures by kind", "The roster", "Roles over time"):  # fmt: skip
        assert panel in page, panel
    # The judge's figure named for its judging, beside the users'.
    assert "the judge&#x27;s figure: agreement with the supervisor" in page
    assert '<span data-figure="quality">0.90</span>' in page
    assert '<span data-figure="users_positive">60%</span>' in page
    assert '<span data-figure="users_rated_share">33%</span>' in page
    assert '<span data-figure="judge_agreement">75%</span>' in page
    assert '<span data-figure="users_score:member:stu&lt;x&gt;">0.25</span>' in page
    assert '<span data-figure="rated:member:stu&lt;x&gt;">4</span> (40%)' in page
    assert "agreement:sup (6)" in page and "no answers served in this window" in page
    assert '<span data-figure="spend">$0.0600</span>' in page
    assert '<span data-figure="saved">$0.0600</span>' in page
    assert '<span data-figure="saved_share">50%</span>' in page
    assert '<span data-figure="calls:stu&lt;x&gt;">12</span>' in page  # escaped, never raw
    assert "stu<x>" not in page
    assert "TutelageWinner%3D%22stu%3Cx%3E%22" in page  # each row links to its runs in the UI
    assert "promote: student -&gt; ta" in page and 'name="tenant"' in page
    assert "http" not in page.replace("http://127.0.0.1:8233", "").replace(
        'xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched from anywhere
    assert len(_svgs(page)) == 5
    for chart in _svgs(page):
        ET.fromstring(chart)  # well-formed


def test_a_static_page_has_no_form_and_an_empty_window_says_so() -> None:
    empty = Dashboard(request=DashboardRequest(tenant="acme"), since="2026-11-22T00:00:00",
                      until="2026-11-22T00:30:00",
                      buckets=[Bucket(start="2026-11-22T00:00:00", end="2026-11-22T00:30:00")])  # fmt: skip
    page = render(empty, LINKS, tenants=["acme"], window="1h", form=False)
    assert "<form" not in page and "acme" in page
    assert "no queries in this window" in page and "no member has changed role yet" in page
    for chart in _svgs(page):
        ET.fromstring(chart)


def test_a_benchmark_report_is_drawn_as_curve_and_points() -> None:
    bench = {"dataset": "gsm8k", "items": 300, "protocol": "online", "judge": "agreement",
             "sweep": [{"cost_weight": 0.1, "cost_usd": 1.2, "accuracy": 0.85},
                       {"cost_weight": 0.6, "cost_usd": 0.8, "accuracy": 0.8}],
             "baselines": {"oracle": {"cost_usd": 0.4, "accuracy": 0.92}}}  # fmt: skip
    page = render(_board(), LINKS, tenants=[], window="all", bench=bench)
    assert "The latest benchmark" in page and "oracle" in page
    assert len(_svgs(page)) == 6


def test_charts_skip_missing_values_and_round_their_axes() -> None:
    chart = svg.line_chart("q", ["a", "b", "c"], [("s", [0.5, None, 0.7])], lambda v: f"{v:.1f}")
    ET.fromstring(chart.split('<div class="legend">')[0])
    assert chart.count("<polyline") == 0  # two one-point runs: no line across the gap
    assert svg.nice_top([0.0]) == 1.0 and svg.nice_top([7.3]) == 10 and svg.nice_top([0.034]) == 0.05
    assert svg.nice_top([230]) == 250


def test_window_names() -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert window_request("24h", now) == ("2026-11-21T12:00:00+00:00", "24h")
    assert window_request("all", now) == (None, "all")
    assert window_request("forever", now) == (None, "all")
