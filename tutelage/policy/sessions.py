"""Dashboard sessions: a signed token that expires, never the admin key itself. Pure functions.

A token is `<key_id>.<expires_unix>.<mac>`, the mac an HMAC-SHA256 of `<key_id>.<expires_unix>`
keyed by the admin key's stored hash (`ApiKey.sha256`: every gateway of the school reads it from
the school's keys, and it never leaves the school). So any gateway of the school checks a token
with no secret of its own, a token holds no part of the key, and revoking the key ends its
sessions as soon as the gateways see the revocation (within `gateway.key_cache_s`).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from ..models.keys import ApiKey

_SHAPE = re.compile(r"([0-9a-f]{12})\.([0-9]{1,12})\.([0-9a-f]{64})")
_LABEL = b"tutelage dashboard session\n"  # no other use of the key's hash signs the same bytes
# A token that expires further ahead than the session length (plus this, for clocks that
# differ between gateways) was not minted under the current `gateway.session_ttl_s`.
CLOCK_SKEW_S = 300


def _mac(record: ApiKey, key_id: str, expires: int) -> str:
    return hmac.new(record.sha256.encode(), _LABEL + f"{key_id}.{expires}".encode(),
                    hashlib.sha256).hexdigest()  # fmt: skip


def mint_session(record: ApiKey, now_s: float, ttl_s: float) -> str:
    """A session for the key's record, valid for `ttl_s` seconds from `now_s`."""
    expires = int(now_s + ttl_s)
    return f"{record.key_id}.{expires}.{_mac(record, record.key_id, expires)}"


def session_key_id(token: str) -> str | None:
    """The key id a well-formed token names (the record to look up), else None."""
    match = _SHAPE.fullmatch(token)
    return match.group(1) if match else None


def session_problem(token: str, record: ApiKey | None, now_s: float,
                    ttl_s: float) -> tuple[str, str] | None:  # fmt: skip
    """(code, message) when the token may not open the dashboard, else None. `record`: the key
    its key id names, as the school holds it now (None when there is none)."""
    match = _SHAPE.fullmatch(token)
    if match is None or record is None or record.key_id != match.group(1):
        return "invalid_session", "That session is not a valid one."
    key_id, expires, mac = match.group(1), int(match.group(2)), match.group(3)
    if not hmac.compare_digest(_mac(record, key_id, expires), mac):
        return "invalid_session", "That session is not a valid one."
    if expires <= now_s:
        return "session_expired", "The session has expired."
    if expires > now_s + ttl_s + CLOCK_SKEW_S:
        return "invalid_session", "That session outlasts gateway.session_ttl_s."
    if record.revoked_at:
        return "api_key_revoked", f"Key {key_id} was revoked at {record.revoked_at}."
    if not record.admin:
        return "not_admin", f"Key {key_id} (tenant {record.tenant}) is not an admin key."
    return None
