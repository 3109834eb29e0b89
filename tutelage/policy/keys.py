"""API keys: their shape, and whether a presented key is a live one. Pure functions."""

from __future__ import annotations

import hashlib
import hmac
import re

from ..models.keys import ApiKey

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


def key_problem(presented: str, record: ApiKey | None) -> tuple[str, str] | None:
    """(code, message) when the key may not be used, else None."""
    if record is None or not hmac.compare_digest(record.sha256, key_hash(presented)):
        return "invalid_api_key", "Incorrect API key provided."
    if record.revoked_at:
        return "api_key_revoked", f"This API key was revoked at {record.revoked_at}."
    return None


def bearer(header: str | None) -> str | None:
    """The key in an `Authorization: Bearer <key>` header."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def rate_decision(
    now_s: float, window_start_s: float, used: int, per_minute: int
) -> tuple[bool, float, int, float]:
    """A fixed one-minute window: (allowed, the window's start, requests counted in it, seconds
    until a refused request may retry)."""
    if now_s - window_start_s >= 60.0:
        window_start_s, used = now_s - (now_s % 60.0), 0
    if used < per_minute:
        return True, window_start_s, used + 1, 0.0
    return False, window_start_s, used, max(1.0, window_start_s + 60.0 - now_s)
