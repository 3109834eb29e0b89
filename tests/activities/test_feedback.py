"""The feedback activity on a real store: a rating's user verdicts follow the policy, another
tenant's query is not found, a retried write lands once, and a correction becomes its tenant's
gold exemplar at the next distillation (the corrected answer never does)."""

from __future__ import annotations

from pathlib import Path

from tutelage.activities.feedback import FeedbackActivities
from tutelage.activities.lifecycle import LifecycleActivities
from tutelage.activities.query import QueryActivities
from tutelage.models import MemberAnswer, QueryInput, QueryResult, RecordRequest, Route, Verdict
from tutelage.models.feedback import FeedbackRequest
from tutelage.models.lifecycle import DistillRequest
from tutelage.services import Services

from ..conftest import make_config


def _served_by_supervisor(services: Services, query_id: str, text: str, tenant: str,
                          sup: str, stu: str) -> RecordRequest:  # fmt: skip
    """The supervisor answered `sup`, the student `stu`; agreement judging scored them."""
    result = QueryResult(
        query_id=query_id, tenant=tenant, route=Route.NOVEL, answer=sup, winner="sup",
        calls=[MemberAnswer(member_id="sup", text=sup, tokens_in=5, tokens_out=1),
               MemberAnswer(member_id="stu", text=stu, tokens_in=5, tokens_out=1)],
        verdicts=[Verdict(member_id="sup", score=1.0, judge="agreement:sup"),
                  Verdict(member_id="stu", score=float(sup == stu), judge="agreement:sup")],
    )  # fmt: skip
    return RecordRequest(query=QueryInput(text=text, query_id=query_id, tenant=tenant),
                         embedding=services.embed(text).tolist(), result=result)  # fmt: skip


async def test_ratings_make_verdicts_and_a_correction_is_a_gold_exemplar(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, limits={"tenants": ["default", "acme", "globex"]})
    services = Services.open(cfg)
    try:
        record = QueryActivities(services).record
        for qid, text, tenant, sup, stu in (
            ("q1", "What is six times seven?", "acme", "41", "42"),
            ("q2", "What is two plus five?", "acme", "8", "8"),
            ("q3", "What is three plus three?", "acme", "6", "6"),
            ("q4", "What is nine minus one?", "globex", "8", "8"),
        ):  # fmt: skip
            await record(_served_by_supervisor(services, qid, text, tenant, sup, stu))
        rate = FeedbackActivities(services).record_feedback
        # The supervisor's answer was wrong; the student's, which differed, was right.
        corrected = await rate(FeedbackRequest(query_id="q1", tenant="acme", score=0.0,
                                               rating="down", correction="42",
                                               feedback_id="f1"))  # fmt: skip
        retried = await rate(FeedbackRequest(query_id="q1", tenant="acme", score=0.0,
                                             rating="down", correction="42",
                                             feedback_id="f1"))  # fmt: skip
        down = await rate(FeedbackRequest(query_id="q2", tenant="acme", score=0.0,
                                          feedback_id="f2"))  # fmt: skip
        not_theirs = await rate(FeedbackRequest(query_id="q4", tenant="acme", score=1.0,
                                                feedback_id="f3"))  # fmt: skip
        history = services.ledger.rows("SELECT feedback_id FROM feedback ORDER BY 1")
        distilled = await LifecycleActivities(services, None).collect_exemplars(DistillRequest())
        bank = {e.exemplar_id: e for e in services.exemplars.all()}
    finally:
        services.close()
    assert corrected.found and corrected.served == "sup" and corrected.revision == 1
    assert corrected.verdicts == {"sup": 0.0, "stu": 1.0} and corrected.correction_kept
    assert (retried.revision, retried.verdicts) == (1, corrected.verdicts)
    # Agreed with the served answer: rated with it.
    assert down.verdicts == {"sup": 0.0, "stu": 0.0}
    assert not not_theirs.found and not_theirs.verdicts == {}
    assert history == [("f1",), ("f2",)]
    # q1's correction is acme's gold exemplar, its wrong served answer is not banked; q2's
    # served answer, rated down, is not either; q3's (unrated, judged 1.0) is; globex's q4 is
    # banked as its own tenant's.
    assert sorted(bank) == ["q1:correction-1", "q3", "q4"] and distilled.added == 3
    gold = bank["q1:correction-1"]
    assert (gold.question, gold.answer, gold.tenant, gold.score, gold.source, gold.reasoning) == (
        "What is six times seven?", "42", "acme", 1.0, "user", "user correction")  # fmt: skip
    assert bank["q4"].tenant == "globex"


