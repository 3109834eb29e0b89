"""One school, many workers: a store owner and stateless answer workers, as real processes.

Members are mocked with a delay. The stream is seeded; every query is novel (everyone answers,
nothing is served from memory), so a query's route and winner do not depend on which queries
ran before it, and the school's learning must come out the same whatever the deployment."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client

from tutelage.bench.mocked import mocked_school_toml
from tutelage.models import QueryInput, QueryResult
from tutelage.options import query_workflow_id, school_scope
from tutelage.policy.cycles import cycle_workflow_id
from tutelage.store.ledger import Ledger
from tutelage.store.owner import StoreLock, StoreOwnedError
from tutelage.store.roster import RosterStore
from tutelage.workers.processes import die_with_parent
from tutelage.workflows.query import QueryWorkflow

pytestmark = pytest.mark.slow

STREAM = 200
IN_FLIGHT = 32


def _stream(seed: int = 7) -> list[QueryInput]:
    rng = random.Random(seed)
    items = [QueryInput(text=f"Item {i}: what is {rng.randint(10, 99)} plus {rng.randint(10, 99)}?",
                        query_id=f"q{i:04d}") for i in range(STREAM)]  # fmt: skip
    rng.shuffle(items)
    return items


class Deployment:
    """Worker processes of one school, started with `tutelage worker --role ...`."""

    def __init__(self, root: Path, address: str, queue: str) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "tutelage.toml"
        self.config.write_text(mocked_school_toml(queue, 0.2, promotion_every=50))
        self.queue = queue
        self.env = {**os.environ, "TEMPORAL_ADDRESS": address}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, role: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            die_with_parent([sys.executable, "-m", "tutelage", "worker", "--role", role,
                             "--no-local-worker", "--config", str(self.config)]),
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self.procs[name]

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def ledger(self) -> Ledger:
        return Ledger(self.root / "data" / "ledger.duckdb")


async def _run_stream(
    client: Client, queue: str, items: list[QueryInput], on_done: Any = None
) -> dict[str, QueryResult]:
    results: dict[str, QueryResult] = {}
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(q: QueryInput) -> None:
        async with gate:
            r = await client.execute_workflow(
                QueryWorkflow.run, q, id=query_workflow_id(q.tenant, q.query_id, queue),
                task_queue=queue,
            )  # fmt: skip
            results[q.query_id] = r
            if on_done is not None:
                await on_done(len(results))

    await asyncio.wait_for(asyncio.gather(*(one(q) for q in items)), 600)
    return results


def _school_state(dep: Deployment) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    ledger = dep.ledger()
    try:
        calls = ledger.rows("SELECT query_id, member_id, kind, count(*) FROM calls "
                            "GROUP BY ALL ORDER BY ALL")  # fmt: skip
        roster = {st.spec.id: {d: r.value for d, r in st.roles.items()}
                  for st in RosterStore(ledger).states()}  # fmt: skip
    finally:
        ledger.close()
    return calls, roster


async def _serve_and_stream(
    client: Client, root: Path, answerers: int, address: str
) -> tuple[dict[str, QueryResult], Deployment]:
    queue = f"scale-{root.name}"
    dep = Deployment(root, address, queue)
    try:
        if answerers:
            dep.start("store", "store")
            for i in range(answerers):
                dep.start(f"answerer{i}", "answer")
        else:
            dep.start("all-in-one", "school")
        results = await _run_stream(client, queue, _stream())
    finally:
        dep.stop()
    return results, dep


async def test_a_store_owner_and_three_answer_workers_learn_as_one_worker(
    client: Client, tmp_path: Path
) -> None:
    address = client.service_client.config.target_host
    one, single = await _serve_and_stream(client, tmp_path / "one", 0, address)
    split, many = await _serve_and_stream(client, tmp_path / "split", 3, address)
    assert len(one) == len(split) == STREAM
    assert all(r.status == "ok" for r in split.values())
    assert {q: (r.route, r.winner) for q, r in split.items()} == \
        {q: (r.route, r.winner) for q, r in one.items()}  # fmt: skip
    calls_one, roster_one = _school_state(single)
    calls_split, roster_split = _school_state(many)
    # Exactly one ledger row per call: three answers per query, nothing doubled.
    assert len(calls_split) == 3 * STREAM and all(row[3] == 1 for row in calls_split)
    assert calls_split == calls_one
    assert roster_split == roster_one
    assert roster_split, "promotion wrote the roster"
    # The answer workers answered: the store owner serves no model call.
    for i in range(3):
        assert "answer worker running" in (tmp_path / "split" / f"answerer{i}.log").read_text()


async def test_killed_answer_workers_and_store_owner_lose_nothing(
    client: Client, tmp_path: Path
) -> None:
    address = client.service_client.config.target_host
    queue = f"kill-{tmp_path.name}"[:60]
    dep = Deployment(tmp_path, address, queue)
    dep.start("store", "store")
    for i in range(3):
        dep.start(f"answerer{i}", "answer")
    killed: list[str] = []

    async def chaos(done: int) -> None:
        if done == 40 and "answerer0" not in killed:
            killed.append("answerer0")
            dep.kill("answerer0")
        elif done == 80 and "answerer1" not in killed:
            killed.append("answerer1")
            dep.kill("answerer1")
        elif done == 120 and "store" not in killed:
            killed.append("store")
            dep.kill("store")  # its lock goes with it: a successor may start at once
            dep.start("store", "store")

    due = [cycle_workflow_id("promotion", school_scope(queue), n)
           for n in range(50, STREAM + 1, 50)]  # fmt: skip
    try:
        results = await _run_stream(client, queue, _stream(), chaos)
        # Every promotion cycle that was due (every 50 recorded queries) finishes.
        for wf_id in due:
            await asyncio.wait_for(client.get_workflow_handle(wf_id).result(), 120)
    finally:
        dep.stop()
    assert killed == ["answerer0", "answerer1", "store"]
    assert len(results) == STREAM and all(r.status == "ok" for r in results.values())
    ledger = dep.ledger()
    try:
        calls = ledger.rows("SELECT query_id, member_id, kind, count(*) FROM calls GROUP BY ALL")
        queries = ledger.rows("SELECT count(*), count(DISTINCT query_id) FROM queries")
    finally:
        ledger.close()
    assert len(calls) == 3 * STREAM and all(row[3] == 1 for row in calls)  # 0 duplicated rows
    assert queries == [(STREAM, STREAM)]  # 0 queries lost
    # Each due cycle ran once: its id is derived from the count at which it became due, so a
    # retried trigger (a record replayed after the store owner died) cannot start it twice.
    ran = [wf async for wf in client.list_workflows(f"WorkflowType = 'PromotionWorkflow' AND "
                                                    f"TaskQueue = '{queue}'")]  # fmt: skip
    assert sorted(wf.id for wf in ran) == sorted(due)
    assert all(wf.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED for wf in ran)


def test_a_second_store_owner_on_a_live_data_directory_is_refused(
    client: Client, tmp_path: Path
) -> None:
    held = StoreLock(tmp_path)
    held.acquire()
    try:
        with pytest.raises(StoreOwnedError, match=f"pid {os.getpid()} on"):
            StoreLock(tmp_path).acquire()
        config = tmp_path / "t.toml"
        config.write_text(mocked_school_toml("refused", 0.2, data_dir=str(tmp_path)))
        started = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "tutelage", "worker", "--role", "store",
                            "--no-local-worker", "--config", str(config)],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ,
                                "TEMPORAL_ADDRESS": client.service_client.config.target_host})  # fmt: skip
    finally:
        held.release()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "is owned by another store owner" in r.stderr and f"pid {os.getpid()}" in r.stderr
    assert "Traceback" not in r.stderr and time.monotonic() - started < 120
    StoreLock(tmp_path).acquire()  # released: a successor takes it


async def test_two_schools_on_one_server_never_see_each_other(school: Any) -> None:
    from tutelage.client import submit

    sup = {"id": "sup", "model": "openai/sup-model", "role": "teacher",
           "params": {"mock_response": "42"}}  # fmt: skip
    alt = {"id": "alt", "model": "openai/alt-model", "role": "ta",
           "params": {"mock_response": "42"}}  # fmt: skip
    questions = ["What is six times seven?", "What is forty plus two?"]
    async with school() as a, school(members=[sup, alt]) as b:
        assert a.config.temporal.task_queue != b.config.temporal.task_queue
        for s in (a, b):
            for i, text in enumerate(questions * 2):  # the same query ids in both schools
                await submit(s.client, s.config, QueryInput(text=text, query_id=f"same-{i}"))
        rows_a = a.services.ledger.rows("SELECT DISTINCT member_id FROM calls ORDER BY 1")
        rows_b = b.services.ledger.rows("SELECT DISTINCT member_id FROM calls ORDER BY 1")
        queries_a = a.services.ledger.rows("SELECT count(*) FROM queries")
        queries_b = b.services.ledger.rows("SELECT count(*) FROM queries")
        # The repeated questions find neighbours (or the cache) in their own school only.
        again = await submit(b.client, b.config, QueryInput(text=questions[0], query_id="again"))
    assert rows_a == [("stu",), ("sup",)] and rows_b == [("alt",), ("sup",)]
    assert queries_a == queries_b == [(4,)]
    assert again.winner in ("sup", "alt")
