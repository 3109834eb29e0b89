"""A cache hit scores whether the cached answer is right for the question asked, never the
cached winner's recorded score on the new item."""

from __future__ import annotations

from tutelage.bench.datasets import Item
from tutelage.bench.served import cache_hit_score, cached_query_id
from tutelage.models import QueryResult
from tutelage.policy.recorded import RECORDED_CORRECT, RECORDED_INCORRECT, choice_marker


def _item(item_id: str, prompt: str, reference: str, correct: bool, answer: str) -> Item:
    return Item(item_id=item_id, prompt=prompt, reference=reference, subject="s",
                correct={"m": correct}, answers={"m": answer})  # fmt: skip


def test_the_same_recorded_item_scores_the_winners_recorded_result() -> None:
    it = _item("a", "What is 6 x 7?", "42", True, "It is 42.")
    again = _item("b", " What is 6 x 7? ", "42", True, "It is 42.")  # the same prompt
    assert cache_hit_score(it, it, "It is 42.", "m") == (1.0, "same_item")
    assert cache_hit_score(again, it, "It is 42.", "m") == (1.0, "same_item")
    wrong = _item("c", "What is 6 x 7?", "42", False, "It is 41.")
    assert cache_hit_score(wrong, wrong, "It is 41.", "m") == (0.0, "same_item")


def test_another_items_answer_is_right_only_when_it_reaches_this_items_gold() -> None:
    asked = _item("a", "Tom has 3 apples and buys 4. How many?", "7", False, "6")
    cached = _item("b", "Tom has 3 pears and buys 4. How many?", "7", True, "#### 7")
    # The cached winner was right on its own item, and the model is recorded wrong on this
    # one: neither counts, only whether the cached answer's final number is this gold.
    assert cache_hit_score(asked, cached, "He has 7 pears. #### 7", "m") == (1.0, "gold_match")
    other_gold = _item("c", "Tom has 3 apples and buys 5. How many?", "8", True, "8")
    assert cache_hit_score(other_gold, cached, "#### 7", "m") == (0.0, "wrong")
    assert cache_hit_score(other_gold, None, "#### 8", "m") == (1.0, "gold_match")


def test_a_gold_letter_is_compared_and_a_bare_result_cannot_be_shown_right() -> None:
    mc = _item("a", "Pick one: A, B, C or D?", choice_marker("B"), True, choice_marker("B"))
    cached = _item("b", "Pick one: A, B, C or D!", choice_marker("C"), True, choice_marker("C"))
    assert cache_hit_score(mc, cached, choice_marker("B"), "m") == (1.0, "gold_match")
    assert cache_hit_score(mc, cached, choice_marker("C"), "m") == (0.0, "wrong")
    # MMLU (RouteLLM): only right/wrong was recorded, no answer to compare with another item.
    mmlu = _item("a", "Q1", RECORDED_CORRECT, True, RECORDED_CORRECT)
    other = _item("b", "Q2", RECORDED_CORRECT, True, RECORDED_CORRECT)
    assert cache_hit_score(mmlu, other, RECORDED_CORRECT, "m") == (0.0, "unverifiable")
    assert cache_hit_score(mmlu, mmlu, RECORDED_CORRECT, "m") == (1.0, "same_item")
    assert cache_hit_score(_item("c", "Q1", RECORDED_CORRECT, False, RECORDED_INCORRECT), mmlu,
                           RECORDED_CORRECT, "m") == (0.0, "same_item")  # fmt: skip


def test_the_cached_query_is_read_from_the_hit() -> None:
    hit = QueryResult(query_id="q2", cache_hit=True,
                      reason="cache hit on bench-abc123-00004 (similarity 0.991)")  # fmt: skip
    assert cached_query_id(hit) == "bench-abc123-00004"
    assert cached_query_id(QueryResult(query_id="q3", reason="cache hit on x (similarity 1)")) is None
