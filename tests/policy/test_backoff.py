"""When a dead child process is started again, and what a client is told to wait."""

from __future__ import annotations

from tutelage.policy.backoff import failures_in_a_row, restart_delay, retry_after_s


def test_restart_delay_doubles_and_is_capped() -> None:
    assert [restart_delay(n) for n in (0, 1, 2, 3, 4, 9)] == [1, 1, 2, 4, 8, 30]
    assert restart_delay(20, max_s=5) == 5


def test_a_child_that_ran_long_enough_starts_the_count_again() -> None:
    assert failures_in_a_row(0, ran_for_s=0.5, stable_after_s=60) == 1
    assert failures_in_a_row(3, ran_for_s=0.5, stable_after_s=60) == 4
    assert failures_in_a_row(3, ran_for_s=60, stable_after_s=60) == 1


def test_retry_after_is_what_is_left_of_the_delay_plus_a_start_at_least_one_second() -> None:
    assert retry_after_s(restart_in_s=4.0, startup_s=2.5) == 7
    assert retry_after_s(restart_in_s=-3.0, startup_s=2.2) == 3  # already restarting
    assert retry_after_s(restart_in_s=0.0, startup_s=0.0) == 1
