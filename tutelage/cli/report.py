"""`tutelage report --html PATH`: the dashboard as one self-contained file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from temporalio.client import Client

from ..config import load_config
from ..dashboard.page import WINDOWS, render, window_request
from ..dashboard.sources import fetch_dashboard, latest_bench_report, links
from ..models.dashboard import Dashboard, DashboardRequest
from .common import UserError, check_tenant, run_with_client

out = Console()


def run_report(config_path: Path | None, html: Path | None, tenant: str | None, window: str,
               bench_report: Path | None, as_json: bool) -> None:  # fmt: skip
    cfg = load_config(config_path)
    if window not in WINDOWS:
        raise UserError(f"--window must be one of {', '.join(WINDOWS)}, not '{window}'")
    if tenant is not None:
        check_tenant(cfg, tenant)
    if html is None and not as_json:
        raise UserError("say where: --html PATH (the page) or --json (the figures)")
    bench = None
    if bench_report is not None:
        try:
            bench = json.loads(bench_report.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"--bench-report {bench_report}: {exc}") from None
    else:
        bench = latest_bench_report(cfg)
    since, window = window_request(window, datetime.now(UTC))
    req = DashboardRequest(tenant=tenant, since=since)

    async def go(client: Client) -> Dashboard:
        return await fetch_dashboard(client, cfg, req)

    board = run_with_client(cfg, go)
    if as_json:
        print(board.model_dump_json(indent=2))
    if html is not None:
        page = render(board, links(cfg), tenants=cfg.limits.tenants, window=window, bench=bench,
                      form=False, school=cfg.temporal.task_queue)  # fmt: skip
        try:
            html.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {html}: {exc}") from None
        out.print(f"wrote {html} ({len(page):,} bytes; {board.totals.queries} queries"
                  f"{', the benchmark ' + bench['path'] if bench and 'path' in bench else ''})")  # fmt: skip
