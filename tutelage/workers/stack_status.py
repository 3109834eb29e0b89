"""What `tutelage up` knows of the Temporal dev server it started: serving, or dead and being
restarted (since when, after what exit, how long a client should wait).

`tutelage up` creates one `StackStatus`, its `DevServerProcess` keeps it current, and the API
reads it: while the server is restarting a request is answered 503 with `Retry-After` at once
(instead of waiting on a server that is not there), and `/health/readiness` says what happened.
Everything runs on one event loop: no locking.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from ..policy.backoff import retry_after_s

TemporalState = Literal["up", "restarting"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class StackStatus:
    # What a restart took, until one has been measured: the dev server starts in 2-5 s.
    startup_s: float = 3.0
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = _now
    state: TemporalState = "up"
    restarts: int = 0  # deaths (or failed restarts) it was restarted after
    last_exit: str | None = None  # "signal SIGKILL", "exit status 1", ...
    since: datetime = field(default_factory=_now)
    _restart_at: float = 0.0

    @property
    def temporal_up(self) -> bool:
        return self.state == "up"

    def temporal_died(self, what: str, restart_in_s: float) -> None:
        """The server died (`what`: how) and is started again in `restart_in_s`."""
        if self.state == "up":
            self.since = self.wall()
        self.state = "restarting"
        self.restarts += 1
        self.last_exit = what
        self._restart_at = self.clock() + restart_in_s

    def temporal_serving(self, startup_s: float) -> None:
        """The server answers, `startup_s` after it was (re)started."""
        if self.state != "up":
            self.since = self.wall()
        self.state = "up"
        self.startup_s = startup_s

    def retry_after_s(self) -> int | None:
        """Whole seconds until the server should answer again; None while it is up."""
        if self.state == "up":
            return None
        return retry_after_s(self._restart_at - self.clock(), self.startup_s)

    def temporal_state(self) -> dict[str, object]:
        """For `/health/readiness`: {"temporal": "up"|"restarting", "restarts": n,
        "last_exit": "signal SIGKILL"|None, "since": ISO time, "retry_after_s": n|None}."""
        return {
            "temporal": self.state,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "since": self.since.isoformat(timespec="seconds"),
            "retry_after_s": self.retry_after_s(),
        }
