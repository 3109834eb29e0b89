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

    def role_in(self, domain: str | None) -> Role:
        """The member's role in `domain`; outside its domains it is only a student."""
        if self.role == Role.RETIRED:
            return Role.RETIRED
        if ALL_DOMAINS in self.domains or (domain is not None and domain in self.domains):
            return self.role
        return Role.STUDENT if self.role != Role.PROBATION else Role.PROBATION

    @property
    def active(self) -> bool:
        return self.role not in (Role.RETIRED, Role.PROBATION)
