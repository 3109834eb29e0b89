"""Who is in the school: roles and members."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

ALL_DOMAINS = "*"


class Role(StrEnum):
    """A member's standing in one domain, from newest to most trusted."""

    PROBATION = "probation"
    STUDENT = "student"
    TA = "ta"
    TEACHER = "teacher"
    RETIRED = "retired"


def resolve_role(
    role: Role, domains: list[str], roles: dict[str, Role], domain: str | None
) -> Role:
    """A member's role in `domain`: its lifecycle roles first, then the configured role.

    `roles` holds what the member's lifecycle decided, per domain ("*" for all); a configured
    role applies in its configured domains, and outside them the member is only a student.
    """
    if roles.get(ALL_DOMAINS) == Role.RETIRED or (not roles and role == Role.RETIRED):
        return Role.RETIRED
    if domain is not None and domain in roles:
        return roles[domain]
    if ALL_DOMAINS in roles:
        return roles[ALL_DOMAINS]
    if ALL_DOMAINS in domains or (domain is not None and domain in domains):
        return role
    return Role.STUDENT if role != Role.PROBATION else Role.PROBATION


class Member(BaseModel):
    """One model of the school as the routing policy sees it."""

    id: str
    model: str
    role: Role = Role.STUDENT
    domains: list[str] = Field(default_factory=lambda: [ALL_DOMAINS])
    # Expected cost of one answer relative to the supervisor's; filled from prices.
    relative_cost: float = 1.0
    price_in: float = 0.0  # USD per input token
    price_out: float = 0.0  # USD per output token
    timeout_s: float = 60.0
    is_supervisor: bool = False
    # Per-domain roles decided by the member's lifecycle ("*": every domain).
    roles: dict[str, Role] = Field(default_factory=dict)
    # Which exemplar bank version its prompts use (0: none yet); set by distillation's gate.
    exemplar_version: int = 0

    def role_in(self, domain: str | None) -> Role:
        return resolve_role(self.role, self.domains, self.roles, domain)
