"""Peer review in a real QueryWorkflow: two cheap members, the supervisor only when they differ."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tutelage.client import submit
from tutelage.models import PeerPanel, QueryInput, QueryResult, Route
from tutelage.policy.peer import ESCALATED
from tutelage.policy.sampling import stable_uniform
from tutelage.workflows.query import QueryWorkflow


def _member(mid: str, mock: str, role: str, price: float) -> dict[str, Any]:
    return {"id": mid, "model": f"openai/{mid}-model", "role": role, "input_price": price,
            "output_price": price, "params": {"mock_response": mock}}  # fmt: skip


def _members(b_says: str) -> list[dict[str, Any]]:
    return [_member("sup", "The answer is 42.", "teacher", 1e-5),
            _member("a", "#### 42", "student", 1e-7),
            _member("b", b_says, "student", 2e-7)]  # fmt: skip


PANEL = PeerPanel(members=["a", "b"], reliability=0.95, agree_rate=0.9, judged=40,
                  expected_cost=0.12, reason="set by the test")  # fmt: skip


async def _ask(s: Any, text: str, **kw: Any) -> QueryResult:
    return await submit(s.client, s.config, QueryInput(text=text, query_id=uuid.uuid4().hex[:12],
                                                       **kw))  # fmt: skip


async def _ask_the_panel(s: Any) -> QueryResult:
    """Seed the memory with one query (so the next is not novel), give the school a panel for
    unclustered queries, as the promotion cycle would, and ask a query like the first."""
    seed = await _ask(s, "What is six times seven?")
    assert seed.route == Route.NOVEL
    s.services.roster.replace_judges({}, {"*": PANEL})
    s.services.refresh()
    # The school audits an agreed panel answer on a draw keyed on the query (peer_review.
    # audit_rate): a key that does not draw one, so what is tested is the panel's own way.
    rate = s.services.school.peer_review.audit_rate
    key = next(k for k in (f"panel-{i}" for i in itertools.count())
               if stable_uniform(k, "peer-audit") >= rate)  # fmt: skip
    return await _ask(s, "Compute six multiplied by seven.", draw_key=key)


async def test_an_agreeing_panel_answers_without_the_supervisor(school: Any) -> None:
    async with school(members=_members("So six sevens: #### 42")) as s:
        r = await _ask_the_panel(s)
        calls = s.services.ledger.rows("SELECT member_id, kind FROM calls WHERE query_id = ? "
                                       "ORDER BY member_id", [r.query_id])  # fmt: skip
        agreements = s.services.ledger.rows(
            "SELECT member_a, member_b, agreed FROM agreements WHERE query_id = ?", [r.query_id])
    assert r.route == Route.PEER and r.panel_agreed is True
    assert sorted(r.members_asked) == ["a", "b"] and not r.supervisor_called
    assert r.winner == "a", "the cheaper panel member's agreed answer stands"
    assert calls == [("a", "answer"), ("b", "answer")]
    assert agreements == [("a", "b", True)]
    assert r.cost_usd == sum(c.cost_usd for c in r.calls) < r.supervisor_only_cost_usd


async def test_a_disagreeing_panel_calls_the_supervisor_and_its_verdicts_are_marked(
    school: Any,
) -> None:
    async with school(members=_members("#### 41")) as s:
        r = await _ask_the_panel(s)
        verdicts = s.services.ledger.rows("SELECT member_id, judge, score FROM verdicts WHERE "
                                          "query_id = ? ORDER BY member_id", [r.query_id])  # fmt: skip
        stats_rows = s.services.ledger.rows(
            "SELECT count(*) FROM verdicts WHERE query_id = ? AND NOT ends_with(judge, ?)",
            [r.query_id, ESCALATED])
    assert r.route == Route.PEER and r.panel_agreed is False and r.supervisor_called
    assert sorted(r.members_asked) == ["a", "b", "sup"]
    assert r.winner == "a" and r.scores == {"a": 1.0, "b": 0.0, "sup": 1.0}
    assert "the panel disagreed, sup answers" in r.reason
    # Judged only because the panel disagreed: kept out of every member's record.
    assert [v[0] for v in verdicts] == ["a", "b", "sup"]
    assert all(v[1].endswith(ESCALATED) for v in verdicts) and stats_rows == [(0,)]


async def test_with_a_reference_the_supervisor_answers_only_when_no_student_passes(
    school: Any,
) -> None:
    overrides = {"embedder": {"low_threshold": 0.5, "high_threshold": 0.99999,
                              "cache_threshold": 0.99999}, "routing": {"pair_rate": 0.0}}  # fmt: skip
    async with school(members=_members("#### 41"), **overrides) as s:
        await _ask(s, "What is six times seven?", reference="42")
        passed = await _ask(s, "Compute six multiplied by seven.", reference="42")
        failed = await _ask(s, "Compute seven multiplied by six.", reference="43")
    assert passed.route == Route.HYBRID and sorted(passed.members_asked) == ["a", "b"]
    assert passed.winner == "a" and not passed.supervisor_called
    assert failed.route == Route.HYBRID and failed.supervisor_called
    assert "no panel answer passed" in failed.reason


async def test_peer_review_replays_deterministically(school: Any) -> None:
    async with school(members=_members("#### 41")) as s:
        r = await _ask_the_panel(s)
        history = await s.client.get_workflow_handle(r.workflow_id).fetch_history()
    replayer = Replayer(workflows=[QueryWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
