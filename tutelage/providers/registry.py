"""Registering the project's own litellm providers (replay/, and local/ when installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..models.local import LocalModelConfig
from ._litellm import litellm
from .replay import ReplayProvider


def register_providers(
    replay_dir: Path | None,
    replay_latency_ms: float = 0.0,
    local_models: list[LocalModelConfig] | None = None,
    data_dir: Path | None = None,
) -> None:
    """Make `replay/<model>` and `local/<name>` answerable by litellm in this process.

    Idempotent. Local models load on their first request, once per process.
    """
    ours = ("replay", "local")
    handlers = [p for p in litellm.custom_provider_map if p.get("provider") not in ours]
    handlers.append(
        {"provider": "replay", "custom_handler": ReplayProvider(replay_dir, replay_latency_ms)}
    )
    if local_models:
        from .local import LocalProvider

        handlers.append({"provider": "local", "custom_handler": LocalProvider(
            local_models, data_dir or Path(".tutelage"))})  # fmt: skip
    litellm.custom_provider_map = handlers
    # litellm reads the map into its provider list at import; refresh it for late registration.
    from litellm.utils import custom_llm_setup

    custom_llm_setup()


def local_provider() -> Any:
    """The registered `local/` provider (a LocalProvider), or None."""
    for p in litellm.custom_provider_map:
        if p.get("provider") == "local":
            return p.get("custom_handler")
    return None


def close_providers() -> None:
    """Release what our providers hold (loaded local models)."""
    for p in litellm.custom_provider_map:
        close = getattr(p.get("custom_handler"), "close", None)
        if p.get("provider") == "local" and close is not None:
            close()
