"""`tutelage schedules sync`, `evolve now`, `members` and `member promote|demote|retire`.

Everything goes through Temporal: the worker owns the stores, so the CLI reads them by running
a short workflow and moves members through their MemberWorkflow's Updates.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TypeVar

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from ..config import load_config
from ..models.lifecycle import (
    Action,
    CycleInput,
    EvolutionResult,
    RosterReport,
    RosterReportRequest,
    Transition,
    TransitionRequest,
)
from ..options import member_workflow_id
from .common import UserError, run_with_client

out = Console()
T = TypeVar("T")


def sync_command(config_path: Path | None) -> None:
    from ..workers.schedules import sync_schedules

    cfg = load_config(config_path)
    done = run_with_client(cfg, lambda c: sync_schedules(c, cfg))
    for sid, what in done:
        out.print(f"{what:8s} {sid}")


def evolve_now(config_path: Path | None) -> None:
    cfg = load_config(config_path)

    async def go(client: Client) -> EvolutionResult:
        return await client.execute_workflow(
            "EvolutionWorkflow", CycleInput(reason="cli"), id=f"evolution-cli-{uuid.uuid4().hex[:8]}",
            task_queue=cfg.temporal.task_queue, result_type=EvolutionResult,
        )  # fmt: skip

    result: EvolutionResult = run_with_client(cfg, go, 600.0)
    out.print(f"domains: {', '.join(result.discovered) or 'none yet'}")
    for g in result.gaps:
        out.print(f"gap {g.domain}: {'; '.join(g.reasons)}")
    for sp in result.spawned:
        out.print(f"spawned {sp.spec.id} for {sp.domain} ({sp.reason})")
    for p in result.pruned:
        out.print(
            f"retired {p.member_id}" if p.applied else f"not retired {p.member_id}: {p.error}"
        )
    if result.tuning:
        t = result.tuning
        out.print(f"routing: {t.before} -> {t.after} ({t.reason})")


def members_command(config_path: Path | None, as_json: bool = False) -> None:
    cfg = load_config(config_path)

    async def go(client: Client) -> RosterReport:
        return await client.execute_workflow(
            "RosterReportWorkflow", RosterReportRequest(), id=f"roster-{uuid.uuid4().hex[:8]}",
            task_queue=cfg.temporal.task_queue, result_type=RosterReport,
        )  # fmt: skip

    report: RosterReport = run_with_client(cfg, go)
    if as_json:
        print(report.model_dump_json(indent=2))
        return
    out.print(roster_table(report))
    # What does not fit a row of 80 columns goes below it, a line per member.
    for r in report.rows:
        out.print(f"[bold]{escape(r.member_id)}[/]: {escape(r.model)}; exemplars "
                  f"v{r.exemplar_version}; last: {escape(r.last_transition or '-')}",
                  highlight=False)  # fmt: skip
    out.print(f"domains: {', '.join(report.domains) or 'none discovered yet'}")


def roster_table(report: RosterReport) -> Table:
    """The roster in 80 columns: the roles, then the short numbers (the full data: --json)."""
    table = Table(title="the school", pad_edge=False, box=box.SIMPLE_HEAD)
    table.add_column("member", no_wrap=True, max_width=14, overflow="ellipsis")
    table.add_column("roles (domain: role)", ratio=1, overflow="fold")
    for col in ("judged", "win", "score", "cost $"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in report.rows:
        table.add_row(
            r.member_id, ", ".join(f"{d}: {role}" for d, role in r.roles.items()), str(r.judged),
            "-" if r.win_rate is None else f"{r.win_rate:.0%}",
            "-" if r.mean_score is None else f"{r.mean_score:.2f}", f"{r.cost_usd:.4f}",
        )  # fmt: skip
    return table


def member_command(action: str, member_id: str, domain: str, config_path: Path | None) -> None:
    cfg = load_config(config_path)
    try:
        act = Action(action)
    except ValueError:
        raise UserError(
            f"unknown action '{action}'; use promote, demote, retire or activate"
        ) from None
    req = TransitionRequest(action=act, domain=domain, reason="by hand", by="cli")

    async def go(client: Client) -> Transition:
        wf_id = member_workflow_id(member_id, cfg.temporal.task_queue)
        handle = client.get_workflow_handle(wf_id)
        try:
            return await handle.execute_update("transition", req, result_type=Transition)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            raise UserError(f"{member_id}: {getattr(cause, 'message', None) or cause}") from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise UserError(f"no member '{member_id}' (no workflow {wf_id}"
                                "); `tutelage members` lists them") from None  # fmt: skip
            raise

    t: Transition = run_with_client(cfg, go)
    out.print(f"{t.member_id} in {t.domain}: {t.from_role.value} -> {t.to_role.value}")
