"""`tutelage feedback` against a real server and a running worker: it rates a served answer,
refuses a bad score or another tenant's completion in one line, and says when there is none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from tutelage.client import submit
from tutelage.models import QueryInput

from .helpers import cli


async def test_feedback_command_rates_and_refuses(
    school: Any, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with school(limits={"tenants": ["default", "acme"]}) as s:
        result = await submit(s.client, s.config, QueryInput(text="What is 6 x 7?"))
        address = temporal_env.client.service_client.config.target_host
        conf = tmp_path / "t.toml"
        conf.write_text(
            f'supervisor = "sup"\ndata_dir = "{tmp_path / "cli-data"}"\n'
            f'[temporal]\naddress = "{address}"\ntask_queue = "{s.config.temporal.task_queue}"\n'
            '[limits]\ntenants = ["default", "acme"]\n'
            '[[members]]\nid = "sup"\nmodel = "openai/sup-model"\n'
        )  # fmt: skip
        rated = await cli("feedback", f"chatcmpl-{result.query_id}", "--score", "0.3",
                          "--comment", "half right", "-c", str(conf))  # fmt: skip
        theirs = await cli("feedback", result.query_id, "--score", "1", "--tenant", "acme",
                           "-c", str(conf))  # fmt: skip
        unknown = await cli("feedback", "20990101-000000-deadbeef", "--rating", "up",
                            "-c", str(conf))  # fmt: skip
        both = await cli("feedback", result.query_id, "--score", "1", "--rating", "up",
                         "-c", str(conf))  # fmt: skip
        neither = await cli("feedback", result.query_id, "-c", str(conf))
        stranger = await cli("feedback", result.query_id, "--score", "1", "--tenant", "initech",
                             "-c", str(conf))  # fmt: skip
        rows = s.services.ledger.rows("SELECT score, comment, source, tenant FROM feedback")
    assert rated.returncode == 0, rated.stderr
    assert f"rated query {result.query_id} of tenant default: 0.30, rating 1" in rated.stdout
    assert f"user verdicts: {result.winner} 0.30" in rated.stdout
    assert theirs.returncode == 1 and "no completion" in theirs.stderr and "acme" in theirs.stderr
    assert unknown.returncode == 1 and "no completion '20990101-000000-deadbeef'" in unknown.stderr
    assert both.returncode == 1 and "--score or --rating, not both" in both.stderr
    assert neither.returncode == 1 and "Give --score" in neither.stderr
    assert stranger.returncode == 1 and "unknown tenant 'initech'" in stranger.stderr
    for r in (theirs, unknown, both, neither, stranger):
        assert "Traceback" not in r.stderr
    assert rows == [(0.3, "half right", "cli", "default")]
