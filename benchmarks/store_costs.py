"""CPU per operation of the worker's two stores, on their own: the ledger's record of a batch
of queries (DuckDB), and the memory's nearest-neighbour search and append (LanceDB) beside the
same exact search in numpy. Prints the figures; asserts nothing.

    python benchmarks/store_costs.py [--rows 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import numpy as np  # noqa: E402

from tutelage.models import MemberAnswer, QueryResult, Route, Verdict  # noqa: E402
from tutelage.store.ledger import Ledger  # noqa: E402
from tutelage.store.memory import Memory  # noqa: E402


def _cpu_ms() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1000


def _familiar(i: int) -> QueryResult:
    """A familiar query's record: one answer, one verdict."""
    return QueryResult(
        query_id=f"q{i}", workflow_id=f"wf{i}", route=Route.FAMILIAR, winner="ta", answer="42",
        calls=[MemberAnswer(member_id="ta", text="42", tokens_in=20, tokens_out=5,
                            cost_usd=1e-5, latency_ms=500)],
        verdicts=[Verdict(member_id="ta", judge="agreement:sup", score=1.0)], cost_usd=1e-5,
    )  # fmt: skip


def ledger_costs(root: Path, rows: int) -> None:
    ledger = Ledger(root / "ledger.duckdb")
    n = 0

    def batch(size: int) -> list[tuple[QueryResult, str | None, str, str | None]]:
        nonlocal n
        n += size
        return [(_familiar(n - j), "d1", "v1", "key1") for j in range(size)]

    for _ in range(rows // 8):
        ledger.record_many(batch(8))
    for size in (1, 4, 8):
        start = _cpu_ms()
        for _ in range(50):
            ledger.record_many(batch(size))
        print(f"  ledger: record a batch of {size}: {(_cpu_ms() - start) / (50 * size):6.2f} "
              "CPU ms a query")  # fmt: skip
    ledger.close()


async def memory_costs(root: Path, rows: int) -> None:
    rng = np.random.default_rng(0)

    def unit() -> list[float]:
        v = rng.normal(size=384).astype(np.float32)
        return (v / np.linalg.norm(v)).tolist()

    memory = Memory(root / "memory", 384)
    n = 0

    def new_rows(k: int) -> list[dict[str, object]]:
        nonlocal n
        out = []
        for _ in range(k):
            n += 1
            out.append({"query_id": f"q{n}", "tenant": "default", "text": "t", "norm": "t",
                        "domain": "d", "config_version": "v", "vector": unit(),
                        "scores": {"a": 1.0}, "final_answer": "42", "winner": "a"})  # fmt: skip
        return out

    for _ in range(rows // 20):
        memory.add(new_rows(20), maybe_stored=set())
    for _ in range(5):
        await memory.nearest_async("default", unit(), 8)
    start = _cpu_ms()
    for _ in range(200):
        await memory.nearest_async("default", unit(), 8)
    print(f"  memory: nearest 8 of {rows} (LanceDB): {(_cpu_ms() - start) / 200:6.2f} CPU ms")
    matrix = np.stack([np.asarray(unit(), np.float32) for _ in range(rows)])
    start = _cpu_ms()
    for _ in range(200):
        np.argpartition(-(matrix @ np.asarray(unit(), np.float32)), 8)[:8]
    print(f"  memory: the same exact search in numpy:  {(_cpu_ms() - start) / 200:6.2f} CPU ms")
    start = _cpu_ms()
    for _ in range(100):
        memory.add(new_rows(2), maybe_stored=set())
    print(f"  memory: append 2 rows (LanceDB):        {(_cpu_ms() - start) / 100:6.2f} CPU ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000, help="rows stored before measuring")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="store-costs-"))
    print(f"== the worker's stores, {args.rows} rows stored first, {os.cpu_count()} cores")
    ledger_costs(root, args.rows)
    asyncio.run(memory_costs(root, args.rows))


if __name__ == "__main__":
    main()
