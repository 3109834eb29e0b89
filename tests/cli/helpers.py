"""Running the real command line from async tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys


async def cli(*args: str, timeout: float = 180,
              columns: int = 250) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`python -m tutelage ARGS` in a thread, on a terminal `columns` wide (by default wide
    enough that rich tables do not fold)."""
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tutelage", *args], capture_output=True,
        text=True, timeout=timeout, env={**os.environ, "COLUMNS": str(columns)},
    )  # fmt: skip
