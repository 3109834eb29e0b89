"""Where the dashboard's data comes from: the school (through a DashboardWorkflow, never the
worker's files) and the newest benchmark report on disk, if any."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client

from ..config import TutelageConfig
from ..models.dashboard import Dashboard, DashboardRequest
from .page import Links


async def fetch_dashboard(client: Client, cfg: TutelageConfig, req: DashboardRequest) -> Dashboard:
    return await client.execute_workflow(
        "DashboardWorkflow", req, id=f"dashboard-{uuid.uuid4().hex[:10]}",
        task_queue=cfg.temporal.task_queue, result_type=Dashboard,
    )  # fmt: skip


def links(cfg: TutelageConfig) -> Links:
    return Links(ui=cfg.temporal.effective_ui_url(), namespace=cfg.temporal.namespace)


def latest_bench_report(cfg: TutelageConfig) -> dict[str, Any] | None:
    """The newest benchmark report (a `tutelage bench` JSON with a sweep) in `bench-out/`
    beside the working directory or the config file."""
    roots = [Path.cwd() / "bench-out"] + ([cfg.path.parent / "bench-out"] if cfg.path else [])
    # Reports sit in the bench's --out-dir (bench-out, or a folder in it such as bench-out/demo);
    # its runs/ and cache/ below hold the runs' stores, never walked.
    found = [p for root in roots for pattern in ("*.json", "*/*.json") for p in root.glob(pattern)]
    for path in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(report, dict) and report.get("sweep"):
            report["path"] = str(path)
            return report
    return None
