"""The benchmark's users: which served answers they rate, and what they say.

`tutelage bench --feedback-rate R --feedback-noise P` stands a user behind every item of the
stream. After the school has served the item (its choice made with no gold), the user rates the
served answer with probability R; the rating is the answer's recorded score (what the user
sees: right or wrong), flipped (1 - score) with probability P, a user who gets it wrong.

Both coins are keyed on the seed and the item, like the routing's draws, never on a global
random state: every engine and every run at the same seed rates the same items the same way,
and at a higher rate the rated items include those rated at a lower one (a draw below 0.02 is
below 0.1), so a curve over R adds ratings and changes no earlier one.
"""

from __future__ import annotations

from .sampling import stable_uniform

RATE_SALT = "bench-feedback-rate"
NOISE_SALT = "bench-feedback-noise"


def rating_arrives(seed: int, item_id: str, rate: float) -> bool:
    """Whether the user rates this item's served answer (probability `rate`)."""
    return rate > 0 and stable_uniform(RATE_SALT, str(seed), item_id) < rate


def ratable(cache_kind: str) -> bool:
    """Whether the bench's user can rate the served answer at all: a cache hit whose answer was
    given to another item, where the data holds no gold to compare it with (`unverifiable`),
    has no truth to rate by. Scoring such a hit 0 is the benchmark's conservative count; sent as
    a rating it would be a down rating no user gave."""
    return cache_kind != "unverifiable"


def rating_flipped(seed: int, item_id: str, noise: float) -> bool:
    """Whether the user's rating of this item says the opposite of the truth (probability
    `noise`), drawn independently of whether it arrives."""
    return noise > 0 and stable_uniform(NOISE_SALT, str(seed), item_id) < noise


def user_score(recorded: float, flipped: bool) -> float:
    """The score the user sends: the served answer's recorded score (clamped to 0..1), or
    1 - it when the rating is flipped."""
    score = min(1.0, max(0.0, recorded))
    return round(1.0 - score, 6) if flipped else score
