"""`tutelage up` keeps the dev server it started: SIGKILLed, it is started again on the same
SQLite file (runs survive and finish), and `tutelage down` stops the stack within 10 s, under
load, while the server is being restarted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from tutelage.bench.datasets import sample_stream
from tutelage.client import start_query, submit
from tutelage.config import load_config
from tutelage.models import QueryInput
from tutelage.workers.devserver import free_port, port_in_use
from tutelage.workers.processes import children_of, die_with_parent
from tutelage.workers.worker import connect

from ..conftest import ROUTELLM
from .test_up import _pids_matching

pytestmark = pytest.mark.skipif(not ROUTELLM.exists(), reason="needs shared/data/routellm")

ENV = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}


def _school(tmp_path: Path, latency_ms: int) -> tuple[Path, int]:
    """The demo's two recorded members; answers take `latency_ms`, so runs are in flight."""
    api = free_port()
    config = tmp_path / "tutelage.toml"
    config.write_text(
        f'supervisor = "gpt4"\ndata_dir = "state"\n'
        f"[temporal]\nport = {free_port()}\nui_port = {free_port()}\n"
        f'[gateway]\nport = {api}\nauth = "none"\n'
        f'[replay]\ndata_dir = "{ROUTELLM}"\nlatency_ms = {latency_ms}\n'
        '[[members]]\nid = "gpt4"\nmodel = "replay/gpt-4-1106-preview"\nrole = "teacher"\n'
        '[[members]]\nid = "mixtral"\nmodel = "replay/mistralai/Mixtral-8x7B-Instruct-v0.1"\n'
        'role = "ta"\n'
    )  # fmt: skip
    return config, api


