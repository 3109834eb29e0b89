"""Kill the worker in the middle of a fan-out: a new worker finishes the query, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.testing import WorkflowEnvironment

from tutelage.models import QueryInput, QueryResult
from tutelage.options import query_workflow_id
from tutelage.store.ledger import Ledger
from tutelage.workflows.query import QueryWorkflow

CONFIG = """
supervisor = "sup"
data_dir = "data"
[temporal]
task_queue = "{queue}"
[judge]
mode = "agreement"
[[members]]
id = "sup"
model = "openai/sup-model"
role = "teacher"
timeout_s = 4
input_price = 0.00001
output_price = 0.00003
params = {{ mock_response = "42", mock_delay = 3 }}
[[members]]
id = "stu"
model = "openai/stu-model"
role = "ta"
timeout_s = 4
params = {{ mock_response = "42", mock_delay = 3 }}
"""


def _start_worker(config: Path, address: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TEMPORAL_ADDRESS": address}
    return subprocess.Popen(
        [sys.executable, "-m", "tutelage", "worker", "--config", str(config)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


async def test_worker_killed_mid_fan_out(temporal_env: WorkflowEnvironment, tmp_path: Path) -> None:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "tutelage.toml"
    config.write_text(CONFIG.format(queue=queue))
    address = temporal_env.client.service_client.config.target_host
    query = QueryInput(text="What is six times seven?", query_id=uuid.uuid4().hex[:12])
    handle = await temporal_env.client.start_workflow(
        QueryWorkflow.run, query, id=query_workflow_id("default", query.query_id), task_queue=queue
    )
    first = _start_worker(config, address)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until both answers are being generated
            desc = await handle.describe()
            started = [a for a in desc.raw_description.pending_activities
                       if a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED]  # fmt: skip
            if len(started) == 2:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the fan-out never started")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    second = _start_worker(config, address)
    try:
        result: QueryResult = await asyncio.wait_for(handle.result(), 90)
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(30)
    assert result.status == "ok" and result.answer == "42"
    ledger = Ledger(tmp_path / "data" / "ledger.duckdb")
    try:
        rows = ledger.rows("SELECT call_id FROM calls WHERE query_id = ?", [query.query_id])
        queries = ledger.rows("SELECT count(*) FROM queries WHERE query_id = ?", [query.query_id])
    finally:
        ledger.close()
    assert sorted(r[0] for r in rows) == [f"{query.query_id}:stu:answer",
                                          f"{query.query_id}:sup:answer"]  # fmt: skip
    assert queries == [(1,)]
