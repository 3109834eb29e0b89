"""API keys of the gateway: each names its tenant; only a hash of the secret is kept."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ApiKey(BaseModel):
    key_id: str  # the public part: `tut-<key_id>-<secret>`
    tenant: str
    sha256: str  # of the whole key; the key itself is shown once, when created
    name: str = ""
    created_at: str = ""
    revoked_at: str | None = None
    admin: bool = False  # may open the dashboard: every tenant's figures
    # Optional limits: budgets in USD per UTC day and month, rates per minute.
    budget_day_usd: float | None = Field(None, gt=0)
    budget_month_usd: float | None = Field(None, gt=0)
    requests_per_minute: int | None = Field(None, gt=0)
    tokens_per_minute: int | None = Field(None, gt=0)


class Reservation(BaseModel):
    """What an admitted request may cost, held against the key's budgets until its query's
    real cost settles it (or until `expires_s`, for a request whose gateway and run both
    vanished)."""

    usd: float = 0.0
    expires_s: float = 0.0


class KeyUsage(BaseModel):
    """What a key has used: spend in its UTC day and month, requests and tokens in its minute,
    and the reservations of its requests in flight (by query id)."""

    day: str = ""  # 2026-11-22
    day_usd: float = 0.0
    month: str = ""  # 2026-11
    month_usd: float = 0.0
    minute_start_s: float = 0.0
    minute_requests: int = 0
    minute_tokens: int = 0
    reserved: dict[str, Reservation] = Field(default_factory=dict)

    @property
    def reserved_usd(self) -> float:
        return sum(r.usd for r in self.reserved.values())


class KeysInput(BaseModel):
    """The keys workflow's input; carries the keys and their usage across continue-as-new."""

    keys: dict[str, ApiKey] = Field(default_factory=dict)
    usage: dict[str, KeyUsage] = Field(default_factory=dict)


class RevokeKey(BaseModel):
    key_id: str


class Admit(BaseModel):
    key_id: str


class Admission(BaseModel):
    allowed: bool
    retry_after_s: float = 0.0
    reason: str = ""
    # rate_limit_exceeded (retry after retry_after_s) or budget_exceeded (do not retry).
    code: str = ""

    @property
    def retryable(self) -> bool:
        return self.code != "budget_exceeded"


class Charge(BaseModel):
    """What one answered query cost a key: settles its reservation in the shared counters."""

    key_id: str
    query_id: str = ""
    cost_usd: float = 0.0
    tokens: int = 0


class Settled(BaseModel):
    counted: bool = False  # False: this query was settled before (a retried settlement)


class KeySpend(BaseModel):
    """Each key's spend in a UTC day and month, as the ledger holds it (the durable record the
    counters start from)."""

    day: str = ""
    month: str = ""
    day_usd: dict[str, float] = Field(default_factory=dict)
    month_usd: dict[str, float] = Field(default_factory=dict)


class KeySpendRequest(BaseModel):
    day: str  # 2026-11-22
    month: str  # 2026-11
