"""The feedback curve: what users' ratings buy, read from `tutelage bench` reports.

`python -m tutelage.bench.feedback_curve REPORT.json ... [--plot PATH]` takes the reports of one
dataset's (or several datasets') runs at several feedback rates R (and noises P) and prints one
Markdown table per dataset, rows in order of R: accuracy, cost against the reference system (the
supervisor alone on GSM8K and MMLU, the best single model on LLMRouter), APGR where the dataset
has one, the ratings sent and the cache hits. A report judged by reference is an oracle judge
(gold at serve time): it is listed last, named so, as the upper bound, and drawn as a dashed
line, never as a point of the curve.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, NamedTuple


class Point(NamedTuple):
    dataset: str
    protocol: str
    oracle: bool
    rate: float
    noise: float
    accuracy: float
    cost_ratio: float | None  # against the reference system's cost on the same rows
    apgr: float | None
    ratings: int
    cache_hits: int
    path: str
    # The last fifth of the stream (LLMRouter's reports): accuracy, cost against the best single
    # model's on the same rows, and that model's accuracy there.
    last_fifth: tuple[float, float | None, float] | None = None
    teachers: int = 0  # promotions to teacher in the run
    teachers_within: int | None = None  # of them, within 0.02 of the supervisor (where checked)


def _reference(report: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    base = report["baselines"]
    return ("best single", base["best_single"]) if "best_single" in base else (
        "supervisor only", base["supervisor_only"])  # fmt: skip


def point(report: dict[str, Any], path: str = "") -> Point:
    """One report's figures. Reports written before R and P existed count as R = 0."""
    _, ref = _reference(report)
    head = report["tutelage"]
    fb = report.get("feedback") or {"rate": 0.0, "noise": 0.0, "ratings": 0}
    apgr = report.get("apgr")
    targets = report.get("targets") or {}
    fifth = (targets.get("feedback") or {}).get("last_fifth")
    checked = targets.get("teacher_promotions")
    teachers = checked["count"] if checked else sum(
        1 for c in report.get("role_changes", []) if c.get("to") == "teacher")  # fmt: skip
    return Point(
        dataset=report["dataset"], protocol=report["protocol"],
        oracle=bool(report.get("oracle_bound", report.get("judge") == "reference")),
        rate=float(fb["rate"]), noise=float(fb["noise"]), accuracy=float(head["accuracy"]),
        cost_ratio=head["cost_usd"] / ref["cost_usd"] if ref["cost_usd"] else None,
        apgr=None if apgr is None else float(apgr), ratings=int(fb["ratings"]),
        cache_hits=int((report.get("cache_hits") or {}).get("count", 0)), path=path,
        last_fifth=None if fifth is None else (
            fifth["accuracy"], fifth["cost_ratio_to_best_single"], fifth["best_single_accuracy"]),
        teachers=int(teachers),
        teachers_within=None if checked is None else int(checked["within_tolerance"]),
    )  # fmt: skip


def ordered(points: list[Point]) -> list[Point]:
    """The curve in order of R (at each R the noiseless run first), the oracle bound last."""
    return sorted(points, key=lambda p: (p.oracle, p.rate, p.noise))


def _fifth(accuracy: float, cost_ratio: float | None, best: float) -> str:
    cost = "n/a" if cost_ratio is None else f"{cost_ratio:.0%}"
    return f"{accuracy:.3f} at {cost} ({best:.3f})"


