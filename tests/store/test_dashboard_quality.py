"""The dashboard's quality figures on a real ledger: the judge's figure (users' ratings left out,
named for its judging) beside the users' (share rated, share positive, mean score) and the
judge's agreement with users, in total, per member, domain, tenant and time slice, for one
tenant or all; and the page shows them by name. Ratings go in the way the gateway's do, through
the feedback activity."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from tutelage.activities.feedback import FeedbackActivities
from tutelage.dashboard.page import Links, render
from tutelage.models import MemberAnswer, QueryResult, Route, Verdict
from tutelage.models.dashboard import Dashboard, DashboardRequest, QualityLine
from tutelage.models.feedback import FeedbackRequest
from tutelage.models.settings import JudgeMode, JudgeSettings
from tutelage.store.dashboard import read_dashboard
from tutelage.store.ledger import Ledger

T0 = datetime(2026, 1, 1)
LINKS = Links(ui="http://127.0.0.1:8233", namespace="default")


def _query(qid: str, tenant: str, winner: str | None, judge: str | None, score: float | None,
           status: str = "ok") -> QueryResult:  # fmt: skip
    """`winner` served (None: the query failed), both members answered; the judge scored the
    winner `score` (None: not judged) and the other member 1 - score."""
    other = "stu" if winner == "sup" else "sup"
    verdicts = [] if judge is None or winner is None or score is None else [
        Verdict(member_id=winner, score=score, judge=judge),
        Verdict(member_id=other, score=1.0 - score, judge=judge)]  # fmt: skip
    if winner is not None and judge is None:
        verdicts = [Verdict(member_id=winner, judge="unjudged")]
    return QueryResult(
        query_id=qid, tenant=tenant, route=Route.NOVEL if judge else Route.FAMILIAR,
        answer="an answer", winner=winner, status=status, cost_usd=0.01,
        supervisor_only_cost_usd=0.02, error=None if winner else "every member failed",
        calls=[MemberAnswer(member_id=m, text=f"answer of {m}", cost_usd=0.005)
               for m in ("sup", "stu")],
        verdicts=verdicts,
    )  # fmt: skip


# (query, tenant, domain, winner, judge, the judge's score of the served answer, minute served,
#  the ratings in order (the newest stands))
QUERIES: list[tuple[str, str, str, str | None, str | None, float | None, int, list[float]]] = [
    ("q1", "acme", "math", "sup", "agreement:sup", 1.0, 10, [1.0, 0.0]),  # passed, rated down
    ("q2", "acme", "math", "stu", "agreement:sup", 1.0, 20, [1.0]),  # passed, rated up
    ("q3", "acme", "math", "stu", "agreement:sup", 0.0, 30, [0.9]),  # failed, rated up
    ("q4", "acme", "history", "sup", "agreement:sup", 1.0, 70, []),  # unrated
    ("q5", "acme", "history", "sup", None, None, 80, [0.6]),  # unjudged, rated (not positive)
    ("q6", "acme", "history", None, None, None, 90, [0.0]),  # failed: nothing served
    ("g1", "globex", "math", "sup", "sup", 0.7, 15, [0.0]),  # the LLM judge passed, rated down
    ("g2", "globex", "math", "stu", "sup", 0.2, 75, [1.0]),  # the LLM judge failed, rated up
    ("g3", "globex", "math", "stu", "reference", 1.0, 85, []),  # the oracle judge, unrated
]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "l.duckdb")
    yield opened
    opened.close()


async def _seed(ledger: Ledger) -> None:
    ledger.record_many([(_query(q, t, w, j, s, "ok" if w else "failed"), d, "v")
                        for q, t, d, w, j, s, _, _ in QUERIES])  # fmt: skip
    for q, *_, minute, _ in QUERIES:
        ledger.execute("UPDATE queries SET created_at = ? WHERE query_id = ?",
                       [T0 + timedelta(minutes=minute), q])  # fmt: skip
    services = SimpleNamespace(ledger=ledger, config=SimpleNamespace(judge=JudgeSettings()),
                               user_scores={})  # fmt: skip
    rate = FeedbackActivities(cast(Any, services)).record_feedback
    for q, tenant, *_, ratings in QUERIES:
        for i, score in enumerate(ratings):
            done = await rate(FeedbackRequest(query_id=q, tenant=tenant, score=score,
                                               feedback_id=f"{q}-{i}"))  # fmt: skip
            assert done.found


def _read(ledger: Ledger, tenant: str | None) -> Dashboard:
    req = DashboardRequest(tenant=tenant, since=T0.isoformat(),
                           until=(T0 + timedelta(hours=2)).isoformat(), buckets=2)  # fmt: skip
    return read_dashboard(ledger, req, datetime.now(UTC))


def _figures(line: Any) -> tuple[Any, ...]:
    """(served, judged, the judge's mean, rated, users' mean, positive, compared, agreed, judge
    passed and users down, judge failed and users up), means rounded."""
    u = line.users
    mean = None if line.quality is None else round(line.quality, 6)
    users = None if u.score is None else round(u.score, 6)
    return (u.served, line.judged, mean, u.rated, users, u.positive, u.compared, u.agreed,
            u.judge_passed_rated_down, u.judge_failed_rated_up)  # fmt: skip


def _by_name(lines: list[QualityLine]) -> dict[str, tuple[Any, ...]]:
    return {line.name: _figures(line) for line in lines}


async def test_one_tenants_quality_by_the_judge_and_by_users(ledger: Ledger) -> None:
    await _seed(ledger)
    board = _read(ledger, "acme")
    t, q = board.totals, board.quality
    assert t.queries == 6
    # Served: q1-q5 (q6 failed and its rating counts nowhere). The judge scored q1-q4: 1, 1, 0,
    # 1 (q1's user verdict 0.0 on the same answer is left out of the judge's figure). Users'
    # standing ratings: q1 0.0 (its newest), q2 1.0, q3 0.9, q5 0.6; positive (>= 0.8): q2, q3.
    # Both scored q1-q3: the judge agreed with users on q2 only (q1: passed, rated down; q3:
    # failed, rated up).
    assert _figures(t) == (5, 4, 0.75, 4, 0.625, 2, 3, 1, 1, 1)
    assert (t.users.rated_share, t.users.positive_share) == (0.8, 0.5)
    assert t.users.agreement == pytest.approx(1 / 3) and t.judged_share == 0.8
    assert (q.mode, q.figure, q.judges) == ("agreement", "agreement with the supervisor",
                                            {"agreement:sup": 4})  # fmt: skip
    assert _by_name(q.members) == {
        "sup": (3, 2, 1.0, 2, 0.3, 0, 1, 0, 1, 0),  # q1, q4, q5
        "stu": (2, 2, 0.5, 2, 0.95, 2, 2, 1, 0, 1),  # q2, q3
    }
    assert _by_name(q.domains) == {
        "math": (3, 3, round(2 / 3, 6), 3, round(1.9 / 3, 6), 2, 3, 1, 1, 1),
        "history": (2, 1, 1.0, 1, 0.6, 0, 0, 0, 0, 0),
    }
    assert _by_name(q.tenants) == {"acme": _figures(t)}
    # Over time (two slices of an hour): q1-q3 served in the first, q4-q6 in the second.
    first, second = board.buckets
    assert (first.queries, second.queries) == (3, 3)
    assert _figures(first) == (3, 3, round(2 / 3, 6), 3, round(1.9 / 3, 6), 2, 3, 1, 1, 1)
    assert _figures(second) == (2, 1, 1.0, 1, 0.6, 0, 0, 0, 0, 0)
    assert second.users.rated_share == 0.5 and second.users.agreement is None


async def test_every_tenant_and_the_judge_named_for_its_judging(ledger: Ledger) -> None:
    await _seed(ledger)
    globex = _read(ledger, "globex")
    q = globex.quality
    # The LLM judge (named by its member id, "sup") scored two served answers, the reference
    # judge one: the figure is the LLM judge's, and the judges are listed.
    assert (q.mode, q.figure) == ("llm", "the supervisor's (LLM judge) score")
    assert q.judges == {"sup": 2, "reference": 1}
    assert _figures(globex.totals) == (3, 3, round(1.9 / 3, 6), 2, 0.5, 1, 2, 0, 1, 1)
    assert set(_by_name(q.tenants)) == {"globex"} and set(_by_name(q.domains)) == {"math"}
    everyone = _read(ledger, None)
    assert _figures(everyone.totals) == (8, 7, round((3 + 1.9) / 7, 6), 6, round(3.5 / 6, 6), 3,
                                         5, 1, 2, 2)  # fmt: skip
    assert _by_name(everyone.quality.tenants) == {
        "acme": _figures(_read(ledger, "acme").totals), "globex": _figures(globex.totals)}
    assert everyone.quality.judges == {"agreement:sup": 4, "sup": 2, "reference": 1}
    assert everyone.quality.mode == "agreement"
    # The oracle judge alone: named for what it is.
    only_reference = read_dashboard(ledger, DashboardRequest(
        tenant="globex", since=(T0 + timedelta(minutes=80)).isoformat(),
        until=(T0 + timedelta(minutes=90)).isoformat()), datetime.now(UTC))  # fmt: skip
    assert only_reference.quality.figure == "reference (oracle) score"


async def test_the_schools_judging_names_a_window_nothing_judged(ledger: Ledger) -> None:
    await _seed(ledger)
    req = DashboardRequest(tenant="acme", since=(T0 + timedelta(minutes=75)).isoformat(),
                           until=(T0 + timedelta(minutes=85)).isoformat())  # fmt: skip
    unjudged = read_dashboard(ledger, req, datetime.now(UTC),
                              JudgeSettings(mode=JudgeMode.AGREEMENT, pass_score=0.7))  # fmt: skip
    assert unjudged.quality.judges == {} and unjudged.quality.pass_score == 0.7
    assert unjudged.quality.figure == "agreement with the supervisor"
    assert _figures(unjudged.totals) == (1, 0, None, 1, 0.6, 0, 0, 0, 0, 0)


async def test_the_judges_pass_score_decides_its_agreement_with_users(ledger: Ledger) -> None:
    await _seed(ledger)
    strict = read_dashboard(ledger, DashboardRequest(tenant="globex"), datetime.now(UTC),
                            JudgeSettings(pass_score=0.8))  # fmt: skip
    # At 0.8 the LLM judge fails g1 (0.7) as the user did, and g2 (0.2), which users rated up.
    u = strict.totals.users
    assert (u.compared, u.agreed, u.judge_passed_rated_down, u.judge_failed_rated_up) == (2, 1, 0, 1)


async def test_the_page_shows_both_figures_by_name(ledger: Ledger) -> None:
    await _seed(ledger)
    board = _read(ledger, "acme")
    page = render(board, LINKS, tenants=["acme", "globex"], window="all")
    for shown in ('<span data-figure="quality">0.75</span>',
                  '<span data-figure="judged">4</span>',
                  '<span data-figure="users_positive">50%</span>',
                  '<span data-figure="users_rated">4</span>',
                  '<span data-figure="users_rated_share">80%</span>',
                  f'<span data-figure="users_score">{0.625:.2f}</span>',
                  '<span data-figure="judge_agreement">33%</span>',
                  '<span data-figure="compared">3</span>',
                  '<span data-figure="judge_figure">agreement with the supervisor</span>',
                  '<span data-figure="quality:member:sup">1.00</span>',
                  '<span data-figure="users_score:member:sup">0.30</span>',
                  '<span data-figure="positive:member:stu">100%</span>',
                  '<span data-figure="agreement:member:stu">50%</span>',
                  '<span data-figure="rated:domain:math">3</span>',
                  '<span data-figure="served:domain:history">2</span>',
                  '<span data-figure="served:tenant:acme">5</span>'):  # fmt: skip
        assert shown in page, shown
    for name in ("the judge&#x27;s figure: agreement with the supervisor",
                 "as users rated it: positive", "the judge agreed with users",
                 "the judge: agreement with the supervisor", "users: mean score",
                 "users: share positive", "share of served answers rated",
                 "agreement with the supervisor, not quality", "at least 0.8"):  # fmt: skip
        assert name in page, name
    assert "globex" not in page.replace('<option value="globex">globex</option>', "")
    llm = render(_read(ledger, "globex"), LINKS, tenants=[], window="all")
    assert "the judge&#x27;s figure: the supervisor&#x27;s (LLM judge) score" in llm


def test_an_empty_ledger_has_no_quality_and_names_the_schools_judging(ledger: Ledger) -> None:
    board = read_dashboard(ledger, DashboardRequest(), datetime.now(UTC),
                           JudgeSettings(mode=JudgeMode.AGREEMENT))  # fmt: skip
    assert _figures(board.totals) == (0, 0, None, 0, None, 0, 0, 0, 0, 0)
    assert board.quality.figure == "agreement with the supervisor"
    assert board.quality.members == board.quality.domains == board.quality.tenants == []
    assert read_dashboard(ledger, DashboardRequest(), datetime.now(UTC)).quality.figure == (
        "the judge's score")  # fmt: skip
    page = render(board, LINKS, tenants=[], window="all")
    assert '<span data-figure="users_positive">-</span>' in page
    assert page.count("no answers served in this window") == 3