class _Up:
    """`tutelage up` as a child of this test (it dies with the test run), its output kept."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            die_with_parent([sys.executable, "-m", "tutelage", "up", "--config", str(config)]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def out(self) -> str:
        return "".join(self.lines)

    def dev_server(self) -> int:
        """The dev server's pid: the child of `up` (its process tree, not a name) that runs
        `temporal server start-dev`."""
        for pid in children_of(self.proc.pid):
            with contextlib.suppress(OSError):
                if b"start-dev" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
        raise AssertionError(f"no dev server among the children of up:\n{self.out}")


async def _until(cond: Callable[[], bool], timeout_s: float, what: str, up: _Up) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline or up.proc.poll() is not None:
            raise AssertionError(f"{what}: not within {timeout_s:g}s; up said:\n{up.out}")
        await asyncio.sleep(0.1)


async def _load(api: int, prompts: list[str], stop: asyncio.Event) -> dict[str, int]:
    """Keep one chat completion per prompt in flight until `stop`."""
    seen: dict[str, int] = {}

    async def one(client: httpx.AsyncClient, prompt: str) -> None:
        while not stop.is_set():
            try:
                r = await client.post(f"http://127.0.0.1:{api}/v1/chat/completions", json={
                    "model": "tutelage", "messages": [{"role": "user", "content": prompt}]})  # fmt: skip
                key = str(r.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
                await asyncio.sleep(0.2)
            seen[key] = seen.get(key, 0) + 1

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client, p) for p in prompts))
    return seen


async def test_a_killed_dev_server_comes_back_and_down_stops_the_stack_within_10s(
    tmp_path: Path,
) -> None:
    config, api = _school(tmp_path, latency_ms=1500)
    cfg = load_config(config)
    prompts = [q.prompt for q in sample_stream("gsm8k", ROUTELLM, seed=7, limit=24)]
    up = _Up(config)
    try:
        await _until(lambda: "Press Ctrl-C" in up.out, 120, "tutelage up started", up)
        client = await connect(cfg.temporal.effective_address(), cfg.temporal.namespace)
        before = await asyncio.wait_for(submit(client, cfg, QueryInput(text=prompts[0])), 90)
        assert before.status == "ok", before
        # A run in flight (its members answer in 1.5 s) when the server is killed.
        inflight = await start_query(client, cfg, QueryInput(text=prompts[1]))
        await asyncio.sleep(0.5)
        first = up.dev_server()
        os.kill(first, signal.SIGKILL)
        died = f"Temporal dev server (pid {first}) died with signal SIGKILL; restarting it in 1s"
        await _until(lambda: died in up.out, 10, "the death logged", up)
        await _until(lambda: "Temporal dev server is back" in up.out, 60, "it is back", up)
        second = up.dev_server()
        assert second != first
        db = str(tmp_path / "state" / "temporal.db")
        assert db.encode() in Path(f"/proc/{second}/cmdline").read_bytes()  # the same file

        # The run in flight finishes; the one before is still in the (same) history.
        result = await asyncio.wait_for(inflight.result(), 90)
        assert result.status == "ok", result
        described = await client.get_workflow_handle(before.workflow_id).describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED
        # A new query, through the command line.
        asked = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "tutelage", "ask", prompts[2], "--json",
                             "--config", str(config)],
            capture_output=True, text=True, timeout=90, env=ENV,
        )  # fmt: skip
        assert asked.returncode == 0, asked.stderr
        assert '"status": "ok"' in asked.stdout

        # Requests in flight, the server killed again (it waits 2 s this time), and `down`.
        stop = asyncio.Event()
        load = asyncio.create_task(_load(api, prompts[3:], stop))
        await asyncio.sleep(3)
        os.kill(up.dev_server(), signal.SIGKILL)
        await asyncio.sleep(0.5)
        began = time.monotonic()
        down = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "tutelage", "down", "--config", str(config)],
            capture_output=True, text=True, timeout=30, env=ENV,
        )  # fmt: skip
        took = time.monotonic() - began
        stop.set()
        seen = await asyncio.wait_for(load, 30)
        assert down.returncode == 0, down.stderr
        assert f"stopped tutelage (pid {up.proc.pid})" in down.stdout, down.stdout
        assert took < 10, f"down took {took:.1f}s: {down.stdout}; up said:\n{up.out[-3000:]}"
        assert up.proc.wait(timeout=5) == 0, up.out
        assert sum(seen.values()) >= len(prompts[3:]), seen
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()
    time.sleep(0.5)
    assert not _pids_matching(str(tmp_path / "state" / "temporal.db"))
    for port in (cfg.temporal.port, cfg.temporal.ui_port, api):
        assert not port_in_use("127.0.0.1", port)
    assert not (tmp_path / "state" / "up.pid").exists()


def test_a_stop_that_overruns_is_cut_short_and_leaves_no_child(tmp_path: Path) -> None:
    """Whatever the stack is stuck on when asked to stop (a workflow, an activity that ignores
    cancellation, a blocked event loop), `up` kills its children and leaves in time."""
    code = (
        "import asyncio, subprocess, sys, time\n"
        "from tutelage.cli import up\n"
        "up.HARD_STOP_S = 1.0\n"
        "async def main():\n"
        "    stop = up._Stop()\n"
        "    stop.serves = True\n"
        "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "    print(child.pid, flush=True)\n"
        "    await stop.event.wait()\n"
        "    time.sleep(60)  # a shutdown that never ends, and blocks the loop\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen(die_with_parent([sys.executable, "-c", code]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 1
        assert time.monotonic() - began < 5
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr is not None
    assert "stopping took over 1s: killing what is left of the stack" in proc.stderr.read()
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()


def test_down_kills_an_up_that_does_not_stop_in_time(tmp_path: Path) -> None:
    from tutelage.workers import pidfile

    config = tmp_path / "tutelage.toml"
    config.write_text('supervisor = "a"\ndata_dir = "state"\n[[members]]\nid = "a"\n'
                      'model = "openai/gpt-4o"\n')  # fmt: skip
    stuck = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal("
                              "signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
                              "time.sleep(60)"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert stuck.stdout is not None and stuck.stdout.readline() == "up\n"
        pidfile.write(tmp_path / "state" / "up.pid", stuck.pid)
        r = subprocess.run([sys.executable, "-m", "tutelage", "down", "--config", str(config),
                            "--timeout", "1"], capture_output=True, text=True, timeout=30)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert f"(pid {stuck.pid}) did not stop within 1s of SIGTERM: killed it" in r.stdout
        assert stuck.wait(timeout=5) == -signal.SIGKILL
    finally:
        if stuck.poll() is None:
            stuck.kill()
    assert not (tmp_path / "state" / "up.pid").exists()
