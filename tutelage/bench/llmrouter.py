"""LLMRouter's recorded results: nine models on eleven tasks (shared/data/llmrouter/README.md).

The data holds a score per model and item and each model's price, but no answer text and no
token counts. So, stated once here:

- An answer is a recorded-result marker (`policy/recorded.py`): a multiple-choice task's
  answer is a letter (the gold one when the model was right, else a wrong letter drawn per item
  and model), CommonGen's is its coverage, every other task's is right or wrong.
- Prompt tokens are counted on the question, as the replay provider counts every prompt;
  an answer's length is a constant per task (`TOKENS_OUT`), the same for every model, so
  that models differ in cost by their price alone.
- 69 questions are in both train.json and test.json (50 GPQA, 19 MBPP; 38 of them with other
  scores). The replay provider holds one recording per question, so each is kept once, as its
  test row: the test split stays whole and the training rows lose their copies of it.
"""

from __future__ import annotations

import ast
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..policy.recorded import (
    RECORDED_CORRECT,
    RECORDED_INCORRECT,
    choice_marker,
    coverage_marker,
    wrong_choice,
)
from .datasets import DatasetError, Item, prompt_key

# Tokens of one answer, per task: what that task's prompt asks a model to write.
TOKENS_OUT = {
    "gsm8k": 93,  # a worked solution: the median length of GSM8K's own reference solutions
    "math": 164,  # likewise, the median of MATH's reference solutions in this data
    "mbpp": 96,  # a short Python function
    "commongen": 51,  # one sentence using the concepts: about as long as their list (median)
    "agentverse-logicgrid": 128,  # the house number after a short chain of reasoning
    "arc_challenge": 32,  # multiple choice: a letter and one sentence of justification
    "openbook_qa": 32,
    "mmlu": 32,
    "gpqa": 32,
    "natural_qa": 16,  # a short factual answer
    "trivia_qa": 16,
}
DEFAULT_TOKENS_OUT = 64  # a task this table does not know
MULTIPLE_CHOICE_METRIC = "em_mc"
GRADED_METRIC = "commongen_coverage"
SPLITS = ("train", "test")


def is_llmrouter_dir(data_dir: Path) -> bool:
    return (data_dir / "train.json").exists() and (data_dir / "query_train.jsonl").exists()


def _read_json(path: Path) -> Any:
    if not path.exists():
        raise DatasetError(f"{path} not found: an llmrouter data directory holds train.json, "
                           "test.json, query_train.jsonl, query_test.jsonl and models.json")  # fmt: skip
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path} cannot be read as JSON: {exc}") from None


def _labels(choices: Any) -> list[str]:
    """The choice letters of a multiple-choice item ([] when it has none that can be read)."""
    if isinstance(choices, str):
        try:
            choices = ast.literal_eval(choices)
        except (ValueError, SyntaxError):
            return []
    if isinstance(choices, dict):
        labels = choices.get("labels") or choices.get("label") or []
        return [str(x) for x in labels]
    if isinstance(choices, list):
        return [chr(ord("A") + i) for i in range(len(choices))]
    return []


def _answers(task: dict[str, Any], scores: dict[str, float], key: str) -> tuple[str, dict[str, str]]:
    """(the reference marker, each model's answer marker) for one item."""
    gold = str(task.get("ground_truth", "")).strip()
    labels = _labels(task.get("choices"))
    if task.get("metric") == GRADED_METRIC:
        return coverage_marker(1.0), {m: coverage_marker(s) for m, s in scores.items()}
    if task.get("metric") == MULTIPLE_CHOICE_METRIC and gold in labels:
        return choice_marker(gold), {
            m: choice_marker(gold if s >= 0.5 else wrong_choice(labels, gold, key, m))
            for m, s in scores.items()
        }  # fmt: skip
    return RECORDED_CORRECT, {
        m: RECORDED_CORRECT if s >= 0.5 else RECORDED_INCORRECT for m, s in scores.items()
    }  # fmt: skip


@lru_cache(maxsize=4)
def load_llmrouter(data_dir: Path) -> list[Item]:
    """Every scored item once (see the module docstring), train rows first, in file order."""
    tasks: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        for row in _read_json(data_dir / f"query_{split}.jsonl"):
            tasks.setdefault(prompt_key(str(row.get("query", ""))), row)
    rows = {split: _read_json(data_dir / f"{split}.json") for split in SPLITS}
    in_test = {prompt_key(str(r.get("question", ""))) for r in rows["test"]}
    items: list[Item] = []
    for split in SPLITS:
        for i, row in enumerate(rows[split]):
            key = prompt_key(str(row.get("question", "")))
            task = tasks.get(key)
            scores = row.get("scores")
            if task is None or not isinstance(scores, dict) or not scores:
                continue  # the README: a few rows have no task row; skip them
            if split == "train" and key in in_test:
                continue
            scores = {str(m): float(s) for m, s in scores.items()}
            reference, answers = _answers(task, scores, key)
            name = str(task.get("task_name", "unknown"))
            items.append(Item(
                item_id=f"llmrouter-{split}-{i}", prompt=str(row["question"]),
                reference=reference, subject=name,
                correct={m: s >= 0.5 for m, s in scores.items()}, answers=answers,
                scores=scores, split=split, tokens_out=TOKENS_OUT.get(name, DEFAULT_TOKENS_OUT),
            ))  # fmt: skip
    if not items:
        raise DatasetError(f"{data_dir} holds no scored llmrouter rows")
    return items


def model_prices(data_dir: Path) -> dict[str, tuple[float, float]]:
    """USD per input and output token, per model, from models.json (USD per million)."""
    table = _read_json(data_dir / "models.json")
    if not isinstance(table, dict):
        raise DatasetError(f"{data_dir / 'models.json'} must map model names to prices")
    prices = {}
    for name, entry in table.items():
        try:
            prices[name] = (float(entry["input_price"]) / 1e6, float(entry["output_price"]) / 1e6)
        except (KeyError, TypeError, ValueError):
            raise DatasetError(f"{data_dir / 'models.json'}: '{name}' has no numeric "
                               "input_price and output_price") from None  # fmt: skip
    return prices
