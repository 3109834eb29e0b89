"""The `local/` provider: real generation by the bundled GGUF model through llama.cpp."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_cpp", reason="local models need the [local] extra")

from tutelage.models.local import FewShot, LocalModelConfig  # noqa: E402
from tutelage.providers._litellm import litellm  # noqa: E402
from tutelage.providers.local import (  # noqa: E402
    ContextOverflowError,
    EmptyGenerationError,
    LocalModelError,
    LocalProvider,
    completion_prompt,
)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local-models")


@pytest.fixture(scope="module")
def provider(models_dir: Path) -> LocalProvider:
    return LocalProvider([LocalModelConfig(name="gemma", n_ctx=512, max_tokens=8)], models_dir)


def test_completion_prompt_is_few_shot_with_exemplar_turns() -> None:
    shots = [FewShot(question="Capital of France?", answer="Paris")]
    msgs = [{"role": "user", "content": "Capital of Spain?"},
            {"role": "assistant", "content": "Madrid"},
            {"role": "user", "content": "Capital of Italy?"}]  # fmt: skip
    assert completion_prompt(shots, msgs) == (
        "Q: Capital of France?\nA: Paris\n\nQ: Capital of Spain?\nA: Madrid\n\n"
        "Q: Capital of Italy?\nA:")  # fmt: skip


def test_bundled_model_answers_a_few_shot_question(provider: LocalProvider) -> None:
    out = provider.generate(
        "gemma", [{"role": "user", "content": "What is the capital of Italy?"}], 8
    )
    assert "Rome" in out["text"]
    assert out["prompt_tokens"] > 10 and out["completion_tokens"] >= 1
    assert 0 < out["ttft_ms"] <= out["total_ms"]


async def test_through_litellm_with_token_counts(provider: LocalProvider) -> None:
    from litellm.utils import custom_llm_setup

    others = [p for p in litellm.custom_provider_map if p.get("provider") != "local"]
    litellm.custom_provider_map = [*others, {"provider": "local", "custom_handler": provider}]
    custom_llm_setup()
    r = await litellm.acompletion(model="local/gemma", num_retries=0, messages=[
        {"role": "user", "content": "What is the capital of Japan?"}])  # fmt: skip
    assert "Tokyo" in r.choices[0].message.content
    assert r.usage.prompt_tokens > 10 and r.usage.completion_tokens >= 1


def test_concurrent_requests_to_one_model_run_one_at_a_time(provider: LocalProvider) -> None:
    spans: list[tuple[float, float]] = []
    questions = ["What is the capital of Germany?", "What is the capital of Spain?",
                 "What is the capital of Egypt?"]  # fmt: skip

    def ask(q: str) -> None:
        out = provider.generate("gemma", [{"role": "user", "content": q}], 8)
        spans.append((out["started"], out["ended"]))

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans.sort()
    assert len(spans) == 3
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))


def test_missing_and_corrupt_files_are_clear_errors(models_dir: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 100)
    p = LocalProvider([LocalModelConfig(name="missing", path=tmp_path / "nope.gguf"),
                       LocalModelConfig(name="corrupt", path=junk)], models_dir)  # fmt: skip
    with pytest.raises(LocalModelError, match="no GGUF file at"):
        p.generate("missing", [{"role": "user", "content": "hi"}], 4)
    with pytest.raises(LocalModelError, match="corrupt or not a GGUF model"):
        p.generate("corrupt", [{"role": "user", "content": "hi"}], 4)
    with pytest.raises(LocalModelError, match="no local model 'other'"):
        p.generate("other", [{"role": "user", "content": "hi"}], 4)


def test_context_overflow_and_empty_generation(models_dir: Path) -> None:
    p = LocalProvider([LocalModelConfig(name="tiny", n_ctx=128),
                       LocalModelConfig(name="mute", stop=["\n", " "], max_tokens=1)],
                      models_dir)  # fmt: skip
    with pytest.raises(ContextOverflowError, match="the context holds 128"):
        p.generate("tiny", [{"role": "user", "content": "word " * 400}], 4)
    with pytest.raises(EmptyGenerationError, match="generated nothing"):
        p.generate("mute", [{"role": "user", "content": "What is the capital of Italy?"}], 1)


async def test_local_student_in_a_query_workflow(school: Any, models_dir: Path) -> None:
    from tutelage.client import submit
    from tutelage.models import QueryInput

    sup = {"id": "sup", "model": "openai/sup-model", "role": "teacher", "input_price": 1e-5,
           "output_price": 3e-5, "params": {"mock_response": "Rome"}}  # fmt: skip
    gemma = {"id": "gemma", "model": "local/gemma", "role": "student"}
    broken = {"id": "broken", "model": "local/broken", "role": "student"}
    locals_ = [{"name": "gemma", "n_ctx": 512, "max_tokens": 8},
               {"name": "broken", "path": str(models_dir / "absent.gguf")}]  # fmt: skip
    async with school(members=[sup, gemma, broken], local_models=locals_) as s:
        r = await submit(s.client, s.config, QueryInput(
            text="What is the capital of Italy?", query_id=uuid.uuid4().hex[:12]))  # fmt: skip
        rows = s.services.ledger.rows(
            "SELECT member_id, error_kind, tokens_out FROM calls ORDER BY member_id"
        )
    calls = {c.member_id: c for c in r.calls}
    assert r.status == "ok"
    assert calls["gemma"].ok and "Rome" in (calls["gemma"].text or "")
    assert calls["gemma"].cost_usd == 0.0 and calls["gemma"].tokens_out >= 1
    assert calls["broken"].error_kind == "LocalModelError"  # recorded; the worker carries on
    assert r.scores["gemma"] == 1.0
    assert [row[0] for row in rows] == ["broken", "gemma", "sup"]


def test_default_threads_leave_one_core_to_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert LocalModelConfig(name="m").threads() == 7
    assert LocalModelConfig(name="m", n_threads=8).threads() == 8
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert LocalModelConfig(name="m").threads() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert LocalModelConfig(name="m").threads() == 1
