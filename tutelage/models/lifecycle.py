"""The school's life: member transitions, promotion, evolution and distillation data."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

from .peer import PeerPanel
from .roster import ALL_DOMAINS, Role, resolve_role
from .settings import JudgeSettings, PeerReviewSettings


class Action(StrEnum):
    PROMOTE = "promote"  # student -> ta -> teacher
    DEMOTE = "demote"  # teacher -> ta -> student -> probation
    RETIRE = "retire"  # anything -> retired
    ACTIVATE = "activate"  # probation or retired -> student


class MemberSpec(BaseModel):
    """What the school needs to call a member: from the config, or spawned by evolution."""

    id: str
    model: str
    role: Role = Role.STUDENT  # its role in every domain not listed in `roles`
    domains: list[str] = Field(default_factory=lambda: [ALL_DOMAINS])
    cost_model: str | None = None
    input_price: float | None = None
    output_price: float | None = None
    timeout_s: float = 60.0
    max_tokens: int | None = None
    api_base: str | None = None
    api_key_env: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    template: str | None = None  # the candidate it was spawned from
    spawned_for: str | None = None  # the gap domain it was spawned for


class Transition(BaseModel):
    member_id: str
    domain: str = ALL_DOMAINS
    action: Action
    from_role: Role
    to_role: Role
    reason: str = ""
    by: str = ""  # who asked: cli, promotion, evolution, ...
    at: str = ""  # ISO time, from the workflow clock


class TransitionRequest(BaseModel):
    """An Update to a MemberWorkflow: validated before it is accepted."""

    action: Action
    domain: str = ALL_DOMAINS
    reason: str = ""
    by: str = "cli"


class MemberState(BaseModel):
    spec: MemberSpec
    roles: dict[str, Role] = Field(default_factory=dict)  # per-domain overrides of spec.role
    exemplar_version: int = 0  # the exemplar bank version its prompts use (quality-gated)
    transitions: int = 0
    last: Transition | None = None

    def role_in(self, domain: str) -> Role:
        return resolve_role(self.spec.role, self.spec.domains, self.roles, domain)


class MemberWorkflowInput(BaseModel):
    state: MemberState
    supervisor: bool = False  # the supervisor cannot be demoted or retired
    # Set by continue-as-new: the roster row is already written.
    registered: bool = False


class RosterWrite(BaseModel):
    """Activity input: write a member's spec and roles (and the transition, if any)."""

    state: MemberState
    transition: Transition | None = None


class RosterWriteResult(BaseModel):
    written: bool = True


# -- promotion -------------------------------------------------------------------------------


class MemberDomainStats(BaseModel):
    """One member's judged record in one domain, from the ledger."""

    member_id: str
    domain: str
    judged: int = 0
    wins: int = 0  # scored within the win margin of the query's best score
    score_sum: float = 0.0
    agreements: int = 0  # scored within the win margin of the supervisor's score
    recent_scores: list[float] = Field(default_factory=list)  # newest first
    cost_usd: float = 0.0
    answers: int = 0  # calls made, judged or not
    failures: int = 0
    # Paired with the supervisor: the judged queries where the supervisor was scored too, and
    # the sum and sum of squares of (this member's score - the supervisor's) over them: what a
    # relative bar compares (the same queries, so a different mix cannot bias it).
    paired: int = 0
    paired_diff_sum: float = 0.0
    paired_diff_sq: float = 0.0
    # The supervisor's own judged record in this domain (same window).
    sup_judged: int = 0
    sup_score_sum: float = 0.0
    # Users' verdicts (judge `user`, policy/feedback.py), apart from the judge's above: how
    # many, wins among the query's user verdicts, their sum, and the paired difference with
    # the supervisor's user verdict on the queries users rated both (there `paired` above
    # leaves the judge's out); then the supervisor's own user record in the domain.
    user_judged: int = 0
    user_wins: int = 0
    user_score_sum: float = 0.0
    user_paired: int = 0
    user_paired_diff_sum: float = 0.0
    user_paired_diff_sq: float = 0.0
    sup_user_judged: int = 0
    sup_user_score_sum: float = 0.0


class Step(BaseModel):
    """One rung of the ladder: the bar a member must clear (Wilson lower bounds).

    The score bar is absolute (`min_score`), or relative to the supervisor (`max_deficit`): a
    member whose score difference with the supervisor, on the queries both were judged on, has
    a lower confidence bound of at least -max_deficit clears it (a student as good as its
    supervisor where the supervisor is weak, or better). With both set, either clears it; with
    `min_score` left out, only the relative bar counts.
    """

    min_judged: int
    min_score: float | None = None
    min_win_rate: float
    max_deficit: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _has_a_score_bar(self) -> Step:
        if self.min_score is None and self.max_deficit is None:
            raise ValueError("a promotion step needs min_score, max_deficit, or both")
        return self


