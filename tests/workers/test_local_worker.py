"""The local-model worker in its own process: a crash there costs a restart and a retried call.

Real Temporal server, real child process, the bundled GGUF model generating; the supervisor is
mocked. The worker process is killed in the middle of a generation."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from typing import Any

import pytest

pytest.importorskip("llama_cpp", reason="local models need the [local] extra")

from temporalio.api.enums.v1 import EventType, PendingActivityState  # noqa: E402
from temporalio.client import WorkflowHandle  # noqa: E402

from tutelage.activities import names  # noqa: E402
from tutelage.models import QueryInput, QueryResult  # noqa: E402
from tutelage.options import query_workflow_id  # noqa: E402
from tutelage.workers import pidfile  # noqa: E402
from tutelage.workers.local_worker import PID_FILE  # noqa: E402

SUP = {"id": "sup", "model": "openai/sup-model", "role": "teacher", "input_price": 1e-5,
       "output_price": 3e-5, "params": {"mock_response": "Rome"}}  # fmt: skip
GEMMA = {"id": "gemma", "model": "local/gemma", "role": "student"}
# No stop sequence and many tokens: a generation lasts long enough to be killed in the middle.
LONG = [{"name": "gemma", "n_ctx": 1024, "max_tokens": 300, "stop": []}]
# Every query novel: every member answers, so the local member is asked each time.
NOVEL = {"low_threshold": 0.9999, "high_threshold": 0.99995, "cache_threshold": 0.99999}


async def _local_worker_pid(data_dir: Any, not_pid: int | None = None) -> int:
    """The live local-model worker's pid (a new one, when `not_pid` is given)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rec = pidfile.live(data_dir / PID_FILE)
        if rec is not None and rec.pid != not_pid:
            return rec.pid
        await asyncio.sleep(0.1)
    raise AssertionError("no local-model worker process came up")


async def _wait_until_generating(handle: WorkflowHandle[Any, Any], worker_pid: int) -> None:
    """Until the local member's answer activity runs on the local worker (a worker's identity
    is `<pid>@<host>`: the supervisor's answer, on another worker, does not count)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        desc = await handle.describe()
        for act in desc.raw_description.pending_activities:
            if (act.activity_type.name == names.ANSWER
                    and act.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                    and act.last_worker_identity.startswith(f"{worker_pid}@")):  # fmt: skip
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the local answer activity never started")


async def _answer_attempts(handle: WorkflowHandle[Any, Any]) -> list[int]:
    """The attempt on which each activity of the run started for the last time."""
    attempts = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attempts.append(event.activity_task_started_event_attributes.attempt)
    return attempts


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV], ids=["SIGKILL", "SIGSEGV"])
async def test_a_killed_local_worker_restarts_and_the_query_completes(
    school: Any, sig: signal.Signals
) -> None:
    async with school(members=[SUP, GEMMA], local_models=LONG, embedder=NOVEL) as s:
        data = s.config.data_dir
        first_pid = await _local_worker_pid(data)
        qid = uuid.uuid4().hex[:12]
        handle = await s.client.start_workflow(
            "QueryWorkflow", QueryInput(text="Tell me about the history of Rome.", query_id=qid),
            id=query_workflow_id("default", qid, s.config.temporal.task_queue), task_queue=s.config.temporal.task_queue,
            result_type=QueryResult,
        )  # fmt: skip
        await _wait_until_generating(handle, first_pid)
        await asyncio.sleep(0.5)
        os.kill(first_pid, sig)
        result: QueryResult = await asyncio.wait_for(handle.result(), 180)
        second_pid = await _local_worker_pid(data, not_pid=first_pid)
        rows = s.services.ledger.rows(
            "SELECT member_id, kind, error_kind FROM calls WHERE query_id = ? ORDER BY member_id",
            [qid],
        )
        attempts = await _answer_attempts(handle)
    calls = {c.member_id: c for c in result.calls}
    assert result.status == "ok"
    # The killed call was retried on the restarted process, and answered there.
    assert calls["gemma"].ok, calls["gemma"].error
    assert second_pid != first_pid
    # History keeps the start of an activity's last attempt: sup's first, gemma's second.
    assert sorted(attempts) == [1, 2], attempts
    # One ledger row per call: the retry is not a second call.
    assert rows == [("gemma", "answer", None), ("sup", "answer", None)]


async def test_a_local_worker_started_alone_serves_the_school(school: Any, tmp_path: Any) -> None:
    """`tutelage worker --role local` on "another machine": its own config file and data dir."""
    import subprocess
    import sys

    from tutelage.client import submit
    from tutelage.workers.processes import die_with_parent

    async with school(members=[SUP, GEMMA], local_models=[{"name": "gemma", "max_tokens": 8}],
                      embedder=NOVEL, local_worker=False) as s:  # fmt: skip
        config = tmp_path / "local.toml"
        config.write_text(
            f'supervisor = "sup"\ndata_dir = "elsewhere"\n[temporal]\n'
            f'task_queue = "{s.config.temporal.task_queue}"\n'
            '[[local_models]]\nname = "gemma"\nmax_tokens = 8\n'
            '[[members]]\nid = "sup"\nmodel = "openai/sup-model"\n'
            '[[members]]\nid = "gemma"\nmodel = "local/gemma"\n'
        )  # fmt: skip
        address = s.client.service_client.config.target_host
        env = {**os.environ, "TEMPORAL_ADDRESS": address}
        worker = subprocess.Popen(
            die_with_parent([sys.executable, "-m", "tutelage", "worker", "--role", "local",
                             "--config", str(config)]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        try:
            r = await asyncio.wait_for(submit(s.client, s.config, QueryInput(
                text="What is the capital of Italy?", query_id=uuid.uuid4().hex[:12])), 120)  # fmt: skip
        finally:
            worker.send_signal(signal.SIGINT)
            out, _ = worker.communicate(timeout=60)
    calls = {c.member_id: c for c in r.calls}
    assert calls["gemma"].ok and "Rome" in (calls["gemma"].text or ""), calls["gemma"]
    assert "local-model worker running" in out and worker.returncode == 0, out
    assert (tmp_path / "elsewhere" / "models").is_dir()  # its own data dir, no store opened
    assert not (tmp_path / "elsewhere" / "ledger.duckdb").exists()


def test_a_local_worker_without_local_models_is_one_clear_line(tmp_path: Any) -> None:
    import subprocess
    import sys

    config = tmp_path / "t.toml"
    config.write_text('supervisor = "a"\n[[members]]\nid = "a"\nmodel = "openai/gpt-4o"\n')
    r = subprocess.run([sys.executable, "-m", "tutelage", "worker", "--role", "local", "--config",
                        str(config)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1 and "no [[local_models]] configured" in r.stderr
    r = subprocess.run([sys.executable, "-m", "tutelage", "worker", "--role", "gpu", "--config",
                        str(config)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1 and "unknown worker role 'gpu'" in r.stderr
