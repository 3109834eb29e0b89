"""What the benchmark's runner and its reports share: the options, a run's record, the
counted part of a stream, the learning curve and where a report is written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models.lifecycle import Transition
from ..providers.catalog import ConfigCatalog
from . import metrics

DEFAULT_SWEEP = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def recorded_model(catalog: ConfigCatalog, member_id: str | None) -> str | None:
    """The recorded model behind a member (a spawned one answers as its template)."""
    spec = catalog.spec(member_id) if member_id is not None else None
    return spec.model.removeprefix("replay/") if spec is not None else None


@dataclass
class BenchOptions:
    dataset: str
    data_dir: Path
    subjects: list[str] | None = None
    limit: int | None = None
    seed: int = 0
    judge: str = "agreement"  # reference | agreement
    protocol: str = "online"  # online | split
    engine: str = "inline"  # inline | temporal
    report: Path | None = None
    out_dir: Path = Path("bench-out")
    sweep: tuple[float, ...] = DEFAULT_SWEEP
    cost_weight: float | None = None  # the headline point; default: config's routing.cost_weight
    # The learning cycles (promotion, evolution, distillation) every N queries, as configured;
    # off: the roster stays as configured (a static router).
    evolution: bool = True
    # Give the school each item's task as its domain (llmrouter); off: it finds domains itself.
    task_labels: bool = False


@dataclass
class Run:
    cost_weight: float
    outcomes: list[metrics.Outcome] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    winners: list[str | None] = field(default_factory=list)
    domains: list[str | None] = field(default_factory=list)  # each query's domain as it ran
    # (query index, member, domain, old role, new role) whenever a cycle moved someone.
    events: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    # Why, for the moves the members' lifecycles recorded: (query index, Transition).
    transitions: list[tuple[int, Transition]] = field(default_factory=list)
    roles: dict[str, dict[str, str]] = field(default_factory=dict)
    # At the end: each discovered domain's role per member ("*": unclustered queries).
    roster_by_domain: dict[str, dict[str, str]] = field(default_factory=dict)
    peers: dict[str, list[str]] = field(default_factory=dict)  # domain -> its peer panel


def scored(items: list[Any], protocol: str) -> list[Any]:
    """`split`: only the test rows count where the data has a split (llmrouter), else the
    second half; `online`: everything counts."""
    if protocol != "split":
        return items
    if any(getattr(it, "split", "") == "test" for it in items):
        return [it for it in items if it.split == "test"]
    return items[len(items) // 2 :]


def learning_curve(outcomes: list[metrics.Outcome], every: int = 100) -> list[dict[str, float]]:
    """Accuracy, cost and strong-call share per block of `every` queries, in stream order."""
    blocks = []
    for start in range(0, len(outcomes), every):
        s = metrics.summarise(outcomes[start : start + every])
        blocks.append({"from": start + 1, "to": min(len(outcomes), start + every), **s.as_dict()})
    return blocks


def report_stem(opts: BenchOptions, protocol: str) -> str:
    """A report's file name without its suffix (its plot shares it)."""
    return (f"{opts.dataset}-{protocol}-{opts.judge}" + ("" if opts.evolution else "-static")
            + ("-labels" if opts.task_labels else ""))  # fmt: skip


def write_report(report: dict[str, Any], opts: BenchOptions, protocol: str) -> Path:
    """The JSON report at `--report` (the second protocol's beside it, suffixed) or in the
    output folder; returns where."""
    path = opts.out_dir / f"{report_stem(opts, protocol)}.json"
    if opts.report is not None:
        first = "online" if opts.protocol == "both" else opts.protocol
        path = opts.report if protocol == first else opts.report.with_name(
            f"{opts.report.stem}-{protocol}{opts.report.suffix}")  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return path
