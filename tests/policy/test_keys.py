"""Key limits as plain data: budgets per UTC day and month, requests and tokens per minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tutelage.models.keys import ApiKey, KeyUsage
from tutelage.policy.keys import admit, charge, has_limits, needs_charges

NOON = datetime(2026, 11, 22, 12, 0, 10, tzinfo=UTC)


def _key(**limits: float) -> ApiKey:
    return ApiKey(key_id="abcdef012345", tenant="acme", sha256="0" * 64, **limits)


def test_a_request_window_counts_and_resets_each_minute() -> None:
    key, u = _key(requests_per_minute=2), KeyUsage()
    first, u = admit(key, u, NOON)
    second, u = admit(key, u, NOON + timedelta(seconds=20))
    refused, u = admit(key, u, NOON + timedelta(seconds=30))
    assert first.allowed and second.allowed and not refused.allowed
    assert refused.code == "rate_limit_exceeded" and refused.retryable
    assert refused.retry_after_s == 20.0  # the window started at 12:00:00
    assert "2 requests per minute" in refused.reason
    again, u = admit(key, u, NOON + timedelta(seconds=51))
    assert again.allowed and u.minute_requests == 1


def test_tokens_per_minute_count_what_answered_queries_used() -> None:
    key, u = _key(tokens_per_minute=100), KeyUsage()
    ok, u = admit(key, u, NOON)
    u = charge(u, 0.001, 60, NOON + timedelta(seconds=1))
    ok2, u = admit(key, u, NOON + timedelta(seconds=2))
    u = charge(u, 0.001, 60, NOON + timedelta(seconds=3))
    refused, u = admit(key, u, NOON + timedelta(seconds=4))
    assert ok.allowed and ok2.allowed and not refused.allowed
    assert "100 tokens per minute (120 used in this minute)" in refused.reason
    assert refused.retryable and refused.retry_after_s == 46.0  # at 12:00:14
    assert admit(key, u, NOON + timedelta(minutes=1))[0].allowed


def test_a_day_budget_refuses_until_the_day_turns_and_names_itself() -> None:
    key, u = _key(budget_day_usd=0.01), KeyUsage()
    u = charge(u, 0.006, 10, NOON)
    assert admit(key, u, NOON)[0].allowed  # $0.006 spent: under the budget
    u = charge(u, 0.006, 10, NOON)
    refused, u = admit(key, u, NOON + timedelta(hours=1))
    assert not refused.allowed and not refused.retryable and refused.code == "budget_exceeded"
    assert "$0.0120 spent of its $0.01 per day budget (budget_day_usd)" in refused.reason
    assert "00:00 UTC" in refused.reason and "acme" in refused.reason
    tomorrow = datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC)
    allowed, u = admit(key, u, tomorrow)
    assert allowed.allowed and u.day == "2026-11-23" and u.day_usd == 0.0
    assert u.month_usd == 0.012  # the month goes on


def test_a_month_budget_spans_days_and_resets_with_the_month() -> None:
    key, u = _key(budget_month_usd=1.0, budget_day_usd=5.0), KeyUsage()
    for day in range(1, 4):
        u = charge(u, 0.4, 0, datetime(2026, 11, day, 9, tzinfo=UTC))
    refused, u = admit(key, u, datetime(2026, 11, 4, 9, tzinfo=UTC))
    assert refused.code == "budget_exceeded" and "per month budget (budget_month_usd)" in refused.reason
    assert admit(key, u, datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC))[0].allowed


def test_which_keys_are_limited_and_which_are_charged() -> None:
    assert not has_limits(_key()) and not needs_charges(_key())
    assert has_limits(_key(requests_per_minute=5)) and not needs_charges(_key(requests_per_minute=5))
    for limit in ("budget_day_usd", "budget_month_usd", "tokens_per_minute"):
        assert needs_charges(_key(**{limit: 1})) and has_limits(_key(**{limit: 1}))


def test_only_a_live_admin_key_opens_the_dashboard() -> None:
    from tutelage.policy.keys import compose_key, key_hash, key_problem

    presented = compose_key("abcdef012345", "s" * 32)
    plain = _key().model_copy(update={"sha256": key_hash(presented)})
    admin = plain.model_copy(update={"admin": True})
    assert key_problem(presented, plain) is None
    assert key_problem(presented, plain, admin=True) == (
        "not_admin", "Key abcdef012345 (tenant acme) is not an admin key.")  # fmt: skip
    assert key_problem(presented, admin, admin=True) is None
    revoked = admin.model_copy(update={"revoked_at": "2026-11-22T00:00:00"})
    assert key_problem(presented, revoked, admin=True)[0] == "api_key_revoked"  # type: ignore[index]
