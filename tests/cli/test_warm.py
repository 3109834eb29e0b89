"""`tutelage warm`: recorded questions through the running school, which then remembers them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tutelage.bench.datasets import sample_stream

from ..conftest import ROUTELLM
from .helpers import cli

pytestmark = pytest.mark.skipif(not ROUTELLM.exists(), reason="needs shared/data/routellm")


def _toml(address: str, task_queue: str, path: Path) -> Path:
    path.write_text(
        f'supervisor = "sup"\ndata_dir = "{path.parent / "cli-data"}"\n'
        f'[temporal]\naddress = "{address}"\ntask_queue = "{task_queue}"\n'
        f'[replay]\ndata_dir = "{ROUTELLM}"\n'
        '[[members]]\nid = "sup"\nmodel = "openai/sup-model"\nrole = "teacher"\n'
        '[[members]]\nid = "stu"\nmodel = "openai/stu-model"\nrole = "ta"\n'
    )  # fmt: skip
    return path


async def test_warm_teaches_the_school_that_ask_talks_to(
    school: Any, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    address = temporal_env.client.service_client.config.target_host
    async with school() as s:
        conf = str(_toml(address, s.config.temporal.task_queue, tmp_path / "t.toml"))
        warmed = await cli("warm", "--limit", "12", "--concurrency", "3", "-c", conf)
        first = sample_stream("gsm8k", ROUTELLM, seed=0, limit=1)[0].prompt
        asked = await cli("ask", first, "--json", "-c", conf)
        recorded = s.services.ledger.rows("SELECT count(*) FROM queries")
    assert warmed.returncode == 0, warmed.stderr
    assert "12 sent, 12 answered" in warmed.stdout and "tutelage ask --sample" in warmed.stdout
    assert recorded == [(13,)]  # twelve warmed, one asked
    assert asked.returncode == 0, asked.stderr
    result = json.loads(asked.stdout)
    assert result["cache_hit"] and result["route"] == "cache", result["reason"]


async def test_warm_refuses_clearly(tmp_path: Path, temporal_env: WorkflowEnvironment) -> None:
    address = temporal_env.client.service_client.config.target_host
    conf = str(_toml(address, "nobody-serves-this", tmp_path / "t.toml"))
    idle = await cli("warm", "--limit", "3", "-c", conf)
    assert idle.returncode == 1 and "no worker serves the school's task queue" in idle.stderr
    bad = await cli("warm", "--dataset", "trivia", "-c", conf)
    assert bad.returncode == 1 and "--dataset must be one of gsm8k, mmlu" in bad.stderr
    stranger = await cli("warm", "--tenant", "zed", "-c", conf)
    assert stranger.returncode == 1 and "unknown tenant 'zed'" in stranger.stderr
    for out in (idle, bad, stranger):
        assert "Traceback" not in out.stderr