class PromotionSettings(BaseModel):
    probation_to_student: Step = Field(default_factory=lambda: Step(min_judged=10, min_score=0.5,
                                                                    min_win_rate=0.3))  # fmt: skip
    student_to_ta: Step = Field(default_factory=lambda: Step(min_judged=30, min_score=0.75,
                                                             min_win_rate=0.60))  # fmt: skip
    ta_to_teacher: Step = Field(default_factory=lambda: Step(min_judged=50, min_score=0.85,
                                                             min_win_rate=0.70))  # fmt: skip
    demote_window: int = 20
    demote_below: float = 0.5
    # A TA or teacher below `demote_below` keeps its role while its recent mean stays within
    # this margin of the supervisor's mean in the domain (it is no worse than the supervisor).
    demote_margin: float = 0.05
    # Demote only when the upper Wilson bound (this z) of the recent mean is below both bars:
    # 20 answers are a noisy sample, and a role lost to noise is soon won back (flapping).
    # 0: the recent mean itself.
    demote_confidence_z: float = Field(0.0, ge=0)
    confidence_z: float = 1.0  # Wilson bound at about 84% one-sided
    # Promote in "*" (every domain at once) on the queries recorded before any domain was
    # assigned; off: roles are earned domain by domain (a stream that mixes unlike tasks).
    domain_wide: bool = True


class PlannedTransition(BaseModel):
    member_id: str
    domain: str
    action: Action
    reason: str


class StatsRequest(BaseModel):
    # At most this many recent queries; None: the configured evolution.cluster_window.
    window: int | None = None


class PairStats(BaseModel):
    """Two members' answers in one domain: how often they agreed, and how often an agreed
    answer was judged right (what a peer panel's reliability is)."""

    domain: str
    member_a: str
    member_b: str
    together: int = 0  # queries both answered
    agreed: int = 0
    agreed_judged: int = 0  # agreed, and member_a's answer was judged
    agreed_right: int = 0  # agreed, judged, and scored at least the pass score


class StatsResult(BaseModel):
    members: list[MemberDomainStats] = Field(default_factory=list)
    roster: list[MemberState] = Field(default_factory=list)
    supervisor: str = ""
    settings: PromotionSettings = Field(default_factory=PromotionSettings)
    win_margin: float = 0.02
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    pairs: list[PairStats] = Field(default_factory=list)
    # Each member's relative cost (the supervisor's answer is 1.0), for peer review's plan.
    costs: dict[str, float] = Field(default_factory=dict)
    peer_review: PeerReviewSettings = Field(default_factory=PeerReviewSettings)


class ApplyTransition(BaseModel):
    member_id: str
    request: TransitionRequest


class AppliedTransition(BaseModel):
    member_id: str
    applied: bool
    transition: Transition | None = None
    error: str = ""


class CycleInput(BaseModel):
    """Input of the promotion, evolution and distillation workflows."""

    reason: str = "schedule"


class PromotionResult(BaseModel):
    planned: list[PlannedTransition] = Field(default_factory=list)
    applied: list[AppliedTransition] = Field(default_factory=list)
    judges: dict[str, str] = Field(default_factory=dict)  # domains handed over to a teacher
    peers: dict[str, PeerPanel] = Field(default_factory=dict)  # domains on peer review


class HandoverWrite(BaseModel):
    judges: dict[str, str] = Field(default_factory=dict)
    peers: dict[str, PeerPanel] = Field(default_factory=dict)


# -- evolution -------------------------------------------------------------------------------


class DomainStats(BaseModel):
    domain: str
    queries: int = 0
    mean_best_score: float | None = None
    failure_rate: float = 0.0
    supervisor_share: float = 0.0  # share of its queries that called the supervisor


class Gap(BaseModel):
    domain: str
    severity: float
    reasons: list[str]
    # The domain answers well enough and fails little; it only leans on the supervisor, so
    # only a member cheaper than the supervisor can close it.
    cost_only: bool = False


class ThresholdRow(BaseModel):
    """One logged query, as counterfactual replay needs it."""

    nearest_similarity: float
    best_score: float  # the best visible score on it (what exploring bought)
    explore_cost: float  # what its judged route cost
    solo_score: float | None = None  # the cheapest solo-eligible member's score, when it answered
    solo_cost: float | None = None


class ThresholdChange(BaseModel):
    before: dict[str, float]
    after: dict[str, float]
    objective_before: float
    objective_after: float
    rows: int
    reason: str = ""


class EvolutionInputs(BaseModel):
    domains: list[DomainStats] = Field(default_factory=list)
    members: list[MemberDomainStats] = Field(default_factory=list)
    roster: list[MemberState] = Field(default_factory=list)
    candidates: list[MemberSpec] = Field(default_factory=list)
    threshold_rows: list[ThresholdRow] = Field(default_factory=list)
    routing: dict[str, float] = Field(default_factory=dict)
    supervisor: str = ""
    settings: EvolutionSettingsModel | None = None
    # For retiring a student from a domain it cannot earn: the TA bar, and the peer panels
    # (a panel member is worth its calls even where it cannot answer alone).
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)
    peers: dict[str, PeerPanel] = Field(default_factory=dict)
    pairs: list[PairStats] = Field(default_factory=list)
    costs: dict[str, float] = Field(default_factory=dict)  # relative costs (supervisor: 1.0)
    candidate_costs: dict[str, float] = Field(default_factory=dict)  # likewise, per candidate
    peer_review: PeerReviewSettings = Field(default_factory=PeerReviewSettings)


