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


def test_rows_with_the_same_key_in_one_result_are_written_once(ledger: Ledger) -> None:
    """INSERT OR IGNORE's rule holds for new queries too, whose rows go in as plain INSERTs."""
    (written,) = ledger.record_many([(_result("a", ("sup", "sup")), None, "v")])
    assert written == Recorded(1, 1, 1, False)
    assert _counts(ledger) == [1, 1, 1]
