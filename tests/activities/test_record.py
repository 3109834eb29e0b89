"""The record activity, retried, never duplicates a row."""

from __future__ import annotations

from pathlib import Path

from tutelage.activities.query import QueryActivities
from tutelage.models import MemberAnswer, QueryInput, QueryResult, RecordRequest, Route, Verdict
from tutelage.services import Services

from ..conftest import make_config


def _answered_by_supervisor(query_id: str, text: str, vector: list[float]) -> RecordRequest:
    result = QueryResult(
        query_id=query_id, route=Route.NOVEL, answer="42", winner="sup",
        calls=[MemberAnswer(member_id="sup", text="42", tokens_in=5, tokens_out=1)],
        verdicts=[Verdict(member_id="sup", score=1.0, judge="agreement:sup")],
    )  # fmt: skip
    return RecordRequest(query=QueryInput(text=text, query_id=query_id), embedding=vector,
                         result=result)  # fmt: skip


async def test_record_twice_writes_once(tmp_path: Path) -> None:
    services = Services.open(make_config(tmp_path))
    try:
        acts = QueryActivities(services)
        vector = services.embed("What is six times seven?").tolist()
        result = QueryResult(
            query_id="q1", route=Route.NOVEL, answer="42", winner="sup",
            calls=[MemberAnswer(member_id="sup", text="42", tokens_in=5, tokens_out=1),
                   MemberAnswer(member_id="stu", text="41", tokens_in=5, tokens_out=1)],
            verdicts=[Verdict(member_id="sup", score=1.0, judge="agreement:sup"),
                      Verdict(member_id="stu", score=0.0, judge="agreement:sup")],
        )  # fmt: skip
        req = RecordRequest(query=QueryInput(text="What is six times seven?", query_id="q1"),
                            embedding=vector, result=result)  # fmt: skip
        first = await acts.record(req)
        again = await acts.record(req)
        counts = [services.ledger.rows(f"SELECT count(*) FROM {t}")[0][0]
                  for t in ("calls", "verdicts", "queries")]  # fmt: skip
        memory_rows = services.memory.count()
    finally:
        services.close()
    assert (first.calls_written, first.verdicts_written, first.memory_written) == (2, 2, True)
    assert (again.calls_written, again.verdicts_written, again.memory_written) == (0, 0, False)
    assert counts == [2, 2, 1]
    assert memory_rows == 1


async def test_concurrent_records_share_a_batch_and_stay_exact(tmp_path: Path) -> None:
    """Twenty queries recorded at once, each twice (a retry racing the first try)."""
    services = Services.open(make_config(tmp_path))
    try:
        acts = QueryActivities(services)
        vector = services.embed("a question").tolist()

        def request(i: int) -> RecordRequest:
            return _answered_by_supervisor(f"q{i}", f"question {i}", vector)

        import asyncio

        results = await asyncio.gather(*(acts.record(request(i % 20)) for i in range(40)))
        counts = [services.ledger.rows(f"SELECT count(*) FROM {t}")[0][0]
                  for t in ("calls", "verdicts", "queries")]  # fmt: skip
        memory_rows = services.memory.count()
    finally:
        services.close()
    assert counts == [20, 20, 20]
    assert memory_rows == 20
    assert sum(r.memory_written for r in results) == 20


async def test_retry_after_a_crash_between_ledger_and_memory_writes_the_memory_row(
    tmp_path: Path,
) -> None:
    """The first try committed the ledger rows and died before the LanceDB append."""
    services = Services.open(make_config(tmp_path))
    try:
        acts = QueryActivities(services)
        vector = services.embed("What is two plus two?").tolist()
        req = _answered_by_supervisor("q9", "What is two plus two?", vector)
        (crashed,) = services.ledger.record_many([(req.result, None, "v1")])
        retried = await acts.record(req)
        again = await acts.record(req)
        memory_rows = services.memory.count()
        calls = services.ledger.rows("SELECT count(*) FROM calls")[0][0]
    finally:
        services.close()
    assert (crashed.calls, crashed.seen_before) == (1, False)
    assert (retried.calls_written, retried.memory_written) == (0, True)
    assert (again.calls_written, again.memory_written) == (0, False)
    assert (memory_rows, calls) == (1, 1)
