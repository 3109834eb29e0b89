"""API keys: their shape, and whether a presented key is a live one. Pure functions."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

from ..models.keys import Admission, ApiKey, KeyUsage

PREFIX = "tut"
_SHAPE = re.compile(r"^tut-([0-9a-f]{12})-([A-Za-z0-9_-]{20,100})$")


def compose_key(key_id: str, secret: str) -> str:
    return f"{PREFIX}-{key_id}-{secret}"


def key_id_of(presented: str) -> str | None:
    """The key id of a well-formed key, else None."""
    match = _SHAPE.match(presented)
    return match.group(1) if match else None


def key_hash(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def key_problem(presented: str, record: ApiKey | None,
                admin: bool = False) -> tuple[str, str] | None:  # fmt: skip
    """(code, message) when the key may not be used (for the dashboard: `admin`), else None."""
    if record is None or not hmac.compare_digest(record.sha256, key_hash(presented)):
        return "invalid_api_key", "Incorrect API key provided."
    if record.revoked_at:
        return "api_key_revoked", f"This API key was revoked at {record.revoked_at}."
    if admin and not record.admin:
        return "not_admin", f"Key {record.key_id} (tenant {record.tenant}) is not an admin key."
    return None


def bearer(header: str | None) -> str | None:
    """The key in an `Authorization: Bearer <key>` header."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def current_usage(usage: KeyUsage, now: datetime) -> KeyUsage:
    """The usage with each window that has ended started afresh: the UTC day, the UTC month
    and the fixed one-minute window."""
    day, month, now_s = now.date().isoformat(), now.strftime("%Y-%m"), now.timestamp()
    u = usage.model_copy()
    if u.day != day:
        u.day, u.day_usd = day, 0.0
    if u.month != month:
        u.month, u.month_usd = month, 0.0
    if now_s - u.minute_start_s >= 60.0:
        u.minute_start_s, u.minute_requests, u.minute_tokens = now_s - now_s % 60.0, 0, 0
    return u


def needs_charges(key: ApiKey) -> bool:
    """Whether the key's limits depend on what its queries cost (budgets, tokens per minute)."""
    return any(v is not None for v in (key.budget_day_usd, key.budget_month_usd,
                                       key.tokens_per_minute))  # fmt: skip


def has_limits(key: ApiKey) -> bool:
    return needs_charges(key) or key.requests_per_minute is not None


def admit(key: ApiKey, usage: KeyUsage, now: datetime) -> tuple[Admission, KeyUsage]:
    """Whether one more request of the key may start, and its usage counting it if so.

    Budgets are checked on what was spent before the request (its own cost is known only once
    it is answered, so the request that crosses a budget is the last one let through); they
    refuse until the day or month turns. Rates refuse until the minute turns.
    """
    u = current_usage(usage, now)
    budgets = (("day", key.budget_day_usd, u.day_usd, "00:00 UTC"),
               ("month", key.budget_month_usd, u.month_usd, "the 1st, 00:00 UTC"))  # fmt: skip
    for period, budget, spent, resets in budgets:
        if budget is not None and spent >= budget:
            return Admission(allowed=False, code="budget_exceeded", reason=(
                f"Budget reached for key {key.key_id} (tenant {key.tenant}): ${spent:.4f} spent "
                f"of its ${budget:g} per {period} budget (budget_{period}_usd); it resets at "
                f"{resets}.")), u  # fmt: skip
    retry = max(1.0, u.minute_start_s + 60.0 - now.timestamp())
    if key.tokens_per_minute is not None and u.minute_tokens >= key.tokens_per_minute:
        return Admission(allowed=False, code="rate_limit_exceeded", retry_after_s=retry, reason=(
            f"Rate limit reached for key {key.key_id}: {key.tokens_per_minute} tokens per "
            f"minute ({u.minute_tokens} used in this minute).")), u  # fmt: skip
    if key.requests_per_minute is not None and u.minute_requests >= key.requests_per_minute:
        return Admission(allowed=False, code="rate_limit_exceeded", retry_after_s=retry, reason=(
            f"Rate limit reached for key {key.key_id}: {key.requests_per_minute} requests per "
            f"minute.")), u  # fmt: skip
    u.minute_requests += 1
    return Admission(allowed=True), u


def charge(usage: KeyUsage, cost_usd: float, tokens: int, now: datetime) -> KeyUsage:
    """The usage with one answered query's cost and tokens added."""
    u = current_usage(usage, now)
    u.day_usd += cost_usd
    u.month_usd += cost_usd
    u.minute_tokens += tokens
    return u
