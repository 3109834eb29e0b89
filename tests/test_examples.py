"""Every shipped config validates, and no model server it points at shares a port with what
`tutelage up` starts on the same machine."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tutelage.config import load_config

from .conftest import REPO

CONFIGS = sorted((REPO / "examples").glob("*.toml")) + [REPO / "tutelage.toml"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_config_is_valid(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.supervisor in {m.id for m in cfg.members}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_model_servers_do_not_take_the_stacks_ports(path: Path) -> None:
    """A member (or candidate, or the embedder) served on this machine listens on a port of
    its own: not the gateway's, nor the embedded Temporal server's or its UI's (several members
    may share one server)."""
    cfg = load_config(path)
    taken = {cfg.gateway.port: "the gateway (gateway.port)"}
    if not cfg.temporal.address:
        taken |= {cfg.temporal.port: "the Temporal dev server (temporal.port)",
                  cfg.temporal.ui_port: "the Temporal UI (temporal.ui_port)"}  # fmt: skip
    servers = [(m.id, m.api_base) for m in [*cfg.members, *cfg.candidates]]
    servers.append(("the embedder", cfg.embedder.api_base))
    for who, api_base in servers:
        url = urlsplit(api_base or "")
        if url.hostname not in LOOPBACK:
            continue
        port = url.port or (443 if url.scheme == "https" else 80)
        assert port not in taken, (
            f"{path.name}: {who} at {api_base} takes the port of {taken[port]}"
        )


def test_served_members_example_points_at_the_three_servers() -> None:
    cfg = load_config(REPO / "examples" / "served_members.toml")
    bases = {m.id: (m.model, m.api_base) for m in cfg.members}
    assert bases == {
        "qwen-vllm": ("openai/Qwen/Qwen2.5-7B-Instruct", "http://127.0.0.1:8001/v1"),
        "llama-ollama": ("ollama_chat/llama3.2", "http://127.0.0.1:11434"),
        "gemma-llamacpp": ("openai/gemma3-270m", "http://127.0.0.1:8081/v1"),
    }
    # litellm's openai/ provider needs a key even where the server checks none.
    assert all(m.params.get("api_key") or m.api_key_env
               for m in cfg.members if m.model.startswith("openai/"))  # fmt: skip
