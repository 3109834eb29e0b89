"""`tutelage bench`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console

from ..bench.datasets import DATASETS, DatasetError
from ..bench.runner import DEFAULT_SWEEP, BenchOptions, run_bench
from ..config import load_config
from .common import UserError

out = Console()


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UserError(f"--{name} must be one of {', '.join(allowed)}, not '{value}'")
    return value


def run_bench_command(
    config_path: Path | None, dataset: str, data_dir: Path | None, subjects: str | None,
    limit: int | None, seed: int, judge: str, protocol: str, engine: str,
    report: Path | None, out_dir: Path, sweep: str | None, evolution: bool = True,
    task_labels: bool = False, feedback_rate: float = 0.0, feedback_noise: float = 0.0,
) -> dict[str, object]:  # fmt: skip
    cfg = load_config(config_path)
    _choice("dataset", dataset, DATASETS)
    _choice("judge", judge, ("reference", "agreement"))
    _choice("protocol", protocol, ("online", "split", "both"))
    _choice("engine", engine, ("inline", "temporal"))
    for name, value in (("feedback-rate", feedback_rate), ("feedback-noise", feedback_noise)):
        if not 0.0 <= value <= 1.0:
            raise UserError(f"--{name} must be a probability from 0 to 1, not {value:g}")
    directory = data_dir or cfg.replay.data_dir
    if directory is None:
        raise UserError("no data directory: pass --data-dir or set [replay] data_dir")
    try:
        weights = tuple(float(w) for w in sweep.split(",")) if sweep else DEFAULT_SWEEP
    except ValueError:
        raise UserError(f"--sweep must be numbers separated by commas, not '{sweep}'") from None
    opts = BenchOptions(
        dataset=dataset, data_dir=directory, limit=limit, seed=seed, judge=judge,
        protocol=protocol, engine=engine, report=report, out_dir=out_dir, sweep=weights,
        evolution=evolution, task_labels=task_labels, feedback_rate=feedback_rate,
        feedback_noise=feedback_noise,
        subjects=[s.strip() for s in subjects.split(",")] if subjects else None,
    )  # fmt: skip
    try:
        result = asyncio.run(run_bench(cfg, opts, out))
    except DatasetError as exc:
        raise UserError(str(exc)) from None
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    for r in [result, *result.get("also", [])]:
        fb, hits = r["feedback"], r["cache_hits"]
        out.print(f"{r['protocol']}: judge: {r['judge_label']}; {r['feedback_label']} "
                  f"({fb['ratings']} sent); cache hits: {hits['count']}")
        out.print(f"report: {r['report_path']}\nplot:   {r['plot_path']}")
    return result
