"""`tutelage warm`: send recorded questions through the running school, as traffic would.

The benchmark measures in schools of its own (one per cost weight, thrown away after); this
is how the school that `tutelage ask` and the API talk to gets a memory: every question is an
ordinary QueryWorkflow on the configured task queue, recorded, and counted by the school's
promotion and evolution cycles.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import Client

from ..bench.datasets import DATASETS, DatasetError, sample_stream
from ..client import new_query_id, submit, workflow_pollers
from ..config import TutelageConfig, load_config
from ..models import QueryInput, QueryResult
from ..policy.savings import saved_share, saved_usd
from .common import UserError, check_tenant, run_with_client

out = Console()


def run_warm(config_path: Path | None, dataset: str, limit: int, seed: int, concurrency: int,
             tenant: str) -> None:  # fmt: skip
    cfg = load_config(config_path)
    if dataset not in DATASETS:
        raise UserError(f"--dataset must be one of {', '.join(DATASETS)}, not '{dataset}'")
    if limit < 1 or concurrency < 1:
        raise UserError("--limit and --concurrency must be at least 1")
    check_tenant(cfg, tenant)
    if cfg.replay.data_dir is None:
        raise UserError("warm sends recorded questions: set [replay] data_dir in the config")
    try:
        items = sample_stream(dataset, cfg.replay.data_dir, seed, limit)
    except DatasetError as exc:
        raise UserError(str(exc)) from None
    queries = [QueryInput(text=it.prompt, query_id=new_query_id(it.prompt), tenant=tenant,
                          draw_key=f"{seed}-{i}") for i, it in enumerate(items)]  # fmt: skip

    async def go(client: Client) -> list[QueryResult]:
        if await workflow_pollers(client, cfg.temporal.task_queue) == 0:
            raise UserError(f"no worker serves the school's task queue "
                            f"'{cfg.temporal.task_queue}'; start the stack with `tutelage up`")  # fmt: skip
        return await _send(client, cfg, queries, concurrency)

    # Generous: the school answers a few queries a second at least, and each cycle it triggers
    # runs in the background.
    results = run_with_client(cfg, go, timeout_s=120.0 + 5.0 * len(queries))
    out.print(_summary(results, cfg))


async def _send(client: Client, cfg: TutelageConfig, queries: list[QueryInput],
                concurrency: int) -> list[QueryResult]:  # fmt: skip
    slots = asyncio.Semaphore(concurrency)
    columns = (TextColumn("warming the school"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=out, transient=True) as progress:
        task = progress.add_task("warm", total=len(queries))

        async def one(q: QueryInput) -> QueryResult:
            async with slots:
                result = await submit(client, cfg, q)
            progress.advance(task)
            return result

        return list(await asyncio.gather(*(one(q) for q in queries)))


def _summary(results: list[QueryResult], cfg: TutelageConfig) -> Table:
    ok = [r for r in results if r.status == "ok"]
    cost = sum(r.cost_usd for r in results)
    alone = sum(r.supervisor_only_cost_usd for r in results)
    routes = Counter(r.route.value for r in results)
    winners = Counter(r.winner or "none" for r in ok)
    table = Table(title=f"school '{cfg.temporal.task_queue}' warmed", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("queries", f"{len(results)} sent, {len(ok)} answered")
    table.add_row("routes", ", ".join(f"{k} {v}" for k, v in routes.most_common()))
    table.add_row("answered by", ", ".join(f"{k} {v}" for k, v in winners.most_common()))
    supervised = sum(r.supervisor_called for r in results)
    table.add_row("supervisor called", f"{supervised} ({supervised / max(1, len(results)):.0%})")
    share = saved_share(alone, cost)
    table.add_row("cost", f"${cost:.4f} (supervisor alone ${alone:.4f}; saved "
                  f"${saved_usd(alone, cost):.4f}" + (f", {share:.0%})" if share is not None else ")"))
    table.add_row("next", "tutelage ask --sample; tutelage members; the runs in the Temporal UI")
    return table
