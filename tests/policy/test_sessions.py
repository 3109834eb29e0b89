"""Dashboard sessions as plain data: a signed token that expires, tied to a live admin key."""

from __future__ import annotations

import pytest

from tutelage.models.keys import ApiKey
from tutelage.policy.keys import compose_key, key_hash
from tutelage.policy.sessions import CLOCK_SKEW_S, mint_session, session_key_id, session_problem

NOW, TTL = 1_800_000_000.0, 8 * 3600.0
SECRET = "s3cretpart_of-the-key-0123"
KEY = compose_key("abcdef012345", SECRET)


def _admin(**changes: object) -> ApiKey:
    return ApiKey.model_validate({"key_id": "abcdef012345", "tenant": "default",
                                  "sha256": key_hash(KEY), "admin": True, **changes})  # fmt: skip


def _code(token: str, record: ApiKey | None, now: float = NOW) -> str | None:
    problem = session_problem(token, record, now, TTL)
    return problem[0] if problem else None


def test_a_session_opens_until_it_expires_and_holds_no_part_of_the_key() -> None:
    token = mint_session(_admin(), NOW, TTL)
    assert session_key_id(token) == "abcdef012345"
    assert SECRET not in token and KEY not in token and key_hash(KEY) not in token
    assert _code(token, _admin()) is None
    assert _code(token, _admin(), NOW + TTL - 1) is None
    assert _code(token, _admin(), NOW + TTL) == "session_expired"
    assert _code(token, _admin(), NOW + TTL + 3600) == "session_expired"


def test_a_tampered_token_is_refused() -> None:
    token = mint_session(_admin(), NOW, TTL)
    key_id, expires, mac = token.split(".")
    later = f"{key_id}.{int(expires) + 3600}.{mac}"
    flipped = f"{key_id}.{expires}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}"
    other_id = f"abcdef012346.{expires}.{mac}"
    assert _code(later, _admin()) == "invalid_session"
    assert _code(flipped, _admin()) == "invalid_session"
    # Another key's id: its record is looked up, and the mac is not its own.
    assert _code(other_id, _admin(key_id="abcdef012346")) == "invalid_session"
    # A record that is not the one the token names.
    assert _code(token, _admin(key_id="abcdef012346")) == "invalid_session"


def test_a_session_of_another_key_or_a_replaced_key_is_refused() -> None:
    token = mint_session(_admin(), NOW, TTL)
    other = compose_key("abcdef012345", "another-secret-of-20-chars")
    assert _code(token, _admin(sha256=key_hash(other))) == "invalid_session"
    assert _code(token, None) == "invalid_session"  # no such key (any more)


def test_a_revoked_or_non_admin_key_ends_its_sessions() -> None:
    token = mint_session(_admin(), NOW, TTL)
    assert _code(token, _admin(revoked_at="2027-01-15T08:00:00+00:00")) == "api_key_revoked"
    assert _code(token, _admin(admin=False)) == "not_admin"
    problem = session_problem(token, _admin(admin=False), NOW, TTL)
    assert problem is not None and "is not an admin key" in problem[1]


def test_a_session_longer_than_the_setting_is_refused() -> None:
    """A session minted under a longer session_ttl_s ends when the setting is lowered."""
    long = mint_session(_admin(), NOW, TTL * 3)
    assert _code(long, _admin()) == "invalid_session"
    skewed = mint_session(_admin(), NOW + CLOCK_SKEW_S - 1, TTL)  # another gateway's clock
    assert _code(skewed, _admin()) is None


MAC = "0" * 64


@pytest.mark.parametrize("token", [
    "", "abc", "abcdef012345", "abcdef012345..", "abcdef012345.1800000000",
    f"abcdef012345.-1.{MAC}", f"abcdef012345.1e9.{MAC}", f"ABCDEF012345.1800000000.{MAC}",
    f"abcdef012345.1800000000.{MAC[1:]}", "abcdef012345.1800000000." + "g" * 64,
    f"abcdef012345.1800000000.{MAC}.x", f"abcdef012345.1800000000.{MAC}\n",
    f"abcdef012345.1234567890123.{MAC}", f"tut-abcdef012345-{SECRET}",
])  # fmt: skip
def test_malformed_tokens_are_refused(token: str) -> None:
    assert session_key_id(token) is None
    assert _code(token, _admin()) == "invalid_session"


def test_a_well_formed_forged_token_is_refused() -> None:
    forged = f"abcdef012345.{int(NOW) + 60}.{MAC}"
    assert session_key_id(forged) == "abcdef012345"
    assert _code(forged, _admin()) == "invalid_session"
