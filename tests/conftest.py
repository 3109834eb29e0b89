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
from tutelage.workflows import search_attributes as sa  # noqa: E402

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
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=sa.ALL,
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


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
    """`async with school(**config_overrides) as s:` runs a worker over a fresh data dir."""
    from tutelage.workers.services import Services
    from tutelage.workers.worker import serving

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[School]:
        cfg = make_config(tmp_path / uuid.uuid4().hex[:6], **overrides)
        services = Services.open(cfg)
        try:
            async with serving(client, cfg, services):
                yield School(client, cfg, services)
        finally:
            services.close()

    return start
