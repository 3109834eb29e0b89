"""What an answer the school served is worth against the recorded data.

A fresh answer is a member's recorded answer to this very item: it scores that model's recorded
result on the item. A cache hit is an answer given earlier to another query (the cached one):
it scores whether it is right for the question asked, never the cached winner's recorded score
on the new item (which would credit the cache with an answer nobody gave):

- `same_item`: the cached query was this recorded item (the same prompt: the replay holds one
  recording per prompt), so the cached answer is the winner's recorded answer to it;
- else, where the data holds a gold answer that an answer can be compared with (GSM8K's final
  number, a multiple-choice task's gold letter), the cached answer is right (`gold_match`) when
  its final answer equals this item's gold, else `wrong`;
- else (MMLU's and LLMRouter's right/wrong and coverage markers hold a result, no answer to
  compare) it cannot be shown right: `unverifiable`, scored 0.
"""

from __future__ import annotations

import re

from ..models import QueryResult
from ..policy.answers import reference_score
from ..policy.recorded import read_marker
from .datasets import Item, prompt_key

# The query flow's reason for a cache hit: "cache hit on <query id> (similarity 0.991)".
_CACHE_REASON = re.compile(r"^cache hit on (\S+) \(")
CACHE_KINDS = ("same_item", "gold_match", "wrong", "unverifiable")


def cached_query_id(result: QueryResult) -> str | None:
    """The query whose answer a cache hit served (None: not a cache hit)."""
    if not result.cache_hit:
        return None
    found = _CACHE_REASON.match(result.reason)
    return found[1] if found else None


def cache_hit_score(item: Item, cached: Item | None, answer: str,
                    model: str | None) -> tuple[float, str]:  # fmt: skip
    """(score, kind) of a cached `answer` served for `item`: `cached` is the recorded item the
    answer was given to (None: not known), `model` the recorded model behind its winner."""
    if cached is not None and prompt_key(cached.prompt) == prompt_key(item.prompt):
        return (item.score(model) if model else 0.0), "same_item"
    gold = read_marker(item.reference)
    if gold is None:  # a gold answer in text: GSM8K's final number
        score = reference_score(answer, item.reference)
    elif gold.choice is not None:  # a gold letter: the cached answer's letter against it
        mine = read_marker(answer)
        score = 1.0 if mine is not None and mine.choice == gold.choice else 0.0
    else:
        return 0.0, "unverifiable"
    return score, "gold_match" if score >= 1.0 else "wrong"
