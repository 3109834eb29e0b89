"""Running the real command line from async tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys


async def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`python -m tutelage ARGS` in a thread, with a wide terminal (rich tables do not fold)."""
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tutelage", *args], capture_output=True,
        text=True, timeout=timeout, env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip
