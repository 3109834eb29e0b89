"""When a supervised child process (the Temporal dev server, the local-model worker) that died
is started again, and how long a client is told to wait meanwhile.

A child that crashes at once is not spun: each death soon after a start doubles the delay; a
child that ran long enough counts as healthy again and its next death waits the least.
"""

from __future__ import annotations

import math


def failures_in_a_row(previous: int, ran_for_s: float, stable_after_s: float) -> int:
    """The count after one more death: 1 when the child had run `stable_after_s` or longer
    (it was healthy), else one more than `previous`."""
    return 1 if ran_for_s >= stable_after_s else previous + 1


def restart_delay(failures: int, max_s: float = 30.0) -> float:
    """1, 2, 4, ... seconds after the 1st, 2nd, 3rd death in a row, at most `max_s`."""
    return float(min(max_s, 2 ** max(0, failures - 1)))


def retry_after_s(restart_in_s: float, startup_s: float) -> int:
    """Whole seconds, at least 1, a client should wait before retrying: what is left of the
    restart delay plus the time the child took to start last time."""
    return max(1, math.ceil(max(0.0, restart_in_s) + max(0.0, startup_s)))
