"""Key limits as plain data: budgets per UTC day and month, requests and tokens per minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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


def test_a_budget_holds_reservations_so_a_burst_cannot_pass_it() -> None:
    """Concurrent requests: each admitted one holds its reservation until it settles, so a
    budget with room for three reservations ($0.035, $0.01 each) admits three, whatever the burst."""
    from tutelage.policy.keys import release

    key, u = _key(budget_day_usd=0.035), KeyUsage()
    decisions = []
    for i in range(10):
        a, u = admit(key, u, NOON, f"q{i}", reserve_usd=0.01, hold_s=60)
        decisions.append(a.allowed)
    assert decisions == [True] * 3 + [False] * 7
    refused, _ = admit(key, u, NOON, "q10", reserve_usd=0.01, hold_s=60)
    assert refused.code == "rate_limit_exceeded" and refused.retryable  # room may come back
    assert "3 requests in flight" in refused.reason
    # One settles below its reservation: room for one more.
    u = charge(u, 0.002, 50, NOON, "q0")
    assert u.reserved_usd == 0.02 and u.day_usd == 0.002
    ok, u = admit(key, u, NOON, "q11", reserve_usd=0.01, hold_s=60)
    assert ok.allowed
    u = release(u, "q11", NOON)  # a query that never started gives its hold back
    assert set(u.reserved) == {"q1", "q2"}


def test_a_reservation_lapses_after_its_hold() -> None:
    key, u = _key(budget_day_usd=0.01), KeyUsage()
    _, u = admit(key, u, NOON, "q1", reserve_usd=0.01, hold_s=30)
    refused, u = admit(key, u, NOON + timedelta(seconds=10), "q2", reserve_usd=0.01, hold_s=30)
    later, u = admit(key, u, NOON + timedelta(seconds=31), "q3", reserve_usd=0.01, hold_s=30)
    assert not refused.allowed and later.allowed and set(u.reserved) == {"q3"}


def test_a_budget_smaller_than_one_reservation_serves_one_request_at_a_time() -> None:
    key, u = _key(budget_day_usd=0.001), KeyUsage()
    first, u = admit(key, u, NOON, "q1", reserve_usd=0.01, hold_s=60)
    second, u = admit(key, u, NOON, "q2", reserve_usd=0.01, hold_s=60)
    assert first.allowed and not second.allowed
    u = charge(u, 0.0004, 10, NOON, "q1")
    assert admit(key, u, NOON, "q3", reserve_usd=0.01, hold_s=60)[0].allowed


def test_keys_without_a_budget_hold_nothing_and_the_ledger_seeds_a_fresh_store() -> None:
    from tutelage.models.keys import KeySpend
    from tutelage.policy.keys import reservation_usd, seeded

    rpm_only = _key(requests_per_minute=10)
    _, u = admit(rpm_only, KeyUsage(), NOON, "q1", reserve_usd=0.5, hold_s=60)
    assert u.reserved == {}
    spend = KeySpend(day="2026-11-22", month="2026-11", day_usd={"abcdef012345": 0.2},
                     month_usd={"abcdef012345": 0.7})  # fmt: skip
    s = seeded(None, spend, "abcdef012345", NOON)
    assert (s.day_usd, s.month_usd) == (0.2, 0.7)
    ahead = charge(s, 0.1, 0, NOON)  # counters ahead of the ledger keep their figure
    assert seeded(ahead, spend, "abcdef012345", NOON).day_usd == pytest.approx(0.3)
    tomorrow = seeded(None, spend, "abcdef012345", datetime(2026, 11, 23, tzinfo=UTC))
    assert (tomorrow.day_usd, tomorrow.month_usd) == (0.0, 0.7)
    # 400 characters: 100 prompt tokens; no max_tokens: the assumed 512 completion tokens.
    assert reservation_usd(400, None, 1e-5, 3e-5) == pytest.approx(100 * 1e-5 + 512 * 3e-5)
    assert reservation_usd(400, 10, 1e-5, 3e-5) == pytest.approx(100 * 1e-5 + 10 * 3e-5)
