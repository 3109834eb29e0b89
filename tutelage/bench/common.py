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
    # The benchmark's users (`policy/bench_feedback.py`): after an item is served, its answer's
    # recorded score arrives as a user rating with this probability, flipped with the noise's.
    feedback_rate: float = 0.0
    feedback_noise: float = 0.0


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
    # The users' ratings sent: (query index, the score sent, whether it was flipped).
    ratings: list[tuple[int, float, bool]] = field(default_factory=list)
    user_verdicts: int = 0  # the user verdicts those ratings made (the served member's and others')
    # Each query's served answer came with gold at serve time (the reference judged it).
    gold_at_serve: list[bool] = field(default_factory=list)


def scored_at(items: list[Any], protocol: str) -> list[int]:
    """The positions in the stream that count. `split`: only the test rows where the data has
    a split (llmrouter), else the second half; `online`: everything."""
    if protocol != "split":
        return list(range(len(items)))
    if any(getattr(it, "split", "") == "test" for it in items):
        return [i for i, it in enumerate(items) if it.split == "test"]
    return list(range(len(items) // 2, len(items)))


def scored(items: list[Any], protocol: str) -> list[Any]:
    """The part of `items` (or of a run's outcomes, in stream order) that counts."""
    return [items[i] for i in scored_at(items, protocol)]


def gold_at_serve(items: list[Any], judge: str, protocol: str) -> list[bool]:
    """Which queries carry their gold answer while served (reference judging): under `online`
    all of them (an oracle judge); under `split` only the rows that are not scored, so no
    scored row is ever judged, routed or learned on with its gold; with agreement, none."""
    if judge != "reference":
        return [False] * len(items)
    blind = set(scored_at(items, protocol)) if protocol == "split" else set()
    return [i not in blind for i in range(len(items))]


def judge_label(judge: str, protocol: str) -> str:
    """What a report's judge is, named for what it is: reference judging gives the judge the
    gold answer at serve time, so it is an oracle, an upper bound, never a result."""
    if judge == "reference" and protocol == "split":
        return ("oracle judge on the training rows only (gold at serve time there); the scored "
                "rows served with no gold, judged by agreement with the supervisor")
    if judge == "reference":
        return "oracle judge (reference: gold at serve time): an upper bound, not a result"
    return "agreement with the supervisor (label-free)"


def feedback_label(opts: BenchOptions) -> str:
    if opts.feedback_rate <= 0:
        return "no user ratings"
    noise = f", flipped with P = {opts.feedback_noise:g}" if opts.feedback_noise > 0 else ""
    return f"user ratings of R = {opts.feedback_rate:g} of served answers{noise}"


def cache_hits(outcomes: list[metrics.Outcome]) -> dict[str, Any]:
    """How many cache hits, how each was scored, and their accuracy (None: no hit)."""
    hits = [o for o in outcomes if o.cache]
    counts = {kind: sum(o.cache == kind for o in hits)
              for kind in ("same_item", "gold_match", "wrong", "unverifiable")}  # fmt: skip
    return {"count": len(hits), **counts,
            "accuracy": sum(o.score for o in hits) / len(hits) if hits else None}  # fmt: skip


def feedback_summary(opts: BenchOptions, run: Run, counted_at: list[int]) -> dict[str, Any]:
    """R and P, and the ratings the run sent (all of them, and on the counted rows)."""
    counted = set(counted_at)
    return {"rate": opts.feedback_rate, "noise": opts.feedback_noise,
            "ratings": len(run.ratings), "flipped": sum(f for _, _, f in run.ratings),
            "ratings_on_counted_rows": sum(i in counted for i, _, _ in run.ratings),
            "user_verdicts": run.user_verdicts}  # fmt: skip


def protocol_fields(opts: BenchOptions, runs: dict[float, Run], headline_weight: float,
                    counted_at: list[int], protocol: str) -> dict[str, Any]:  # fmt: skip
    """What every report states about how it was measured: the judge named for what it is
    (reference judging is an oracle), the users' ratings (R, P, how many), whether gold reached
    any query at serve time (never a scored one under `split`) and the cache hits, counted."""
    head = runs[headline_weight]
    counted = set(counted_at)
    gold_scored = sum(g for i, g in enumerate(head.gold_at_serve) if i in counted)
    return {
        "judge_label": judge_label(opts.judge, protocol),
        "oracle_bound": opts.judge == "reference",
        "feedback": feedback_summary(opts, head, counted_at),
        "feedback_label": feedback_label(opts),
        "gold_at_serve": {"rows": sum(head.gold_at_serve), "scored_rows": gold_scored},
        "cache_hits": cache_hits([head.outcomes[i] for i in counted_at]),
        "cache_hits_whole_stream": cache_hits(head.outcomes),
        "cache_hits_by_cost_weight": {f"{w:g}": cache_hits([r.outcomes[i] for i in counted_at])
                                      ["count"] for w, r in sorted(runs.items())},  # fmt: skip
    }


def title(report: dict[str, Any]) -> str:
    """A report's plot and table title: dataset, protocol, the judge named for what it is
    (an oracle judge for reference judging), and the users' ratings R and P."""
    judge = ("ORACLE judge (gold at serve time; an upper bound)" if report["protocol"] != "split"
             else "ORACLE judge on train rows (upper bound)") if report.get("oracle_bound") else (
        "agreement judge")  # fmt: skip
    fb = report.get("feedback") or {}
    ratings = (f"feedback R={fb['rate']:g} P={fb['noise']:g}" if fb.get("rate")
               else "no feedback")  # fmt: skip
    return f"{report['dataset']} · {report['protocol']} · {judge} · {ratings}"


def learning_curve(outcomes: list[metrics.Outcome], every: int = 100) -> list[dict[str, float]]:
    """Accuracy, cost and strong-call share per block of `every` queries, in stream order."""
    blocks = []
    for start in range(0, len(outcomes), every):
        s = metrics.summarise(outcomes[start : start + every])
        blocks.append({"from": start + 1, "to": min(len(outcomes), start + every), **s.as_dict()})
    return blocks


def report_stem(opts: BenchOptions, protocol: str) -> str:
    """A report's file name without its suffix (its plot shares it)."""
    feedback = (f"-fb{opts.feedback_rate:g}" if opts.feedback_rate > 0 else "") + (
        f"-noise{opts.feedback_noise:g}" if opts.feedback_rate > 0 and opts.feedback_noise > 0
        else "")  # fmt: skip
    return (f"{opts.dataset}-{protocol}-{opts.judge}" + ("" if opts.evolution else "-static")
            + ("-labels" if opts.task_labels else "") + feedback)  # fmt: skip


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
