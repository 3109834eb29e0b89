"""The dashboard's figures for one tenant are that tenant's alone, and carry no query text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tutelage.models import MemberAnswer, QueryResult, Route, Verdict
from tutelage.models.dashboard import DashboardRequest
from tutelage.store.dashboard import read_dashboard
from tutelage.store.ledger import Ledger


def _result(query_id: str, tenant: str, cost: float) -> QueryResult:
    return QueryResult(
        query_id=query_id, tenant=tenant, route=Route.NOVEL, answer=f"secret answer of {tenant}",
        winner="sup", cost_usd=cost, supervisor_only_cost_usd=2 * cost,
        calls=[MemberAnswer(member_id=m, text=f"secret answer of {tenant}", cost_usd=cost / 2)
               for m in ("sup", "stu")],
        verdicts=[Verdict(member_id="sup", score=1.0, judge="agreement:sup",
                          reasoning=f"secret reasoning of {tenant}")],
    )  # fmt: skip


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "l.duckdb")
    yield opened
    opened.close()


def test_a_tenant_filter_gives_only_that_tenants_figures(ledger: Ledger) -> None:
    ledger.record_many([(_result(f"a{i}", "a", 1.0), "math", "v") for i in range(3)])
    ledger.record_many([(_result("b0", "b", 0.1), "math", "v")])
    board = read_dashboard(ledger, DashboardRequest(tenant="b"), datetime.now(UTC))
    assert board.totals.queries == 1 and abs(board.totals.cost_usd - 0.1) < 1e-9
    assert [t.tenant for t in board.tenants] == ["b"]
    assert sum(m.calls for m in board.members) == 2
    assert abs(sum(m.cost_usd for m in board.members) - 0.1) < 1e-9
    text = board.model_dump_json()
    assert "secret" not in text and '"a"' not in text
    everyone = read_dashboard(ledger, DashboardRequest(), datetime.now(UTC))
    assert everyone.totals.queries == 4 and {t.tenant for t in everyone.tenants} == {"a", "b"}