class EvolutionSettingsModel(BaseModel):
    gap_min_queries: int = 20
    gap_score_below: float = 0.7
    gap_failure_above: float = 0.2
    gap_supervisor_share_above: float = 0.8
    max_spawns_per_run: int = 2
    capacity_per_domain: int = 2
    prune_min_judged: int = 30
    prune_win_rate_below: float = 0.2
    # Retiring a student from one domain wants more confidence than promoting (z of its bounds).
    prune_confidence_z: float = 2.0
    # A student judged this often in a domain without earning it has had its chance there
    # (0: only retire where the bar is out of reach).
    prune_after_judged: int = Field(150, ge=0)
    cost_lambda: float = 0.3
    threshold_step: float = 0.01
    shadow_step: float = 0.05
    clusters: int = 0  # 0: chosen from the number of recent queries
    # k-means runs per discovery (each seeded apart), beside one refining the last domains;
    # the best fit wins.
    cluster_restarts: int = Field(4, ge=1)
    cluster_window: int = 2000


class DiscoverRequest(BaseModel):
    # None: the configured evolution.clusters (0: chosen from the data) and cluster_window.
    clusters: int | None = None
    window: int | None = None


class DiscoverResult(BaseModel):
    domains: list[str] = Field(default_factory=list)
    queries: int = 0


class SpawnPlan(BaseModel):
    spec: MemberSpec
    domain: str
    reason: str


class SettingsWrite(BaseModel):
    change: ThresholdChange


class EvolutionResult(BaseModel):
    discovered: list[str] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)
    spawned: list[SpawnPlan] = Field(default_factory=list)
    pruned: list[AppliedTransition] = Field(default_factory=list)
    tuning: ThresholdChange | None = None


# -- distillation ----------------------------------------------------------------------------

# The tenant of an exemplar banked before exemplars carried one (and of one in an old history):
# unknown, so it is shown to no tenant's query (`policy.distill.exemplar_tenants`).
UNKNOWN_TENANT = ""


class Exemplar(BaseModel):
    """A worked example for a student's prompt: the response, its reasoning, its scores."""

    exemplar_id: str
    domain: str
    question: str
    answer: str
    source: str
    score: float
    reasoning: str = ""
    version: int = 0  # the bank version that added it
    # The tenant whose query it answered: only that tenant's queries (or its shared pool's,
    # `distillation.shared_exemplar_tenants`) are shown it.
    tenant: str = UNKNOWN_TENANT


class DistillRequest(BaseModel):
    # None: the worker's configured values (distillation.min_score, distillation.window).
    min_score: float | None = None
    window: int | None = None


class DistillResult(BaseModel):
    learners: dict[str, int] = Field(default_factory=dict)  # member -> its bank version now
    held_out: int = 20  # how many judged queries the quality gate re-asks
    added: int = 0
    # Banked exemplars users took back since (rated below the bar, corrected, or a correction
    # a newer one replaced), deleted this run.
    withdrawn: int = 0
    bank_size: int = 0
    bank_version: int = 0
    exported: dict[str, int] = Field(default_factory=dict)  # member -> JSONL lines written
    # tenant -> member -> JSONL lines in data_dir/distill/<tenant>/<member>.jsonl
    exported_by_tenant: dict[str, dict[str, int]] = Field(default_factory=dict)
    # Exemplars banked before they carried a tenant, given theirs from the memory this run.
    tenants_restored: int = 0
    gates: list[GateResult] = Field(default_factory=list)


class GateRequest(BaseModel):
    member_id: str
    bank_version: int
    held_out: int = 20


class GateResult(BaseModel):
    member_id: str
    bank_version: int
    previous_version: int
    new_score: float | None = None
    old_score: float | None = None
    questions: int = 0
    accepted: bool = False
    reason: str = ""


class AdoptExemplars(BaseModel):
    """An Update to a MemberWorkflow: use this exemplar bank version from now on."""

    version: int
    reason: str = ""


class ApplyAdoption(BaseModel):
    member_id: str
    request: AdoptExemplars


class RosterRow(BaseModel):
    member_id: str
    model: str
    roles: dict[str, str]
    judged: int = 0
    win_rate: float | None = None
    mean_score: float | None = None
    cost_usd: float = 0.0
    answers: int = 0
    exemplar_version: int = 0
    last_transition: str = ""


class RosterReportRequest(BaseModel):
    window: int = 5000


class RosterReport(BaseModel):
    rows: list[RosterRow] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    transitions: list[Transition] = Field(default_factory=list)
    routing_changes: list[ThresholdChange] = Field(default_factory=list)


EvolutionInputs.model_rebuild()
DistillResult.model_rebuild()
