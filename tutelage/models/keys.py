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
    # Optional limits (enforced by a later gateway version; stored now so keys keep them).
    budget_day_usd: float | None = Field(None, gt=0)
    budget_month_usd: float | None = Field(None, gt=0)
    requests_per_minute: int | None = Field(None, gt=0)
    tokens_per_minute: int | None = Field(None, gt=0)


class KeysInput(BaseModel):
    """The keys workflow's input; carries the keys across continue-as-new."""

    keys: dict[str, ApiKey] = Field(default_factory=dict)


class RevokeKey(BaseModel):
    key_id: str


class Admit(BaseModel):
    key_id: str


class Admission(BaseModel):
    allowed: bool
    retry_after_s: float = 0.0
    reason: str = ""
