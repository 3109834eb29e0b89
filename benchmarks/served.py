"""What the benchmarks share: waiting for a process they started to serve HTTP."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 120) -> None:
    """Until `url` answers 200; exits with the process's log when it dies or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not come up:\n{log.read_text()[-3000:]}")
