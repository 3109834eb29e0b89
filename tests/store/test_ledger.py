"""The ledger's batch write: new queries as plain INSERTs, retried ones checked for conflicts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tutelage.models import MemberAnswer, QueryResult, Route, Verdict
from tutelage.store.ledger import Ledger, Recorded


def _result(query_id: str, members: tuple[str, ...] = ("sup", "stu")) -> QueryResult:
    return QueryResult(
        query_id=query_id, route=Route.NOVEL, answer="42", winner=members[0],
        calls=[MemberAnswer(member_id=m, text="42", tokens_in=5, tokens_out=1) for m in members],
        verdicts=[Verdict(member_id=m, score=1.0, judge="agreement:sup") for m in members],
    )  # fmt: skip


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "l.duckdb")
    yield opened
    opened.close()


def _counts(ledger: Ledger) -> list[int]:
    return [
        ledger.rows(f"SELECT count(*) FROM {t}")[0][0] for t in ("calls", "verdicts", "queries")
    ]


def test_a_mixed_batch_credits_each_query_once_and_numbers_new_ones_in_order(
    ledger: Ledger,
) -> None:
    first = ledger.record_many([(_result("a"), None, "v"), (_result("b"), "maths", "v")])
    # "b" again (a retry), "c" new, "c" again in the same batch (a retry racing its first try).
    second = ledger.record_many(
        [(_result("b"), "maths", "v"), (_result("c"), None, "v"), (_result("c"), None, "v")]
    )
    assert first == [Recorded(2, 2, 1, False), Recorded(2, 2, 2, False)]
    assert second == [Recorded(0, 0, 2, True), Recorded(2, 2, 3, False), Recorded(0, 0, 3, False)]
    assert _counts(ledger) == [6, 6, 3]


def test_a_retry_that_carries_a_row_the_first_try_lacked_writes_only_that_row(
    ledger: Ledger,
) -> None:
    ledger.record_many([(_result("a", ("sup",)), None, "v")])
    (again,) = ledger.record_many([(_result("a", ("sup", "stu")), None, "v")])
    assert again == Recorded(1, 1, 1, True)
    assert _counts(ledger) == [2, 2, 1]


def test_a_retried_query_among_new_ones_rolls_back_the_plain_inserts_and_checks(
    tmp_path: Path,
) -> None:
    """New queries go in as plain INSERTs first; a retried one among them (its key is stored)
    undoes that whole try, and the checked write credits each once, numbered on from the count
    the ledger keeps, also after it is opened again."""
    ledger = Ledger(tmp_path / "l.duckdb")
    ledger.record_many([(_result("a"), None, "v")])
    batch = ledger.record_many([(_result("b"), None, "v"), (_result("a"), None, "v")])
    assert batch == [Recorded(2, 2, 2, False), Recorded(0, 0, 1, True)]
    assert ledger.record_many([(_result("c"), None, "v")]) == [Recorded(2, 2, 3, False)]
    assert _counts(ledger) == [6, 6, 3]
    ledger.close()
    reopened = Ledger(tmp_path / "l.duckdb")
    try:
        assert reopened.record_many([(_result("d"), None, "v")]) == [Recorded(2, 2, 4, False)]
    finally:
        reopened.close()


def test_rows_with_the_same_key_in_one_result_are_written_once(ledger: Ledger) -> None:
    """INSERT OR IGNORE's rule holds for new queries too, whose rows go in as plain INSERTs."""
    (written,) = ledger.record_many([(_result("a", ("sup", "sup")), None, "v")])
    assert written == Recorded(1, 1, 1, False)
    assert _counts(ledger) == [1, 1, 1]


# --- users' feedback ---------------------------------------------------------------------------


def test_a_rating_finds_its_query_only_for_its_tenant(ledger: Ledger) -> None:
    result = _result("q", ("stu", "sup")).model_copy(update={"tenant": "acme"})
    ledger.record_many([(result, "math", "v")])
    ctx = ledger.feedback_context("q", "acme")
    assert ctx is not None and (ctx.tenant, ctx.domain, ctx.served) == ("acme", "math", "stu")
    assert ctx.answered == ["stu", "sup"] and ctx.scores == {"stu": 1.0, "sup": 1.0}
    assert ledger.feedback_context("q", "globex") is None  # another tenant's: as unknown
    assert ledger.feedback_context("nope", "acme") is None
    assert ledger.feedback_context("q", None) is not None  # the operator's CLI: any tenant


def test_rating_again_replaces_the_verdicts_and_keeps_the_history(ledger: Ledger) -> None:
    from tutelage.store.ledger import FeedbackRow

    ledger.record_many([(_result("q", ("stu", "sup")), "math", "v")])
    first = FeedbackRow("f1", "q", "default", 0.0, "down", "wrong", "43")
    assert ledger.write_feedback(first, "math", [("stu", 0.0, "r"), ("sup", 0.0, "r")]) == (1, True)
    # A retried write (the same feedback id) changes nothing.
    assert ledger.write_feedback(first, "math", [("stu", 0.0, "r")]) == (1, False)
    second = FeedbackRow("f2", "q", "default", 0.5, comment="on second thought")
    assert ledger.write_feedback(second, "math", [("stu", 0.5, "r2")]) == (2, True)
    assert ledger.rows("SELECT feedback_id, seq, score, rating, comment, correction FROM feedback"
                       " ORDER BY seq") == [("f1", 1, 0.0, "down", "wrong", "43"),
                                            ("f2", 2, 0.5, None, "on second thought", None)]  # fmt: skip
    # The standing user verdicts are the newest rating's; the judge's are untouched.
    assert ledger.rows("SELECT member_id, judge, score, domain FROM verdicts ORDER BY 2, 1") == [
        ("stu", "agreement:sup", 1.0, "math"), ("sup", "agreement:sup", 1.0, "math"),
        ("stu", "user", 0.5, "math")]  # fmt: skip
    # The correction stands until a newer one replaces it.
    assert ledger.corrections() == [("q", "default", "math", "43", 1)]
    ledger.write_feedback(FeedbackRow("f3", "q", "default", 0.0, correction="42.0"), "math",
                          [("stu", 0.0, "r3")])  # fmt: skip
    assert ledger.corrections() == [("q", "default", "math", "42.0", 3)]
    assert ledger.served_user_scores() == {"q": 0.0}