async def test_a_completion_keeps_at_most_max_ratings(tmp_path: Path) -> None:
    from tutelage.policy.feedback import MAX_RATINGS_PER_QUERY

    services = Services.open(make_config(tmp_path))
    try:
        await QueryActivities(services).record(
            _served_by_supervisor(services, "q1", "What is six times seven?", "default", "42", "42"))
        rate = FeedbackActivities(services).record_feedback
        for i in range(MAX_RATINGS_PER_QUERY):
            kept = await rate(FeedbackRequest(query_id="q1", score=float(i % 2),
                                              feedback_id=f"f{i}"))  # fmt: skip
        refused = await rate(FeedbackRequest(query_id="q1", score=0.0, correction="41",
                                             feedback_id="one-too-many"))  # fmt: skip
        # The last one kept, written again (a retried activity): recorded, not refused.
        retried = await rate(FeedbackRequest(query_id="q1", score=1.0,
                                             feedback_id=f"f{MAX_RATINGS_PER_QUERY - 1}"))  # fmt: skip
        rows = services.ledger.rows("SELECT count(*), max(seq) FROM feedback")
        corrections = services.ledger.corrections()
    finally:
        services.close()
    assert kept.revision == MAX_RATINGS_PER_QUERY and not kept.refused
    assert retried.revision == MAX_RATINGS_PER_QUERY and not retried.refused
    assert refused.found and refused.verdicts == {} and not refused.correction_kept
    assert f"rated {MAX_RATINGS_PER_QUERY} times" in refused.refused
    # Nothing of the refused rating was written; the newest kept rating stands.
    assert rows == [(MAX_RATINGS_PER_QUERY, MAX_RATINGS_PER_QUERY)] and corrections == []


async def test_what_users_take_back_after_it_was_banked_leaves_the_bank(tmp_path: Path) -> None:
    services = Services.open(make_config(tmp_path))
    try:
        record = QueryActivities(services).record
        for qid, text, sup in (("q1", "What is six times seven?", "42"),
                               ("q2", "What is two plus five?", "7"),
                               ("q3", "What is three plus three?", "6")):  # fmt: skip
            await record(_served_by_supervisor(services, qid, text, "default", sup, sup))
        distill = LifecycleActivities(services, None).collect_exemplars
        rate = FeedbackActivities(services).record_feedback
        first = await distill(DistillRequest())
        version = services.exemplars.version()
        # Late ratings: q1's banked answer is rated down, q2's corrected twice.
        await rate(FeedbackRequest(query_id="q1", score=0.0, feedback_id="f1"))
        await rate(FeedbackRequest(query_id="q2", score=0.0, correction="7.0", feedback_id="f2"))
        second = await distill(DistillRequest())
        await rate(FeedbackRequest(query_id="q2", score=0.0, correction="seven",
                                   feedback_id="f3"))  # fmt: skip
        third = await distill(DistillRequest())
        bank = {e.exemplar_id: e.answer for e in services.exemplars.all()}
        versions = services.exemplars.version()
    finally:
        services.close()
    assert (first.added, first.withdrawn) == (3, 0)
    assert (second.added, second.withdrawn) == (1, 2)  # q1 and q2 out, q2's correction in
    assert (third.added, third.withdrawn) == (1, 1)  # the newer correction replaces it
    assert bank == {"q3": "6", "q2:correction-2": "seven"}
    # Versions never go back, though the rows of the newest were deleted.
    assert versions == version + 2
