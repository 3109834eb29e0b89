"""The RouteLLM datasets' report (GSM8K, MMLU): the school against RouteLLM's routers.

Two models, a strong supervisor and a weak student: accuracy against the share of strong calls,
APGR and CPT as RouteLLM's evals compute them, and the two-model baselines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..config import TutelageConfig
from . import metrics
from .common import (
    BenchOptions,
    Run,
    learning_curve,
    protocol_fields,
    report_stem,
    scored,
    scored_at,
    title,
    write_report,
)
from .datasets import STRONG, WEAK, Item

ROUTELLM_BEST = {  # published best routers: (CPT50 %, CPT80 %, APGR)
    "gsm8k": (33.6, 63.3, 0.622),
    "mmlu": (35.4, 70.3, 0.603),
}


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


def routellm_report(
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
        **protocol_fields(opts, runs, headline_weight, scored_at(items, protocol), protocol),
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
    report["report_path"] = str(write_report(report, opts, protocol))
    stem = report_stem(opts, protocol)
    report["plot_path"] = str(_plot(report, curve, opts.out_dir / f"{stem}.png"))
    console.print(final_table(report))
    return report


def curve_of(
    points: list[metrics.Summary], weak: float, strong: float
) -> list[tuple[float, float]]:
    """The sweep's points between the two endpoints any user can reach by configuration:
    everything to the student (0 %, weak) and everything to the supervisor (100 %, strong)."""
    inner = [(p.strong_call_share * 100, p.accuracy) for p in points]
    return [(0.0, weak), *inner, (100.0, strong)]


def final_table(report: dict[str, Any]) -> Table:
    t = Table(title=f"{title(report)} · {report['items']} scored items")
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
        + _protocol_caption(report)
    )
    return t


def _protocol_caption(report: dict[str, Any]) -> str:
    """The judge, the users' ratings and the cache hits, as the table's last lines."""
    fb, hits = report["feedback"], report["cache_hits"]
    hit_acc = "" if hits["accuracy"] is None else f", accuracy {hits['accuracy']:.3f}"
    return (f"\njudge: {report['judge_label']}\n{report['feedback_label']}: {fb['ratings']} "
            f"ratings ({fb['flipped']} flipped), {fb['user_verdicts']} user verdicts\n"
            f"cache hits: {hits['count']} (same item {hits['same_item']}, gold match "
            f"{hits['gold_match']}, wrong {hits['wrong']}, unverifiable "
            f"{hits['unverifiable']}{hit_acc})")


def _plot(report: dict[str, Any], curve: list[tuple[float, float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    xs, ys = zip(*sorted(curve), strict=True)
    ax.plot(xs, ys, marker="o", label=("tutelage, ORACLE judge: an upper bound (cost_weight "
                                       "sweep)" if report["oracle_bound"] else
                                       "tutelage (cost_weight sweep)"))  # fmt: skip
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
    ax.set_title(f"{title(report)}\nAPGR {report['apgr']:.3f} · cache hits "
                 f"{report['cache_hits']['count']}", fontsize=9)  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
