"""The `local/` provider: real generation by the bundled GGUF model through llama.cpp.

Every test that loads or runs the model does it in a child process (`run_isolated`): a native
crash in llama.cpp then fails that test with its signal, and the rest of the suite runs."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_cpp", reason="local models need the [local] extra")

from tests.isolation import run_isolated  # noqa: E402
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


def _gemma(models_dir: Path) -> LocalProvider:
    return LocalProvider([LocalModelConfig(name="gemma", n_ctx=512, max_tokens=8)], models_dir)


def test_completion_prompt_is_few_shot_with_exemplar_turns() -> None:
    shots = [FewShot(question="Capital of France?", answer="Paris")]
    msgs = [{"role": "user", "content": "Capital of Spain?"},
            {"role": "assistant", "content": "Madrid"},
            {"role": "user", "content": "Capital of Italy?"}]  # fmt: skip
    assert completion_prompt(shots, msgs) == (
        "Q: Capital of France?\nA: Paris\n\nQ: Capital of Spain?\nA: Madrid\n\n"
        "Q: Capital of Italy?\nA:")  # fmt: skip


def _ask(models_dir: Path, question: str) -> dict[str, Any]:
    return _gemma(models_dir).generate("gemma", [{"role": "user", "content": question}], 8)


def test_bundled_model_answers_a_few_shot_question(models_dir: Path) -> None:
    out = run_isolated(_ask, models_dir, "What is the capital of Italy?")
    assert "Rome" in out["text"]
    assert out["prompt_tokens"] > 10 and out["completion_tokens"] >= 1
    assert 0 < out["ttft_ms"] <= out["total_ms"]


def _through_litellm(models_dir: Path) -> tuple[str, int, int]:
    from litellm.utils import custom_llm_setup

    others = [p for p in litellm.custom_provider_map if p.get("provider") != "local"]
    litellm.custom_provider_map = [*others, {"provider": "local",
                                             "custom_handler": _gemma(models_dir)}]  # fmt: skip
    custom_llm_setup()
    r = asyncio.run(litellm.acompletion(model="local/gemma", num_retries=0, messages=[
        {"role": "user", "content": "What is the capital of Japan?"}]))  # fmt: skip
    return r.choices[0].message.content, r.usage.prompt_tokens, r.usage.completion_tokens


def test_through_litellm_with_token_counts(models_dir: Path) -> None:
    text, prompt_tokens, completion_tokens = run_isolated(_through_litellm, models_dir)
    assert "Tokyo" in text
    assert prompt_tokens > 10 and completion_tokens >= 1


def _three_at_once(models_dir: Path) -> list[tuple[float, float]]:
    provider = _gemma(models_dir)
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
    return sorted(spans)


def test_concurrent_requests_to_one_model_run_one_at_a_time(models_dir: Path) -> None:
    spans = run_isolated(_three_at_once, models_dir)
    assert len(spans) == 3
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))


def _generate(configs: list[LocalModelConfig], models_dir: Path, name: str, text: str,
              max_tokens: int) -> dict[str, Any]:  # fmt: skip
    return LocalProvider(configs, models_dir).generate(
        name, [{"role": "user", "content": text}], max_tokens)  # fmt: skip


def test_missing_and_corrupt_files_are_clear_errors(models_dir: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 100)
    configs = [LocalModelConfig(name="missing", path=tmp_path / "nope.gguf"),
               LocalModelConfig(name="corrupt", path=junk)]  # fmt: skip
    with pytest.raises(LocalModelError, match="no GGUF file at"):
        run_isolated(_generate, configs, models_dir, "missing", "hi", 4)
    with pytest.raises(LocalModelError, match="corrupt or not a GGUF model"):
        run_isolated(_generate, configs, models_dir, "corrupt", "hi", 4)
    with pytest.raises(LocalModelError, match="no local model 'other'"):
        run_isolated(_generate, configs, models_dir, "other", "hi", 4)


def test_context_overflow_and_empty_generation(models_dir: Path) -> None:
    configs = [LocalModelConfig(name="tiny", n_ctx=128),
               LocalModelConfig(name="mute", stop=["\n", " "], max_tokens=1)]  # fmt: skip
    with pytest.raises(ContextOverflowError, match="the context holds 128"):
        run_isolated(_generate, configs, models_dir, "tiny", "word " * 400, 4)
    with pytest.raises(EmptyGenerationError, match="generated nothing"):
        run_isolated(_generate, configs, models_dir, "mute", "What is the capital of Italy?", 1)


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


def _json_through_litellm(models_dir: Path) -> str:
    from litellm.utils import custom_llm_setup

    provider = LocalProvider([LocalModelConfig(name="gemma", n_ctx=512, max_tokens=40)], models_dir)
    others = [p for p in litellm.custom_provider_map if p.get("provider") != "local"]
    litellm.custom_provider_map = [*others, {"provider": "local", "custom_handler": provider}]
    custom_llm_setup()
    schema = {"type": "object", "properties": {"capital": {"type": "string", "maxLength": 12}},
              "required": ["capital"]}  # fmt: skip
    r = asyncio.run(litellm.acompletion(model="local/gemma", num_retries=0, messages=[
        {"role": "user", "content": "The capital of Japan, as JSON?"}], response_format={
        "type": "json_schema", "json_schema": {"name": "a", "schema": schema}}))  # fmt: skip
    return str(r.choices[0].message.content)


def test_a_schema_constrains_the_local_model_through_llama_cpp_grammar(models_dir: Path) -> None:
    """A local member's structured answer is valid by construction: llama.cpp's grammar for
    the request's schema constrains every generated token."""
    import json

    from jsonschema import validate

    text = run_isolated(_json_through_litellm, models_dir)
    value = json.loads(text)
    validate(value, {"type": "object", "properties": {"capital": {"type": "string"}},
                     "required": ["capital"]})  # fmt: skip
