"""Query-path speed: QueryWorkflow against an empty workflow and a bare 3-activity fan-out on
the same local Temporal server in the same run, and routing look-up at 10k and 100k stored
queries. Prints figures; asserts nothing.

    python benchmarks/query_path.py [--queries 200] [--repeat 1] [--skip-lookup]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from _baseline_workflows import EmptyWorkflow, FanOutWorkflow, noop  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from tutelage.activities.query import QueryActivities  # noqa: E402
from tutelage.client import submit  # noqa: E402
from tutelage.config import parse_config  # noqa: E402
from tutelage.models import QueryInput  # noqa: E402
from tutelage.services import Services  # noqa: E402
from tutelage.store.memory import KEEP_VERSIONS_FOR, Memory  # noqa: E402
from tutelage.workers.worker import build_calls_worker, build_worker  # noqa: E402
from tutelage.workflows import search_attributes as sa  # noqa: E402


def _cpu_ticks() -> tuple[int, int]:
    """(all, idle) jiffies of the whole machine, from /proc/stat (0s where there is none)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0, 0
    return sum(fields), fields[3] + fields[4]


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by this process (client, workers, stores) and by the Temporal
    dev server (every process named `temporal`)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    server = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if name.endswith("(temporal"):
            parts = fields.split()
            server += (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    return own.ru_utime + own.ru_stime, server


async def measure(
    n: int, concurrency: int, one: Callable[[int], Awaitable[object]]
) -> tuple[str, float]:
    """A printable line of figures, and the runs per second."""
    latencies: list[float] = []
    sem = asyncio.Semaphore(concurrency)

    async def timed(i: int) -> None:
        async with sem:
            t = time.perf_counter()
            await one(i)
            latencies.append((time.perf_counter() - t) * 1000)

    ticks, cpu = _cpu_ticks(), _cpu_seconds()
    start = time.perf_counter()
    await asyncio.gather(*(timed(i) for i in range(n)))
    wall = time.perf_counter() - start
    total, idle = (a - b for a, b in zip(_cpu_ticks(), ticks, strict=True))
    busy = f"  machine CPU busy {100 * (total - idle) / total:3.0f}%" if total else ""
    own, server = (1000 * (b - a) / n for a, b in zip(cpu, _cpu_seconds(), strict=True))
    p50, p95 = np.percentile(latencies, [50, 95])
    return (f"p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  {n / wall:7.1f} /s{busy}  CPU per run: "
            f"this process {own:5.1f} ms, server {server:5.1f} ms"), n / wall  # fmt: skip


async def workflows(n: int, repeats: int) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter, search_attributes=sa.ALL, ui=False,
    )  # fmt: skip
    tmp = Path(tempfile.mkdtemp())
    members = [
        {"id": "sup", "model": "openai/a", "role": "teacher", "params": {"mock_response": "42"}},
        {"id": "stu", "model": "openai/b", "role": "ta", "params": {"mock_response": "42"}},
    ]
    cfg = parse_config({"supervisor": "sup", "data_dir": str(tmp), "members": members,
                        "judge": {"mode": "agreement"},
                        # The query path alone: no learning cycles every N queries.
                        "schedules": {"promotion_every_queries": 0, "evolution_every_queries": 0,
                                      "distillation_every_queries": 0},
                        "temporal": {"task_queue": "bench-query"}}, tmp / "t.toml")  # fmt: skip
    services = Services.open(cfg)
    acts = QueryActivities(services)
    client = env.client
    try:
        async with (
            build_worker(client, cfg, acts.all()),
            build_calls_worker(client, cfg, acts.calls),
            Worker(
                client,
                task_queue="bench-base",
                workflows=[EmptyWorkflow, FanOutWorkflow],
                activities=[noop],
                max_concurrent_activities=64,
            ),  # fmt: skip
        ):

            async def empty(i: int) -> object:
                return await client.execute_workflow(EmptyWorkflow.run, i, id=f"e-{uuid.uuid4()}",
                                                     task_queue="bench-base")  # fmt: skip

            async def fan(i: int) -> object:
                return await client.execute_workflow(FanOutWorkflow.run, i, id=f"f-{uuid.uuid4()}",
                                                     task_queue="bench-base")  # fmt: skip

            async def query(i: int) -> object:
                q = QueryInput(text=f"question number {i} {uuid.uuid4().hex[:6]}",
                               query_id=uuid.uuid4().hex[:12])  # fmt: skip
                return await submit(client, cfg, q)

            await measure(10, 4, query)  # warm-up (model load, first compiles)
            rates: dict[str, float] = {}
            for conc in (1, 32):
                print(f"\nconcurrency {conc}, {n} runs each")
                for name, fn in (("empty workflow", empty), ("bare 3-activity fan-out", fan),
                                 ("QueryWorkflow (mock members)", query)):  # fmt: skip
                    line, rates[name] = await measure(n, conc, fn)
                    print(f"  {name:30s} {line}")
            # The ratio swings by several points between runs on a busy 2-core machine: more
            # fan-out / QueryWorkflow pairs at 32 concurrent, back to back, show how far.
            ratios = [rates["QueryWorkflow (mock members)"] / rates["bare 3-activity fan-out"]]
            for i in range(1, repeats):
                (_, fan_rate), (_, query_rate) = (await measure(n, 32, fan),
                                                  await measure(n, 32, query))  # fmt: skip
                ratios.append(query_rate / fan_rate)
                print(f"  pair {i + 1}: fan-out {fan_rate:5.1f}/s, QueryWorkflow "
                      f"{query_rate:5.1f}/s")  # fmt: skip
            print(
                f"\nQueryWorkflow / fan-out at 32 concurrent: "
                f"{', '.join(f'{r:.1%}' for r in ratios)} (median {np.median(ratios):.1%})"
            )
    finally:
        services.close()
        await env.shutdown()


