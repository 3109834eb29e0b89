"""Every decision of the school, as pure functions of plain data (no I/O, no Temporal)."""

from .answers import (
    RECORDED_CORRECT,
    RECORDED_INCORRECT,
    agreement_score,
    final_choice,
    final_number,
    reference_score,
)
from .cache import normalize, pick_cache_hit, same_polarity
from .cost import Price, relative_costs, supervisor_only_cost
from .judging import (
    JudgeOutput,
    MalformedJudgeOutput,
    judge_messages,
    label_answers,
    parse_judge_reply,
    retry_message,
    weighted_score,
)
from .routing import estimate_quality, route, similarity_weight
from .sampling import stable_shuffle, stable_uniform
from .scoring import pick_winner, programmatic_verdicts

__all__ = [
    "RECORDED_CORRECT",
    "RECORDED_INCORRECT",
    "JudgeOutput",
    "MalformedJudgeOutput",
    "Price",
    "agreement_score",
    "estimate_quality",
    "final_choice",
    "final_number",
    "judge_messages",
    "label_answers",
    "normalize",
    "parse_judge_reply",
    "pick_cache_hit",
    "pick_winner",
    "programmatic_verdicts",
    "reference_score",
    "relative_costs",
    "retry_message",
    "route",
    "same_polarity",
    "similarity_weight",
    "stable_shuffle",
    "stable_uniform",
    "supervisor_only_cost",
    "weighted_score",
]
