"""The stack's state as `tutelage up` reports it to the API: up, or restarting since when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tutelage.workers.stack_status import StackStatus

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


class _Clocks:
    def __init__(self) -> None:
        self.mono = 100.0

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.mono - 100.0)

    def clock(self) -> float:
        return self.mono


def test_a_death_then_a_return_is_reported_with_a_retry_after() -> None:
    c = _Clocks()
    status = StackStatus(clock=c.clock, wall=c.wall, since=c.wall())
    assert status.temporal_up and status.retry_after_s() is None
    assert status.temporal_state() == {"temporal": "up", "restarts": 0, "last_exit": None,
                                       "since": "2026-11-22T12:00:00+00:00",
                                       "retry_after_s": None}  # fmt: skip
    c.mono = 110.0
    status.temporal_died("signal SIGKILL", restart_in_s=1.0)
    assert not status.temporal_up
    assert status.temporal_state() == {"temporal": "restarting", "restarts": 1,
                                       "last_exit": "signal SIGKILL",
                                       "since": "2026-11-22T12:00:10+00:00",
                                       "retry_after_s": 4}  # fmt: skip  # 1 s + a 3 s start
    c.mono = 112.0  # restarted, not answering yet
    assert status.retry_after_s() == 3
    status.temporal_died("did not answer", restart_in_s=2.0)  # a failed restart
    state = status.temporal_state()
    assert state["restarts"] == 2 and state["since"] == "2026-11-22T12:00:10+00:00"
    c.mono = 115.0
    status.temporal_serving(startup_s=1.5)
    assert status.temporal_state() == {"temporal": "up", "restarts": 2,
                                       "last_exit": "did not answer",
                                       "since": "2026-11-22T12:00:15+00:00",
                                       "retry_after_s": None}  # fmt: skip
    c.mono = 120.0
    status.temporal_died("signal SIGKILL", restart_in_s=1.0)
    assert status.retry_after_s() == 3  # 1 s + the 1.5 s it took last time, rounded up