async def _timed_lookups(mem: Memory, queries: list[list[float]]) -> list[float]:
    """Milliseconds per look-up, made as the recall activity makes it."""
    lat = []
    for q in queries:
        t = time.perf_counter()
        await mem.nearest_async("default", q, 16)
        lat.append((time.perf_counter() - t) * 1000)
    return lat


def lookup(sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    for size in sizes:
        path = Path(tempfile.mkdtemp()) / "m"
        mem = Memory(path, 384)
        vectors = rng.normal(size=(size, 384)).astype("float32")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        t = time.perf_counter()
        for start in range(0, size, 10_000):
            rows = [{"query_id": f"q{i}", "tenant": "default", "text": "", "norm": f"q{i}",
                     "domain": None, "config_version": "v", "vector": vectors[i].tolist(),
                     "scores": {"a": 1.0}, "final_answer": "x", "winner": "a"}
                    for i in range(start, min(size, start + 10_000))]  # fmt: skip
            mem._table.add([{**r, "scores": "{}"} for r in rows])
        mem = Memory(path, 384)  # reopened: it counts its rows at open, then those it appends
        mem._maybe_reindex()
        build = time.perf_counter() - t
        # The first compaction after an index build runs under the write lock record batches
        # wait on: how long a query's record can stall at this size.
        t = time.perf_counter()
        mem._table.optimize(cleanup_older_than=KEEP_VERSIONS_FOR)
        first_optimize = time.perf_counter() - t
        queries = []
        for _i in range(200):
            q = vectors[rng.integers(size)] + rng.normal(scale=0.05, size=384).astype("float32")
            queries.append((q / np.linalg.norm(q)).tolist())
        lat = asyncio.run(_timed_lookups(mem, queries))
        p50, p95 = np.percentile(lat, [50, 95])
        print(f"  look-up at {size:>7,} stored: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms "
              f"(load + index {build:.1f} s, first compaction after it {first_optimize:.1f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-lookup", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="fan-out / QueryWorkflow pairs at 32 concurrent (ratio each)",
    )
    args = parser.parse_args()
    print("== QueryWorkflow against baselines (same local server, same run)")
    asyncio.run(workflows(args.queries, max(1, args.repeat)))
    if not args.skip_lookup:
        print("\n== routing look-up (LanceDB k=16 nearest, tenant filter)")
        lookup((10_000, 100_000))


if __name__ == "__main__":
    main()
