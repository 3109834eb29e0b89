"""One store owner per data directory: an exclusive lock held while the stores are open.

DuckDB allows one writing process and LanceDB's concurrent writers are unsafe, so a second
process that opened the same directory (a second worker, a store owner started for failover
while the first still runs) would fail late or corrupt the files. The owner takes an exclusive
`flock` on `data_dir/store.lock` first; the kernel drops it when the owner exits, however it
exits, so a successor on the same directory (a shared volume included, where the filesystem
supports flock) starts as soon as the first is gone, and never while it lives.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path

LOCK_FILE = "store.lock"


class StoreOwnedError(RuntimeError):
    """Another live process owns this data directory's stores."""


class StoreLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreOwnedError(
                f"the data directory {self.path.parent} is owned by another store owner "
                f"({holder}); one process owns a school's stores: stop that one first, or give "
                "this one another data_dir (another school)"
            ) from None
        stamp = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, stamp.encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
