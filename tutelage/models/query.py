"""The query path's data: what goes in, what each step decides, what comes out."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from .lifecycle import Exemplar
from .peer import PeerCheck, PeerPanel
from .roster import Member
from .settings import JudgeSettings, Limits, PeerReviewSettings, RoutingSettings
from .structured import AnswerShape, ToolCall


class Route(StrEnum):
    NOVEL = "novel"  # nobody near: every active member answers, the supervisor judges
    HYBRID = "hybrid"  # somewhat near: the two best candidates answer, the supervisor judges
    FAMILIAR = "familiar"  # close neighbours: the best eligible member answers alone
    CACHE = "cache"  # the same question was answered before
    # Peer review: two cheap members answer; when they agree their answer stands, else the
    # supervisor answers (agreement judging) or judges (LLM judging).
    PEER = "peer"


class QueryInput(BaseModel):
    text: str
    domain: str | None = None
    tenant: str = "default"
    reference: str | None = None
    # Stable id of the query; the workflow id is derived from it.
    query_id: str = ""
    # What the route's coin flips (audit, shadow) are keyed on; default: the query id. A replayed
    # benchmark stream sets it so that every engine and run draws the same.
    draw_key: str = ""
    # The conversation before the question (system prompt, earlier turns), as chat messages
    # ({"role", "content"}; assistant turns may carry `tool_calls`, tool turns `tool_call_id`):
    # members see it; the cache never answers a query that has one.
    context: list[dict[str, Any]] = Field(default_factory=list)
    # The turns after the question in a tool loop (the assistant's tool calls, the tools'
    # results), in order: members see them after the question.
    followup: list[dict[str, Any]] = Field(default_factory=list)
    # What the answer must be: text, a JSON value (of a schema), or tool calls.
    shape: AnswerShape = Field(default_factory=AnswerShape)
    # A streamed request: the task queue of the gateway that holds its client's stream.
    stream_to: str = ""
    # This query's cost knob (a gateway preset such as `tutelage-cheap`); None: the school's.
    cost_weight: float | None = Field(None, ge=0)
    # Sampling settings the caller asked for (temperature, max_tokens, stop), passed to every
    # member's call over its configured params.
    call_params: dict[str, Any] = Field(default_factory=dict)
    # The API key whose budget or token rate this query counts against: the ledger records
    # the query's cost against it.
    charge_key: str | None = None
    # How the key's usage counters learn what the query cost: "settle" - the workflow settles
    # it in the school's shared counters (Redis) when it ends, so a gateway that dies
    # mid-request loses no charge; "gateway" - the gateway that admitted it settles its own
    # in-process counters. "signal" (histories from before the shared counters): the
    # KeysWorkflow was signalled.
    usage_settlement: str = "signal"


class Neighbour(BaseModel):
    """A past query near this one, with how each member scored on it."""

    query_id: str
    similarity: float
    text: str = ""
    domain: str | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    final_answer: str | None = None
    winner: str | None = None
    config_version: str = ""
    # Users rated the answer served for it down (below 0.5): never served again from cache.
    rated_down: bool = False


class SchoolSnapshot(BaseModel):
    """The roster and settings a query runs under, fixed in history for replay."""

    members: list[Member]
    supervisor: str
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    limits: Limits = Field(default_factory=Limits)
    config_version: str = ""
    # Learning cycles started every N recorded queries (cycle -> N; 0 or absent: never).
    cycles_every: dict[str, int] = Field(default_factory=dict)
    exemplars_k: int = 3  # worked examples in a learning member's prompt
    # Domains whose judging was handed over to a teacher (domain -> member id).
    judges: dict[str, str] = Field(default_factory=dict)
    # Domains where two cheap members review each other (domain, "*" for unclustered).
    peers: dict[str, PeerPanel] = Field(default_factory=dict)
    peer_review: PeerReviewSettings = Field(default_factory=PeerReviewSettings)

    def member(self, member_id: str) -> Member:
        for m in self.members:
            if m.id == member_id:
                return m
        raise KeyError(member_id)


class RecallRequest(BaseModel):
    query: QueryInput


class RecallResult(BaseModel):
    school: SchoolSnapshot
    # Histories from before the embedding stayed on the worker carry it here; now empty.
    embedding: list[float] = Field(default_factory=list)
    neighbours: list[Neighbour] = Field(default_factory=list)
    exact_match: Neighbour | None = None
    prompt_tokens: int = 0
    # The query's label, else its nearest discovered cluster (None before any exist).
    domain: str | None = None
    # Worked examples from the domain's exemplar bank for the members still learning it.
    exemplars: list[Exemplar] = Field(default_factory=list)


class RouteDecision(BaseModel):
    route: Route
    answerers: list[str]
    shadows: list[str] = Field(default_factory=list)
    judge: bool = True
    audit: bool = False
    nearest_similarity: float = 0.0
    estimates: dict[str, float] = Field(default_factory=dict)
    reason: str = ""
    # Who judges: a teacher the domain was handed over to, else (empty) the supervisor.
    judge_id: str = ""
    # Peer review: the panel that answers first; the supervisor steps in when it disagrees.
    panel: list[str] = Field(default_factory=list)


class AnswerRequest(BaseModel):
    query_id: str
    member_id: str
    model: str
    text: str
    timeout_s: float = 60.0
    # Worked examples from the exemplar bank (in-context distillation), oldest turn first.
    exemplars: list[Exemplar] = Field(default_factory=list)
    # The conversation before the question (QueryInput.context), and after it (followup).
    context: list[dict[str, Any]] = Field(default_factory=list)
    followup: list[dict[str, Any]] = Field(default_factory=list)
    # The caller's sampling settings (QueryInput.call_params).
    call_params: dict[str, Any] = Field(default_factory=dict)
    shape: AnswerShape = Field(default_factory=AnswerShape)
    # A streamed request's gateway queue: a member answering alone is first asked there, so
    # its tokens reach the client as they are generated (QueryInput.stream_to).
    stream_to: str = ""


class MemberAnswer(BaseModel):
    member_id: str
    text: str | None = None
    # Tool calls the member answered with (then `text` may be empty).
    tool_calls: list[ToolCall] = Field(default_factory=list)
    ttft_ms: float | None = None  # time to first token, where the provider reports it
    error: str | None = None
    error_kind: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    kind: str = "answer"  # answer | shadow (judged, never shown) | judge

    @property
    def ok(self) -> bool:
        return self.error is None and (self.text is not None or bool(self.tool_calls))

    @property
    def shadow(self) -> bool:
        return self.kind == "shadow"


class AspectScores(BaseModel):
    correctness: float = Field(ge=0, le=1)
    relevance: float = Field(ge=0, le=1)
    completeness: float = Field(ge=0, le=1)
    clarity: float = Field(ge=0, le=1)


class Verdict(BaseModel):
    member_id: str
    score: float | None = None  # None: unjudged
    aspects: AspectScores | None = None
    judge: str = ""  # "supervisor:<id>", "reference", "agreement", "none"
    reasoning: str = ""


class JudgeRequest(BaseModel):
    query_id: str
    question: str
    supervisor_id: str
    supervisor_model: str
    answers: list[MemberAnswer]
    judge: JudgeSettings
    timeout_s: float = 120.0


class JudgeResult(BaseModel):
    verdicts: list[Verdict]
    call: MemberAnswer | None = None  # the judge's own call, for the ledger
    attempts: int = 0
    error: str | None = None


class QueryResult(BaseModel):
    query_id: str
    workflow_id: str = ""
    tenant: str = "default"
    status: str = "ok"  # ok | failed
    answer: str | None = None
    # The winner's tool calls, when it answered with calls (then the answer is empty).
    tool_calls: list[ToolCall] = Field(default_factory=list)
    winner: str | None = None
    # The winner's role in the query's domain when it answered (student, ta, teacher).
    winner_role: str | None = None
    route: Route = Route.NOVEL
    nearest_similarity: float = 0.0
    members_asked: list[str] = Field(default_factory=list)
    scores: dict[str, float | None] = Field(default_factory=dict)
    calls: list[MemberAnswer] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    supervisor_only_cost_usd: float = 0.0
    supervisor_called: bool = False
    cache_hit: bool = False
    reason: str = ""
    error: str | None = None
    domain: str | None = None
    # Cycles (promotion, evolution, distillation) this query started, by workflow id.
    triggered: list[str] = Field(default_factory=list)
    # Peer review: whether the panel agreed (None: not on the peer route).
    panel_agreed: bool | None = None
    # Whether each two cheap members' answers agreed: what peer review's reliability is
    # learned from, on every route where two of them answered.
    agreements: list[PeerCheck] = Field(default_factory=list)


class RecordRequest(BaseModel):
    query: QueryInput
    # Empty: the worker kept the query's embedding since its recall (older histories carry it).
    embedding: list[float] = Field(default_factory=list)
    result: QueryResult
    config_version: str = ""
    domain: str | None = None


class RecordResult(BaseModel):
    calls_written: int = 0
    verdicts_written: int = 0
    memory_written: bool = False
    # How many queries the ledger holds after this one: the every-N-queries triggers read it.
    queries_recorded: int = 0
