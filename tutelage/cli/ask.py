"""`tutelage ask` and `tutelage config`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from ..config import TutelageConfig, load_config
from ..models import QueryInput, QueryResult
from ..options import query_workflow_id
from ..policy.answers import failure_hint
from ..policy.savings import saved_share, saved_usd
from ..policy.validation import query_problem
from .common import UserError

out = Console()


def render_result(result: QueryResult, cfg: TutelageConfig) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    saved = saved_usd(result.supervisor_only_cost_usd, result.cost_usd)
    share = saved_share(result.supervisor_only_cost_usd, result.cost_usd)
    table.add_row("route", f"{result.route.value} (nearest {result.nearest_similarity:.3f})")
    table.add_row("why", result.reason or "-")
    table.add_row("answered by", result.winner or "-")
    table.add_row("members asked", ", ".join(result.members_asked) or "-")
    scores = ", ".join(
        f"{m}: {'unjudged' if s is None else f'{s:.2f}'}" for m, s in result.scores.items()
    )
    table.add_row("scores", scores or "not judged")
    failed = [f"{c.member_id} ({c.error_kind})" for c in result.calls if c.error]
    if failed:
        table.add_row("failed", ", ".join(failed))
    table.add_row("tokens", f"{result.tokens_in} in / {result.tokens_out} out")
    table.add_row("cost", f"${result.cost_usd:.6f}")
    table.add_row("supervisor-only", f"${result.supervisor_only_cost_usd:.6f}")
    table.add_row("saved", f"${saved:.6f}" + (f" ({share:.0%})" if share is not None else ""))
    table.add_row("latency", f"{result.latency_ms:.0f} ms")
    table.add_row("run", cfg.temporal.run_url(result.workflow_id))
    title = "[green]answer[/]" if result.status == "ok" else "[red]failed[/]"
    return Panel(table, title=title, expand=False)


def run_ask(
    text: str,
    config_path: Path | None,
    domain: str | None,
    tenant: str,
    reference: str | None,
    as_json: bool,
    timeout_s: float,
    sample: bool = False,
) -> None:
    from ..client import new_query_id, submit
    from .common import connect

    cfg = load_config(config_path)
    if sample:
        text = sample_question(cfg)
        out.print(f"[dim]a recorded question:[/] {escape(text)}", soft_wrap=True)
    query = QueryInput(text=text, domain=domain, tenant=tenant, reference=reference)
    problem = query_problem(query, cfg.limits)
    if problem:
        raise UserError(problem)
    query.query_id = new_query_id(text)

    async def go() -> QueryResult:
        client = await connect(cfg, cfg.temporal.effective_address(), 10.0)
        try:
            return await asyncio.wait_for(submit(client, cfg, query), timeout_s)
        except TimeoutError:
            wid = query_workflow_id(tenant, query.query_id, cfg.temporal.task_queue)
            raise UserError(
                f"no answer within {timeout_s:g}s; is a worker serving task queue "
                f"'{cfg.temporal.task_queue}'? The run: {cfg.temporal.run_url(wid)}"
            ) from None

    result = asyncio.run(go())
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    if result.answer:
        out.print(result.answer, highlight=False, markup=False)
    else:
        hint = failure_hint(result.calls)
        out.print(f"[red]no answer:[/] {escape(hint or result.error or 'failed')}", soft_wrap=True)
    out.print(render_result(result, cfg))
    if result.status != "ok":
        raise SystemExit(1)


def sample_question(cfg: TutelageConfig) -> str:
    """A GSM8K question the replay provider has recorded answers for."""
    import random

    from ..bench.datasets import DatasetError, load_gsm8k

    if cfg.replay.data_dir is None:
        raise UserError("--sample needs recorded answers: set [replay] data_dir in the config")
    try:
        items = load_gsm8k(cfg.replay.data_dir)
    except DatasetError as exc:
        raise UserError(f"--sample: {exc}") from None
    return random.choice(items).prompt


def show_config(config_path: Path | None) -> None:
    cfg = load_config(config_path)
    table = Table(title=f"{cfg.path} (version {cfg.version})")
    for col in ("member", "model", "role", "domains", "supervisor"):
        table.add_column(col)
    for m in cfg.members:
        table.add_row(m.id, m.model, m.role.value, ", ".join(m.domains),
                      "yes" if m.id == cfg.supervisor else "")  # fmt: skip
    out.print(table)
    where = "embedded dev server" if cfg.temporal.embedded() else "existing cluster"
    out.print(f"Temporal: {cfg.temporal.effective_address()} ({where}); data: {cfg.data_dir}")
