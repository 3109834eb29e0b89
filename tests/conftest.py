"""Shared fixtures: one real local Temporal server for the whole session, and school factories."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import AsyncIterator, Callable  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from tutelage.config import TutelageConfig, parse_config  # noqa: E402

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
ROUTELLM = (REPO.parent / "shared" / "data" / "routellm").resolve()


def make_config(tmp_path: Path, **overrides: Any) -> TutelageConfig:
    """A config with two mocked members (supervisor `sup`, student `stu`) unless overridden."""
    raw: dict[str, Any] = {
        "supervisor": "sup",
        "data_dir": str(tmp_path / "data"),
        "temporal": {"task_queue": f"tq-{uuid.uuid4().hex[:8]}"},
        "embedder": {"low_threshold": 0.5, "high_threshold": 0.6, "cache_threshold": 0.9999},
        "routing": {"shadow_rate": 0.0, "ta_audit_rate": 0.0, "teacher_audit_rate": 0.0},
        "judge": {"mode": "agreement"},
        "members": [
            {"id": "sup", "model": "openai/sup-model", "role": "teacher",
             "input_price": 1e-5, "output_price": 3e-5, "params": {"mock_response": "42"}},
            {"id": "stu", "model": "openai/stu-model", "role": "ta",
             "input_price": 1e-7, "output_price": 1e-7, "params": {"mock_response": "42"}},
        ],
    }  # fmt: skip
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return parse_config(raw, tmp_path / "tutelage.toml")


@pytest.fixture(scope="session")
async def temporal_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[WorkflowEnvironment]:
    """One real dev server for the suite. It is our child with a parent-death signal, so it
    stops when the suite ends however it ends (a native crash in a test included)."""
    from tutelage.workers.devserver import DevServer, free_port

    server = DevServer(host="127.0.0.1", port=free_port(), ui_port=0, ui=False, persist=False,
                       db_file=tmp_path_factory.mktemp("temporal") / "temporal.db")  # fmt: skip
    server.start(60)
    try:
        client = await _connect(server.address)
        yield WorkflowEnvironment.from_client(client)
    finally:
        server.stop()


async def _connect(address: str) -> Client:
    """The dev server listens a moment before it serves: retry for a few seconds."""
    import asyncio

    for attempt in range(50):
        try:
            return await Client.connect(address, data_converter=pydantic_data_converter)
        except RuntimeError:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@dataclass
class School:
    client: Client
    config: TutelageConfig
    services: Any


@pytest.fixture
def school(client: Client, tmp_path: Path) -> Callable[..., Any]:
    """`async with school(**config_overrides) as s:` runs a worker over a fresh data dir (and
    the local-model worker process when local models are configured, unless local_worker is
    False)."""
    from tutelage.services import Services
    from tutelage.workers.worker import serving

    @asynccontextmanager
    async def start(local_worker: bool = True, **overrides: Any) -> AsyncIterator[School]:
        cfg = make_config(tmp_path / uuid.uuid4().hex[:6], **overrides)
        services = Services.open(cfg)
        try:
            async with serving(client, cfg, services, local_worker):
                yield School(client, cfg, services)
        finally:
            services.close()

    return start


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real Redis server (Debian's redis-server, which `make test` installs) on a loopback
    port, for the suite; the keys' usage counters are tested against it."""
    import shutil
    import subprocess
    import time

    from tutelage.workers.devserver import free_port
    from tutelage.workers.processes import die_with_parent

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (make test installs it with apt-get)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(die_with_parent([binary, "--port", str(port), "--bind", "127.0.0.1",
                                             "--save", "", "--appendonly", "no",
                                             "--dir", str(folder)]),
                            stdout=(folder / "redis.log").open("ab"), stderr=subprocess.STDOUT)  # fmt: skip
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError((folder / "redis.log").read_text()) from None
            time.sleep(0.05)
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)
