"""What a school can learn on LLMRouter's data, judged by agreement or by reference.

A perfectly informed per-task router: it knows each item's task and, per task, exactly how
every option does (no learning cost, no exploration). The options per task: one model alone,
or a peer pair of cheap models whose agreed answer stands (the supervisor answers when they
disagree). It picks, per task, the option of best utility at a cost weight:

- by truth (what reference judging measures): the option's accuracy;
- by agreement with the supervisor (all that label-free judging can see): an option's quality
  is how often its answer agrees with the supervisor's, so the supervisor scores 1.0.

Each pick's real accuracy and cost are reported, across cost weights: the ceiling of what each
kind of judging can buy, against the issue's targets (agreement: the best single model's
accuracy at no more than 35% of its cost; reference: +0.03 at no more than 50%).

    python benchmarks/llmrouter_ceiling.py [--data-dir ../shared/data/llmrouter]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from itertools import combinations
from pathlib import Path

from tutelage.bench.datasets import Item, load_items
from tutelage.bench.llmrouter import model_prices
from tutelage.policy.peer import answers_agree
from tutelage.providers.replay import prompt_token_count

SUPERVISOR = "llama-3.1-nemotron-51b-instruct"
WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 2.0)


def _options(rows: list[Item], costs: list[dict[str, float]], cheap: list[str]) -> list[dict]:
    """Per option on a task's rows: real accuracy, cost, and agreement with the supervisor."""
    out = []
    for m in rows[0].scores:
        out.append({"name": m, "accuracy": sum(it.score(m) for it in rows),
                    "cost": sum(c[m] for c in costs),
                    "agreement": sum(1.0 if m == SUPERVISOR else float(answers_agree(
                        it.answers[m], it.answers[SUPERVISOR], 0.5)) for it in rows)})  # fmt: skip
    for a, b in combinations(cheap, 2):
        acc = cost = agree = 0.0
        for it, c in zip(rows, costs, strict=True):
            cost += c[a] + c[b]
            if answers_agree(it.answers[a], it.answers[b], 0.5):
                acc += it.score(a)
                agree += float(answers_agree(it.answers[a], it.answers[SUPERVISOR], 0.5))
            else:
                acc += it.score(SUPERVISOR)
                cost += c[SUPERVISOR]
                agree += 1.0
        out.append({"name": f"peer {a} + {b}", "accuracy": acc, "cost": cost, "agreement": agree})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/llmrouter"))
    args = parser.parse_args()
    items = load_items("llmrouter", args.data_dir)
    prices = model_prices(args.data_dir)
    by_task: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_task[it.subject].append(it)
    cheap = sorted(m for m in items[0].scores if prices[m][0] < prices[SUPERVISOR][0])
    n = len(items)
    sup_cost = 0.0
    options = {}
    for task, rows in sorted(by_task.items()):
        tokens = [prompt_token_count([{"role": "user", "content": it.prompt}]) for it in rows]
        costs = [{m: prices[m][0] * t + prices[m][1] * (it.tokens_out or 0) for m in it.scores}
                 for it, t in zip(rows, tokens, strict=True)]  # fmt: skip
        sup_cost += sum(c[SUPERVISOR] for c in costs)
        options[task] = _options(rows, costs, cheap)
    sup_acc = sum(it.score(SUPERVISOR) for it in items) / n
    print(f"{n} items; {SUPERVISOR} alone: accuracy {sup_acc:.3f}, cost ${sup_cost:.4f}")
    print("\nper task: the supervisor, and the cheap model closest to it by agreement")
    for task, opts in options.items():
        rows_n = len(by_task[task])
        sup = next(o for o in opts if o["name"] == SUPERVISOR)
        best = max((o for o in opts if o["name"] in cheap), key=lambda o: o["agreement"])
        print(f"  {task:22s} n={rows_n:4d} supervisor {sup['accuracy'] / rows_n:.3f} | "
              f"{best['name']}: accuracy {best['accuracy'] / rows_n:.3f}, agrees with the "
              f"supervisor {best['agreement'] / rows_n:.3f}")  # fmt: skip
    for judged in ("accuracy", "agreement"):
        print(f"\nchosen per task by {judged} (utility = {judged} - w x cost / supervisor's):")
        for w in WEIGHTS:
            acc = cost = 0.0
            for opts in options.values():
                pick = max(opts, key=lambda o: o[judged] / n - w * o["cost"] / sup_cost)
                acc += pick["accuracy"]
                cost += pick["cost"]
            print(f"  w={w:<4g} accuracy {acc / n:.3f} at {cost / sup_cost:.1%} of the "
                  "supervisor's cost")


if __name__ == "__main__":
    main()
