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
