"""The memory's look-up: cosine order, tenant filter, and rows added after it first opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tutelage.store.memory as memory_module
from tutelage.store.memory import Memory


def _row(query_id: str, vector: list[float], tenant: str = "default") -> dict[str, Any]:
    return {"query_id": query_id, "tenant": tenant, "text": query_id, "norm": query_id,
            "domain": None, "config_version": "v1", "vector": vector, "scores": {"sup": 1.0},
            "final_answer": "42", "winner": "sup"}  # fmt: skip


async def test_nearest_async_sees_rows_added_after_it_opened(
    tmp_path: Path,
) -> None:
    memory = Memory(tmp_path / "m", 4)
    memory.add([_row("a", [1, 0, 0, 0]), _row("other", [1, 0, 0, 0], tenant="t2")])
    before = await memory.nearest_async("default", [1, 0, 0, 0], 4)
    memory.add([_row("b", [0.8, 0.6, 0, 0])])
    after = await memory.nearest_async("default", [0, 1, 0, 0], 4)
    assert [(n.query_id, round(n.similarity, 6)) for n in before] == [("a", 1.0)]
    assert [n.query_id for n in after] == ["b", "a"]
    assert after[0].scores == {"sup": 1.0} and after[0].final_answer == "42"
    assert abs(after[0].similarity - 0.6) < 1e-6 and abs(after[1].similarity) < 1e-6


async def test_the_index_is_built_once_enough_rows_arrive_and_counted_rows_survive_reopening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_module, "INDEX_MIN_ROWS", 300)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 8)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    memory = Memory(tmp_path / "m", 8)
    memory.add([_row(f"q{i}", vectors[i].tolist()) for i in range(250)])
    assert not memory._has_index()
    # Reopened, it counts the stored rows, so the next appends cross the bar from 250.
    memory = Memory(tmp_path / "m", 8)
    for i in range(250, 400, 50):
        memory.add([_row(f"q{j}", vectors[j].tolist()) for j in range(i, i + 50)])
    assert memory._has_index() and memory.count() == 400
    found = await memory.nearest_async("default", vectors[123].tolist(), 4)
    assert found[0].query_id == "q123" and found[0].similarity > 0.99
