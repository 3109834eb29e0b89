"""The llmrouter benchmark's report: the school against fixed routers over nine models.

Accuracy is the mean recorded score of the answers served (CommonGen's coverage counts as its
fraction); cost is what the calls cost at models.json's prices, with prompt tokens counted on
the question and each task's stated answer length (`bench/llmrouter.py`). Every baseline is
priced the same way on the same items. The JSON carries, at its top level, the headline run's
`accuracy` and `cost_usd` and a `baselines` object with the same two fields per baseline.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..config import TutelageConfig
from ..providers.catalog import ConfigCatalog
from ..providers.replay import prompt_token_count
from . import baselines as fixed
from . import metrics
from .common import (
    BenchOptions,
    Run,
    learning_curve,
    protocol_fields,
    recorded_model,
    report_stem,
    title,
    write_report,
)
from .datasets import Item
from .llmrouter import model_prices

# The targets, against the best single model on the same items. Reference judging's
# is an oracle's (gold at serve time): a bound, never a result.
TARGETS = {"agreement": {"accuracy_margin": 0.0, "cost_ratio": 0.35},
           "reference": {"accuracy_margin": 0.03, "cost_ratio": 0.50}}  # fmt: skip
# With users' ratings (agreement judging plus feedback): at least the best single model's
# accuracy at no more than half its cost, and in the last fifth of the stream at most 40 %.
FEEDBACK_TARGET = {"accuracy_margin": 0.0, "cost_ratio": 0.50, "last_fifth_cost_ratio": 0.40}
TEACHER_TOLERANCE = 0.02
_LADDER = ["probation", "student", "ta", "teacher"]


def _costed(items: list[Item], prices: dict[str, tuple[float, float]]) -> list[fixed.Costed]:
    out = []
    for it in items:
        tin = prompt_token_count([{"role": "user", "content": it.prompt}])
        tout = it.tokens_out or 0
        out.append(fixed.Costed(task=it.subject, scores=dict(it.scores), costs={
            m: prices[m][0] * tin + prices[m][1] * tout for m in it.scores}))  # fmt: skip
    return out


def _figures(s: metrics.Summary, n: int) -> dict[str, float]:
    return {**s.as_dict(), "cost_per_1k_usd": s.cost_usd / max(n, 1) * 1000}


def event_kind(old: str, new: str) -> str:
    """A roster change as a lifecycle event: spawn, promote, demote, retire or activate."""
    if old == "-":
        return "spawn"
    if new == "retired":
        return "retire"
    if old in ("probation", "retired") and new == "student":
        return "activate"
    if old in _LADDER and new in _LADDER:
        return "promote" if _LADDER.index(new) > _LADDER.index(old) else "demote"
    return "change"


def _accuracy(items: list[Item], model: str | None) -> float | None:
    if not items or model is None or model not in items[0].scores:
        return None
    return sum(it.score(model) for it in items) / len(items)


def _events(run: Run, items: list[Item], catalog: ConfigCatalog,
            supervisor_model: str | None) -> list[dict[str, Any]]:  # fmt: skip
    """Every roster change with the query it happened at, why (for lifecycle moves), and for a
    promotion to teacher the recorded check: the member against the supervisor on the
    domain's queries and on the domain's main task."""
    reasons = {(q, t.member_id, t.domain, t.to_role.value): t.reason for q, t in run.transitions}
    out = []
    for query, member, domain, old, new in run.events:
        event: dict[str, Any] = {"query": query, "event": event_kind(old, new), "member": member,
                                 "domain": domain, "from": old, "to": new,
                                 "reason": reasons.get((query, member, domain, new), "")}  # fmt: skip
        if new == "teacher":
            event["check"] = _teacher_check(run, items, domain, recorded_model(catalog, member),
                                            supervisor_model)  # fmt: skip
        out.append(event)
    return out


def _teacher_check(run: Run, items: list[Item], domain: str, model: str | None,
                   supervisor_model: str | None) -> dict[str, Any]:  # fmt: skip
    mine = [it for it, d in zip(items, run.domains, strict=True) if (d or "*") == domain]
    tasks = Counter(it.subject for it in mine)
    task = tasks.most_common(1)[0][0] if tasks else None
    rows = [it for it in items if it.subject == task]
    member_acc, sup_acc = _accuracy(rows, model), _accuracy(rows, supervisor_model)
    ok = member_acc is not None and sup_acc is not None and (
        member_acc >= sup_acc - TEACHER_TOLERANCE)  # fmt: skip
    return {"task": task, "task_share_of_domain": round(tasks[task] / len(mine), 3) if task else 0,
            "member_accuracy_on_task": member_acc, "supervisor_accuracy_on_task": sup_acc,
            "member_accuracy_on_domain": _accuracy(mine, model),
            "supervisor_accuracy_on_domain": _accuracy(mine, supervisor_model),
            "within_tolerance": ok}  # fmt: skip


def _learning_target(outcomes: list[metrics.Outcome]) -> dict[str, Any]:
    fifth = max(1, len(outcomes) // 5)
    first, last = metrics.summarise(outcomes[:fifth]), metrics.summarise(outcomes[-fifth:])
    first_c, last_c = first.cost_usd / fifth * 100, last.cost_usd / fifth * 100
    return {"queries_per_fifth": fifth, "first_fifth": {"accuracy": first.accuracy,
            "cost_per_100_usd": first_c}, "last_fifth": {"accuracy": last.accuracy,
            "cost_per_100_usd": last_c}, "cost_ratio": last_c / first_c if first_c else None,
            "met": bool(first_c and last_c <= 0.5 * first_c and last.accuracy >= first.accuracy)}  # fmt: skip


def _feedback_target(opts: BenchOptions, head: metrics.Summary, best_model: str,
                     rows: list[fixed.Costed], outcomes: list[metrics.Outcome]) -> dict[str, Any]:  # fmt: skip
    """The feedback target on the counted rows: accuracy against the best single model's, cost
    against its cost on the same rows, overall and in the last fifth."""
    best = fixed.single_model(rows, best_model, best_model)
    fifth = max(1, len(rows) // 5)
    last = metrics.summarise(outcomes[-fifth:])
    best_last = fixed.single_model(rows[-fifth:], best_model, best_model)
    t = FEEDBACK_TARGET
    ratio = head.cost_usd / best.cost_usd if best.cost_usd else None
    last_ratio = last.cost_usd / best_last.cost_usd if best_last.cost_usd else None
    return {
        "judge": opts.judge, "feedback_rate": opts.feedback_rate,
        "feedback_noise": opts.feedback_noise,
        "accuracy_at_least": best.accuracy + t["accuracy_margin"],
        "accuracy": head.accuracy, "cost_ratio_to_best_single": ratio,
        "cost_ratio_at_most": t["cost_ratio"],
        "last_fifth": {"queries": fifth, "accuracy": last.accuracy,
                       "best_single_accuracy": best_last.accuracy,
                       "cost_ratio_to_best_single": last_ratio,
                       "cost_ratio_at_most": t["last_fifth_cost_ratio"]},
        "met": bool(head.accuracy >= best.accuracy + t["accuracy_margin"] and ratio is not None
                    and ratio <= t["cost_ratio"] and last_ratio is not None
                    and last_ratio <= t["last_fifth_cost_ratio"]),
    }  # fmt: skip


def _domains(run: Run, items: list[Item]) -> dict[str, dict[str, Any]]:
    by: dict[str, Counter[str]] = {}
    for it, d in zip(items, run.domains, strict=True):
        by.setdefault(d or "*", Counter())[it.subject] += 1
    return {d: {"queries": sum(c.values()), "tasks": dict(c.most_common())}
            for d, c in sorted(by.items())}  # fmt: skip


def llmrouter_report(
    base: TutelageConfig, opts: BenchOptions, items: list[Item], runs: dict[float, Run],
    headline_weight: float, protocol: str, console: Console, embedder: Any,
) -> dict[str, Any]:  # fmt: skip
    counted_at = [i for i, it in enumerate(items) if protocol != "split" or it.split == "test"]
    counted = [items[i] for i in counted_at]
    n = len(counted)
    costed = _costed(items, model_prices(opts.data_dir))
    catalog = ConfigCatalog(base)
    sup_model = recorded_model(catalog, base.supervisor) or ""
    rows = [costed[i] for i in counted_at]
    base_figures: dict[str, metrics.Summary] = {}
    best_model, base_figures["best_single"] = fixed.best_single(rows, sup_model)
    base_figures["oracle"] = fixed.oracle(rows, sup_model)
    base_figures["random"] = fixed.random_pick(rows, sup_model, opts.seed)
    per_task, base_figures["best_per_task"] = fixed.best_per_task(rows, sup_model)
    train_at = [i for i, it in enumerate(items) if it.split == "train"]
    vectors = embedder.embed([it.prompt for it in items])
    own = {i: k for k, i in enumerate(train_at)}
    base_figures["offline_knn"] = fixed.offline_knn(
        rows, vectors[counted_at], [costed[i] for i in train_at], vectors[train_at], sup_model,
        exclude=[own.get(i) for i in counted_at])  # fmt: skip
    for model in sorted(rows[0].scores):
        base_figures[model] = fixed.single_model(rows, model, sup_model)

    points = {w: metrics.summarise([r.outcomes[i] for i in counted_at]) for w, r in runs.items()}
    head_run = runs[headline_weight]
    head = points[headline_weight]
    best = base_figures["best_single"]
    target = TARGETS[opts.judge]
    report: dict[str, Any] = {
        "dataset": opts.dataset, "protocol": protocol, "judge": opts.judge, "engine": opts.engine,
        "seed": opts.seed, "items": n, "stream_items": len(items), "task_labels": opts.task_labels,
        "evolution": opts.evolution, "cost_weight": headline_weight,
        **protocol_fields(opts, runs, headline_weight, counted_at, protocol),
        "accuracy": head.accuracy, "cost_usd": head.cost_usd,
        "cost_per_1k_usd": head.cost_usd / max(n, 1) * 1000,
        "tutelage": _figures(head, n),
        "baselines": {k: _figures(v, n) for k, v in base_figures.items()},
        "best_single_model": best_model, "best_per_task_models": per_task,
        "sweep": [{"cost_weight": w, **_figures(p, n)} for w, p in sorted(points.items())],
        "targets": {
            "judge": opts.judge, "oracle_bound": opts.judge == "reference",
            "accuracy_at_least": best.accuracy + target["accuracy_margin"],
            "cost_at_most_usd": target["cost_ratio"] * best.cost_usd,
            "accuracy_minus_best_single": head.accuracy - best.accuracy,
            "cost_ratio_to_best_single": head.cost_usd / best.cost_usd if best.cost_usd else None,
            "met": head.accuracy >= best.accuracy + target["accuracy_margin"]
            and head.cost_usd <= target["cost_ratio"] * best.cost_usd,
            "learning_curve": _learning_target(head_run.outcomes),
        },
        "routes": dict(Counter(head_run.routes).most_common()),
        "learning_curve": learning_curve(head_run.outcomes),
        "events": _events(head_run, items, catalog, sup_model),
        "domains": _domains(head_run, items),
        "final_roster": head_run.roles,
        "final_roster_by_domain": head_run.roster_by_domain,
        "peer_panels": head_run.peers,
    }  # fmt: skip
    # Its figures at R = 0 too: the run the ratings are measured against.
    report["targets"]["feedback"] = _feedback_target(
        opts, head, best_model, rows, [head_run.outcomes[i] for i in counted_at])
    teachers = [e["check"] for e in report["events"] if "check" in e]
    # Zero promotions to teacher is reported as zero, not as met.
    report["targets"]["teacher_promotions"] = {
        "count": len(teachers), "within_tolerance": sum(c["within_tolerance"] for c in teachers),
        "met": bool(teachers) and all(c["within_tolerance"] for c in teachers)}  # fmt: skip
    report["report_path"] = str(write_report(report, opts, protocol))
    report["plot_path"] = str(plot(report, opts.out_dir / f"{report_stem(opts, protocol)}.png"))
    console.print(summary_table(report))
    return report


def summary_table(report: dict[str, Any]) -> Table:
    t = Table(title=f"{title(report)} · {report['items']} scored items")
    for col in ("system", "accuracy", "cost $", "$ per 1k queries", "supervisor calls"):
        t.add_column(col)
    rows = [("tutelage", report["tutelage"])] + list(report["baselines"].items())
    for name, s in rows:
        t.add_row(name, f"{s['accuracy']:.3f}", f"{s['cost_usd']:.4f}",
                  f"{s['cost_per_1k_usd']:.4f}", f"{s['strong_call_share']:.1%}")  # fmt: skip
    tg = report["targets"]
    lc = tg["learning_curve"]
    fb, hits = report["feedback"], report["cache_hits"]
    fbt = tg.get("feedback") if report["feedback"]["rate"] > 0 else None
    feedback_target = "" if fbt is None else (
        f" · feedback target (>= {fbt['accuracy_at_least']:.3f} at <= x{fbt['cost_ratio_at_most']}"
        f", last fifth <= x{fbt['last_fifth']['cost_ratio_at_most']}): "
        f"{'met' if fbt['met'] else 'missed'}, last fifth x"
        + ("n/a" if fbt["last_fifth"]["cost_ratio_to_best_single"] is None
           else f"{fbt['last_fifth']['cost_ratio_to_best_single']:.2f}"))  # fmt: skip
    t.caption = (
        f"vs best single ({report['best_single_model']}): accuracy "
        f"{tg['accuracy_minus_best_single']:+.3f}, cost x{tg['cost_ratio_to_best_single']:.2f} "
        f"(target: >= {tg['accuracy_at_least']:.3f} at <= ${tg['cost_at_most_usd']:.4f}: "
        f"{'met' if tg['met'] else 'missed'}) · learning: cost per 100 "
        f"{lc['first_fifth']['cost_per_100_usd']:.4f} -> {lc['last_fifth']['cost_per_100_usd']:.4f}"
        f" ({'met' if lc['met'] else 'missed'}) · teacher promotions within "
        f"{TEACHER_TOLERANCE}: {tg['teacher_promotions']['within_tolerance']}/"
        f"{tg['teacher_promotions']['count']}{feedback_target}"
        f"\njudge: {report['judge_label']}\n{report['feedback_label']}: {fb['ratings']} "
        f"ratings ({fb['flipped']} flipped), {fb['user_verdicts']} user verdicts · cache hits: "
        f"{hits['count']} (same item {hits['same_item']}, gold match {hits['gold_match']}, "
        f"wrong {hits['wrong']}, unverifiable {hits['unverifiable']})"
    )
    return t


def plot(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, curve) = plt.subplots(1, 2, figsize=(13, 5.5))
    sweep = sorted(report["sweep"], key=lambda p: p["cost_per_1k_usd"])
    ax.plot([p["cost_per_1k_usd"] for p in sweep], [p["accuracy"] for p in sweep], marker="o",
            color="tab:blue", label=("tutelage, ORACLE judge: an upper bound (cost_weight sweep)"
                                     if report["oracle_bound"] else
                                     "tutelage (cost_weight sweep)"))  # fmt: skip
    for p in sweep:
        ax.annotate(f"{p['cost_weight']:g}", (p["cost_per_1k_usd"], p["accuracy"]), fontsize=7,
                    textcoords="offset points", xytext=(3, 3))  # fmt: skip
    named = ("best_single", "oracle", "random", "best_per_task", "offline_knn")
    for name, b in report["baselines"].items():
        special = name in named
        ax.scatter([b["cost_per_1k_usd"]], [b["accuracy"]], marker="*" if special else "s",
                   s=110 if special else 30, zorder=3, label=name if special else None,
                   color=None if special else "grey")  # fmt: skip
        if not special:
            ax.annotate(name, (b["cost_per_1k_usd"], b["accuracy"]), fontsize=6,
                        textcoords="offset points", xytext=(3, -8), color="grey")  # fmt: skip
    ax.set_xlabel("cost, USD per 1,000 queries")
    ax.set_ylabel("accuracy (mean recorded score)")
    ax.set_title(f"{title(report)}\n{report['items']} items · cache hits "
                 f"{report['cache_hits']['count']}", fontsize=9)  # fmt: skip
    ax.legend(fontsize=7)
    blocks = report["learning_curve"]
    xs = [b["to"] for b in blocks]
    curve.plot(xs, [b["cost_usd"] / max(1, b["to"] - b["from"] + 1) * 100 for b in blocks],
               color="tab:red", label="cost per 100 queries (USD)")  # fmt: skip
    curve.set_xlabel("queries into the stream")
    curve.set_ylabel("USD per 100 queries", color="tab:red")
    acc = curve.twinx()
    acc.plot(xs, [b["accuracy"] for b in blocks], color="tab:green", label="accuracy per 100")
    acc.set_ylabel("accuracy per 100 queries", color="tab:green")
    colours = {"spawn": "tab:purple", "promote": "tab:blue", "demote": "tab:orange",
               "retire": "black", "activate": "tab:cyan"}  # fmt: skip
    for kind, colour in colours.items():
        at = [e["query"] for e in report["events"] if e["event"] == kind]
        if at:
            curve.vlines(at, 0, 1, transform=curve.get_xaxis_transform(), colors=colour,
                         alpha=0.35, linewidth=0.8, label=f"{kind} ({len(at)})")  # fmt: skip
    lines, names = curve.get_legend_handles_labels()
    more, more_names = acc.get_legend_handles_labels()
    curve.legend(lines + more, names + more_names, fontsize=7, loc="upper right")
    curve.set_title(f"learning along the stream (cost_weight {report['cost_weight']:g})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
