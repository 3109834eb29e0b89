"""Registering the project's own litellm providers (replay/, and local/ when installed)."""

from __future__ import annotations

from pathlib import Path

from ._litellm import litellm
from .replay import ReplayProvider


def register_providers(replay_dir: Path | None, replay_latency_ms: float = 0.0) -> None:
    """Make `replay/<model>` answerable by litellm in this process (idempotent)."""
    handlers = [p for p in litellm.custom_provider_map if p.get("provider") != "replay"]
    handlers.append(
        {"provider": "replay", "custom_handler": ReplayProvider(replay_dir, replay_latency_ms)}
    )
    litellm.custom_provider_map = handlers
    # litellm reads the map into its provider list at import; refresh it for late registration.
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
