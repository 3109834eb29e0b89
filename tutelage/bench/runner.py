"""`tutelage bench`: stream recorded items through the school and measure it as RouteLLM does."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..config import TutelageConfig
from ..models import JudgeMode, QueryInput, QueryResult
from ..providers.embedders import make_embedder
from . import metrics
from .datasets import STRONG, WEAK, Item, sample_stream
from .engines import CachedEmbedder, open_engine

ROUTELLM_BEST = {  # published best routers: (CPT50 %, CPT80 %, APGR)
    "gsm8k": (33.6, 63.3, 0.622),
    "mmlu": (35.4, 70.3, 0.603),
}
DEFAULT_SWEEP = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


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


@dataclass
class Run:
    cost_weight: float
    outcomes: list[metrics.Outcome] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    winners: list[str | None] = field(default_factory=list)
    # (query index, member, domain, old role, new role) whenever a cycle moved someone.
    events: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    roles: dict[str, dict[str, str]] = field(default_factory=dict)


def stream(opts: BenchOptions) -> list[Item]:
    return sample_stream(opts.dataset, opts.data_dir, opts.seed, opts.limit, opts.subjects)


def scored(items: list[Any], protocol: str) -> list[Any]:
    """`split`: only the second half counts; `online`: everything counts."""
    return items[len(items) // 2 :] if protocol == "split" else items


def stream_embeddings(items: list[Item], out_dir: Path, embedder_name: str) -> np.ndarray:
    texts = [it.prompt for it in items]
    key = hashlib.sha256(("\x1f".join(texts) + embedder_name).encode()).hexdigest()[:16]
    path = out_dir / "cache" / f"embeddings-{key}.npy"
    if path.exists():
        return np.load(path)
    embedder = make_embedder(embedder_name)
    vectors = np.concatenate([embedder.embed(texts[i : i + 64]) for i in range(0, len(texts), 64)])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def bench_config(
    base: TutelageConfig, opts: BenchOptions, cost_weight: float, run_dir: Path
) -> TutelageConfig:
    cfg = base.model_copy(deep=True)
    cfg.data_dir = run_dir
    cfg.replay.data_dir = opts.data_dir.resolve()
    cfg.routing.cost_weight = cost_weight
    cfg.judge.mode = JudgeMode.AGREEMENT if opts.judge == "agreement" else JudgeMode.LLM
    if not opts.evolution:
        sch = cfg.schedules
        sch.promotion_every_queries = sch.evolution_every_queries = 0
        sch.distillation_every_queries = 0
    return cfg


def _roles(services: Any) -> dict[str, dict[str, str]]:
    school = services.school
    return {m.id: {"*": m.role_in(None).value, **{d: r.value for d, r in sorted(m.roles.items())}}
            for m in school.members}  # fmt: skip


def _model_of(cfg: TutelageConfig, member_id: str | None) -> str | None:
    if member_id is None:
        return None
    return cfg.member(member_id).model.removeprefix("replay/")


async def run_once(
    base: TutelageConfig, opts: BenchOptions, items: list[Item], embedder: CachedEmbedder,
    cost_weight: float, live: Any = None, label: str = "",
) -> Run:  # fmt: skip
    run_id = uuid.uuid4().hex[:6]
    cfg = bench_config(base, opts, cost_weight, opts.out_dir / "runs" / run_id)
    run = Run(cost_weight)
    async with open_engine(opts.engine, cfg, embedder) as engine:
        services = engine.services
        run.roles = _roles(services)
        for i, it in enumerate(items):
            query = QueryInput(
                text=it.prompt, query_id=f"bench-{run_id}-{i:05d}", draw_key=f"{opts.seed}-{i}",
                reference=it.reference if opts.judge == "reference" else None,
            )  # fmt: skip
            result: QueryResult = await engine.ask(query)
            model = _model_of(cfg, result.winner)
            run.outcomes.append(metrics.Outcome(
                correct=bool(model and it.correct.get(model, False)),
                strong_called=result.supervisor_called, cost_usd=result.cost_usd))  # fmt: skip
            run.routes.append(result.route.value)
            run.winners.append(result.winner)
            if result.triggered:
                now = _roles(services)
                for member, domains in now.items():
                    before = run.roles.get(member, {})
                    for d, role in domains.items():
                        old = before.get(d, before.get("*", "-"))
                        if role != old:
                            run.events.append((i + 1, member, d, old, role))
                run.roles = now
            if live is not None and (i % 10 == 0 or i == len(items) - 1):
                live.update(_progress(label, i + 1, len(items), run))
    return run


def _progress(label: str, done: int, total: int, run: Run) -> Table:
    s = metrics.summarise(run.outcomes)
    t = Table(title=f"tutelage bench {label}", show_header=True)
    for col in ("queries", "accuracy", "strong calls", "cost $", "routes", "roster"):
        t.add_column(col, overflow="fold")
    routes = {r: run.routes.count(r) for r in sorted(set(run.routes))}
    roster = "; ".join(f"{m} " + ", ".join(f"{d}:{r}" for d, r in list(roles.items())[:6])
                       for m, roles in run.roles.items())  # fmt: skip
    t.add_row(f"{done}/{total}", f"{s.accuracy:.3f}", f"{s.strong_call_share:.1%}",
              f"{s.cost_usd:.4f}", ", ".join(f"{k}:{v}" for k, v in routes.items()), roster)  # fmt: skip
    return t


def learning_curve(outcomes: list[metrics.Outcome], every: int = 100) -> list[dict[str, float]]:
    """Accuracy, cost and strong-call share per block of `every` queries, in stream order."""
    blocks = []
    for start in range(0, len(outcomes), every):
        s = metrics.summarise(outcomes[start : start + every])
        blocks.append({"from": start + 1, "to": min(len(outcomes), start + every), **s.as_dict()})
    return blocks


def baselines(
    items: list[Item], base: TutelageConfig, share: float, seed: int
) -> dict[str, metrics.Summary]:
    from ..providers._litellm import litellm
    from ..providers.pricing import member_price

    sup = base.member(base.supervisor)
    student = next(m for m in base.members if m.id != base.supervisor)
    p_sup, p_stu = member_price(sup), member_price(student)

    def cost(price: Any, it: Item, model: str) -> float:
        tin = litellm.token_counter(model="gpt-4", text=it.prompt)
        tout = litellm.token_counter(model="gpt-4", text=it.answers[model])
        return float(price.of(tin, tout))

    s_ok = [it.correct[STRONG] for it in items]
    w_ok = [it.correct[WEAK] for it in items]
    s_cost = [cost(p_sup, it, STRONG) for it in items]
    w_cost = [cost(p_stu, it, WEAK) for it in items]
    return {
        "supervisor_only": metrics.summarise([metrics.Outcome(o, True, c) for o, c in zip(s_ok, s_cost, strict=True)]),
        "student_only": metrics.summarise([metrics.Outcome(o, False, c) for o, c in zip(w_ok, w_cost, strict=True)]),
        "random": metrics.random_router(s_ok, w_ok, s_cost, w_cost, share, seed),
        "oracle": metrics.oracle(s_ok, w_ok, s_cost, w_cost),
    }  # fmt: skip


async def run_bench(base: TutelageConfig, opts: BenchOptions, console: Console) -> dict[str, Any]:
    items = stream(opts)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    vectors = stream_embeddings(items, opts.out_dir, base.embedder.model)
    embedder = CachedEmbedder(
        make_embedder(base.embedder.model), [it.prompt for it in items], vectors
    )
    headline_weight = base.routing.cost_weight if opts.cost_weight is None else opts.cost_weight
    weights = sorted(set(opts.sweep) | {headline_weight})
    runs: dict[float, Run] = {}
    with Live(console=console, refresh_per_second=4, transient=True) as live:
        for w in weights:
            runs[w] = await run_once(base, opts, items, embedder, w, live, f"cost_weight={w}")
    # One stream serves both protocols: `split` scores its second half, `online` all of it.
    protocols = ["online", "split"] if opts.protocol == "both" else [opts.protocol]
    reports = [_report(base, opts, items, runs, headline_weight, p, console) for p in protocols]
    if len(reports) > 1:
        reports[0]["also"] = reports[1:]
    return reports[0]


def _report(
    base: TutelageConfig, opts: BenchOptions, items: list[Item], runs: dict[float, Run],
    headline_weight: float, protocol: str, console: Console,
) -> dict[str, Any]:  # fmt: skip
    counted = scored(items, protocol)
    points = {w: metrics.summarise(scored(r.outcomes, protocol)) for w, r in runs.items()}
    head = points[headline_weight]
    base_summaries = baselines(counted, base, head.strong_call_share, opts.seed)
    weak, strong = (
        base_summaries["student_only"].accuracy,
        base_summaries["supervisor_only"].accuracy,
    )
    curve = curve_of(list(points.values()), weak, strong)
    report = {
        "dataset": opts.dataset, "protocol": protocol, "judge": opts.judge,
        "engine": opts.engine, "seed": opts.seed, "items": len(counted),
        "stream_items": len(items), "cost_weight": headline_weight,
        "tutelage": head.as_dict(),
        "baselines": {k: v.as_dict() for k, v in base_summaries.items()},
        "sweep": [{"cost_weight": w, **p.as_dict()} for w, p in sorted(points.items())],
        "apgr": metrics.apgr(curve, weak, strong),
        "cpt50": metrics.cpt(curve, weak, strong, 0.5),
        "cpt80": metrics.cpt(curve, weak, strong, 0.8),
        "cost_reduction_at_95": metrics.cost_reduction_at(list(points.values()),
                                                          base_summaries["supervisor_only"]),
        "routellm_best": dict(zip(("cpt50", "cpt80", "apgr"), ROUTELLM_BEST[opts.dataset], strict=True)),
        "routes": {r: runs[headline_weight].routes.count(r) for r in set(runs[headline_weight].routes)},
        "evolution": opts.evolution,
        "learning_curve": learning_curve(runs[headline_weight].outcomes),
        "role_changes": [dict(zip(("query", "member", "domain", "from", "to"), e, strict=True))
                         for e in runs[headline_weight].events],
        "final_roster": runs[headline_weight].roles,
    }  # fmt: skip
    stem = f"{opts.dataset}-{protocol}-{opts.judge}" + ("" if opts.evolution else "-static")
    report_path = opts.out_dir / f"{stem}.json"
    if opts.report is not None:
        report_path = (
            opts.report
            if protocol == protocols_first(opts)
            else opts.report.with_name(f"{opts.report.stem}-{protocol}{opts.report.suffix}")
        )
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2))
    report["report_path"] = str(report_path)
    report["plot_path"] = str(_plot(report, curve, opts.out_dir / f"{stem}.png"))
    console.print(final_table(report))
    return report


def protocols_first(opts: BenchOptions) -> str:
    return "online" if opts.protocol == "both" else opts.protocol


def curve_of(
    points: list[metrics.Summary], weak: float, strong: float
) -> list[tuple[float, float]]:
    """The sweep's points between the two endpoints any user can reach by configuration:
    everything to the student (0 %, weak) and everything to the supervisor (100 %, strong)."""
    inner = [(p.strong_call_share * 100, p.accuracy) for p in points]
    return [(0.0, weak), *inner, (100.0, strong)]


def final_table(report: dict[str, Any]) -> Table:
    t = Table(title=f"{report['dataset']} · {report['protocol']} · judge={report['judge']} · "
                    f"{report['items']} scored items")  # fmt: skip
    for col in ("system", "accuracy", "strong-call share", "cost $"):
        t.add_column(col)
    rows = [("tutelage", report["tutelage"])] + list(report["baselines"].items())
    for name, s in rows:
        t.add_row(
            name, f"{s['accuracy']:.3f}", f"{s['strong_call_share']:.1%}", f"{s['cost_usd']:.4f}"
        )
    best = report["routellm_best"]
    red = report["cost_reduction_at_95"]
    t.caption = (
        f"APGR {report['apgr']:.3f} (RouteLLM best {best['apgr']}) · CPT50 {report['cpt50']:.1f}% "
        f"({best['cpt50']}%) · CPT80 {report['cpt80']:.1f}% ({best['cpt80']}%) · cost reduction "
        f"at 95% quality: {'n/a' if red is None else f'{red:.1%}'}"
    )
    return t


def _plot(report: dict[str, Any], curve: list[tuple[float, float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    xs, ys = zip(*sorted(curve), strict=True)
    ax.plot(xs, ys, marker="o", label="tutelage (cost_weight sweep)")
    b = report["baselines"]
    ax.axhline(b["supervisor_only"]["accuracy"], color="red", ls="--", label="supervisor only")
    ax.axhline(b["student_only"]["accuracy"], color="grey", ls="--", label="student only")
    ax.plot([0, 100], [b["student_only"]["accuracy"], b["supervisor_only"]["accuracy"]],
            color="grey", ls=":", label="random router")  # fmt: skip
    ax.scatter([b["oracle"]["strong_call_share"] * 100], [b["oracle"]["accuracy"]], marker="*",
               s=120, color="green", label="oracle")  # fmt: skip
    best = report["routellm_best"]
    weak, strong = b["student_only"]["accuracy"], b["supervisor_only"]["accuracy"]
    ax.scatter([best["cpt50"], best["cpt80"]],
               [weak + 0.5 * (strong - weak), weak + 0.8 * (strong - weak)],
               marker="x", s=80, color="black", label="RouteLLM best (CPT50, CPT80)")  # fmt: skip
    ax.set_xlabel("strong model calls (%)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{report['dataset']} · {report['protocol']} · judge={report['judge']} · "
                 f"APGR {report['apgr']:.3f}")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
