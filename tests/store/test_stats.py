"""The ledger's read models for promotion and peer review, on hand-made query outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tutelage.models import MemberAnswer, PeerCheck, QueryResult, Route, Verdict
from tutelage.policy.peer import ESCALATED
from tutelage.store.ledger import Ledger
from tutelage.store.stats import member_domain_stats, pair_stats


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "l.duckdb")
    yield opened
    opened.close()


def _query(qid: str, scores: dict[str, float], agreed: bool | None = None,
           judge: str = "reference") -> QueryResult:  # fmt: skip
    checks = [] if agreed is None else [PeerCheck(member_a="a", member_b="b", agreed=agreed)]
    return QueryResult(
        query_id=qid, route=Route.HYBRID, answer="x", winner="a",
        calls=[MemberAnswer(member_id=m, text="x", cost_usd=0.1) for m in scores],
        verdicts=[Verdict(member_id=m, score=s, judge=judge) for m, s in scores.items()],
        agreements=checks,
    )  # fmt: skip


def test_member_records_pair_with_the_supervisor_on_the_same_queries(ledger: Ledger) -> None:
    ledger.record_many([
        (_query("q1", {"sup": 1.0, "a": 1.0}), "math", "v"),
        (_query("q2", {"sup": 0.0, "a": 1.0}), "math", "v"),
        (_query("q3", {"sup": 1.0, "a": 0.0}), "math", "v"),
        (_query("q4", {"a": 1.0}), "math", "v"),  # a alone: judged, not paired
        (_query("q5", {"sup": 1.0, "a": 0.0}, judge="reference" + ESCALATED), "math", "v"),
    ])  # fmt: skip
    (a,) = member_domain_stats(ledger, "sup", 0.02, 100)
    assert (a.member_id, a.domain, a.judged, a.score_sum) == ("a", "math", 4, 3.0)
    assert (a.paired, a.paired_diff_sum, a.paired_diff_sq) == (3, 0.0, 2.0)
    assert (a.sup_judged, a.sup_score_sum) == (3, 2.0)
    # The escalated verdicts count nowhere; the call still costs.
    assert a.answers == 5 and a.cost_usd == pytest.approx(0.5)


def test_pair_agreement_and_how_often_an_agreed_answer_was_right(ledger: Ledger) -> None:
    ledger.record_many([
        (_query("q1", {"a": 1.0, "b": 1.0}, agreed=True), "math", "v"),
        (_query("q2", {"a": 0.0, "b": 0.0}, agreed=True), "math", "v"),
        (_query("q3", {"a": 1.0, "b": 0.0}, agreed=False), "math", "v"),
        (_query("q4", {}, agreed=True), "math", "v"),  # agreed, never judged
        (_query("q5", {"a": 1.0, "b": 1.0}, agreed=True), None, "v"),
    ])  # fmt: skip
    assert [(p.domain, p.member_a, p.member_b, p.together, p.agreed, p.agreed_judged,
             p.agreed_right) for p in pair_stats(ledger, 0.5, 100)] == [
        ("*", "a", "b", 1, 1, 1, 1), ("math", "a", "b", 4, 3, 2, 1)]  # fmt: skip
