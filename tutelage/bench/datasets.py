"""The benchmark's datasets: recorded answers of real models, replayed offline.

RouteLLM's evals (shared/data/routellm): GSM8K holds full answer texts; MMLU holds only
whether each model was right, so an MMLU "answer" is one of the markers RECORDED_CORRECT /
RECORDED_INCORRECT and its reference is RECORDED_CORRECT. LLMRouter's nine models on eleven
tasks (shared/data/llmrouter) hold a score per model and item: see `bench/llmrouter.py`.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from ..policy.answers import RECORDED_CORRECT, RECORDED_INCORRECT

DATASETS = ("gsm8k", "mmlu", "llmrouter")
STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"

csv.field_size_limit(sys.maxsize)


class DatasetError(ValueError):
    """The data directory or dataset cannot be used; the message says why."""


@dataclass(frozen=True)
class Item:
    item_id: str
    prompt: str
    reference: str  # gold answer the reference judge understands
    subject: str
    correct: dict[str, bool]  # per model
    answers: dict[str, str] = field(default_factory=dict)  # per model, recorded text
    # Per model, the recorded score in [0, 1] where the data has one (LLMRouter: CommonGen is
    # graded); else `correct` as 0 or 1.
    scores: dict[str, float] = field(default_factory=dict)
    split: str = ""  # the data's own train/test split, where it has one
    # The stated length of an answer in tokens, where no answer text was recorded to count.
    tokens_out: int | None = None

    def score(self, model: str) -> float:
        """How the model did on this item: its recorded score, else 1.0 right, 0.0 wrong."""
        if model in self.scores:
            return self.scores[model]
        return 1.0 if self.correct.get(model, False) else 0.0


class Recording(NamedTuple):
    """What the replay provider answers with for one prompt."""

    answers: dict[str, str]  # model -> answer text (or recorded-result marker)
    tokens_out: int | None = None  # the stated answer length; None: count the text


def prompt_key(prompt: str) -> str:
    """Recordings are looked up by the prompt with outer whitespace removed."""
    return prompt.strip()


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "1")


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise DatasetError(f"{path} not found: the data directory must hold {what}")
    return path


def _contaminated(data_dir: Path, dataset: str) -> set[str]:
    path = data_dir / f"{dataset}_contaminated_prompts.jsonl"
    if not path.exists():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {prompt_key(json.loads(line)["eval_prompt"]) for line in lines if line.strip()}


def _model_columns(header: Sequence[str]) -> list[str]:
    return [c for c in header if c != "prompt" and not c.endswith("_response")]


def load_gsm8k(data_dir: Path) -> list[Item]:
    responses = _require(data_dir / "gsm8k_responses.csv", "gsm8k_responses.csv")
    gold_path = _require(data_dir / "gsm8k_test.jsonl", "gsm8k_test.jsonl")
    gold = [json.loads(line) for line in gold_path.read_text(encoding="utf-8").splitlines() if line]
    items = []
    with responses.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        models = _model_columns(reader.fieldnames or [])
        for i, row in enumerate(reader):
            if i >= len(gold):
                raise DatasetError(f"{responses} has more rows than {gold_path}")
            reference = gold[i]["answer"].rsplit("####", 1)[-1].strip()
            items.append(
                Item(
                    item_id=f"gsm8k-{i}",
                    prompt=row["prompt"],
                    reference=reference,
                    subject="gsm8k",
                    correct={m: _truthy(row[m]) for m in models},
                    answers={m: row.get(f"{m}_response", "") for m in models},
                )
            )
    return items


def load_mmlu(data_dir: Path, subjects: list[str] | None = None) -> list[Item]:
    folder = _require(data_dir / "mmlu", "an mmlu/ folder of <subject>.csv files")
    available = sorted(p.stem for p in folder.glob("*.csv"))
    if not available:
        raise DatasetError(f"{folder} holds no <subject>.csv files")
    chosen = subjects or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise DatasetError(
            f"unknown MMLU subject(s) {', '.join(unknown)}; {folder} has: {', '.join(available)}"
        )
    items = []
    for subject in chosen:
        with (folder / f"{subject}.csv").open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            models = _model_columns(reader.fieldnames or [])
            for i, row in enumerate(reader):
                correct = {m: _truthy(row[m]) for m in models}
                items.append(
                    Item(
                        item_id=f"mmlu-{subject}-{i}",
                        prompt=row["prompt"],
                        reference=RECORDED_CORRECT,
                        subject=subject,
                        correct=correct,
                        answers={
                            m: RECORDED_CORRECT if ok else RECORDED_INCORRECT
                            for m, ok in correct.items()
                        },
                    )
                )
    return items


def load_items(
    dataset: str, data_dir: Path, subjects: list[str] | None = None, drop_contaminated: bool = True
) -> list[Item]:
    if dataset not in DATASETS:
        raise DatasetError(f"unknown dataset '{dataset}'; choose one of {', '.join(DATASETS)}")
    if not data_dir.is_dir():
        raise DatasetError(f"data directory {data_dir} does not exist")
    if dataset == "llmrouter":
        from .llmrouter import load_llmrouter

        if subjects:
            raise DatasetError("--subjects is for MMLU; llmrouter streams all its eleven tasks")
        return list(load_llmrouter(data_dir))  # a copy: the loaded rows are cached
    items = load_gsm8k(data_dir) if dataset == "gsm8k" else load_mmlu(data_dir, subjects)
    if drop_contaminated:
        dropped = _contaminated(data_dir, dataset)
        items = [it for it in items if prompt_key(it.prompt) not in dropped]
    return items


def sample_stream(dataset: str, data_dir: Path, seed: int, limit: int | None = None,
                  subjects: list[str] | None = None) -> list[Item]:  # fmt: skip
    """The dataset's items in the seed's order, the first `limit` of them: the stream the
    benchmark measures and `tutelage warm` sends."""
    items = load_items(dataset, data_dir, subjects)
    random.Random(seed).shuffle(items)
    return items[:limit] if limit else items


@lru_cache(maxsize=4)
def recordings(data_dir: Path) -> dict[str, Recording]:
    """prompt key -> what each model answered, over every dataset found in `data_dir`."""
    from .llmrouter import is_llmrouter_dir, load_llmrouter

    if not data_dir.is_dir():
        raise DatasetError(f"replay data directory {data_dir} does not exist")
    found: list[Item] = []
    if (data_dir / "gsm8k_responses.csv").exists():
        found += load_gsm8k(data_dir)
    if (data_dir / "mmlu").is_dir():
        found += load_mmlu(data_dir)
    if is_llmrouter_dir(data_dir):
        found += load_llmrouter(data_dir)
    table: dict[str, Recording] = {}
    for it in found:
        table.setdefault(prompt_key(it.prompt), Recording(it.answers, it.tokens_out))
    if not table:
        raise DatasetError(f"{data_dir} holds no recordings (gsm8k_responses.csv, mmlu/, or "
                           "LLMRouter's train.json and query_train.jsonl)")  # fmt: skip
    return table
