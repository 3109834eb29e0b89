"""Policy settings: the knobs the pure decision functions read.

They live in the domain model (not only in the config file) because workflows receive them
through activity results, so a run replays with the settings it was started under.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, model_validator


class JudgeMode(StrEnum):
    """How answers are scored when the query carries no reference answer."""

    LLM = "llm"  # the supervisor scores each answer through a structured-output prompt
    AGREEMENT = "agreement"  # label-free: an answer is right when it agrees with the supervisor's


class JudgeWeights(BaseModel):
    correctness: float = Field(0.4, ge=0)
    relevance: float = Field(0.3, ge=0)
    completeness: float = Field(0.2, ge=0)
    clarity: float = Field(0.1, ge=0)

    @model_validator(mode="after")
    def _positive_total(self) -> JudgeWeights:
        if self.correctness + self.relevance + self.completeness + self.clarity <= 0:
            raise ValueError("at least one judge weight must be positive")
        return self


class RoutingKnobs(BaseModel):
    """The routing settings of the config file's [routing] table (thresholds are the embedder's)."""

    k: int = Field(16, ge=1, le=256)
    shadow_rate: float = Field(0.1, ge=0, le=1)
    ta_audit_rate: float = Field(0.2, ge=0, le=1)
    teacher_audit_rate: float = Field(0.05, ge=0, le=1)
    win_margin: float = Field(0.02, ge=0, le=1)
    # The one cost knob: utility = estimated quality - cost_weight * relative cost.
    cost_weight: float = Field(0.3, ge=0)
    # Prior belief in an unseen member's quality, worth `prior_weight` neighbours.
    prior_quality: float = Field(0.5, ge=0, le=1)
    prior_weight: float = Field(1.0, gt=0)
    # Sharpness of similarity weighting: a neighbour weighs
    # exp((similarity - nearest similarity) / temperature).
    similarity_temperature: float = Field(0.02, gt=0)
    # Route by what the school knows of the query's domain: familiar when it has a TA or
    # teacher (or a peer panel), else hybrid (the school learns it), unless the query is novel
    # (nearest below low_threshold); high_threshold is then unused. Off: by similarity alone.
    trust_domains: bool = False
    # With a reference answer to judge by, the chance that the supervisor answers beside the
    # two students of a hybrid query even when one of them passes: what they are compared with.
    pair_rate: float = Field(0.3, ge=0, le=1)


class RoutingSettings(RoutingKnobs):
    """Thresholds are per embedder: cosine scales differ between embedding models."""

    low_threshold: float = Field(0.90, ge=-1, le=1)
    high_threshold: float = Field(0.93, ge=-1, le=1)
    cache_threshold: float = Field(0.985, ge=-1, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> RoutingSettings:
        if self.low_threshold > self.high_threshold:
            raise ValueError(
                f"low_threshold ({self.low_threshold}) must not exceed "
                f"high_threshold ({self.high_threshold})"
            )
        return self


class JudgeSettings(BaseModel):
    mode: JudgeMode = JudgeMode.LLM
    weights: JudgeWeights = Field(default_factory=JudgeWeights)
    # An answer at or above this weighted score counts as a pass (for win and quality rates).
    pass_score: float = Field(0.5, ge=0, le=1)
    # Hand-over: a teacher whose answers agree with the supervisor's at this rate (Wilson lower
    # bound) over at least `handover_window` judged answers judges its domain instead; the
    # supervisor still judges `judge_audit_rate` of those queries.
    handover_agreement: float = Field(0.9, ge=0, le=1)
    handover_window: int = Field(50, ge=1)
    judge_audit_rate: float = Field(0.1, ge=0, le=1)


class PeerReviewSettings(BaseModel):
    """Peer review: when two cheap members' agreement is trusted to stand for the supervisor."""

    enabled: bool = True
    # A pair's agreed answers must have been judged right this often (Wilson lower bound,
    # promotion.confidence_z) over at least `min_agreed` judged agreements in the domain.
    min_reliability: float = Field(0.9, ge=0, le=1)
    min_agreed: int = Field(20, ge=1)
    # Chance the supervisor also answers when a panel agrees, so that reliability stays
    # measured under agreement judging (which has no other way to check an agreed answer).
    audit_rate: float = Field(0.1, ge=0, le=1)


class Limits(BaseModel):
    max_query_chars: int = Field(16_000, ge=1)
    tenants: list[str] = Field(default_factory=lambda: ["default"])
    # Domain labels a query may carry; empty: any label. Unlabelled queries get a cluster.
    domains: list[str] = Field(default_factory=list)