def table(points: list[Point], reference: str) -> str:
    """A dataset's Markdown table, as the README shows it."""
    has_apgr = any(p.apgr is not None for p in points)
    has_fifth = any(p.last_fifth is not None for p in points)
    head = ["judge", "R", "P", "accuracy", f"cost vs {reference}"] + (["APGR"] if has_apgr else [])
    head += ["last fifth: accuracy at cost (best single's accuracy)"] if has_fifth else []
    head += ["ratings", "cache hits", "promotions to teacher"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for p in ordered(points):
        judge = "oracle judge (gold at serve time): upper bound" if p.oracle else (
            "agreement + user ratings" if p.rate > 0 else "agreement")  # fmt: skip
        cells = [judge, f"{p.rate:g}", f"{p.noise:g}", f"{p.accuracy:.3f}",
                 "n/a" if p.cost_ratio is None else f"{p.cost_ratio:.0%}"]  # fmt: skip
        if has_apgr:
            cells.append("n/a" if p.apgr is None else f"{p.apgr:.3f}")
        if has_fifth:
            cells.append("n/a" if p.last_fifth is None else _fifth(*p.last_fifth))
        teachers = str(p.teachers) + ("" if p.teachers_within is None or not p.teachers
                                      else f" ({p.teachers_within} within 0.02)")  # fmt: skip
        cells += [str(p.ratings), str(p.cache_hits), teachers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _quality(p: Point) -> float:
    """What a point of the curve is drawn by: APGR where the dataset has one (its accuracy
    alone hides the cost it bought it at), else accuracy."""
    return p.accuracy if p.apgr is None else p.apgr


def plot(groups: dict[str, list[Point]], path: Path) -> Path:
    """APGR (or accuracy, where the dataset has no APGR) and cost against R per dataset; P > 0
    as hollow markers; the oracle judge's figures as dashed lines (a bound)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.5), squeeze=False)
    for ax, (name, points) in zip(axes[0], sorted(groups.items()), strict=True):
        curve = [p for p in ordered(points) if not p.oracle and p.noise == 0]
        noisy = [p for p in points if not p.oracle and p.noise > 0]
        what = "APGR" if any(p.apgr is not None for p in points) else "accuracy"
        cost = ax.twinx()
        ax.plot([p.rate for p in curve], [_quality(p) for p in curve], marker="o",
                color="tab:green", label=f"{what} (agreement + ratings)")  # fmt: skip
        cost.plot([p.rate for p in curve], [p.cost_ratio or 0 for p in curve], marker="s",
                  color="tab:red", label="cost ratio")  # fmt: skip
        for p in noisy:
            ax.scatter([p.rate], [_quality(p)], facecolors="none", edgecolors="tab:green", s=80,
                       label=f"{what}, P = {p.noise:g}")  # fmt: skip
            cost.scatter([p.rate], [p.cost_ratio or 0], facecolors="none", edgecolors="tab:red",
                         s=80, marker="s", label=f"cost ratio, P = {p.noise:g}")  # fmt: skip
        for p in (p for p in points if p.oracle):
            ax.axhline(_quality(p), color="tab:green", ls="--", alpha=0.6,
                       label=f"{what}, oracle judge (gold at serve time): upper bound")  # fmt: skip
            if p.cost_ratio is not None:
                cost.axhline(p.cost_ratio, color="tab:red", ls="--", alpha=0.6,
                             label="cost ratio, oracle judge")  # fmt: skip
        ax.set_xlabel("feedback rate R (share of served answers users rate)")
        ax.set_ylabel(what, color="tab:green")
        cost.set_ylabel("cost / reference system's cost", color="tab:red")
        ax.set_title(f"{name}: what users' ratings buy", fontsize=10)
        lines, names = ax.get_legend_handles_labels()
        more, more_names = cost.get_legend_handles_labels()
        ax.legend(lines + more, names + more_names, fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--plot", type=Path, help="Also draw the curves into this PNG.")
    args = parser.parse_args(argv)
    groups: dict[str, list[Point]] = {}
    references: dict[str, str] = {}
    for path in args.reports:
        report = json.loads(path.read_text())
        p = point(report, str(path))
        key = f"{p.dataset} ({p.protocol})"
        groups.setdefault(key, []).append(p)
        references[key] = _reference(report)[0]
    for key, points in sorted(groups.items()):
        print(f"\n{key}\n\n{table(points, references[key])}")
    if args.plot:
        print(f"\nplot: {plot(groups, args.plot)}")


if __name__ == "__main__":
    main()
