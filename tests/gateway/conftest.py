"""A school served by a real `tutelage serve` process, against the suite's Temporal server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tutelage.config import TutelageConfig, load_config
from tutelage.workers.devserver import free_port
from tutelage.workers.processes import die_with_parent

SCHOOL = """
supervisor = "sup"
data_dir = "data"
[temporal]
task_queue = "{queue}"
[embedder]
low_threshold = 0.5
high_threshold = 0.6
cache_threshold = 0.9999
[routing]
shadow_rate = 0.0
ta_audit_rate = 0.0
teacher_audit_rate = 0.0
[judge]
mode = "agreement"
[limits]
max_query_chars = 2000
tenants = ["default", "acme", "globex"]
[gateway]
auth = "{auth}"
port = {port}
request_timeout_s = {timeout}
keepalive_s = 0.05
counters = "{counters}"
[[members]]
id = "sup"
model = "{sup_model}"
role = "teacher"
input_price = 0.00001
output_price = 0.00003
{sup_extra}
[[members]]
id = "stu"
model = "{stu_model}"
role = "ta"
input_price = 0.0000001
output_price = 0.0000001
{stu_extra}
"""
OK_PARAMS = 'params = { mock_response = "42", mock_delay = 0.05 }'


@dataclass
class Served:
    config: TutelageConfig
    base_url: str  # .../v1
    gateway: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    log: Path  # the gateway's
    address: str  # Temporal's

    def ledger_rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Read the school's ledger: stops the worker first (it owns the stores)."""
        from tutelage.store.ledger import Ledger

        stop(self.worker)
        ledger = Ledger(self.config.data_dir / "ledger.duckdb")
        try:
            return ledger.rows(sql, params)
        finally:
            ledger.close()


def run_cli(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    """`tutelage ARGS --config <the school's>` against the school's Temporal server."""
    env = {**os.environ, "TEMPORAL_ADDRESS": served.address}
    return subprocess.run([sys.executable, "-m", "tutelage", *args, "--config",
                           str(served.config.path)], capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip


def write_school(root: Path, port: int, timeout: float = 30, sup_extra: str = OK_PARAMS,
                 stu_extra: str = OK_PARAMS, auth: str = "none", counters: str = "memory",
                 sup_model: str = "openai/sup-model",
                 stu_model: str = "openai/stu-model") -> Path:  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    path = root / "tutelage.toml"
    path.write_text(SCHOOL.format(queue=f"gw-{uuid.uuid4().hex[:8]}", port=port, timeout=timeout,
                                  sup_extra=sup_extra, stu_extra=stu_extra, auth=auth,
                                  counters=counters, sup_model=sup_model,
                                  stu_model=stu_model))  # fmt: skip
    return path


def _tutelage(args: list[str], address: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TEMPORAL_ADDRESS": address}
    return subprocess.Popen(die_with_parent([sys.executable, "-m", "tutelage", *args]),
                            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)  # fmt: skip


def start_gateway(config: Path, address: str, log: Path,
                  extra: list[str] | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
    return _tutelage(["serve", "--config", str(config), *(extra or [])], address, log)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait_serving(base: str, proc: subprocess.Popen[bytes], log: Path,
                 path: str = "/health/liveness") -> None:  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}{path}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the gateway did not come up ({path}): {log.read_text()}")


@contextmanager
def serve_school(address: str, root: Path, **school: Any) -> Iterator[Served]:
    """A school worker and a gateway, each a real process (`tutelage worker`, `tutelage serve`)."""
    port = free_port()
    path = write_school(root, port, **school)
    cfg = load_config(path)
    log = root / "gateway.log"
    worker = _tutelage(["worker", "--no-local-worker", "--config", str(path)], address,
                       root / "worker.log")  # fmt: skip
    gateway = start_gateway(path, address, log)
    try:
        # Ready: Temporal answers and the school's worker polls its queue.
        wait_serving(f"http://127.0.0.1:{port}", gateway, log, "/health/readiness")
        yield Served(cfg, f"http://127.0.0.1:{port}/v1", gateway, worker, log, address)
    finally:
        stop(gateway)
        stop(worker)


@pytest.fixture(scope="module")
def served(temporal_env: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path_factory.mktemp("gw")) as s:
        yield s


@pytest.fixture(scope="module")
def keyed(temporal_env: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A school whose gateway takes keys, for one test module."""
    address = temporal_env.client.service_client.config.target_host
    with serve_school(address, tmp_path_factory.mktemp("keyed"), auth="keys") as s:
        yield s
