"""Users' ratings of served answers: what a rating is, what it says about each member that
answered the query, and how much it weighs in promotion, demotion and retirement.

A rating is a verdict with judge `user` on the member whose answer was served. It is the
strongest evidence the school has (the supervisor's judgement, above all agreement judging, is
only a proxy for being right), so:

- a user verdict counts `USER_WEIGHT` (3) times a judge's verdict in a member's record per
  domain: judged answers, wins, score and the paired difference with the supervisor
  (`with_user_verdicts`), which promotion (`policy.promotion`) and retirement
  (`policy.evolution`, through the evolution inputs) read;
- on a query where users' verdicts exist for both the member and the supervisor, the paired
  difference with the supervisor is the users' (the judge's is left out there: `store.stats`);
- a member may also clear a rung on its user verdicts alone (each counting `USER_WEIGHT`
  times: `users_alone`), so where users find the supervisor wrong more often than a student,
  the student earns the domain even though the judge (the supervisor) scores it wrong;
- a member users rate down in a domain (`USER_DEMOTE_MIN` ratings or more, mean below
  `USER_DEMOTE_BELOW`) is demoted there, and not promoted, even when it agrees with the
  supervisor (`rated_down`).
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

from ..models.lifecycle import Exemplar, MemberDomainStats
from ..models.query import Neighbour

USER_JUDGE = "user"  # the `judge` of a user verdict in the ledger
# A user verdict counts this many times a judge's (supervisor, agreement or reference) verdict.
USER_WEIGHT = 3
# A rating at or below this, or at or above 1 - this, is decisive: it says the served answer
# was wrong (or right), so an answer that differed from it was right (or wrong).
DECISIVE_MARGIN = 0.2
# Demoted where users rate a member's answers (its own or those it agreed with) below this on
# average, over at least this many user verdicts in the domain.
USER_DEMOTE_BELOW = 0.5
USER_DEMOTE_MIN = 5
# A completion's rating history is bounded: past this many ratings a new one is refused (each
# is a workflow and a row of up to ~22k characters; rating again replaces, so more say nothing).
MAX_RATINGS_PER_QUERY = 50

RATINGS = {"up": 1.0, "down": 0.0}
COMPLETION_PREFIX = "chatcmpl-"
MAX_COMPLETION_ID_CHARS = 200
MAX_COMMENT_CHARS = 2000
MAX_CORRECTION_CHARS = 20000
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")


class FeedbackProblem(ValueError):
    """What is wrong with a feedback request: the parameter, a message, an OpenAI error code."""

    def __init__(self, param: str, message: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param = param
        self.message = message
        self.code = code


class ParsedFeedback(NamedTuple):
    query_id: str
    score: float
    rating: str | None
    comment: str
    correction: str


def query_id_of(completion_id: str) -> str:
    """The query id in a chat completion's id (`chatcmpl-<query id>`, or the bare query id
    that the `x-tutelage-query-id` header carries)."""
    return completion_id.strip().removeprefix(COMPLETION_PREFIX)


def _text(payload: dict[str, Any], name: str, limit: int) -> str:
    value = payload.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FeedbackProblem(name, f"Invalid value for '{name}': expected a string.")
    if len(value) > limit:
        raise FeedbackProblem(name, f"'{name}' is {len(value):,} characters; the limit is "
                              f"{limit:,}.", "string_above_max_length")  # fmt: skip
    return value.strip()


def parse_feedback(payload: dict[str, Any]) -> ParsedFeedback:
    """A feedback body checked: `completion_id`, exactly one of `score` (0 to 1) and `rating`
    ("up" = 1, "down" = 0), an optional `comment` and `correction` (bounded). Other fields
    are ignored. A FeedbackProblem names the first parameter that is wrong."""
    raw_id = payload.get("completion_id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise FeedbackProblem("completion_id", "Missing required parameter: 'completion_id' (the "
                              "chat completion's `id`, or its `x-tutelage-query-id` header).",
                              "missing_required_parameter")  # fmt: skip
    if not isinstance(raw_id, str) or len(raw_id) > MAX_COMPLETION_ID_CHARS:
        raise FeedbackProblem("completion_id", "Invalid value for 'completion_id': expected a "
                              f"chat completion id (a string of at most "
                              f"{MAX_COMPLETION_ID_CHARS} characters).")  # fmt: skip
    score, rating = payload.get("score"), payload.get("rating")
    if score is None and rating is None:
        raise FeedbackProblem("score", "Give 'score' (a number from 0 to 1) or 'rating' ('up' "
                              "or 'down').", "missing_required_parameter")  # fmt: skip
    if score is not None and rating is not None:
        raise FeedbackProblem("rating", "Give 'score' or 'rating', not both.")
    if rating is not None:
        if not isinstance(rating, str) or rating not in RATINGS:
            raise FeedbackProblem("rating", f"Invalid value for 'rating': {rating!r}; expected "
                                  "'up' or 'down'.")  # fmt: skip
        value = RATINGS[rating]
    else:
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise FeedbackProblem("score", "Invalid value for 'score': expected a number from 0 "
                                  "to 1.")  # fmt: skip
        try:
            value = float(score)
        except OverflowError:  # an integer too large for a float: out of range all the same
            value = math.inf
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise FeedbackProblem("score", f"Invalid value for 'score': {score}; expected a "
                                  "number from 0 to 1.")  # fmt: skip
    return ParsedFeedback(query_id=query_id_of(raw_id), score=value, rating=rating,
                          comment=_text(payload, "comment", MAX_COMMENT_CHARS),
                          correction=_text(payload, "correction", MAX_CORRECTION_CHARS))  # fmt: skip


def rating_refused(ratings_so_far: int) -> str | None:
    """Why a new rating of a query is refused (its history is full), or None."""
    if ratings_so_far < MAX_RATINGS_PER_QUERY:
        return None
    return (f"This completion has been rated {ratings_so_far} times, the most a completion "
            f"keeps ({MAX_RATINGS_PER_QUERY}); its standing rating is the newest.")


def plausible_query_id(query_id: str) -> bool:
    """Whether the id could name a query at all (one that cannot is unknown: a 404)."""
    return bool(_ID.fullmatch(query_id)) and len(query_id) <= MAX_COMPLETION_ID_CHARS


def is_decisive(score: float) -> bool:
    return score <= DECISIVE_MARGIN or score >= 1.0 - DECISIVE_MARGIN


def answers_agreed(
    served: str,
    answered: list[str],
    pairs: list[tuple[str, str, bool]],
    scores: dict[str, float],
    pass_score: float,
) -> dict[str, bool | None]:
    """For each other member that answered the query: did it give the served answer (True),
    another one (False), or is there no telling (None)?

    Read from the query's record in the ledger, in this order:
    1. the query's `agreements` row for the two members: their answer texts compared,
       label-free (`policy.peer.answers_agree`); the ledger has one for every two
       non-supervisor members that answered;
    2. else the judge's verdicts on the query (`scores`, the judge's, never a user's): a judge
       measures every answer of a query against one standard (the supervisor's answer under
       agreement judging, the reference answer, or the LLM judge's view of what is right), so
       two answers on opposite sides of `pass_score` are different answers (False), and two
       that both pass are the same right answer (True). Two that both fail may be two
       different wrong answers: None;
    3. else None (never scored, or the served answer was not).
    """
    agreed_pairs = {frozenset((a, b)): ok for a, b, ok in pairs}
    out: dict[str, bool | None] = {}
    for member in sorted(set(answered) - {served}):
        recorded = agreed_pairs.get(frozenset((served, member)))
        if recorded is not None:
            out[member] = recorded
            continue
        mine, theirs = scores.get(member), scores.get(served)
        if mine is None or theirs is None:
            out[member] = None
        elif (mine >= pass_score) != (theirs >= pass_score):
            out[member] = False
        else:
            out[member] = True if mine >= pass_score else None
    return out


def user_verdicts(
    served_member: str, score: float, answers_agreed: dict[str, bool | None]
) -> list[tuple[str, float]]:
    """The user verdicts a rating makes, (member, score), the served member first: it gets the
    user's score; a member whose answer agreed with the served one gets the same score; one
    whose answer differed gets 1 - score when the rating is decisive (at most
    `DECISIVE_MARGIN` from 0 or 1: the served answer was right, so a different one is wrong;
    or it was wrong, so a different one is taken as right), else nothing; one with no telling
    gets nothing. A wrong served answer vouches for a different one only when one member
    differed: of several different answers at most one is right, and which is not known."""
    out = [(served_member, score)]
    differed = [m for m, a in answers_agreed.items() if m != served_member and a is False]
    credit = is_decisive(score) and (score >= 0.5 or len(differed) == 1)
    for member, agreed in sorted(answers_agreed.items()):
        if member == served_member or agreed is None:
            continue
        if agreed:
            out.append((member, score))
        elif credit:
            out.append((member, round(1.0 - score, 6)))
    return out


def verdict_reason(member: str, served: str, agreed: bool | None, score: float,
                   rating: str | None) -> str:  # fmt: skip
    """The reasoning a user verdict carries in the ledger."""
    said = f"{rating} ({score:.2f})" if rating else f"{score:.2f}"
    if member == served:
        return f"user rating {said} of this answer (served)"
    how = "agreed with" if agreed else "differed from"
    return f"user rating {said} of {served}'s served answer, which this answer {how}"


def with_user_verdicts(s: MemberDomainStats, weight: int = USER_WEIGHT) -> MemberDomainStats:
    """The member's record with its user verdicts counted `weight` times each beside the
    judge's: judged answers, wins, score and the paired difference with the supervisor (the
    judge's pairs already leave out the queries where users rated both)."""
    if not s.user_judged:
        return s
    return s.model_copy(update={
        "judged": s.judged + weight * s.user_judged,
        "wins": s.wins + weight * s.user_wins,
        "score_sum": s.score_sum + weight * s.user_score_sum,
        "paired": s.paired + weight * s.user_paired,
        "paired_diff_sum": s.paired_diff_sum + weight * s.user_paired_diff_sum,
        "paired_diff_sq": s.paired_diff_sq + weight * s.user_paired_diff_sq,
    })  # fmt: skip


def users_alone(s: MemberDomainStats, weight: int = USER_WEIGHT) -> MemberDomainStats | None:
    """The member's record by its user verdicts only (each counting `weight` times), with the
    supervisor's user record in the domain; None with no user verdicts."""
    if not s.user_judged:
        return None
    return MemberDomainStats(
        member_id=s.member_id, domain=s.domain, judged=weight * s.user_judged,
        wins=weight * s.user_wins, score_sum=weight * s.user_score_sum,
        paired=weight * s.user_paired, paired_diff_sum=weight * s.user_paired_diff_sum,
        paired_diff_sq=weight * s.user_paired_diff_sq,
        sup_judged=weight * s.sup_user_judged, sup_score_sum=weight * s.sup_user_score_sum,
        cost_usd=s.cost_usd, answers=s.answers, failures=s.failures,
    )  # fmt: skip


def rated_down(s: MemberDomainStats) -> str | None:
    """Why users' verdicts take the domain from the member, or None: at least
    `USER_DEMOTE_MIN` of them, averaging below `USER_DEMOTE_BELOW` (whatever the judge says),
    and, where users rated the supervisor's answers in the domain at least as many times,
    below the supervisor's user mean there."""
    if s.user_judged < USER_DEMOTE_MIN:
        return None
    mean = s.user_score_sum / s.user_judged
    if mean >= USER_DEMOTE_BELOW:
        return None
    # Where users rate the supervisor no better, the domain is hard, not the member worse:
    # handing it back would not serve users better.
    if (s.sup_user_judged >= USER_DEMOTE_MIN
            and mean >= s.sup_user_score_sum / s.sup_user_judged):  # fmt: skip
        return None
    sup = (f"; the supervisor's user verdicts there average "
           f"{s.sup_user_score_sum / s.sup_user_judged:.2f} over {s.sup_user_judged}"
           if s.sup_user_judged else "")  # fmt: skip
    return (f"users rate its answers in {s.domain} {mean:.2f} on average over {s.user_judged} "
            f"user verdicts (< {USER_DEMOTE_BELOW:.2f}, at least {USER_DEMOTE_MIN}){sup}")


def correction_exemplar(query_id: str, seq: int, tenant: str, domain: str | None,
                        question: str, correction: str) -> Exemplar:  # fmt: skip
    """A user's correction as a gold exemplar of its tenant and domain (score 1.0). Its id
    names the rating that sent it, so a later correction of the same query is banked too."""
    return Exemplar(exemplar_id=f"{query_id}:correction-{seq}", domain=domain or "*",
                    question=question, answer=correction, source=USER_JUDGE, score=1.0,
                    reasoning="user correction", tenant=tenant)  # fmt: skip


def with_user_scores(neighbours: list[Neighbour],
                     user_scores: dict[str, dict[str, float]]) -> list[Neighbour]:  # fmt: skip
    """Neighbours whose members' scores users rated, with the users' scores in place of the
    judge's: what routing estimates a member's quality from near this query, so users'
    ratings steer the next similar query, not only the next learning cycle. A neighbour whose
    served answer users rated down is marked so: the cache never serves it again."""
    out = []
    for n in neighbours:
        rated = user_scores.get(n.query_id)
        if not rated:
            out.append(n)
            continue
        served = rated.get(n.winner) if n.winner is not None else None
        out.append(n.model_copy(update={
            "scores": {**n.scores, **rated},
            "rated_down": served is not None and served < USER_DEMOTE_BELOW}))  # fmt: skip
    return out
