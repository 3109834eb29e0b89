"""API keys: their shape, and whether a presented key is a live one. Pure functions."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

from ..models.keys import Admission, ApiKey, KeySpend, KeyUsage, Reservation

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


# What a request's completion is assumed to run to when it states no max_tokens: its cost
# reservation prices this many output tokens at the supervisor's rate.
ASSUMED_COMPLETION_TOKENS = 512
# Characters per token for the reservation's prompt estimate (no tokenizer on the hot path).
CHARS_PER_TOKEN = 4


def current_usage(usage: KeyUsage, now: datetime) -> KeyUsage:
    """The usage with each window that has ended started afresh (the UTC day, the UTC month,
    the fixed one-minute window) and expired reservations dropped."""
    day, month, now_s = now.date().isoformat(), now.strftime("%Y-%m"), now.timestamp()
    u = usage.model_copy(update={"reserved": {
        qid: r for qid, r in usage.reserved.items() if r.expires_s > now_s}})  # fmt: skip
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


def has_budget(key: ApiKey) -> bool:
    return key.budget_day_usd is not None or key.budget_month_usd is not None


def reservation_usd(prompt_chars: int, max_tokens: int | None, input_price: float,
                    output_price: float) -> float:  # fmt: skip
    """What a request is held to cost until its query settles: the supervisor answering it
    alone, its prompt estimated from its length and its completion at `max_tokens` (or
    ASSUMED_COMPLETION_TOKENS)."""
    prompt_tokens = -(-prompt_chars // CHARS_PER_TOKEN)
    return prompt_tokens * input_price + (max_tokens or ASSUMED_COMPLETION_TOKENS) * output_price


def admit(key: ApiKey, usage: KeyUsage, now: datetime, query_id: str = "",
          reserve_usd: float = 0.0, hold_s: float = 0.0) -> tuple[Admission, KeyUsage]:  # fmt: skip
    """Whether one more request of the key may start, and its usage counting it if so.

    A budget admits a request while what was spent plus what requests in flight hold plus this
    one's reservation fits in it; the first request in flight is let through whenever anything
    is left (a budget smaller than one reservation still serves one request at a time). So the
    spend passes a budget by at most what the requests in flight cost beyond their
    reservations. An admitted request's reservation (`reserve_usd` under `query_id`) is held
    until `settle` or for `hold_s`. Budgets refuse until the day or month turns; rates until
    the minute turns.
    """
    u = current_usage(usage, now)
    held = u.reserved_usd
    budgets = (("day", key.budget_day_usd, u.day_usd, "00:00 UTC"),
               ("month", key.budget_month_usd, u.month_usd, "the 1st, 00:00 UTC"))  # fmt: skip
    for period, budget, spent, resets in budgets:
        if budget is None:
            continue
        if spent >= budget:
            return Admission(allowed=False, code="budget_exceeded", reason=(
                f"Budget reached for key {key.key_id} (tenant {key.tenant}): ${spent:.4f} spent "
                f"of its ${budget:g} per {period} budget (budget_{period}_usd); it resets at "
                f"{resets}.")), u  # fmt: skip
        if held > 0 and spent + held + reserve_usd > budget:
            # Room may come back as the requests in flight settle below their reservations.
            return Admission(allowed=False, code="rate_limit_exceeded", retry_after_s=1.0,
                             reason=(
                f"Budget nearly reached for key {key.key_id} (tenant {key.tenant}): ${spent:.4f}"
                f" spent and ${held:.4f} held by {len(u.reserved)} requests in flight, of its "
                f"${budget:g} per {period} budget (budget_{period}_usd); retry when they end.")), u  # fmt: skip
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
    if query_id and has_budget(key):
        u.reserved[query_id] = Reservation(usd=reserve_usd, expires_s=now.timestamp() + hold_s)
    return Admission(allowed=True), u


def charge(usage: KeyUsage, cost_usd: float, tokens: int, now: datetime,
           query_id: str = "") -> KeyUsage:  # fmt: skip
    """The usage with one answered query's cost and billed tokens added, and its reservation
    (if any) released."""
    u = current_usage(usage, now)
    u.reserved.pop(query_id, None)
    u.day_usd += cost_usd
    u.month_usd += cost_usd
    u.minute_tokens += tokens
    return u


def release(usage: KeyUsage, query_id: str, now: datetime) -> KeyUsage:
    """The usage with a request's reservation dropped (its query never started)."""
    u = current_usage(usage, now)
    u.reserved.pop(query_id, None)
    return u


def seeded(usage: KeyUsage | None, spend: KeySpend, key_id: str, now: datetime) -> KeyUsage:
    """A key's usage starting from the ledger's record of its spend this day and month, where
    the counters hold nothing newer (a fresh store, or one that lost its data)."""
    u = current_usage(usage or KeyUsage(), now)
    if spend.day == u.day:
        u.day_usd = max(u.day_usd, spend.day_usd.get(key_id, 0.0))
    if spend.month == u.month:
        u.month_usd = max(u.month_usd, spend.month_usd.get(key_id, 0.0))
    return u
