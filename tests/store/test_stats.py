"""The ledger's read models for promotion and peer review, on hand-made query outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tutelage.models import MemberAnswer, PeerCheck, QueryResult, Route, Verdict
from tutelage.policy.peer import ESCALATED
from tutelage.store.ledger import Ledger
from tutelage.store.stats import domain_stats, member_domain_stats, pair_stats


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


def test_user_verdicts_are_a_record_apart_and_replace_the_judges_pair_where_both_rated(
    ledger: Ledger,
) -> None:
    from tutelage.store.ledger import FeedbackRow

    ledger.record_many([
        (_query("q1", {"sup": 1.0, "a": 0.0}, judge="agreement:sup"), "logic", "v"),
        (_query("q2", {"sup": 1.0, "a": 0.0}, judge="agreement:sup"), "logic", "v"),
        (_query("q3", {"sup": 1.0, "a": 1.0}, judge="agreement:sup"), "logic", "v"),
    ])  # fmt: skip
    # Users found the supervisor wrong on q1 (a right), and rated only a on q3.
    ledger.write_feedback(FeedbackRow("f1", "q1", "default", 0.0), "logic",
                          [("sup", 0.0, ""), ("a", 1.0, "")])  # fmt: skip
    ledger.write_feedback(FeedbackRow("f3", "q3", "default", 1.0), "logic", [("a", 1.0, "")])
    (a,) = member_domain_stats(ledger, "sup", 0.02, 100)
    # The judge's record is as it was, less the pair on q1, which is the users' now.
    assert (a.judged, a.wins, a.score_sum, a.sup_judged, a.sup_score_sum) == (3, 1, 1.0, 3, 3.0)
    assert (a.paired, a.paired_diff_sum, a.paired_diff_sq) == (2, -1.0, 1.0)
    assert (a.user_judged, a.user_wins, a.user_score_sum) == (2, 2, 2.0)
    assert (a.user_paired, a.user_paired_diff_sum, a.user_paired_diff_sq) == (1, 1.0, 1.0)
    assert (a.sup_user_judged, a.sup_user_score_sum) == (1, 0.0)
    # Peer review reads the users' verdict where there is one (none on the pair here), and
    # the gaps read the judge's only.
    assert [d.mean_best_score for d in domain_stats(ledger, 100)] == [1.0]


def test_an_agreed_answer_users_rated_counts_as_they_rated_it(ledger: Ledger) -> None:
    from tutelage.store.ledger import FeedbackRow

    ledger.record_many([(_query("q1", {"a": 1.0, "b": 1.0}, agreed=True), "math", "v"),
                        (_query("q2", {"a": 1.0, "b": 1.0}, agreed=True), "math", "v")])  # fmt: skip
    ledger.write_feedback(FeedbackRow("f1", "q1", "default", 0.0), "math",
                          [("a", 0.0, ""), ("b", 0.0, "")])  # fmt: skip
    (p,) = pair_stats(ledger, 0.5, 100)
    assert (p.agreed, p.agreed_judged, p.agreed_right) == (2, 2, 1)
