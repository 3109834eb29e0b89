"""The pydantic domain model: every workflow and activity takes one of these and returns one."""

from .query import (
    AnswerRequest,
    AspectScores,
    JudgeRequest,
    JudgeResult,
    MemberAnswer,
    Neighbour,
    QueryInput,
    QueryResult,
    RecallRequest,
    RecallResult,
    RecordRequest,
    RecordResult,
    Route,
    RouteDecision,
    SchoolSnapshot,
    Verdict,
)
from .roster import ALL_DOMAINS, Member, Role
from .settings import JudgeMode, JudgeSettings, JudgeWeights, Limits, RoutingSettings

__all__ = [
    "ALL_DOMAINS",
    "AnswerRequest",
    "AspectScores",
    "JudgeMode",
    "JudgeRequest",
    "JudgeResult",
    "JudgeSettings",
    "JudgeWeights",
    "Limits",
    "Member",
    "MemberAnswer",
    "Neighbour",
    "QueryInput",
    "QueryResult",
    "RecallRequest",
    "RecallResult",
    "RecordRequest",
    "RecordResult",
    "Role",
    "Route",
    "RouteDecision",
    "RoutingSettings",
    "SchoolSnapshot",
    "Verdict",
]
